//! One client connection: read frames, run each request in its own task, write the replies,
//! all on the connection's own thread (see `thread`).
//!
//! Requests on one connection may be pipelined; each runs as soon as it is read (up to
//! [`IN_FLIGHT_PER_CONNECTION`] at a time), and replies are written as they finish, matched by
//! id. A bad frame is answered and the connection goes on; a frame over the limit is answered
//! and the connection closed, since the rest of the stream can no longer be framed.
//!
//! A connection holds a slot, a thread and buffers, so it is closed when it is of no use:
//! - idle (no request read, none in flight, no reply unsent) for `idle_timeout_seconds`, or
//!   at once when a new client needs its slot (see `idle`);
//! - when a reply cannot be written for `idle_timeout_seconds` (the client reads nothing);
//! - when a request, once its first byte came, is not whole within `frame_timeout_seconds`
//!   (a client trickling bytes), answered with `limit_exceeded` like an oversized frame.
//!
//! Replies a client leaves unread push back: a request counts as in flight until its reply
//! is written, and no request is read while more than `max_unsent_reply_bytes` wait to be
//! written. Memory per connection is then bounded by that plus the replies of the requests
//! in flight, where before a client that never read held 32 finished replies queued and 32
//! more waiting to queue. The frame buffer is shrunk after a large request, so that one
//! 60 MiB request does not keep 64 MiB allocated while the connection idles.

use super::dispatch::dispatch;
use super::idle::Registered;
use crate::state::Daemon;
use crate::transfer::Session;
use crate::transfer::streams::{self, StreamLimits, StreamTable};
use mailseal_protocol::{
    ErrorKind, FrameError, FrameReader, Id, READ_BUFFER, Request, Response, RpcError, write_frame,
};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use zeroize::Zeroize;

/// How many requests of one connection run at once; more wait, which pushes back on the client.
pub const IN_FLIGHT_PER_CONNECTION: usize = 32;

/// The frame buffer kept between requests: what most requests need (a small message inline)
/// without a reallocation, while a larger one's buffer is given back once it is parsed.
pub const FRAME_BUFFER_KEPT: usize = 64 * 1024;

/// What the server gives a connection besides its socket.
#[derive(Debug)]
pub struct Place {
    /// Cancelled when the daemon stops.
    pub shutdown: CancellationToken,
    /// The connection's entry among the open ones, for closing it when idle.
    pub registered: Registered,
    /// What its streams may hold.
    pub streams: StreamLimits,
}

/// Serves one connection until the client hangs up, it is closed as idle or stuck, or the
/// daemon stops.
pub async fn serve<S>(stream: S, daemon: Arc<Daemon>, place: Place)
where
    S: AsyncRead + AsyncWrite,
{
    let Place {
        shutdown,
        registered,
        streams: limits,
    } = place;
    let config = &daemon.config;
    let idle_timeout = Duration::from_secs(config.idle_timeout_seconds);
    let frame_timeout = Duration::from_secs(config.frame_timeout_seconds);
    let (max_unsent, max_frame) = (config.max_unsent_reply_bytes, config.max_frame_bytes);
    let (read_half, mut write_half) = tokio::io::split(stream);
    let (replies, mut outgoing) = mpsc::channel(IN_FLIGHT_PER_CONNECTION);
    // The connection's streams and notifications; dropped, with every stream file, once the
    // reader and every request task are done.
    let session = Arc::new(Session::new(
        StreamTable::new(streams::dir(&daemon.data_dir), limits),
        replies,
    ));
    let unsent = session.unsent();
    let reply_frame =
        |reply: &Response| serde_json::to_vec(reply).expect("responses always serialize");
    // Stops reading when the daemon stops or a reply cannot be written: the client would
    // otherwise wait for that reply on a connection that is never closed.
    let stop = shutdown.child_token();
    let broken = stop.clone();

    let written = Arc::clone(&unsent);
    let writer = async move {
        while let Some(out) = outgoing.recv().await {
            let wrote =
                tokio::time::timeout(idle_timeout, write_frame(&mut write_half, &out.frame));
            let failed = match wrote.await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some(format!("the client read nothing for {idle_timeout:?}")),
            };
            written.written(&out.frame);
            if let Some(why) = failed {
                tracing::debug!(why, "cannot write a reply; closing the connection");
                broken.cancel();
                break;
            }
            // The request's slot (`out.slot`) is free once its reply is out.
            drop(out);
        }
    };

    let reader = async move {
        let mut frames =
            FrameReader::new(BufReader::with_capacity(READ_BUFFER, read_half), max_frame);
        let slots = Arc::new(Semaphore::new(IN_FLIGHT_PER_CONNECTION));
        let mut frame = Vec::new();
        'requests: loop {
            // Replies the client has not read hold further requests back.
            tokio::select! {
                () = stop.cancelled() => break,
                () = unsent.below(max_unsent) => {}
            }
            // Wait for the next request's first byte; idle when nothing is in flight.
            let mut idle_until = None;
            loop {
                let in_flight = slots.available_permits() < IN_FLIGHT_PER_CONNECTION;
                if !in_flight && idle_until.is_none() {
                    idle_until = Some(tokio::time::Instant::now() + idle_timeout);
                    registered.idle();
                }
                let idle = async {
                    match idle_until {
                        Some(deadline) => tokio::time::sleep_until(deadline).await,
                        None => std::future::pending().await,
                    }
                };
                let answered = async {
                    if in_flight {
                        // Every reply written: all the slots are free again.
                        let _ = slots.acquire_many(IN_FLIGHT_PER_CONNECTION as u32).await;
                    } else {
                        std::future::pending().await
                    }
                };
                tokio::select! {
                    () = stop.cancelled() => break 'requests,
                    () = registered.closing() => {
                        tracing::info!("closing the connection idle longest for a new client");
                        break 'requests;
                    }
                    () = idle => {
                        tracing::debug!(?idle_timeout, "closing an idle connection");
                        break 'requests;
                    }
                    () = answered => continue,
                    arrived = frames.get_mut().fill_buf() => match arrived {
                        Ok(_) => break,
                        Err(e) => {
                            tracing::debug!(error = %e, "connection failed");
                            break 'requests;
                        }
                    },
                }
            }
            if !registered.busy() {
                tracing::info!("closing the connection idle longest for a new client");
                break;
            }
            let read = tokio::select! {
                () = stop.cancelled() => break,
                read = tokio::time::timeout(frame_timeout, frames.read_frame(&mut frame)) => read,
            };
            let error = match read {
                Ok(Ok(true)) => None,
                Ok(Ok(false)) => break,
                Ok(Err(FrameError::TooLarge { limit })) => {
                    tracing::warn!(limit, "closing a connection that sent an oversized frame");
                    Some(RpcError::new(
                        ErrorKind::FrameTooLarge {
                            limit: limit as u64,
                        },
                        format!(
                            "request larger than the daemon's limit of {limit} bytes; closing the connection"
                        ),
                    ))
                }
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "connection failed");
                    break;
                }
                Err(_) => {
                    tracing::info!(
                        ?frame_timeout,
                        "closing a connection whose request did not arrive in time"
                    );
                    Some(RpcError::new(
                        ErrorKind::LimitExceeded {
                            limit: "frame_timeout_seconds".into(),
                            retry_after_seconds: None,
                        },
                        format!(
                            "the request did not arrive whole within {} seconds of its first byte; closing the connection",
                            frame_timeout.as_secs()
                        ),
                    ))
                }
            };
            if let Some(error) = error {
                session
                    .send(reply_frame(&Response::error(None, error)), None)
                    .await;
                break;
            }
            let parsed = Request::parse(&frame);
            // The frame may hold a passphrase: wipe it before reading the next one, and give
            // a large one's memory back.
            recycle(&mut frame);
            match parsed {
                Ok(request) => {
                    let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                        break;
                    };
                    let (daemon, answer_to) = (Arc::clone(&daemon), Arc::clone(&session));
                    session.spawn_request(async move {
                        let id = request.id.clone();
                        let handled = dispatch(daemon, Arc::clone(&answer_to), request);
                        let reply = answered_even_on_panic(id, handled).await;
                        answer_to.send(reply_frame(&reply), Some(slot)).await;
                    });
                }
                Err((id, error)) => {
                    tracing::info!(kind = ?error.kind, "refused a malformed request: {}", error.message);
                    session
                        .send(reply_frame(&Response::error(id, error)), None)
                        .await;
                }
            }
        }
        // Requests already read are finished and answered even when stopping.
        session.finish_requests().await;
        drop(session);
    };

    tokio::join!(reader, writer);
}

/// Wipes a request's frame (it may hold a passphrase) and shrinks its buffer to
/// [`FRAME_BUFFER_KEPT`].
fn recycle(frame: &mut Vec<u8>) {
    frame.zeroize();
    frame.shrink_to(FRAME_BUFFER_KEPT);
}

/// The reply `handling` gives, or an `internal` error if it panics: a bug in one handler
/// must not leave its client waiting for a reply that never comes.
async fn answered_even_on_panic(id: Id, handling: impl Future<Output = Response>) -> Response {
    let mut handling = std::pin::pin!(handling);
    std::future::poll_fn(|cx| {
        std::panic::catch_unwind(AssertUnwindSafe(|| handling.as_mut().poll(cx))).unwrap_or_else(
            |_| {
                Poll::Ready(Response::error(
                    Some(id.clone()),
                    RpcError::new(
                        ErrorKind::Internal,
                        "the daemon failed on this request (a bug; its log says where)",
                    ),
                ))
            },
        )
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::server::idle::Connections;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio::time::Instant;

    /// A daemon with `config`'s limits serving one end of an in-memory connection; the other
    /// end, and the serving, which ends when the connection is closed.
    fn connect(
        dir: &tempfile::TempDir,
        config: Config,
        buffer: usize,
    ) -> (DuplexStream, tokio::task::JoinHandle<()>) {
        let daemon = Arc::new(
            Daemon::open(Config {
                data_dir: Some(dir.path().to_owned()),
                pkcs11_modules: Some(Vec::new()),
                ..config
            })
            .unwrap(),
        );
        streams::reset_dir(dir.path()).unwrap();
        let (client, server) = tokio::io::duplex(buffer);
        let place = Place {
            shutdown: CancellationToken::new(),
            registered: Connections::new().register(1),
            streams: StreamLimits::roomy(),
        };
        (client, tokio::spawn(serve(server, daemon, place)))
    }

    /// Everything the daemon wrote until it closed the connection.
    async fn rest(mut client: DuplexStream) -> String {
        let mut out = String::new();
        client.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_is_closed_after_the_idle_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            idle_timeout_seconds: 600,
            ..Config::default()
        };
        let (mut client, served) = connect(&dir, config, 4096);
        let start = Instant::now();
        client
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.ping\",\"params\":{}}\n")
            .await
            .unwrap();
        // Answered, then nothing more: closed once the timeout has passed since the reply.
        let closed = tokio::time::timeout(Duration::from_secs(3600), rest(client)).await;
        let out = closed.expect("an idle connection stays open");
        assert!(out.contains("\"result\":{}"), "{out}");
        let idle = start.elapsed();
        assert!(
            (Duration::from_secs(600)..Duration::from_secs(601)).contains(&idle),
            "{idle:?}"
        );
        served.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_trickling_in_is_cut_off_at_the_frame_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            frame_timeout_seconds: 60,
            ..Config::default()
        };
        let (client, served) = connect(&dir, config, 4096);
        let (mut from_daemon, mut to_daemon) = tokio::io::split(client);
        let start = Instant::now();
        // Slow-loris: one byte every 2 seconds, never a whole request.
        let trickle = tokio::spawn(async move {
            for byte in b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.ping\"".repeat(10) {
                if to_daemon.write_all(&[byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        });
        let mut out = String::new();
        tokio::time::timeout(
            Duration::from_secs(3600),
            from_daemon.read_to_string(&mut out),
        )
        .await
        .expect("a trickling client keeps its connection")
        .unwrap();
        assert!(
            out.contains(r#""kind":"limit_exceeded","limit":"frame_timeout_seconds""#),
            "{out}"
        );
        assert!(
            start.elapsed() <= Duration::from_secs(61),
            "{:?}",
            start.elapsed()
        );
        trickle.abort();
        served.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn unread_replies_stop_the_reading_of_requests() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            max_unsent_reply_bytes: 100,
            ..Config::default()
        };
        // Room in the socket for about two replies the client does not read.
        let (client, served) = connect(&dir, config, 128);
        let (from_daemon, mut to_daemon) = tokio::io::split(client);
        let sent = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&sent);
        let sender = tokio::spawn(async move {
            for id in 0..200 {
                let ping = format!(
                    "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"daemon.ping\",\"params\":{{}}}}\n"
                );
                to_daemon.write_all(ping.as_bytes()).await.unwrap();
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        // Each reply is 35 bytes: the daemon reads requests while at most 100 bytes of
        // replies wait, plus what the socket buffers hold. Before, it read on until 64
        // replies waited, whatever their size.
        let read = sent.load(Ordering::SeqCst);
        assert!(
            read < 16,
            "the daemon read {read} requests whose replies nobody read"
        );
        drop(from_daemon);
        sender.abort();
        drop(served);
    }

    #[test]
    fn a_large_frames_buffer_is_given_back() {
        let mut frame = vec![7u8; 8 * 1024 * 1024];
        recycle(&mut frame);
        assert!(frame.is_empty());
        assert!(
            frame.capacity() <= FRAME_BUFFER_KEPT,
            "{}",
            frame.capacity()
        );
    }
}
