//! Where the daemon listens unless told otherwise, and when a socket there can be trusted.
//!
//! Whoever can put a socket at that path receives what clients send, passphrases included. The
//! daemon and its clients therefore apply the same rule to the socket's directory
//! ([`check_socket_dir`]), and clients also check who listens ([`UntrustedSocket::ForeignPeer`]).

use std::path::{Path, PathBuf};

/// Why a socket cannot be trusted to lead to the user's own daemon.
///
/// The daemon refuses to listen in such a directory; a client refuses to send anything there.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UntrustedSocket {
    /// The socket's directory is a symbolic link: whoever owns the link, or the directory
    /// holding it, can point it elsewhere at any time.
    #[error("the socket directory {} is a symbolic link", dir.display())]
    SymlinkDirectory {
        /// The directory (the link).
        dir: PathBuf,
    },
    /// The socket's directory belongs to another user, who can put any socket in it.
    #[error("the socket directory {} belongs to uid {owner}, not to uid {me}", dir.display())]
    ForeignDirectory {
        /// The directory.
        dir: PathBuf,
        /// Its owner.
        owner: u32,
        /// This process's effective uid.
        me: u32,
    },
    /// Others may create or replace files in the socket's directory.
    #[error("others may write to the socket directory {} (mode {mode:o})", dir.display())]
    WritableDirectory {
        /// The directory.
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The socket's directory is not a directory at all.
    #[error("{} is not a directory", dir.display())]
    NotADirectory {
        /// The path.
        dir: PathBuf,
    },
    /// The process listening on the socket runs as another user.
    #[error("the process listening on it runs as uid {peer}, not as uid {me}")]
    ForeignPeer {
        /// The listener's effective uid when it started listening.
        peer: u32,
        /// This process's effective uid.
        me: u32,
    },
    /// The OS would not say which user listens on the socket, so it cannot be trusted.
    #[error("cannot tell which user listens on it: {source}")]
    UnknownPeer {
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// The per-user socket path the daemon and every client agree on.
///
/// Unix: `$XDG_RUNTIME_DIR/mailseal/mailseal.sock` (the runtime dir is private to the user and
/// cleared at logout); without `XDG_RUNTIME_DIR` (macOS, some containers),
/// `$TMPDIR/mailseal-<uid>/mailseal.sock`, whose directory the daemon creates 0700. Anyone can
/// create that directory first in a shared `/tmp`, so both sides check it with
/// [`check_socket_dir`]. Windows: the named pipe `\\.\pipe\mailseal-<user>`.
pub fn default_socket_path() -> PathBuf {
    #[cfg(unix)]
    {
        let dir = match dirs::runtime_dir() {
            Some(runtime) => runtime.join("mailseal"),
            None => std::env::temp_dir()
                .join(format!("mailseal-{}", rustix::process::geteuid().as_raw())),
        };
        dir.join("mailseal.sock")
    }
    #[cfg(windows)]
    {
        let user = std::env::var("USERNAME").unwrap_or_else(|_| "user".into());
        PathBuf::from(format!(r"\\.\pipe\mailseal-{user}"))
    }
}

/// The directory holding `socket` (`.` for a bare file name).
pub fn socket_dir(socket: &Path) -> &Path {
    socket
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Checks that `dir`, whose `lstat` (`std::fs::symlink_metadata`) is `meta`, may hold the
/// user's socket: a real directory (not a symbolic link), owned by this process's effective
/// uid, that neither group nor others may write to. Only then can no one else put a socket
/// in it or swap the one there; reading or entering it does no harm (the socket itself is
/// 0600 and the daemon checks each peer).
///
/// The caller does the `lstat`, since a missing directory means different things to each side
/// (the daemon creates it, a client reports that no daemon runs).
#[cfg(unix)]
pub fn check_socket_dir(dir: &Path, meta: &std::fs::Metadata) -> Result<(), UntrustedSocket> {
    use std::os::unix::fs::MetadataExt;
    let dir = dir.to_owned();
    if meta.file_type().is_symlink() {
        return Err(UntrustedSocket::SymlinkDirectory { dir });
    }
    if !meta.is_dir() {
        return Err(UntrustedSocket::NotADirectory { dir });
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(UntrustedSocket::ForeignDirectory {
            dir,
            owner: meta.uid(),
            me,
        });
    }
    if meta.mode() & 0o022 != 0 {
        return Err(UntrustedSocket::WritableDirectory {
            dir,
            mode: meta.mode() & 0o7777,
        });
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn judge(dir: &Path) -> Result<(), UntrustedSocket> {
        check_socket_dir(dir, &std::fs::symlink_metadata(dir).unwrap())
    }

    #[test]
    fn only_a_private_directory_of_ones_own_is_trusted() {
        let base = tempfile::tempdir().unwrap();
        let private = base.path().join("private");
        std::fs::create_dir(&private).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        judge(&private).unwrap();
        // Others may read and enter: harmless.
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o755)).unwrap();
        judge(&private).unwrap();

        for mode in [0o777, 0o1777, 0o770, 0o702] {
            std::fs::set_permissions(&private, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(
                matches!(judge(&private), Err(UntrustedSocket::WritableDirectory { mode: m, .. }) if m == mode),
                "{mode:o}"
            );
        }

        let link = base.path().join("link");
        std::os::unix::fs::symlink(&private, &link).unwrap();
        assert!(matches!(
            judge(&link),
            Err(UntrustedSocket::SymlinkDirectory { .. })
        ));
        let file = base.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(
            judge(&file),
            Err(UntrustedSocket::NotADirectory { .. })
        ));
    }

    #[test]
    fn a_directory_of_another_user_is_not_trusted() {
        let me = rustix::process::geteuid().as_raw();
        // `/` belongs to root: another user unless the tests run as root, then a directory
        // given away to `nobody`.
        let base = tempfile::tempdir().unwrap();
        let (dir, owner) = if me == 0 {
            std::os::unix::fs::chown(base.path(), Some(65534), None).unwrap();
            (base.path(), 65534)
        } else {
            (Path::new("/"), 0)
        };
        match judge(dir) {
            Err(UntrustedSocket::ForeignDirectory {
                owner: o, me: m, ..
            }) => {
                assert_eq!((o, m), (owner, me));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn socket_dir_of_a_bare_name_is_the_current_directory() {
        assert_eq!(socket_dir(Path::new("s.sock")), Path::new("."));
        assert_eq!(socket_dir(Path::new("/run/m/s.sock")), Path::new("/run/m"));
    }
}
