//! Which connections are idle, so that a client arriving when every connection slot is taken
//! can have the place of the one idle longest.
//!
//! Each connection holds one of `max_connections` slots for as long as it is open, and the
//! idle timeout frees a slot only after `idle_timeout_seconds`. Before this, 512 clients that
//! connected and sent nothing locked every other client of the user out (the CLI, the mail
//! client) for as long as they liked. Now the accept loop, finding no free slot, closes the
//! connection idle longest (no request being read, none in flight, no reply unread) and gives
//! its slot to the newcomer. Connections that are all busy are never closed: the newcomer
//! waits, as before, in the socket's backlog.
//!
//! The trade-off: a client that keeps a connection open without using it (the Thunderbird
//! bridge between messages) may find it closed and must connect again, as the bridge does (a
//! request sent the moment its connection is closed is lost unanswered, as with any server
//! that closes idle connections).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// The open connections of the daemon and how long each has been idle.
#[derive(Debug, Default)]
pub struct Connections {
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    /// Orders the moments connections became idle; a counter, not a clock, because each
    /// connection runs on a runtime (and, in tests, a clock) of its own.
    ticks: AtomicU64,
}

/// Whether one connection is idle, and how it is told to close.
#[derive(Debug, Default)]
struct Activity {
    /// The connection waits for a request with nothing in flight and nothing unsent.
    idle: AtomicBool,
    /// When (in [`Connections::ticks`]) it became idle.
    since: AtomicU64,
    /// Cancelled to close it for a newcomer.
    close: CancellationToken,
}

impl Connections {
    /// No connections yet.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Registers connection `id`, until the returned handle is dropped.
    pub fn register(self: &Arc<Self>, id: u64) -> Registered {
        let activity = Arc::new(Activity::default());
        self.table().insert(id, Arc::clone(&activity));
        Registered {
            connections: Arc::clone(self),
            id,
            activity,
        }
    }

    /// Asks the connection idle longest to close; `false` when none is idle.
    pub fn close_longest_idle(&self) -> bool {
        let mut idle: Vec<Arc<Activity>> = self
            .table()
            .values()
            .filter(|a| a.idle.load(Ordering::Acquire))
            .cloned()
            .collect();
        idle.sort_by_key(|a| a.since.load(Ordering::Acquire));
        // The connection may wake up with a request meanwhile: only one still idle is closed.
        idle.into_iter().any(|activity| {
            let taken = activity
                .idle
                .compare_exchange(true, false, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
            if taken {
                activity.close.cancel();
            }
            taken
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Activity>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One connection's entry, removed when dropped.
#[derive(Debug)]
pub struct Registered {
    connections: Arc<Connections>,
    id: u64,
    activity: Arc<Activity>,
}

impl Registered {
    /// The connection waits for a request with nothing in flight and nothing unsent: it may
    /// be closed for a newcomer from now on.
    pub fn idle(&self) {
        let tick = self.connections.ticks.fetch_add(1, Ordering::AcqRel);
        self.activity.since.store(tick, Ordering::Release);
        self.activity.idle.store(true, Ordering::Release);
    }

    /// The connection has work (a request arrived): it may no longer be closed for a
    /// newcomer. `false` when it was closed for one first.
    pub fn busy(&self) -> bool {
        self.activity.idle.swap(false, Ordering::AcqRel) || !self.activity.close.is_cancelled()
    }

    /// Completes when the connection is to close for a newcomer.
    pub async fn closing(&self) {
        self.activity.close.cancelled().await;
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.connections.table().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_idle_longest_is_closed_and_never_a_busy_one() {
        let connections = Connections::new();
        let (a, b, c) = (
            connections.register(1),
            connections.register(2),
            connections.register(3),
        );
        assert!(!connections.close_longest_idle(), "nobody is idle");
        b.idle();
        a.idle();
        c.idle();
        assert!(c.busy(), "c has work again");
        assert!(connections.close_longest_idle());
        assert!(b.activity.close.is_cancelled(), "b was idle longest");
        assert!(!b.busy(), "b was closed before its request came");
        assert!(!a.activity.close.is_cancelled());
        assert!(connections.close_longest_idle());
        assert!(a.activity.close.is_cancelled());
        assert!(!connections.close_longest_idle(), "c is busy");
        drop((a, b, c));
        assert!(connections.table().is_empty());
    }
}
