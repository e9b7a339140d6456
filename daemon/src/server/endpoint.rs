//! Claiming the socket: a private directory, one daemon per socket, stale sockets replaced.
//!
//! A lock file beside the socket (`<socket>.lock`, holding the owner's pid) decides who owns the
//! socket. The OS releases the lock when its holder dies, so a socket file found while holding
//! the lock was left by a crash and is replaced; a lock held by someone else means another
//! daemon is serving, and this one refuses to start.

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
    /// The socket's directory could be entered by other users.
    #[error("refusing to listen in {}: {why}", dir.display())]
    InsecureDirectory {
        /// The directory.
        dir: PathBuf,
        /// What is wrong with it.
        why: String,
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

/// Creates the socket's directory private to the user, or checks that an existing one is ours
/// and writable by nobody else (who could otherwise swap the socket for their own).
#[cfg(unix)]
fn prepare_directory(socket: &Path) -> Result<(), EndpointError> {
    use std::os::unix::fs::MetadataExt;
    let dir = socket
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        mailseal_files::create_private_dir(dir).map_err(io_error("create", dir))?;
    }
    let meta = std::fs::metadata(dir).map_err(io_error("inspect", dir))?;
    let me = rustix::process::geteuid().as_raw();
    let insecure = |why: String| EndpointError::InsecureDirectory {
        dir: dir.to_owned(),
        why,
    };
    if meta.uid() != me {
        return Err(insecure(format!(
            "it belongs to uid {}, not to uid {me}",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(insecure(format!(
            "other users may write to it (mode {:o}); use a directory only you can write to",
            meta.mode() & 0o777
        )));
    }
    Ok(())
}
