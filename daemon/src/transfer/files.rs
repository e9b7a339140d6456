//! Messages by file path: the input must be an existing regular file; the output is written
//! to a temporary file beside the target and renamed over it only when everything succeeded,
//! so a failed request leaves neither a partial file nor a stray temporary one.
//!
//! The daemon runs as the user, so it can read and write only what the user can: a path is a
//! convenience for local clients, not a privilege.

use mailseal_files::sync_dir;
use mailseal_protocol::{ErrorKind, RpcError};
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use tempfile::NamedTempFile;

fn bad_path(field: &str, why: impl std::fmt::Display) -> RpcError {
    RpcError::new(
        ErrorKind::BadPath {
            field: field.to_owned(),
        },
        format!("{field}: {why}"),
    )
}

/// Opens an input message; anything but a regular file (a directory, a FIFO that would block
/// the daemon, a device) is refused before it is opened.
pub fn open_input(path: &Path, field: &str) -> Result<File, RpcError> {
    let metadata = std::fs::metadata(path)
        .map_err(|e| bad_path(field, format_args!("cannot use {}: {e}", path.display())))?;
    if !metadata.is_file() {
        return Err(bad_path(
            field,
            format_args!("{} is not a regular file", path.display()),
        ));
    }
    File::open(path)
        .map_err(|e| bad_path(field, format_args!("cannot read {}: {e}", path.display())))
}

/// Checks, before any work is done, that `path` can become the output: its directory exists
/// and the path is not something other than a regular file.
pub fn check_output(path: &Path, field: &str) -> Result<(), RpcError> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| bad_path(field, "the path names no file"))?;
    if !parent.is_dir() {
        return Err(bad_path(
            field,
            format_args!("the directory {} does not exist", parent.display()),
        ));
    }
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if !metadata.is_file() => Err(bad_path(
            field,
            format_args!("{} exists and is not a regular file", path.display()),
        )),
        _ => Ok(()),
    }
}

/// The temporary file an output is written to, sent on its way to the disk every
/// [`WRITEBACK_EVERY`] bytes as it grows: the promise is an output on disk before it is
/// renamed into place, and starting the writes early lets the disk work while the rest is
/// still being made, so that the flush before the rename has little left to wait for.
pub struct OutputFile {
    file: NamedTempFile,
    /// Bytes written.
    written: u64,
    /// Bytes sent on their way to the disk.
    started: u64,
}

/// How many bytes of output are sent to the disk at a time while it is written.
const WRITEBACK_EVERY: u64 = 1 << 20;

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITEBACK_EVERY {
            start_writeback(
                self.file.as_file(),
                self.started,
                self.written - self.started,
            );
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Creates the temporary file the output is written to: in the output's directory (so that
/// the rename is atomic), 0600, deleted if dropped.
pub fn create_output(path: &Path, field: &str) -> Result<OutputFile, RpcError> {
    check_output(path, field)?;
    let dir = path.parent().expect("check_output found the directory");
    let file = tempfile::Builder::new()
        .prefix(".mailseal-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| {
            bad_path(
                field,
                format_args!("cannot write in {}: {e}", dir.display()),
            )
        })?;
    Ok(OutputFile {
        file,
        written: 0,
        started: 0,
    })
}

/// Starts writing `len` bytes of `file` from `offset` to the disk without waiting for them:
/// on Linux, the writeback that `POSIX_FADV_DONTNEED` starts on dirty pages. It is only
/// advice: where it is not given, or fails, the flush before the rename does all the work.
/// (A flush to disk here would wait for the disk and for a journal commit every time.)
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    let _ = rustix::fs::fadvise(
        file,
        offset,
        std::num::NonZeroU64::new(len),
        rustix::fs::Advice::DontNeed,
    );
}

/// Elsewhere, the flush before the rename does all the work.
#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

/// Flushes the finished output to disk and renames it over `path`, then flushes the
/// directory so that the rename survives a crash.
pub fn persist_output(
    file: io::Result<OutputFile>,
    path: &Path,
    field: &str,
) -> Result<(), RpcError> {
    let failed = |e: &dyn std::fmt::Display| {
        bad_path(field, format_args!("cannot write {}: {e}", path.display()))
    };
    let OutputFile { file, .. } = file.map_err(|e| failed(&e))?;
    file.as_file().sync_all().map_err(|e| failed(&e))?;
    file.persist(path).map_err(|e| failed(&e.error))?;
    let dir = path.parent().expect("the output has a directory");
    sync_dir(dir).map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_must_be_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.eml");
        std::fs::write(&file, b"x").unwrap();
        assert!(open_input(&file, "params.message.path").is_ok());
        for bad in [dir.path().to_owned(), dir.path().join("missing")] {
            let err = open_input(&bad, "params.message.path").unwrap_err();
            assert_eq!(
                err.kind,
                ErrorKind::BadPath {
                    field: "params.message.path".into()
                }
            );
        }
    }

    #[test]
    fn outputs_are_written_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.eml");
        let mut temp = create_output(&out, "params.output.path").unwrap();
        temp.write_all(b"done").unwrap();
        assert!(!out.exists(), "nothing is visible before it is persisted");
        persist_output(Ok(temp), &out, "params.output.path").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"done");
        assert!(check_output(&dir.path().join("no/such/dir/o.eml"), "f").is_err());
        assert!(create_output(dir.path(), "f").is_err());
        drop(create_output(&dir.path().join("failed.eml"), "f").unwrap());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.eml"], "no temporary file is left behind");
    }
}
