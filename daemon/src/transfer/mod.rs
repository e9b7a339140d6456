//! Message bytes into and out of the `smime.*` methods: inline base64, files named by path, and
//! `stream.*` streams, with progress notifications for clients that ask.
//!
//! The S/MIME engine sees bytes; this module is the one place that knows where they came from
//! and where they go, so every method handles every kind of payload alike.

pub mod files;
pub mod progress;
pub mod streams;

use mailseal_protocol::methods::transfer::{Delivered, Output, Payload};
use mailseal_protocol::{ErrorKind, Id, RpcError};
use progress::Reporter;
use std::fs::File;
use std::io::Read;
use std::sync::Arc;
use streams::StreamTable;
use tokio::sync::mpsc;

/// What a request knows about the connection it came on: the connection's streams and the way
/// to send it notifications. One per connection, dropped (and its streams deleted) when the
/// connection ends.
#[derive(Debug)]
pub struct Session {
    /// The streams this connection opened.
    pub streams: StreamTable,
    /// Frames to write to the client, in order, before and with the replies.
    outgoing: mpsc::Sender<Vec<u8>>,
}

impl Session {
    /// A session whose frames go to `outgoing`, with streams kept in `streams`.
    pub fn new(streams: StreamTable, outgoing: mpsc::Sender<Vec<u8>>) -> Self {
        Self { streams, outgoing }
    }

    /// Queues a frame for the client; waits while the client is slow to read.
    pub async fn send(&self, frame: Vec<u8>) {
        // A closed channel means the client went away; there is nobody left to tell.
        let _ = self.outgoing.send(frame).await;
    }

    /// Queues a frame if there is room right now: for notifications, which a slow client may
    /// miss rather than hold up the work.
    fn offer(&self, frame: Vec<u8>) {
        let _ = self.outgoing.try_send(frame);
    }
}

/// Who sent a request: the connection's session and the request's id, for handlers that use
/// streams or report progress.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The connection's session.
    pub session: Arc<Session>,
    /// The request's id.
    pub id: Id,
}

impl Caller {
    /// A progress reporter for this request; silent unless `wanted`.
    pub fn reporter(&self, wanted: bool) -> Reporter {
        Reporter::new(&self.session, &self.id, wanted)
    }
}

/// How many bytes the engine takes from a file or stream per read, and so how often progress
/// can move.
const READ_CHUNK: usize = 1 << 20;

/// The bytes of `payload`, read with progress reported to `reporter`. `field` names the
/// parameter in errors (e.g. `params.message`).
pub fn read_payload(
    payload: &Payload,
    session: &Session,
    field: &str,
    reporter: &mut Reporter,
) -> Result<Vec<u8>, RpcError> {
    let (file, path_field) = match payload {
        Payload::Inline(bytes) => {
            reporter.start(bytes.as_slice().len() as u64);
            reporter.advance(bytes.as_slice().len() as u64);
            return Ok(bytes.as_slice().to_vec());
        }
        Payload::Path(path) => (
            files::open_input(path.as_path(), &format!("{field}.path"))?,
            format!("{field}.path"),
        ),
        Payload::Stream(id) => (session.streams.reader(id)?, format!("{field}.stream")),
    };
    read_with_progress(file, &path_field, reporter)
}

fn read_with_progress(
    mut file: File,
    field: &str,
    reporter: &mut Reporter,
) -> Result<Vec<u8>, RpcError> {
    let unreadable = |e: std::io::Error| {
        RpcError::new(
            ErrorKind::BadPath {
                field: field.to_owned(),
            },
            format!("{field}: cannot read the file: {e}"),
        )
    };
    let total = file.metadata().map_err(unreadable)?.len();
    reporter.start(total);
    let mut data = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    let mut chunk = vec![0; READ_CHUNK];
    loop {
        let n = file.read(&mut chunk).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&chunk[..n]);
        reporter.advance(n as u64);
    }
    Ok(data)
}

/// Puts a resulting message where `output` asked: inline, into a file (atomically), or into a
/// new stream of this connection.
pub fn deliver(
    output: Option<&Output>,
    message: Vec<u8>,
    session: &Session,
) -> Result<Delivered, RpcError> {
    let bytes = message.len() as u64;
    match output {
        None => Ok(message.into()),
        Some(Output::Path(path)) => {
            files::write_output(path.as_path(), "params.output.path", &message)?;
            Ok(Delivered::Path {
                path: path.clone(),
                bytes,
            })
        }
        Some(Output::Stream) => {
            let stream = session.streams.open()?;
            session.streams.append(&stream, &message)?;
            Ok(Delivered::Stream { stream, bytes })
        }
    }
}
