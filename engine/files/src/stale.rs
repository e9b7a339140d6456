//! Removing what a crash left behind: the temporary files (and staged directories) of
//! [`crate::stage`] and [`crate::stage_dir`] that were never committed.
//!
//! They can hold a whole sealed key or a CA under construction, and nothing else would ever
//! remove them; each store calls [`remove_stale_temps`] when it opens, which is when no write
//! of this process can be under way in it (a store has one writer: its daemon).

use crate::StoreError;
use crate::atomic::is_temp_name;
use std::fs;
use std::io;
use std::path::Path;

/// Removes every temporary file or directory named by this crate's scheme
/// (`.<name>.<pid>.<serial>.tmp`) directly in `dir`, and returns how many; a missing `dir` has
/// none. Nothing else is touched, whatever its name.
///
/// # Errors
/// [`StoreError::Io`] when `dir` cannot be listed or a leftover cannot be removed.
pub fn remove_stale_temps(dir: &Path) -> Result<usize, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(StoreError::io("read", dir)(e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(StoreError::io("read", dir))?;
        if !is_temp_name(&entry.file_name()) {
            continue;
        }
        let path = entry.path();
        // `file_type` does not follow a symlink: a link is removed, never what it points to.
        let is_dir = entry
            .file_type()
            .map_err(StoreError::io("read", &path))?
            .is_dir();
        if is_dir {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        }
        .map_err(StoreError::io("remove", &path))?;
        removed += 1;
    }
    if removed > 0 {
        crate::sync_dir(dir).map_err(StoreError::io("sync", dir))?;
    }
    Ok(removed)
}

/// Opens a store's directory: creates it private (0700) if needed and removes what
/// interrupted writes left in it, saying so in the log. Every store calls this first.
///
/// # Errors
/// [`StoreError::Io`] when the directory cannot be created or cleaned.
pub fn open_store_dir(dir: &Path) -> Result<(), StoreError> {
    crate::create_private_dir(dir).map_err(StoreError::io("create", dir))?;
    let stale = remove_stale_temps(dir)?;
    if stale > 0 {
        tracing::info!(dir = %dir.display(), stale, "removed temporary files of interrupted writes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_of_the_naming_scheme_go_and_everything_else_stays() {
        let dir = tempfile::tempdir().unwrap();
        let keep = [
            "ab12.pem",
            "ab12.caps",
            ".hidden",
            "notes.tmp",
            ".ab12.pem.x.1.tmp",
        ];
        for name in keep {
            fs::write(dir.path().join(name), b"kept").unwrap();
        }
        fs::write(dir.path().join(".ab12.pem.4242.0.tmp"), b"sealed key").unwrap();
        fs::write(dir.path().join(".ab12.caps.4242.3.tmp"), b"1.2.3").unwrap();
        let staged = dir.path().join(".ca.4242.9.tmp");
        fs::create_dir(&staged).unwrap();
        fs::write(staged.join("root-ca.key"), b"sealed").unwrap();

        assert_eq!(remove_stale_temps(dir.path()).unwrap(), 3);
        let mut left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut expected = keep.map(str::to_owned).to_vec();
        expected.sort();
        assert_eq!(left, expected);
        assert_eq!(remove_stale_temps(&dir.path().join("absent")).unwrap(), 0);
    }
}
