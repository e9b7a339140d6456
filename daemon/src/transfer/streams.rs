//! `stream.*` streams: private temporary files of the daemon, each owned by the connection that
//! opened it.
//!
//! The files live in `<data dir>/streams` (0700, like the data directory), are created 0600,
//! and are deleted when the stream is closed, when its connection ends (the table is dropped
//! with the connection's session) and, for files a crash left behind, when the daemon starts.
//! Ids are 128 random bits, but ownership does not rest on their secrecy: a connection can
//! only name streams in its own table.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use mailseal_protocol::methods::transfer::{MAX_CHUNK_BYTES, StreamId};
use mailseal_protocol::{ErrorKind, RpcError};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
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

/// The streams of one connection.
#[derive(Debug)]
pub struct StreamTable {
    dir: PathBuf,
    streams: Mutex<HashMap<StreamId, Arc<Mutex<NamedTempFile>>>>,
}

/// A stream file that could not be used: a local failure.
pub fn internal(what: &str, e: impl std::fmt::Display) -> RpcError {
    RpcError::new(
        ErrorKind::Internal,
        format!("cannot {what} a stream file: {e}"),
    )
}

impl StreamTable {
    /// An empty table whose files go into `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            streams: Mutex::new(HashMap::new()),
        }
    }

    /// Opens a new, empty stream.
    pub fn open(&self) -> Result<StreamId, RpcError> {
        let mut raw = [0u8; 16];
        SystemRandom::new()
            .fill(&mut raw)
            .map_err(|_| internal("name", "no randomness"))?;
        let id = StreamId::new(hex::encode(raw));
        let file = tempfile::Builder::new()
            .prefix("stream-")
            .tempfile_in(&self.dir)
            .map_err(|e| internal("create", e))?;
        self.table().insert(id.clone(), Arc::new(Mutex::new(file)));
        Ok(id)
    }

    /// Appends `data` (at most [`MAX_CHUNK_BYTES`] from a client) and returns the new length.
    pub fn append(&self, id: &StreamId, data: &[u8]) -> Result<u64, RpcError> {
        let file = self.get(id)?;
        let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
        let file = file.as_file_mut();
        file.seek(SeekFrom::End(0))
            .and_then(|_| file.write_all(data))
            .and_then(|()| file.stream_position())
            .map_err(|e| internal("write", e))
    }

    /// Up to `length` bytes from `offset` (at most [`MAX_CHUNK_BYTES`]), and whether the stream
    /// ends after them.
    pub fn read_at(
        &self,
        id: &StreamId,
        offset: u64,
        length: usize,
    ) -> Result<(Vec<u8>, bool), RpcError> {
        let file = self.get(id)?;
        let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
        let file = file.as_file_mut();
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
        let file = self.get(id)?;
        let file = file.lock().unwrap_or_else(|e| e.into_inner());
        file.reopen().map_err(|e| internal("reopen", e))
    }

    /// A handle writing the stream from its start, for a method that puts its result there.
    pub fn writer(&self, id: &StreamId) -> Result<File, RpcError> {
        let file = self.get(id)?;
        let file = file.lock().unwrap_or_else(|e| e.into_inner());
        file.reopen().map_err(|e| internal("reopen", e))
    }

    /// Closes the stream, deleting its file; returns its length.
    pub fn close(&self, id: &StreamId) -> Result<u64, RpcError> {
        let file = self.table().remove(id).ok_or_else(|| unknown(id))?;
        let file = file.lock().unwrap_or_else(|e| e.into_inner());
        let size = file.as_file().metadata().map_or(0, |m| m.len());
        Ok(size)
    }

    fn get(&self, id: &StreamId) -> Result<Arc<Mutex<NamedTempFile>>, RpcError> {
        self.table().get(id).cloned().ok_or_else(|| unknown(id))
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<StreamId, Arc<Mutex<NamedTempFile>>>> {
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

    #[test]
    fn streams_hold_what_was_written_until_closed() {
        let dir = tempfile::tempdir().unwrap();
        let table = StreamTable::new(dir.path().to_owned());
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
        let table = StreamTable::new(dir.path().to_owned());
        table.open().unwrap();
        table.open().unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        drop(table);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
