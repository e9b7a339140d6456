//! `stream.*` streams: private temporary files of the daemon, each owned by the connection that
//! opened it.
//!
//! The files live in `<data dir>/streams` (0700, like the data directory), are created 0600,
//! and are deleted when the stream is closed, when its connection ends (the table is dropped
//! with the connection's session) and, for files a crash left behind, when the daemon starts.
//! Ids are 128 random bits, but ownership does not rest on their secrecy: a connection can
//! only name streams in its own table.
//!
//! Streams are what a client can make the daemon keep, so they are bounded three ways, each
//! answered with `limit_exceeded` naming its config key: streams per connection
//! (`max_streams_per_connection`), bytes in a connection's open streams
//! (`max_stream_bytes_per_connection`, a full disk being the harm), and streams over all
//! connections ([`OpenStreams`], `max_open_streams`): each holds an open file, and before this
//! budget one client opening streams in a loop used up the open-file limit, after which the
//! daemon could accept no connection at all.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use mailseal_protocol::methods::transfer::{MAX_CHUNK_BYTES, StreamId};
use mailseal_protocol::{ErrorKind, RpcError};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tempfile::NamedTempFile;

/// The directory for stream files under the data directory.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("streams")
}

/// Empties (or creates) the stream directory at start: streams never outlive the daemon.
pub fn reset_dir(data_dir: &Path) -> io::Result<()> {
    let dir = dir(data_dir);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    mailseal_files::create_private_dir(&dir)
}

/// The streams open over all connections, each holding an open file: a budget the server
/// sizes to what the open-file limit leaves once every connection has its share, so that
/// streams can never take the descriptors new connections need.
#[derive(Debug)]
pub struct OpenStreams {
    max: usize,
    open: AtomicUsize,
}

impl OpenStreams {
    /// A budget of `max` streams.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: AtomicUsize::new(0),
        })
    }

    /// How many streams are open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Room for one more stream, given back when the permit is dropped; `None` when the budget
    /// is spent.
    fn take(self: &Arc<Self>) -> Option<OpenStream> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            })
            .ok()
            .map(|_| OpenStream(Arc::clone(self)))
    }
}

/// One stream's place in [`OpenStreams`].
#[derive(Debug)]
struct OpenStream(Arc<OpenStreams>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What one connection's streams may hold.
#[derive(Debug, Clone)]
pub struct StreamLimits {
    /// Streams open at once (`max_streams_per_connection`).
    pub streams: usize,
    /// Bytes in all open streams together (`max_stream_bytes_per_connection`).
    pub bytes: u64,
    /// The daemon-wide budget (`max_open_streams`).
    pub everywhere: Arc<OpenStreams>,
}

#[cfg(test)]
impl StreamLimits {
    /// Limits no test reaches unless it means to.
    pub fn roomy() -> Self {
        Self {
            streams: 100,
            bytes: 1 << 30,
            everywhere: OpenStreams::new(100),
        }
    }
}

/// An open stream: its file, the bytes counted against the connection's quota, and its
/// place in the daemon-wide budget.
#[derive(Debug)]
struct StreamFile {
    file: NamedTempFile,
    counted: u64,
    _open: OpenStream,
}

/// The streams of one connection.
#[derive(Debug)]
pub struct StreamTable {
    dir: PathBuf,
    limits: StreamLimits,
    streams: Mutex<HashMap<StreamId, Arc<Mutex<StreamFile>>>>,
    /// Bytes counted in all of this connection's open streams.
    bytes: AtomicU64,
}

/// A limit on streams was reached.
fn limit_exceeded(limit: &str, message: String) -> RpcError {
    RpcError::new(
        ErrorKind::LimitExceeded {
            limit: limit.to_owned(),
            retry_after_seconds: None,
        },
        message,
    )
}

/// A stream file that could not be used: a local failure.
pub fn internal(what: &str, e: impl std::fmt::Display) -> RpcError {
    RpcError::new(
        ErrorKind::Internal,
        format!("cannot {what} a stream file: {e}"),
    )
}

impl StreamTable {
    /// An empty table whose files go into `dir`, within `limits`.
    pub fn new(dir: PathBuf, limits: StreamLimits) -> Self {
        Self {
            dir,
            limits,
            streams: Mutex::new(HashMap::new()),
            bytes: AtomicU64::new(0),
        }
    }

    /// Opens a new, empty stream.
    pub fn open(&self) -> Result<StreamId, RpcError> {
        let mut table = self.table();
        if table.len() >= self.limits.streams {
            return Err(limit_exceeded(
                "max_streams_per_connection",
                format!(
                    "this connection already has {} streams open, its limit; close some first",
                    table.len()
                ),
            ));
        }
        let open = self.limits.everywhere.take().ok_or_else(|| {
            limit_exceeded(
                "max_open_streams",
                format!(
                    "the daemon has {} streams open, all it can keep; try again later",
                    self.limits.everywhere.max
                ),
            )
        })?;
        let mut raw = [0u8; 16];
        SystemRandom::new()
            .fill(&mut raw)
            .map_err(|_| internal("name", "no randomness"))?;
        let id = StreamId::new(hex::encode(raw));
        let file = tempfile::Builder::new()
            .prefix("stream-")
            .tempfile_in(&self.dir)
            .map_err(|e| internal("create", e))?;
        let file = StreamFile {
            file,
            counted: 0,
            _open: open,
        };
        table.insert(id.clone(), Arc::new(Mutex::new(file)));
        Ok(id)
    }

    /// Appends `data` (at most [`MAX_CHUNK_BYTES`] from a client) and returns the new length.
    pub fn append(&self, id: &StreamId, data: &[u8]) -> Result<u64, RpcError> {
        let stream = self.get(id)?;
        let mut stream = stream.lock().unwrap_or_else(|e| e.into_inner());
        self.count(data.len() as u64)?;
        let file = stream.file.as_file_mut();
        let written = file
            .seek(SeekFrom::End(0))
            .and_then(|_| file.write_all(data))
            .and_then(|()| file.stream_position());
        match written {
            Ok(length) => {
                stream.counted += data.len() as u64;
                Ok(length)
            }
            Err(e) => {
                // Nothing of a failed chunk counts; the stream is of no use after a disk error anyway.
                self.bytes.fetch_sub(data.len() as u64, Ordering::AcqRel);
                Err(internal("write", e))
            }
        }
    }

    /// Counts `bytes` the daemon wrote into stream `id` (a method's result) against the
    /// connection's quota; over it, the caller fails the request, which closes the stream.
    /// Checked once the result is written, not per write: the result of an input within the
    /// quota is at most a few times its size, and the check then costs nothing per write.
    pub fn count_written(&self, id: &StreamId, bytes: u64) -> Result<(), RpcError> {
        let stream = self.get(id)?;
        let mut stream = stream.lock().unwrap_or_else(|e| e.into_inner());
        self.count(bytes)?;
        stream.counted += bytes;
        Ok(())
    }

    /// Adds `bytes` to the connection's count unless that passes its quota.
    fn count(&self, bytes: u64) -> Result<(), RpcError> {
        let quota = self.limits.bytes;
        self.bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|total| *total <= quota)
            })
            .map(drop)
            .map_err(|held| {
                limit_exceeded(
                    "max_stream_bytes_per_connection",
                    format!(
                        "this connection's streams hold {held} bytes; {bytes} more would pass its limit of {quota}; close some first"
                    ),
                )
            })
    }

    /// Up to `length` bytes from `offset` (at most [`MAX_CHUNK_BYTES`]), and whether the stream
    /// ends after them.
    pub fn read_at(
        &self,
        id: &StreamId,
        offset: u64,
        length: usize,
    ) -> Result<(Vec<u8>, bool), RpcError> {
        let stream = self.get(id)?;
        let mut stream = stream.lock().unwrap_or_else(|e| e.into_inner());
        let file = stream.file.as_file_mut();
        let size = file.metadata().map_err(|e| internal("read", e))?.len();
        let mut data = Vec::with_capacity(length.min(MAX_CHUNK_BYTES));
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| {
                Read::by_ref(file)
                    .take(length.min(MAX_CHUNK_BYTES) as u64)
                    .read_to_end(&mut data)
            })
            .map_err(|e| internal("read", e))?;
        let eof = offset.saturating_add(data.len() as u64) >= size;
        Ok((data, eof))
    }

    /// A handle reading the stream from its start, for a method that takes it as input.
    pub fn reader(&self, id: &StreamId) -> Result<File, RpcError> {
        let stream = self.get(id)?;
        let stream = stream.lock().unwrap_or_else(|e| e.into_inner());
        stream.file.reopen().map_err(|e| internal("reopen", e))
    }

    /// A handle writing the stream from its start, for a method that puts its result there.
    pub fn writer(&self, id: &StreamId) -> Result<File, RpcError> {
        let stream = self.get(id)?;
        let stream = stream.lock().unwrap_or_else(|e| e.into_inner());
        stream.file.reopen().map_err(|e| internal("reopen", e))
    }

    /// Closes the stream, deleting its file; returns its length.
    pub fn close(&self, id: &StreamId) -> Result<u64, RpcError> {
        let stream = self.table().remove(id).ok_or_else(|| unknown(id))?;
        let stream = stream.lock().unwrap_or_else(|e| e.into_inner());
        self.bytes.fetch_sub(stream.counted, Ordering::AcqRel);
        let size = stream.file.as_file().metadata().map_or(0, |m| m.len());
        Ok(size)
    }

    fn get(&self, id: &StreamId) -> Result<Arc<Mutex<StreamFile>>, RpcError> {
        self.table().get(id).cloned().ok_or_else(|| unknown(id))
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<StreamId, Arc<Mutex<StreamFile>>>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn unknown(id: &StreamId) -> RpcError {
    RpcError::new(
        ErrorKind::UnknownStream {
            stream: id.to_string(),
        },
        format!(
            "stream {id} is not open on this connection (closed, never opened, or another connection's)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roomy() -> StreamLimits {
        StreamLimits::roomy()
    }

    fn exceeded(error: RpcError) -> String {
        match error.kind {
            ErrorKind::LimitExceeded {
                limit,
                retry_after_seconds: None,
            } => limit,
            other => panic!("not limit_exceeded: {other:?}"),
        }
    }

    #[test]
    fn streams_hold_what_was_written_until_closed() {
        let dir = tempfile::tempdir().unwrap();
        let table = StreamTable::new(dir.path().to_owned(), roomy());
        let id = table.open().unwrap();
        assert_eq!(table.append(&id, b"hello ").unwrap(), 6);
        assert_eq!(table.append(&id, b"world").unwrap(), 11);
        assert_eq!(
            table.read_at(&id, 0, 5).unwrap(),
            (b"hello".to_vec(), false)
        );
        assert_eq!(
            table.read_at(&id, 6, 100).unwrap(),
            (b"world".to_vec(), true)
        );
        let mut whole = String::new();
        table
            .reader(&id)
            .unwrap()
            .read_to_string(&mut whole)
            .unwrap();
        assert_eq!(whole, "hello world");
        assert_eq!(table.close(&id).unwrap(), 11);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let err = table.append(&id, b"x").unwrap_err();
        assert!(matches!(err.kind, ErrorKind::UnknownStream { .. }));
    }

    #[test]
    fn dropping_the_table_deletes_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let table = StreamTable::new(dir.path().to_owned(), roomy());
        table.open().unwrap();
        table.open().unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        drop(table);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_connection_opens_at_most_its_quota_of_streams() {
        let dir = tempfile::tempdir().unwrap();
        let limits = StreamLimits {
            streams: 2,
            ..roomy()
        };
        let table = StreamTable::new(dir.path().to_owned(), limits);
        let first = table.open().unwrap();
        table.open().unwrap();
        let refused = table.open().unwrap_err();
        assert_eq!(exceeded(refused), "max_streams_per_connection");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        table.close(&first).unwrap();
        table.open().unwrap();
    }

    #[test]
    fn a_connections_streams_hold_at_most_its_quota_of_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let limits = StreamLimits {
            bytes: 10,
            ..roomy()
        };
        let table = StreamTable::new(dir.path().to_owned(), limits);
        let (one, two) = (table.open().unwrap(), table.open().unwrap());
        table.append(&one, b"123456").unwrap();
        let refused = table.append(&two, b"12345").unwrap_err();
        assert_eq!(exceeded(refused), "max_stream_bytes_per_connection");
        assert_eq!(table.read_at(&two, 0, 100).unwrap().0, b"");
        table.append(&two, b"1234").unwrap();
        // Results the daemon writes into a stream count too.
        let refused = table.count_written(&two, 1).unwrap_err();
        assert_eq!(exceeded(refused), "max_stream_bytes_per_connection");
        // Closing a stream gives its bytes back.
        table.close(&one).unwrap();
        table.count_written(&two, 6).unwrap();
    }

    #[test]
    fn all_connections_together_open_at_most_the_daemons_budget() {
        let dir = tempfile::tempdir().unwrap();
        let everywhere = OpenStreams::new(3);
        let limits = StreamLimits {
            everywhere: Arc::clone(&everywhere),
            ..roomy()
        };
        let (a, b) = (
            StreamTable::new(dir.path().to_owned(), limits.clone()),
            StreamTable::new(dir.path().to_owned(), limits),
        );
        a.open().unwrap();
        a.open().unwrap();
        let last = b.open().unwrap();
        assert_eq!(exceeded(a.open().unwrap_err()), "max_open_streams");
        assert_eq!(exceeded(b.open().unwrap_err()), "max_open_streams");
        assert_eq!(everywhere.open(), 3);
        b.close(&last).unwrap();
        a.open().unwrap();
        // A connection's end gives its streams back.
        drop(a);
        assert_eq!(everywhere.open(), 0);
    }
}
