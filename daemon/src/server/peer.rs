//! Who is on the other end of a connection: only the daemon's own user may talk to it.

use interprocess::local_socket::tokio::prelude::*;

/// Whether the peer may use this daemon.
///
/// On Unix the kernel reports the peer's effective uid; anyone else is refused even if the
/// socket's permissions were loosened by mistake. On Windows the pipe's security descriptor
/// already admits only the owner, and the OS gives only a pid here.
pub fn is_allowed(stream: &LocalSocketStream) -> Result<(), String> {
    #[cfg(unix)]
    {
        let creds = stream
            .peer_creds()
            .map_err(|e| format!("cannot read peer credentials: {e}"))?;
        let me = rustix::process::geteuid().as_raw();
        match creds.euid() {
            Some(uid) if uid == me => Ok(()),
            Some(uid) => Err(format!(
                "peer uid {uid} (pid {}) is not the daemon's uid {me}",
                creds.pid().map_or_else(|| "?".into(), |p| p.to_string())
            )),
            None => Err("the OS did not report the peer's uid".into()),
        }
    }
    #[cfg(windows)]
    {
        let _ = stream;
        Ok(())
    }
}
