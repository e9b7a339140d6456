//! Scratch space for the intermediate results of one request (the canonical entity, the
//! decoded CMS, the decrypted content): in memory while small, in a private temporary file
//! beyond that, so that a message of any size is processed in bounded memory and a small one
//! never touches the disk.

use std::path::PathBuf;
use tempfile::SpooledTempFile;

/// Up to this many bytes an intermediate result stays in memory.
pub const IN_MEMORY: usize = 1 << 20;

/// Where intermediate results go.
#[derive(Debug, Clone)]
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// Scratch files in `dir`, which must be private to the user (the daemon uses
    /// `<data dir>/streams`, 0700 and emptied at start). The files are unnamed (unlinked at
    /// once), so none is left behind, not even by a crash.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// A new, empty spool.
    pub fn spool(&self) -> SpooledTempFile {
        tempfile::spooled_tempfile_in(IN_MEMORY, &self.dir)
    }
}
