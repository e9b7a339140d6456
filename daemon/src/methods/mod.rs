//! Request handlers, one module per protocol namespace; each takes its typed parameters and
//! returns its typed result or a protocol error.
pub mod ca;
pub mod cert;
pub mod daemon;
pub mod identity;
pub mod key;
pub mod mime;
pub mod policy;
pub mod smime;
pub mod stream;
pub mod token;

use crate::transfer::Session;
use mailseal_protocol::{ErrorKind, RpcError};
use tokio::runtime::RuntimeFlavor;

/// Runs blocking or long work (KDFs, cards, files, long messages) on the connection's blocking
/// pool, so that the connection's thread goes on reading its other requests and writing their
/// replies and this request's progress. A panic in the work becomes an `internal` error,
/// answered like any other.
async fn blocking<T, F>(work: F) -> Result<T, RpcError>
where
    F: FnOnce() -> Result<T, RpcError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| failed(&e.to_string()))?
}

/// How long a request's work may take, which decides where it runs. Ordered from light to
/// heavy: work of two parts weighs as its heavier part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Weight {
    /// About a millisecond of CPU: a small message in memory, a key in this process.
    Light,
    /// Anything that may take long or wait: files, streams, cards, long messages.
    Heavy,
}

/// Runs a request's work where it costs least.
///
/// Light work of a request that is its connection's only one in flight runs right here, on
/// the connection's thread: a client that waits for each reply then wakes one daemon thread
/// per request instead of three, which is most of a small request's cost. Heavy work, and
/// light work beside other requests of the connection (a pipelining client), goes to the
/// blocking pool as with [`blocking`], so that the requests use every core. Light work in
/// place holds up only this connection's next requests, and only when the client sends them
/// without waiting; a revocation list fetched while checking a small message is the one thing
/// in it that may take seconds.
async fn run_work<T, F>(session: &Session, weight: Weight, work: F) -> Result<T, RpcError>
where
    F: FnOnce() -> Result<T, RpcError> + Send + 'static,
    T: Send + 'static,
{
    // On a multi-threaded runtime, work in place would hold up the other tasks of the worker.
    let own_thread =
        tokio::runtime::Handle::current().runtime_flavor() == RuntimeFlavor::CurrentThread;
    if weight == Weight::Light && own_thread && session.is_alone() {
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
            .unwrap_or_else(|_| Err(failed("it panicked")));
    }
    blocking(work).await
}

fn failed(why: &str) -> RpcError {
    RpcError::new(ErrorKind::Internal, format!("request task failed: {why}"))
}
