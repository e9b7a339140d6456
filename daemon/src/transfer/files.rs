//! Messages by file path: the input must be an existing regular file; the output is written
//! to a temporary file beside the target and renamed over it only when everything succeeded,
//! so a failed request leaves neither a partial file nor a stray temporary one.
//!
//! The daemon runs as the user, so it can read and write only what the user can: a path is a
//! convenience for local clients, not a privilege.

use crate::atomic_file::sync_dir;
use mailseal_protocol::{ErrorKind, RpcError};
use std::fs::File;
use std::io;
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

/// Creates the temporary file the output is written to: in the output's directory (so that
/// the rename is atomic), 0600, deleted if dropped.
pub fn create_output(path: &Path, field: &str) -> Result<NamedTempFile, RpcError> {
    check_output(path, field)?;
    let dir = path.parent().expect("check_output found the directory");
    tempfile::Builder::new()
        .prefix(".mailseal-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| {
            bad_path(
                field,
                format_args!("cannot write in {}: {e}", dir.display()),
            )
        })
}

/// Flushes the finished output to disk and renames it over `path`, then flushes the
/// directory so that the rename survives a crash.
pub fn persist_output(
    file: io::Result<NamedTempFile>,
    path: &Path,
    field: &str,
) -> Result<(), RpcError> {
    let failed = |e: &dyn std::fmt::Display| {
        bad_path(field, format_args!("cannot write {}: {e}", path.display()))
    };
    let file = file.map_err(|e| failed(&e))?;
    file.as_file().sync_all().map_err(|e| failed(&e))?;
    file.persist(path).map_err(|e| failed(&e.error))?;
    let dir = path.parent().expect("the output has a directory");
    sync_dir(dir).map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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
