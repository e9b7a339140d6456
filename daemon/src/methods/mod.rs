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

/// Runs CPU-heavy or blocking work (KDFs, file writes) off the async workers, so one slow
/// request never stalls the others.
async fn blocking<T, F>(work: F) -> Result<T, RpcError>
where
    F: FnOnce() -> Result<T, RpcError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| RpcError::new(ErrorKind::Internal, format!("request task failed: {e}")))?
}
