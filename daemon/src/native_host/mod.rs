//! `mailseald native-host`: the bridge between the Thunderbird add-on and the user's daemon.
//!
//! Thunderbird starts it and speaks native messaging on its stdin/stdout; every message is a
//! JSON-RPC request of the Mailseal protocol, relayed over the daemon's socket, and its reply
//! comes back (chunked when over Thunderbird's 1 MiB limit, see [`framing`]). The host decides
//! nothing about mail: it carries bytes, says when the daemon cannot be reached, and passes only
//! what an add-on needs (see `allowed`), within limits on streams and guesses (see `limits`).

mod allowed;
pub mod framing;
pub mod limits;
pub mod register;

use framing::{Incoming, frames_for, read_message, write_message};
use limits::Limits;
use mailseal_protocol::{
    Client, ClientError, DEFAULT_MAX_FRAME, ErrorKind, Request, Response, ResponseBody, RpcError,
};
use serde_json::json;
use std::io;
use std::path::Path;
use tokio::io::{AsyncRead, AsyncWrite};

/// The host manifest Thunderbird needs to find this host (written where each platform looks by
/// [`register::register`]).
pub fn manifest(name: &str, host_path: &Path, extension_id: &str) -> serde_json::Value {
    json!({
        "name": name,
        "description": "Mailseal: S/MIME through the user's mailseald",
        "path": host_path,
        "type": "stdio",
        "allowed_extensions": [extension_id],
    })
}

/// Relays requests from `input` to the daemon at `socket` and replies to `output` until the
/// add-on closes the port.
pub async fn run<R, W>(socket: &Path, input: &mut R, output: &mut W) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut daemon: Option<Client> = None;
    let mut limits = Limits::default();
    while let Some(incoming) = read_message(input, DEFAULT_MAX_FRAME).await? {
        let reply = match incoming {
            Incoming::TooLarge { length } => Response::error(
                None,
                RpcError::new(
                    ErrorKind::FrameTooLarge {
                        limit: DEFAULT_MAX_FRAME as u64,
                    },
                    format!(
                        "a {length}-byte request is over the limit of {DEFAULT_MAX_FRAME} bytes"
                    ),
                ),
            ),
            Incoming::Message(bytes) => match Request::parse(&bytes) {
                Ok(request) => match allowed::refusal(&request.method, &request.params) {
                    Some(refused) => Response::error(Some(request.id), refused),
                    None => match limits.check(&request.method, &request.params) {
                        Err(refused) => Response::error(Some(request.id), refused),
                        Ok(expect) => {
                            let reply = relay(&mut daemon, &mut limits, socket, request).await;
                            limits.learn(
                                expect,
                                match &reply.body {
                                    ResponseBody::Result(result) => Ok(result),
                                    ResponseBody::Error(error) => Err(error),
                                },
                            );
                            reply
                        }
                    },
                },
                Err((id, error)) => Response::error(id, error),
            },
        };
        let id = reply.id.clone();
        let bytes = serde_json::to_vec(&reply).expect("responses serialize");
        for frame in frames_for(&id, bytes) {
            write_message(output, &frame).await?;
        }
    }
    Ok(())
}

/// Sends one request to the daemon, connecting (again) when needed.
///
/// A connection the daemon closed while the add-on was quiet (idle for
/// `idle_timeout_seconds`, or closed to make room for another client) fails the next request
/// before the daemon reads it: that request is sent once more on a new connection. A request
/// the daemon did read is not repeated twice by this: the daemon closes only connections with
/// nothing in flight, and one that stopped or crashed meanwhile lost its streams anyway.
async fn relay(
    daemon: &mut Option<Client>,
    limits: &mut Limits,
    socket: &Path,
    request: Request,
) -> Response {
    let Request {
        id, method, params, ..
    } = request;
    let mut retry = daemon.is_some().then(|| params.clone());
    let mut params = params;
    loop {
        if daemon.is_none() {
            match Client::connect(socket).await {
                Ok(client) => {
                    *daemon = Some(client);
                    limits.reconnected();
                }
                Err(e) => return Response::error(Some(id), unavailable(&e)),
            }
        }
        let client = daemon.as_mut().expect("connected above");
        match client.request(&method, params).await {
            Ok(result) => return Response::result(id, result),
            Err(ClientError::Daemon(error)) => return Response::error(Some(id), error),
            Err(e) => {
                // The connection broke (daemon stopped, restarted, or closed it as idle):
                // connect again, now or next time.
                *daemon = None;
                match retry.take() {
                    Some(again) => params = again,
                    None => return Response::error(Some(id), unavailable(&e)),
                }
            }
        }
    }
}

/// `daemon_unavailable`, saying how to start the daemon unless something else listens in its
/// place (the client refused it before relaying anything: starting a daemon would not help).
fn unavailable(error: &ClientError) -> RpcError {
    let message = match error {
        ClientError::Untrusted { .. } => error.to_string(),
        _ => format!(
            "{error}; start it with `systemctl --user start mailseald` (or `mailseald serve`)"
        ),
    };
    RpcError::new(ErrorKind::DaemonUnavailable, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_daemon_every_request_gets_daemon_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let (mut to_host, mut host_in) = tokio::io::duplex(64 * 1024);
        let (mut host_out, mut from_host) = tokio::io::duplex(64 * 1024);
        write_message(&mut to_host, br#"{"jsonrpc":"2.0","id":1,"method":"daemon.hello","params":{"protocol_versions":[1]}}"#).await.unwrap();
        write_message(&mut to_host, b"not json").await.unwrap();
        drop(to_host);
        run(&dir.path().join("none.sock"), &mut host_in, &mut host_out)
            .await
            .unwrap();
        drop(host_out);
        let mut replies = Vec::new();
        while let Some(Incoming::Message(reply)) =
            read_message(&mut from_host, 1 << 20).await.unwrap()
        {
            replies.push(serde_json::from_slice::<serde_json::Value>(&reply).unwrap());
        }
        assert_eq!(replies.len(), 2);
        assert_eq!(
            (
                replies[0]["id"].as_i64(),
                replies[0]["error"]["data"]["kind"].as_str()
            ),
            (Some(1), Some("daemon_unavailable"))
        );
        assert!(
            replies[0]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("systemctl --user start mailseald")
        );
        assert_eq!(replies[1]["error"]["data"]["kind"], "parse_error");
    }

    /// The add-on's requests carry passphrases (`key.unlock`): none reaches a socket in a
    /// directory others may write to.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_socket_in_a_directory_others_may_write_gets_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("mailseal-1000");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let socket = dir.join("mailseal.sock");
        let impostor = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        impostor.set_nonblocking(true).unwrap();
        let (mut to_host, mut host_in) = tokio::io::duplex(64 * 1024);
        let (mut host_out, mut from_host) = tokio::io::duplex(64 * 1024);
        write_message(&mut to_host, br#"{"jsonrpc":"2.0","id":1,"method":"key.unlock","params":{"key_id":"00","passphrase":"secret"}}"#).await.unwrap();
        drop(to_host);
        // Were the request relayed, the impostor's silence would hold it: fail, do not hang.
        let relayed = run(&socket, &mut host_in, &mut host_out);
        tokio::time::timeout(std::time::Duration::from_secs(20), relayed)
            .await
            .expect("the host relayed the request to the impostor")
            .unwrap();
        drop(host_out);
        let Some(Incoming::Message(reply)) = read_message(&mut from_host, 1 << 20).await.unwrap()
        else {
            panic!("no reply")
        };
        let reply: serde_json::Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(reply["error"]["data"]["kind"], "daemon_unavailable");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains("impersonating"), "{message}");
        assert!(!message.contains("systemctl"), "{message}");
        assert_eq!(
            impostor.accept().map(|_| ()).map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock),
            "the host connected to the impostor"
        );
    }
}
