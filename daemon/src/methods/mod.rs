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

use mailseal_protocol::{ErrorKind, RpcError};
use tokio::runtime::RuntimeFlavor;

/// Runs CPU-heavy or blocking work (signatures, KDFs, file writes) so that one slow request
/// never stalls the others.
///
/// On the daemon's multi-threaded runtime the work runs on this very thread, whose other tasks
/// move to another worker meanwhile (`block_in_place`): the request goes on without waiting
/// for a blocking-pool thread to wake and for a worker to wake again after it, which on the
/// benchmark machine served two clients 10–15 % faster than `spawn_blocking`. Elsewhere (a
/// single-threaded runtime, as in tests) it goes to the blocking pool. A panic in the work
/// becomes an `internal` error, answered like any other.
async fn blocking<T, F>(work: F) -> Result<T, RpcError>
where
    F: FnOnce() -> Result<T, RpcError> + Send + 'static,
    T: Send + 'static,
{
    let failed =
        |why: String| RpcError::new(ErrorKind::Internal, format!("request task failed: {why}"));
    if tokio::runtime::Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
        return tokio::task::block_in_place(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .unwrap_or_else(|_| Err(failed("it panicked".into())))
        });
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| failed(e.to_string()))?
}
