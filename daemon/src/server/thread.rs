//! Every connection on an OS thread of its own, with a single-threaded runtime.
//!
//! Most clients (the CLI, a mail client's add-on) send a request, wait for its reply and only
//! then send the next. On one shared multi-threaded runtime each such request crossed three or
//! four threads (the worker woken by the socket, the blocking thread doing the signature, the
//! worker writing the reply), and every wake-up met a core that was busy or asleep: two of
//! these clients kept only 1.5 of 2 cores busy. On a thread of its own, whose runtime also
//! owns the socket's registration (on Unix; a Windows pipe stays with the completion port of
//! the accepting runtime), a connection is woken once per request and reads, works
//! ([`crate::methods`] runs a lone request's short work in place) and writes on that one
//! thread; clients then scale with the cores. A connection's slow work still goes to its
//! runtime's blocking pool, so one connection never holds up another.
//!
//! The connection is registered for reading only (`mailseal_protocol::Connection`), so that
//! the client reading a reply does not wake this thread.
//!
//! Each connection costs a thread and, on Linux, [`DESCRIPTORS_PER_CONNECTION`] open files:
//! [`raise_descriptor_limit`] makes room for the configured number of connections.

use super::connection::IN_FLIGHT_PER_CONNECTION;
use interprocess::local_socket::tokio::prelude::*;
use mailseal_protocol::{Connection, Detached};
use std::future::Future;
use std::io;

/// Serves `stream` with `serve` on a new thread named `name`; `serve` runs on that thread's
/// own runtime and the thread ends with it. Fails, dropping the connection and `serve`, when
/// no thread can be started (the caller logs it and goes on accepting).
pub fn spawn<S, F>(stream: LocalSocketStream, name: String, serve: S) -> io::Result<()>
where
    S: FnOnce(Connection) -> F + Send + 'static,
    F: Future<Output = ()>,
{
    let detached = Detached::new(stream)?;
    std::thread::Builder::new().name(name).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .max_blocking_threads(IN_FLIGHT_PER_CONNECTION)
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                tracing::warn!(error = %e, "cannot start a connection's runtime; dropping it");
                return;
            }
        };
        runtime.block_on(async move {
            match detached.attach() {
                Ok(stream) => serve(stream).await,
                Err(e) => tracing::warn!(error = %e, "cannot take over a connection; dropping it"),
            }
        });
    })?;
    Ok(())
}

/// Open files per connection (counted in /proc on Linux): the socket; its runtime's epoll,
/// which tokio holds twice, its eventfd and its copy of tokio's signal socket; and a
/// duplicate of the socket while a reply waits for room in the send buffer.
#[cfg(unix)]
pub const DESCRIPTORS_PER_CONNECTION: usize = 6;

/// Raises the soft limit on open descriptors (often 1024) toward what `max_connections`
/// connections need, within the hard limit; returns how many connections fit when even the
/// hard limit is too low for them all.
#[cfg(unix)]
pub fn raise_descriptor_limit(max_connections: usize) -> Option<usize> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    const PER_CONNECTION: u64 = DESCRIPTORS_PER_CONNECTION as u64;
    /// The stores, the listener, the lock, logs, fetches and files being written.
    const BASE: u64 = 256;
    let wanted = PER_CONNECTION
        .saturating_mul(max_connections as u64)
        .saturating_add(BASE);
    let mut limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    if soft >= wanted {
        return None;
    }
    let hard = limit.maximum.unwrap_or(u64::MAX);
    limit.current = Some(wanted.min(hard));
    let reached = match setrlimit(Resource::Nofile, limit) {
        Ok(()) => wanted.min(hard),
        Err(_) => soft,
    };
    (reached < wanted).then(|| (reached.saturating_sub(BASE) / PER_CONNECTION) as usize)
}

#[cfg(windows)]
pub fn raise_descriptor_limit(_max_connections: usize) -> Option<usize> {
    None
}
