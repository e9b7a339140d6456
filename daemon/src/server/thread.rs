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
//! [`raise_descriptor_limit`] makes room for the configured number of connections and sets
//! the budget of open streams from what is left, so that the descriptors of every connection
//! slot stay reserved however many streams clients open.

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

/// What the open-file limit leaves for connections and streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptors {
    /// How many connections fit, when fewer than `max_connections` do.
    pub connections_fit: Option<usize>,
    /// How many streams may be open at once over all connections (each holds a file):
    /// `max_open_streams`, or what the limit leaves once every connection has its share.
    pub streams: usize,
}

/// Open files for everything but connections and streams: the stores, the listener, the
/// lock, logs, fetches, and the files requests in flight are reading and writing.
#[cfg(unix)]
const BASE: u64 = 256;

/// Raises the soft limit on open descriptors (often 1024) toward what `max_connections`
/// connections and `max_open_streams` streams need, within the hard limit, and shares out
/// what it reached: connections first, so that streams (which one client can open in a loop)
/// never take the room of connections, then streams.
#[cfg(unix)]
pub fn raise_descriptor_limit(max_connections: usize, max_open_streams: usize) -> Descriptors {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let wanted = (DESCRIPTORS_PER_CONNECTION as u64)
        .saturating_mul(max_connections as u64)
        .saturating_add(BASE)
        .saturating_add(max_open_streams as u64);
    let mut limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    let reached = if soft >= wanted {
        soft
    } else {
        let hard = limit.maximum.unwrap_or(u64::MAX);
        limit.current = Some(wanted.min(hard));
        match setrlimit(Resource::Nofile, limit) {
            Ok(()) => wanted.min(hard),
            Err(_) => soft,
        }
    };
    share(reached, max_connections, max_open_streams)
}

/// How `reached` open files are shared between connections and streams.
#[cfg(unix)]
fn share(reached: u64, max_connections: usize, max_open_streams: usize) -> Descriptors {
    const PER_CONNECTION: u64 = DESCRIPTORS_PER_CONNECTION as u64;
    let for_connections = PER_CONNECTION.saturating_mul(max_connections as u64);
    let room = reached.saturating_sub(BASE);
    Descriptors {
        connections_fit: (room < for_connections).then_some((room / PER_CONNECTION) as usize),
        streams: usize::try_from(room.saturating_sub(for_connections))
            .unwrap_or(usize::MAX)
            .min(max_open_streams),
    }
}

#[cfg(windows)]
pub fn raise_descriptor_limit(_max_connections: usize, max_open_streams: usize) -> Descriptors {
    Descriptors {
        connections_fit: None,
        streams: max_open_streams,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn connections_have_their_share_before_streams_get_any() {
        // Room for everything.
        let all = share(6 * 512 + 256 + 1024, 512, 1024);
        assert_eq!((all.connections_fit, all.streams), (None, 1024));
        // A limit too low for both: streams get only what connections leave.
        let tight = share(6 * 100 + 256 + 40, 100, 1024);
        assert_eq!((tight.connections_fit, tight.streams), (None, 40));
        // Too low even for the connections: no streams at all.
        let starved = share(400, 100, 1024);
        assert_eq!(
            (starved.connections_fit, starved.streams),
            (Some((400 - 256) / 6), 0)
        );
    }
}
