//! Crash-safe file writes: a reader sees the old file or the new one, never a torn one.
//!
//! Keys and certificates are written to a temporary file in the same directory, flushed to disk,
//! renamed over the target, and the directory is flushed so the rename itself survives a crash.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with `contents` atomically; the file is readable by its owner only.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    stage(path, contents)?.commit()
}

/// A write prepared by [`stage`]: the contents are on disk under a temporary name beside the
/// target, and [`Staged::commit`] renames them into place. Dropped uncommitted, the temporary
/// file is removed and the target left as it was.
///
/// For writers that must be able to call a write off until the last moment: all the slow
/// part (writing and flushing) is done when the decision is taken, and the rename is instant.
#[derive(Debug)]
#[must_use = "a staged write does nothing until it is committed"]
pub struct Staged {
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

/// Writes `contents` to a temporary file beside `path`, readable by its owner only, and
/// flushes it; nothing is visible at `path` until [`Staged::commit`].
pub fn stage(path: &Path, contents: &[u8]) -> io::Result<Staged> {
    let staged = Staged {
        temp: temp_path_beside(path)?,
        target: path.to_owned(),
        committed: false,
    };
    // On failure `staged` is dropped, which removes whatever was written.
    write_new(&staged.temp, contents)?;
    Ok(staged)
}

impl Staged {
    /// Renames the contents over the target and flushes the directory, so that the new file
    /// survives a crash.
    pub fn commit(mut self) -> io::Result<()> {
        fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        sync_dir(parent(&self.target))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// A new temporary name beside `path`: `.<name>.<pid>.<serial>.tmp`, unique per process and
/// per write so that concurrent writers never share one, and recognised by [`is_temp_name`]
/// so that what a crash left can be removed at the next start.
pub(crate) fn temp_path_beside(path: &Path) -> io::Result<PathBuf> {
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut temp_name = OsString::from(".");
    temp_name.push(file_name);
    let serial = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
    temp_name.push(format!(".{}.{serial}.tmp", std::process::id()));
    Ok(parent(path).join(temp_name))
}

/// Whether `name` is one that [`temp_path_beside`] makes.
pub(crate) fn is_temp_name(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    let Some(stem) = name
        .strip_prefix('.')
        .and_then(|rest| rest.strip_suffix(".tmp"))
    else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mut parts = stem.rsplitn(3, '.');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(serial), Some(pid), Some(target)) if digits(serial) && digits(pid) && !target.is_empty()
    )
}

/// The directory `path` is in (the current one for a bare file name).
pub(crate) fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Removes `path` and makes the removal durable.
pub fn remove_durably(path: &Path) -> io::Result<()> {
    fs::remove_file(path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Creates a directory (and its parents) that only the owner can enter.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    private_dir_builder(true).create(path)
}

/// Creates directories readable by their owner only (0700 on Unix); with `recursive`, missing
/// parents too and an existing directory is fine.
pub(crate) fn private_dir_builder(recursive: bool) -> fs::DirBuilder {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(recursive);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
}

fn write_new(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Flushes a directory, so that a rename or removal in it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    // Windows cannot open a directory as a file; NTFS journals the rename itself.
    if cfg!(unix) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_contents_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("key.pem")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        remove_durably(&path).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn a_staged_write_shows_only_once_committed_and_leaves_nothing_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ann.p12");
        drop(stage(&path, b"called off").unwrap());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        let staged = stage(&path, b"delivered").unwrap();
        assert!(!path.exists());
        staged.commit().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"delivered");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn temp_names_are_recognised_and_nothing_else_is() {
        let temp = temp_path_beside(Path::new("/store/ab12.pem")).unwrap();
        assert!(is_temp_name(temp.file_name().unwrap()), "{temp:?}");
        for name in [".ab12.caps.4242.7.tmp", ".x.1.0.tmp"] {
            assert!(is_temp_name(OsStr::new(name)), "{name}");
        }
        for name in [
            "ab12.pem",
            ".ab12.pem",
            "ab12.pem.1.2.tmp",
            "..1.2.tmp",
            ".ab12.pem.x.2.tmp",
            ".ab12.pem.1.tmp",
            ".notes.tmp",
        ] {
            assert!(!is_temp_name(OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn a_failed_rename_leaves_the_target_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory at the target makes the final rename fail.
        let target = dir.path().join("cert.pem");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), b"kept").unwrap();
        assert!(write_atomically(&target, b"new").is_err());
        assert_eq!(fs::read(target.join("inside")).unwrap(), b"kept");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp file cleaned up"
        );
    }
}
