//! An async client for the daemon, used by the CLI, the native-messaging host and the tests.
//!
//! It sends nothing until it knows it reached the user's own daemon (see [`Client::connect`]),
//! and gives up on a daemon that does not answer its greeting in time.

use crate::error::RpcError;
use crate::framing::{DEFAULT_MAX_FRAME, FrameError, FrameReader, READ_BUFFER, write_frame};
use crate::message::{Id, Response, ResponseBody};
use crate::methods::Method;
use crate::methods::daemon::{Hello, HelloParams, HelloResult};
use crate::progress::{Progress, ServerMessage};
use crate::socket::UntrustedSocket;
use crate::transport::{Connection, Detached};
use crate::version::SUPPORTED_VERSIONS;
use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::BufReader;

/// How long [`Client::connect`] and [`Client::connect_and_hello`] wait for the daemon: ample
/// for a daemon that works (it answers `daemon.hello` in about a millisecond, even under load),
/// short enough that a script finds out when it is stuck rather than hanging with it.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call did not produce a result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No daemon is listening at the socket (not started, or stopped).
    #[error("cannot reach the mailseal daemon at {}: {source}", path.display())]
    Connect {
        /// The socket path tried.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The socket cannot be trusted to lead to the user's own daemon; nothing was sent to it.
    #[error(
        "refusing to talk to {}: {why}; another user may be impersonating your daemon: have \
         that directory or socket removed (by an administrator if it is not yours), or point \
         XDG_RUNTIME_DIR at a private directory of your own",
        path.display()
    )]
    Untrusted {
        /// The socket path.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        why: UntrustedSocket,
    },
    /// The daemon did not accept the connection or answer `daemon.hello` in time.
    #[error(
        "the mailseal daemon at {} did not answer within {after:?}: it is stuck or overloaded",
        path.display()
    )]
    TimedOut {
        /// The socket path.
        path: PathBuf,
        /// How long the client waited.
        after: Duration,
    },
    /// The connection broke or a reply could not be read.
    #[error("lost the connection to the daemon: {0}")]
    Frame(#[from] FrameError),
    /// The daemon closed the connection without answering.
    #[error("the daemon closed the connection without answering")]
    Closed,
    /// The daemon answered with an error.
    #[error("{0}")]
    Daemon(#[from] RpcError),
    /// The reply did not have the expected shape (a daemon of another version?).
    #[error("unexpected reply from the daemon: {what}")]
    Protocol {
        /// What was wrong with it.
        what: String,
    },
}

/// A connection to the daemon.
///
/// [`Client::call`] waits for each reply before the next request. A client with many small
/// messages can instead pipeline them: [`Client::send`] several requests, then
/// [`Client::receive`] each reply, so that the daemon works on the next message while this side
/// is still reading the last answer (the daemon runs up to 32 requests of a connection at once).
#[derive(Debug)]
pub struct Client {
    connection: FrameReader<BufReader<Connection>>,
    next_id: i64,
    frame: Vec<u8>,
    /// Replies read while waiting for another one, by request id.
    early: HashMap<i64, ResponseBody>,
    /// Why the last write failed: reported once no reply explains it (a daemon refusing an
    /// oversized request answers, then closes while the request is still being written).
    write_failed: Option<io::Error>,
}

/// A request sent with [`Client::send`] whose reply has not been taken yet.
///
/// Keeps the method's type, so that [`Client::receive`] decodes the reply as that method's
/// result. Take every reply: one left unread holds its slot among the daemon's 32 requests in
/// flight, and a client that keeps sending without reading will stall once they are used up.
#[must_use = "the reply stays unread until it is received"]
#[derive(Debug)]
pub struct Pending<M> {
    id: i64,
    method: PhantomData<fn() -> M>,
}

/// The request line, written without building a JSON tree of the parameters first (they may
/// hold a message of many MiB in base64).
#[derive(Serialize)]
struct Outgoing<'a, P: ?Sized> {
    jsonrpc: &'static str,
    id: i64,
    method: &'a str,
    params: &'a P,
}

impl Client {
    /// Connects to the daemon's socket (see [`crate::default_socket_path`]), giving up after
    /// [`CONNECT_TIMEOUT`].
    ///
    /// On Unix, before anything is sent: the socket's directory must pass
    /// [`crate::check_socket_dir`] (checked before connecting), and the process listening must
    /// run as this process's user (checked on the connection, so a socket swapped in between
    /// is caught too). Otherwise [`ClientError::Untrusted`]: whoever else listens there would
    /// receive the passphrases sent next. On Windows the pipe server is not checked (see
    /// `protocol/README.md`).
    pub async fn connect(path: &Path) -> Result<Self, ClientError> {
        within(path, CONNECT_TIMEOUT, Self::open(path)).await
    }

    /// Connects and negotiates the protocol version with `daemon.hello`, giving up after
    /// [`CONNECT_TIMEOUT`].
    pub async fn connect_and_hello(
        path: &Path,
        client_name: &str,
    ) -> Result<(Self, HelloResult), ClientError> {
        Self::connect_and_hello_within(path, client_name, CONNECT_TIMEOUT).await
    }

    /// [`Client::connect_and_hello`], giving up when connecting and the greeting together take
    /// longer than `timeout` ([`ClientError::TimedOut`]). A daemon whose accept loop is stuck
    /// still has connections completed by the OS, which would otherwise wait for a reply forever.
    pub async fn connect_and_hello_within(
        path: &Path,
        client_name: &str,
        timeout: Duration,
    ) -> Result<(Self, HelloResult), ClientError> {
        within(path, timeout, async {
            let mut client = Self::open(path).await?;
            let hello = client
                .call::<Hello>(&HelloParams {
                    client: Some(client_name.to_owned()),
                    protocol_versions: SUPPORTED_VERSIONS.to_vec(),
                })
                .await?;
            Ok((client, hello))
        })
        .await
    }

    /// Connects without a time limit, once the socket is known to be the user's own.
    async fn open(path: &Path) -> Result<Self, ClientError> {
        let connect_error = |source| ClientError::Connect {
            path: path.to_owned(),
            source,
        };
        #[cfg(unix)]
        trusted_directory(path)?;
        let name = path
            .to_fs_name::<GenericFilePath>()
            .map_err(connect_error)?;
        let stream = LocalSocketStream::connect(name)
            .await
            .map_err(connect_error)?;
        #[cfg(unix)]
        trusted_peer(path, &stream)?;
        let stream = Detached::new(stream)
            .and_then(Detached::attach)
            .map_err(connect_error)?;
        Ok(Self {
            connection: FrameReader::new(
                BufReader::with_capacity(READ_BUFFER, stream),
                DEFAULT_MAX_FRAME,
            ),
            next_id: 1,
            frame: Vec::new(),
            early: HashMap::new(),
            write_failed: None,
        })
    }

    /// Calls a method with typed parameters and result.
    pub async fn call<M: Method>(&mut self, params: &M::Params) -> Result<M::Result, ClientError> {
        self.call_with_progress::<M>(params, |_| {}).await
    }

    /// Calls a method and hands every `progress` notification for it to `on_progress` as it
    /// arrives (the method's `progress` parameter asks the daemon for them).
    pub async fn call_with_progress<M: Method>(
        &mut self,
        params: &M::Params,
        on_progress: impl FnMut(&Progress),
    ) -> Result<M::Result, ClientError> {
        let pending = self.send::<M>(params).await?;
        self.receive_with_progress(pending, on_progress).await
    }

    /// Calls a method by name with raw JSON parameters, for tools that relay requests.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        let id = self.write_request(method, &params).await?;
        self.read_reply(id, |_| {}).await
    }

    /// Sends a request without waiting for its reply (see [`Client`] on pipelining).
    ///
    /// Fails only when the parameters cannot be encoded; a broken connection is reported by
    /// the matching [`Client::receive`], after any reply the daemon sent before closing.
    pub async fn send<M: Method>(&mut self, params: &M::Params) -> Result<Pending<M>, ClientError> {
        let id = self.write_request(M::NAME, params).await?;
        Ok(Pending {
            id,
            method: PhantomData,
        })
    }

    /// Waits for the reply to a request sent with [`Client::send`]; replies to other requests
    /// that arrive first are kept for their own `receive`.
    pub async fn receive<M: Method>(
        &mut self,
        pending: Pending<M>,
    ) -> Result<M::Result, ClientError> {
        self.receive_with_progress(pending, |_| {}).await
    }

    /// [`Client::receive`], handing the request's `progress` notifications to `on_progress`.
    pub async fn receive_with_progress<M: Method>(
        &mut self,
        pending: Pending<M>,
        on_progress: impl FnMut(&Progress),
    ) -> Result<M::Result, ClientError> {
        let result = self.read_reply(pending.id, on_progress).await?;
        serde_json::from_value(result).map_err(|e| ClientError::Protocol {
            what: format!("result of {} has an unexpected shape: {e}", M::NAME),
        })
    }

    async fn write_request<P: Serialize + ?Sized>(
        &mut self,
        method: &str,
        params: &P,
    ) -> Result<i64, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let line = serde_json::to_vec(&Outgoing {
            jsonrpc: "2.0",
            id,
            method,
            params,
        })
        .map_err(|e| ClientError::Protocol {
            what: format!("cannot encode parameters of {method}: {e}"),
        })?;
        if self.write_failed.is_none()
            && let Err(e) = write_frame(self.connection.get_mut(), &line).await
        {
            self.write_failed = Some(e);
        }
        Ok(id)
    }

    async fn read_reply(
        &mut self,
        id: i64,
        mut on_progress: impl FnMut(&Progress),
    ) -> Result<Value, ClientError> {
        loop {
            if let Some(body) = self.early.remove(&id) {
                return match body {
                    ResponseBody::Result(result) => Ok(result),
                    ResponseBody::Error(error) => Err(error.into()),
                };
            }
            match self.connection.read_frame(&mut self.frame).await {
                Ok(true) => {}
                Ok(false) => return Err(self.write_error().unwrap_or(ClientError::Closed)),
                Err(e) => return Err(self.write_error().unwrap_or(e.into())),
            }
            let message = ServerMessage::parse(&self.frame).map_err(|e| ClientError::Protocol {
                what: e.to_string(),
            })?;
            match message {
                ServerMessage::Progress(progress) => {
                    if progress.id == Id::Number(id) {
                        on_progress(&progress);
                    }
                }
                ServerMessage::Reply(Response {
                    id: Some(Id::Number(answered)),
                    body,
                }) => {
                    self.early.insert(answered, body);
                }
                // A request the daemon could not read at all (e.g. too large) is answered
                // without an id: it can only be the one waited for.
                ServerMessage::Reply(Response {
                    id: None,
                    body: ResponseBody::Error(error),
                }) => return Err(error.into()),
                ServerMessage::Reply(Response { id, .. }) => {
                    return Err(ClientError::Protocol {
                        what: format!("a reply carries id {id:?}, which this client never sent"),
                    });
                }
            }
        }
    }

    /// The failed write, as the error of a call whose reply never came.
    fn write_error(&self) -> Option<ClientError> {
        self.write_failed
            .as_ref()
            .map(|e| FrameError::from(io::Error::new(e.kind(), e.to_string())).into())
    }
}

/// Runs `work`, or reports [`ClientError::TimedOut`] once `timeout` has passed.
async fn within<T>(
    path: &Path,
    timeout: Duration,
    work: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_elapsed| {
            Err(ClientError::TimedOut {
                path: path.to_owned(),
                after: timeout,
            })
        })
}

/// Checks the socket's directory ([`crate::check_socket_dir`]); one that cannot be looked at
/// is reported as the daemon being unreachable, which connecting would report anyway.
#[cfg(unix)]
fn trusted_directory(socket: &Path) -> Result<(), ClientError> {
    let dir = crate::socket::socket_dir(socket);
    let meta = std::fs::symlink_metadata(dir).map_err(|source| ClientError::Connect {
        path: socket.to_owned(),
        source,
    })?;
    crate::socket::check_socket_dir(dir, &meta).map_err(|why| ClientError::Untrusted {
        path: socket.to_owned(),
        why,
    })
}

/// Checks that the listening process runs as this process's effective uid (`SO_PEERCRED` on
/// Linux, `LOCAL_PEERCRED`/`getpeereid` elsewhere, through `interprocess` as the daemon's own
/// check does): a root-made or renamed-in socket in an otherwise good directory is caught here.
#[cfg(unix)]
fn trusted_peer(socket: &Path, stream: &LocalSocketStream) -> Result<(), ClientError> {
    let me = rustix::process::geteuid().as_raw();
    let why = match stream.peer_creds().map(|creds| creds.euid()) {
        Ok(Some(peer)) if peer == me => return Ok(()),
        Ok(Some(peer)) => UntrustedSocket::ForeignPeer { peer, me },
        Ok(None) => UntrustedSocket::UnknownPeer {
            source: io::Error::other("the OS reported no uid"),
        },
        Err(source) => UntrustedSocket::UnknownPeer { source },
    };
    Err(ClientError::Untrusted {
        path: socket.to_owned(),
        why,
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixListener;

    /// A listener at `dir/mailseal.sock` that accepts nothing by itself.
    fn listen(dir: &Path) -> (PathBuf, UnixListener) {
        let socket = dir.join("mailseal.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        listener.set_nonblocking(true).unwrap();
        (socket, listener)
    }

    /// Nobody connected: the client refused before `connect`, so the listener got nothing.
    fn assert_untouched(listener: &UnixListener) {
        let accepted = listener.accept().map(|_| ());
        assert_eq!(
            accepted.map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock),
            "the client connected"
        );
    }

    #[tokio::test]
    async fn nothing_is_sent_to_a_socket_in_a_directory_others_may_write() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("mailseal-1000");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let (socket, listener) = listen(&dir);
        let error = Client::connect_and_hello(&socket, "test")
            .await
            .unwrap_err();
        assert!(
            matches!(
                &error,
                ClientError::Untrusted {
                    why: UntrustedSocket::WritableDirectory { mode: 0o777, .. },
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("others may write to the socket directory")
                && message.contains("impersonating your daemon")
                && message.contains("XDG_RUNTIME_DIR"),
            "{message}"
        );
        assert_untouched(&listener);
    }

    #[tokio::test]
    async fn a_symlinked_socket_directory_is_not_followed() {
        let base = tempfile::tempdir().unwrap();
        let real = base.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
        let (_, listener) = listen(&real);
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let error = Client::connect(&link.join("mailseal.sock"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &error,
                ClientError::Untrusted {
                    why: UntrustedSocket::SymlinkDirectory { .. },
                    ..
                }
            ),
            "{error:?}"
        );
        assert_untouched(&listener);
    }

    /// The OS completes connections into the listen backlog, so a daemon whose accept loop is
    /// stuck still "accepts": the greeting's reply is what never comes.
    #[tokio::test]
    async fn a_daemon_that_never_answers_is_given_up_on() {
        let base = tempfile::tempdir().unwrap();
        let (socket, _listener) = listen(base.path());
        let started = std::time::Instant::now();
        let error = Client::connect_and_hello_within(&socket, "test", Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ClientError::TimedOut { after, .. } if *after == Duration::from_millis(300)),
            "{error:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            error.to_string().contains("did not answer within 300ms"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_missing_socket_directory_means_no_daemon() {
        let base = tempfile::tempdir().unwrap();
        let error = Client::connect(&base.path().join("gone").join("mailseal.sock"))
            .await
            .unwrap_err();
        assert!(matches!(error, ClientError::Connect { .. }), "{error:?}");
    }
}
