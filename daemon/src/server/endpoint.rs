//! Claiming the socket: a private directory, one daemon per socket, stale sockets replaced.
//!
//! A lock file beside the socket (`<socket>.lock`, holding the owner's pid) decides who owns the
//! socket. The OS releases the lock when its holder dies, so a socket file found while holding
//! the lock was left by a crash and is replaced; a lock held by someone else means another
//! daemon is serving, and this one refuses to start.
//!
//! The directory must be the user's own, private and not a symbolic link
//! ([`mailseal_protocol::check_socket_dir`], the rule clients apply too): in a shared `/tmp`
//! anyone can create `mailseal-<uid>` first, and a link's owner could re-point it later.

use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Why the socket could not be claimed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// Another daemon holds the socket.
    #[error("a mailseal daemon is already running on {} (pid {pid})", socket.display())]
    AlreadyRunning {
        /// The socket.
        socket: PathBuf,
        /// The pid written by the running daemon, or `?`.
        pid: String,
    },
    /// The socket's directory is not the user's own private directory: another user could
    /// put a socket of theirs in its place.
    #[error(
        "refusing to listen on {}: {why}; have that directory removed (by an administrator if \
         it is not yours), or point XDG_RUNTIME_DIR (or --socket) at a private directory of \
         your own",
        socket.display()
    )]
    InsecureDirectory {
        /// The socket.
        socket: PathBuf,
        /// What is wrong with its directory.
        #[source]
        why: mailseal_protocol::UntrustedSocket,
    },
    /// A file operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> EndpointError {
    let path = path.to_owned();
    move |source| EndpointError::Io {
        action,
        path,
        source,
    }
}

/// The claimed socket: the listener, and the lock that makes it ours.
#[derive(Debug)]
pub struct Endpoint {
    /// The listener; dropping it removes the socket file.
    pub listener: LocalSocketListener,
    /// Held until the daemon has finished, so no second daemon starts while this one drains.
    pub lock: SocketLock,
}

/// Ownership of a socket; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct SocketLock(#[allow(dead_code, reason = "held for its Drop")] File);

/// Claims `socket` for this process.
pub fn claim(socket: &Path) -> Result<Endpoint, EndpointError> {
    #[cfg(unix)]
    prepare_directory(socket)?;
    let lock = take_lock(socket)?;
    #[cfg(unix)]
    if std::fs::symlink_metadata(socket).is_ok() {
        tracing::warn!(socket = %socket.display(), "replacing a stale socket left by a daemon that did not stop cleanly");
        std::fs::remove_file(socket).map_err(io_error("remove stale socket", socket))?;
    }
    let name = socket
        .to_fs_name::<GenericFilePath>()
        .map_err(io_error("name socket", socket))?;
    let options = ListenerOptions::new().name(name);
    #[cfg(unix)]
    let options = {
        use interprocess::os::unix::local_socket::ListenerOptionsExt;
        // Applied before bind, so there is no moment in which others could connect.
        options.mode(0o600)
    };
    #[cfg(windows)]
    let options = {
        use interprocess::os::windows::{
            local_socket::ListenerOptionsExt, security_descriptor::SecurityDescriptor,
        };
        // Protected DACL granting all access to the pipe's owner (OW) alone: other users,
        // including Everyone's default read access to named pipes, are shut out.
        let sddl =
            widestring::U16CString::from_str("D:P(A;;GA;;;OW)").expect("constant SDDL has no NUL");
        let descriptor =
            SecurityDescriptor::deserialize(&sddl).map_err(io_error("secure", socket))?;
        options.security_descriptor(descriptor)
    };
    let listener = options
        .create_tokio()
        .map_err(io_error("listen on", socket))?;
    Ok(Endpoint {
        listener,
        lock: SocketLock(lock),
    })
}

fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn take_lock(socket: &Path) -> Result<File, EndpointError> {
    let path = lock_path(socket);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .map_err(io_error("open lock file", &path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(EndpointError::AlreadyRunning {
                socket: socket.to_owned(),
                pid: if pid.is_empty() {
                    "?".into()
                } else {
                    pid.to_owned()
                },
            });
        }
        Err(TryLockError::Error(e)) => return Err(io_error("lock", &path)(e)),
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| write!(file, "{}", std::process::id()))
        .map_err(io_error("write lock file", &path))?;
    Ok(file)
}

/// Creates the socket's directory private to the user, or checks that an existing one is the
/// user's own real directory and writable by nobody else (who could otherwise swap the socket
/// for their own). A directory created by someone else in between is caught by the check that
/// follows the creation.
#[cfg(unix)]
fn prepare_directory(socket: &Path) -> Result<(), EndpointError> {
    let dir = mailseal_protocol::socket_dir(socket);
    let meta = match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            mailseal_files::create_private_dir(dir).map_err(io_error("create", dir))?;
            std::fs::symlink_metadata(dir)
        }
        found => found,
    }
    .map_err(io_error("inspect", dir))?;
    mailseal_protocol::check_socket_dir(dir, &meta).map_err(|why| {
        EndpointError::InsecureDirectory {
            socket: socket.to_owned(),
            why,
        }
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use mailseal_protocol::UntrustedSocket;
    use std::os::unix::fs::PermissionsExt;

    fn refusal(socket: &Path) -> UntrustedSocket {
        match claim(socket) {
            Err(EndpointError::InsecureDirectory { why, .. }) => why,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_missing_directory_is_created_private() {
        let base = tempfile::tempdir().unwrap();
        let socket = base.path().join("run").join("mailseal.sock");
        let endpoint = claim(&socket).unwrap();
        let mode = std::fs::metadata(socket.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(endpoint);
    }

    /// The link's owner (here the user, in `/tmp` anyone) could point it elsewhere later.
    #[tokio::test]
    async fn a_symlinked_directory_is_refused_even_to_a_private_one() {
        let base = tempfile::tempdir().unwrap();
        let real = base.path().join("real");
        mailseal_files::create_private_dir(&real).unwrap();
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let socket = link.join("mailseal.sock");
        assert!(matches!(
            refusal(&socket),
            UntrustedSocket::SymlinkDirectory { .. }
        ));
        let message = claim(&socket).unwrap_err().to_string();
        assert!(
            message.contains("is a symbolic link") && message.contains("XDG_RUNTIME_DIR"),
            "{message}"
        );
        assert!(!real.join("mailseal.sock").exists());
    }

    #[tokio::test]
    async fn a_directory_others_may_write_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("mailseal-1000");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            refusal(&dir.join("mailseal.sock")),
            UntrustedSocket::WritableDirectory { mode: 0o777, .. }
        ));
    }
}
