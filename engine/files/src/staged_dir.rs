//! A directory built whole beside its target and moved into place only when complete, for
//! stores that must appear all at once or not at all (the CA: its keys, certificates and
//! database are written while the CA does not exist yet).

use crate::atomic::{parent, private_dir_builder, sync_dir, temp_path_beside};
use crate::create_private_dir;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A directory under construction, made by [`stage_dir`]. Dropped uncommitted, it is removed
/// with everything in it (and a crash leaves it to [`crate::remove_stale_temps`] of the
/// target's parent).
#[derive(Debug)]
#[must_use = "a staged directory does nothing until it is committed"]
pub struct StagedDir {
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

/// Creates a private, empty temporary directory beside `target` (which need not exist) to
/// fill before [`StagedDir::commit`].
pub fn stage_dir(target: &Path) -> io::Result<StagedDir> {
    create_private_dir(parent(target))?;
    let temp = temp_path_beside(target)?;
    private_dir_builder(false).create(&temp)?;
    Ok(StagedDir {
        temp,
        target: target.to_owned(),
        committed: false,
    })
}

impl StagedDir {
    /// Where to write the contents meanwhile.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Moves the contents into place. Renames only, so a full disk cannot stop it half-way.
    ///
    /// When the target does not exist (or is empty, on Unix) the directory itself is renamed,
    /// all at once. When the target already exists with other files (a directory IT made for
    /// the store), each entry is renamed into it, the one named `last` at the end: a reader
    /// that takes `last` as the sign of a complete store never sees a partial one.
    pub fn commit(mut self, last: &str) -> io::Result<()> {
        if fs::rename(&self.temp, &self.target).is_err() {
            if !self.target.is_dir() {
                // Neither renamed nor a directory to move into: report why.
                fs::rename(&self.temp, &self.target)?;
            }
            let mut names: Vec<_> = fs::read_dir(&self.temp)?
                .map(|entry| entry.map(|e| e.file_name()))
                .collect::<io::Result<_>>()?;
            // `false` sorts first: every other entry, then `last`.
            names.sort_by_key(|name| name == last);
            for name in names {
                fs::rename(self.temp.join(&name), self.target.join(&name))?;
            }
            sync_dir(&self.target)?;
            fs::remove_dir(&self.temp)?;
        }
        self.committed = true;
        sync_dir(parent(&self.target))
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_directory_appears_whole_or_not_at_all() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("ca");
        let staged = stage_dir(&target).unwrap();
        fs::write(staged.path().join("key"), b"k").unwrap();
        drop(staged);
        assert_eq!(fs::read_dir(base.path()).unwrap().count(), 0, "removed");

        let staged = stage_dir(&target).unwrap();
        fs::write(staged.path().join("key"), b"k").unwrap();
        fs::write(staged.path().join("done"), b"d").unwrap();
        assert!(!target.exists());
        staged.commit("done").unwrap();
        assert_eq!(fs::read(target.join("done")).unwrap(), b"d");
        assert_eq!(fs::read_dir(base.path()).unwrap().count(), 1);
    }

    #[test]
    fn into_an_existing_directory_each_entry_moves_and_the_marker_last() {
        let base = tempfile::tempdir().unwrap();
        let target = base.path().join("ca");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("README"), b"IT's").unwrap();
        let staged = stage_dir(&target).unwrap();
        fs::write(staged.path().join("key"), b"k").unwrap();
        fs::write(staged.path().join("done"), b"d").unwrap();
        staged.commit("done").unwrap();
        let mut names: Vec<_> = fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["README", "done", "key"]);
        assert_eq!(
            fs::read_dir(base.path()).unwrap().count(),
            1,
            "staging gone"
        );
    }
}
