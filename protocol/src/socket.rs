//! Where the daemon listens unless told otherwise.

use std::path::PathBuf;

/// The per-user socket path the daemon and every client agree on.
///
/// Unix: `$XDG_RUNTIME_DIR/mailseal/mailseal.sock` (the runtime dir is private to the user and
/// cleared at logout); without `XDG_RUNTIME_DIR` (macOS, some containers),
/// `$TMPDIR/mailseal-<uid>/mailseal.sock`, whose directory the daemon creates 0700 and checks
/// is its own. Windows: the named pipe `\\.\pipe\mailseal-<user>`.
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
