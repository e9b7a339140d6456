//! Message bytes into and out of the `smime.*` methods: inline base64, files named by path, and
//! `stream.*` streams, with progress notifications for clients that ask.
//!
//! The S/MIME engine sees a seekable [`Source`] and a [`Sink`]; this module is the one place
//! that knows where the bytes came from and where they go, so every method handles every kind
//! of payload alike.

mod behind;
pub mod files;
pub mod progress;
pub mod streams;

use behind::WriteBehind;
use mailseal_protocol::methods::transfer::{AbsolutePath, Delivered, Output, Payload, StreamId};
use mailseal_protocol::{ErrorKind, Id, RpcError};
use progress::Reporter;
use std::fs::File;
use std::future::Future;
use std::io::{self, BufWriter, Cursor, Read, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use streams::StreamTable;
use tokio::sync::{Notify, OwnedSemaphorePermit, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What a request knows about the connection it came on: the connection's streams, the way
/// to send it notifications and its other requests. One per connection, dropped (and its
/// streams deleted) when the connection ends.
#[derive(Debug)]
pub struct Session {
    /// The streams this connection opened.
    pub streams: StreamTable,
    /// Frames to write to the client, in order, before and with the replies.
    outgoing: mpsc::Sender<Outgoing>,
    /// What of `outgoing` the client has not read yet.
    unsent: Arc<Unsent>,
    /// The connection's requests in flight, each a task on the connection's thread.
    requests: TaskTracker,
    /// Cancelled when the connection stops reading requests: the client hung up or the
    /// daemon is stopping.
    ended: CancellationToken,
}

/// A frame on its way to the client.
#[derive(Debug)]
pub struct Outgoing {
    /// The JSON text, without its newline.
    pub frame: Vec<u8>,
    /// For a reply, its request's place among those in flight: a request counts until its
    /// reply is written, so that replies a client leaves unread hold up its further requests
    /// instead of piling up in memory.
    pub slot: Option<OwnedSemaphorePermit>,
}

/// The bytes of frames queued for a client and not yet written to it, which the connection
/// keeps under `max_unsent_reply_bytes` by reading no request while they are over it.
#[derive(Debug, Default)]
pub struct Unsent {
    bytes: AtomicUsize,
    drained: Notify,
}

impl Unsent {
    /// The bytes queued and not yet written.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    /// Waits until at most `limit` bytes are unsent.
    pub async fn below(&self, limit: usize) {
        while self.bytes() > limit {
            self.drained.notified().await;
        }
    }

    /// Records that `frame` was written (or dropped with the connection).
    pub fn written(&self, frame: &[u8]) {
        self.bytes.fetch_sub(frame.len(), Ordering::AcqRel);
        // A stored permit if the reader is not waiting yet: no wake-up is lost.
        self.drained.notify_one();
    }

    fn queued(&self, frame: &[u8]) {
        self.bytes.fetch_add(frame.len(), Ordering::AcqRel);
    }
}

impl Session {
    /// A session whose frames go to `outgoing`, with streams kept in `streams`.
    pub fn new(streams: StreamTable, outgoing: mpsc::Sender<Outgoing>) -> Self {
        Self {
            streams,
            outgoing,
            unsent: Arc::default(),
            requests: TaskTracker::new(),
            ended: CancellationToken::new(),
        }
    }

    /// What the client has not read yet, for the connection's writer and reader.
    pub fn unsent(&self) -> Arc<Unsent> {
        Arc::clone(&self.unsent)
    }

    /// Runs a request of this connection as a task of its own, beside the connection's other
    /// requests.
    pub fn spawn_request(&self, request: impl Future<Output = ()> + Send + 'static) {
        self.requests.spawn(request);
    }

    /// Waits until every request already spawned is answered; no more may be spawned. Called
    /// when the connection stops reading, which is when [`Session::ended`] becomes true.
    pub async fn finish_requests(&self) {
        self.ended.cancel();
        self.requests.close();
        self.requests.wait().await;
    }

    /// Whether the connection has stopped reading requests: the client hung up or the daemon
    /// is stopping. A long request made of independent steps (`ca.batch`) stops between steps
    /// then, instead of working on for nobody or holding up the daemon's exit.
    pub fn ended(&self) -> bool {
        self.ended.is_cancelled()
    }

    /// Whether the request asking is the only one of its connection in flight: then it may
    /// use the connection's thread for its short work, as nothing else of the connection would
    /// wait for it.
    pub fn is_alone(&self) -> bool {
        self.requests.len() <= 1
    }

    /// Queues a reply for the client, holding `slot` until it is written; waits while the
    /// client is slow to read.
    pub async fn send(&self, frame: Vec<u8>, slot: Option<OwnedSemaphorePermit>) {
        self.unsent.queued(&frame);
        // A closed channel means the client went away; there is nobody left to tell.
        if let Err(unsent) = self.outgoing.send(Outgoing { frame, slot }).await {
            self.unsent.written(&unsent.0.frame);
        }
    }

    /// Queues a frame if there is room right now: for notifications, which a slow client may
    /// miss rather than hold up the work.
    fn offer(&self, frame: Vec<u8>) {
        self.unsent.queued(&frame);
        if let Err(refused) = self.outgoing.try_send(Outgoing { frame, slot: None }) {
            self.unsent.written(&refused.into_inner().frame);
        }
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

/// A message to read, wherever it came from: seekable (the engine reads in passes) and of
/// known length. Reading it moves the request's progress.
#[derive(Debug)]
pub struct Source {
    inner: SourceKind,
    len: u64,
    pos: u64,
    reporter: Reporter,
}

#[derive(Debug)]
enum SourceKind {
    Memory(Cursor<Vec<u8>>),
    File(File),
}

impl Source {
    fn new(inner: SourceKind, len: u64, mut reporter: Reporter) -> Self {
        reporter.start(len);
        Self {
            inner,
            len,
            pos: 0,
            reporter,
        }
    }

    /// The message's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the message is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole message in memory, for the operations that work there (signing, checking
    /// signatures).
    pub fn into_bytes(mut self) -> io::Result<Vec<u8>> {
        match std::mem::replace(&mut self.inner, SourceKind::Memory(Cursor::default())) {
            SourceKind::Memory(cursor) => {
                self.reporter.reach(self.len);
                Ok(cursor.into_inner())
            }
            SourceKind::File(file) => {
                let mut data = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
                self.inner = SourceKind::File(file);
                self.rewind()?;
                self.read_to_end(&mut data)?;
                Ok(data)
            }
        }
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match &mut self.inner {
            SourceKind::Memory(cursor) => cursor.read(buf)?,
            SourceKind::File(file) => file.read(buf)?,
        };
        self.pos += n as u64;
        self.reporter.reach(self.pos);
        Ok(n)
    }
}

impl Seek for Source {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = match &mut self.inner {
            SourceKind::Memory(cursor) => cursor.seek(to)?,
            SourceKind::File(file) => file.seek(to)?,
        };
        Ok(self.pos)
    }
}

/// Opens the message of `payload` for reading, with progress reported to `reporter`. `field`
/// names the parameter in errors (e.g. `params.message`).
pub fn open_payload(
    payload: Payload,
    session: &Session,
    field: &str,
    reporter: Reporter,
) -> Result<Source, RpcError> {
    let (file, field) = match payload {
        Payload::Inline(bytes) => {
            let bytes = bytes.into_inner();
            let len = bytes.len() as u64;
            return Ok(Source::new(
                SourceKind::Memory(Cursor::new(bytes)),
                len,
                reporter,
            ));
        }
        Payload::Path(path) => {
            let field = format!("{field}.path");
            (files::open_input(path.as_path(), &field)?, field)
        }
        Payload::Stream(id) => (session.streams.reader(&id)?, format!("{field}.stream")),
    };
    let len = file
        .metadata()
        .map_err(|e| {
            RpcError::new(
                ErrorKind::BadPath {
                    field: field.clone(),
                },
                format!("{field}: cannot read the file: {e}"),
            )
        })?
        .len();
    Ok(Source::new(SourceKind::File(file), len, reporter))
}

/// Where a resulting message is written as it is produced: memory (inline in the reply), a
/// temporary file beside the requested output file, or a new stream. Dropped without
/// [`Sink::finish`] (the request failed), it leaves nothing: the temporary file is deleted, the
/// stream closed.
pub struct Sink {
    kind: Option<SinkKind>,
    written: u64,
}

enum SinkKind {
    Memory(Vec<u8>),
    /// Written by a thread of its own once it is large, overlapping with the work that
    /// makes it.
    File {
        file: WriteBehind<files::OutputFile>,
        target: AbsolutePath,
    },
    Stream {
        file: BufWriter<File>,
        session: Arc<Session>,
        stream: StreamId,
    },
}

/// How much output is gathered before it is written to a file.
const WRITE_BUFFER: usize = 256 * 1024;

impl Sink {
    /// A sink for `output`; a bad output path fails here, before any work is done.
    pub fn new(output: Option<&Output>, session: &Arc<Session>) -> Result<Self, RpcError> {
        let kind = match output {
            None => SinkKind::Memory(Vec::new()),
            Some(Output::Path(path)) => SinkKind::File {
                file: WriteBehind::new(files::create_output(path.as_path(), "params.output.path")?),
                target: path.clone(),
            },
            Some(Output::Stream) => {
                let stream = session.streams.open()?;
                let file = session.streams.writer(&stream)?;
                SinkKind::Stream {
                    file: BufWriter::with_capacity(WRITE_BUFFER, file),
                    session: Arc::clone(session),
                    stream,
                }
            }
        };
        Ok(Self {
            kind: Some(kind),
            written: 0,
        })
    }

    /// Hands the result over: in the reply, renamed over the output file (after an fsync), or
    /// as the new stream.
    pub fn finish(mut self) -> Result<Delivered, RpcError> {
        let bytes = self.written;
        match self.kind.take().expect("a sink is finished once") {
            SinkKind::Memory(data) => Ok(data.into()),
            SinkKind::File { file, target } => {
                files::persist_output(file.finish(), target.as_path(), "params.output.path")?;
                Ok(Delivered::Path {
                    path: target,
                    bytes,
                })
            }
            SinkKind::Stream {
                file,
                session,
                stream,
            } => {
                let delivered = file
                    .into_inner()
                    .map_err(|e| streams::internal("write", e.into_error()))
                    .and_then(|_| session.streams.count_written(&stream, bytes));
                if let Err(e) = delivered {
                    let _ = session.streams.close(&stream);
                    return Err(e);
                }
                Ok(Delivered::Stream { stream, bytes })
            }
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match self.kind.as_mut().expect("an unfinished sink") {
            SinkKind::Memory(data) => {
                data.extend_from_slice(buf);
                buf.len()
            }
            SinkKind::File { file, .. } => file.write(buf)?,
            SinkKind::Stream { file, .. } => file.write(buf)?,
        };
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.kind.as_mut().expect("an unfinished sink") {
            SinkKind::Memory(_) => Ok(()),
            SinkKind::File { file, .. } => file.flush(),
            SinkKind::Stream { file, .. } => file.flush(),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        // A temporary output file deletes itself; a stream must be taken off the table.
        if let Some(SinkKind::Stream {
            session, stream, ..
        }) = self.kind.take()
        {
            let _ = session.streams.close(&stream);
        }
    }
}
