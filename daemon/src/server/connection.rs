//! One client connection: read frames, run each request in its own task, write the replies,
//! all on the connection's own thread (see `thread`).
//!
//! Requests on one connection may be pipelined; each runs as soon as it is read (up to
//! [`IN_FLIGHT_PER_CONNECTION`] at a time), and replies are written as they finish, matched by
//! id. A bad frame is answered and the connection goes on; a frame over the limit is answered
//! and the connection closed, since the rest of the stream can no longer be framed.

use super::dispatch::dispatch;
use crate::state::Daemon;
use crate::transfer::Session;
use crate::transfer::streams::{self, StreamTable};
use mailseal_protocol::{
    Connection, ErrorKind, FrameError, FrameReader, Id, READ_BUFFER, Request, Response, RpcError,
    write_frame,
};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;
use tokio::io::BufReader;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use zeroize::Zeroize;

/// How many requests of one connection run at once; more wait, which pushes back on the client.
pub const IN_FLIGHT_PER_CONNECTION: usize = 32;

/// Serves one connection until the client hangs up or the daemon stops.
pub async fn serve(stream: Connection, daemon: Arc<Daemon>, shutdown: CancellationToken) {
    let (read_half, mut write_half) = tokio::io::split(stream);
    let (replies, mut outgoing) = mpsc::channel::<Vec<u8>>(IN_FLIGHT_PER_CONNECTION);
    // The connection's streams and notifications; dropped, with every stream file, once the
    // reader and every request task are done.
    let session = Arc::new(Session::new(
        StreamTable::new(streams::dir(&daemon.data_dir)),
        replies.clone(),
    ));
    let reply_frame =
        |reply: &Response| serde_json::to_vec(reply).expect("responses always serialize");
    // Stops reading when the daemon stops or a reply cannot be written: the client would
    // otherwise wait for that reply on a connection that is never closed.
    let stop = shutdown.child_token();
    let broken = stop.clone();

    let writer = async move {
        while let Some(line) = outgoing.recv().await {
            if let Err(e) = write_frame(&mut write_half, &line).await {
                tracing::debug!(error = %e, "cannot write a reply; closing the connection");
                broken.cancel();
                break;
            }
        }
    };

    let reader = async move {
        let mut frames = FrameReader::new(
            BufReader::with_capacity(READ_BUFFER, read_half),
            daemon.config.max_frame_bytes,
        );
        let slots = Arc::new(Semaphore::new(IN_FLIGHT_PER_CONNECTION));
        let mut frame = Vec::new();
        loop {
            let read = tokio::select! {
                () = stop.cancelled() => break,
                read = frames.read_frame(&mut frame) => read,
            };
            match read {
                Ok(true) => {}
                Ok(false) => break,
                Err(FrameError::TooLarge { limit }) => {
                    let error = RpcError::new(
                        ErrorKind::FrameTooLarge {
                            limit: limit as u64,
                        },
                        format!(
                            "request larger than the daemon's limit of {limit} bytes; closing the connection"
                        ),
                    );
                    tracing::warn!(limit, "closing a connection that sent an oversized frame");
                    let _ = replies
                        .send(reply_frame(&Response::error(None, error)))
                        .await;
                    break;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "connection failed");
                    break;
                }
            }
            let parsed = Request::parse(&frame);
            // The frame may hold a passphrase: wipe it before reading the next one.
            frame.zeroize();
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
                        answer_to.send(reply_frame(&reply)).await;
                        drop(slot);
                    });
                }
                Err((id, error)) => {
                    tracing::info!(kind = ?error.kind, "refused a malformed request: {}", error.message);
                    let _ = replies.send(reply_frame(&Response::error(id, error))).await;
                }
            }
        }
        // Requests already read are finished and answered even when stopping.
        session.finish_requests().await;
        drop(replies);
        drop(session);
    };

    tokio::join!(reader, writer);
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
