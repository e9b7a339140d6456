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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::streams::{StreamLimits, StreamTable};
    use std::sync::Arc;
    use std::thread::{self, ThreadId};
    use tokio::sync::{Notify, oneshot};

    /// A connection's session, as on the connection's own (current-thread) runtime.
    fn session() -> Arc<Session> {
        let (outgoing, _) = tokio::sync::mpsc::channel(1);
        let streams = StreamTable::new(
            std::env::temp_dir().join("mailseal-unused-streams"),
            StreamLimits::roomy(),
        );
        Arc::new(Session::new(streams, outgoing))
    }

    /// Runs `weight` work inside a request of `session`: the thread it ran on.
    fn request(session: &Arc<Session>, weight: Weight) -> oneshot::Receiver<ThreadId> {
        let (ran_on, receiver) = oneshot::channel();
        let asking = Arc::clone(session);
        session.spawn_request(async move {
            let work = run_work(&asking, weight, || Ok(thread::current().id()));
            let _ = ran_on.send(work.await.unwrap());
        });
        receiver
    }

    #[tokio::test]
    async fn a_lone_requests_light_work_runs_on_the_connection_thread_heavy_work_never() {
        let session = session();
        let connection_thread = thread::current().id();
        let light = request(&session, Weight::Light).await.unwrap();
        let heavy = request(&session, Weight::Heavy).await.unwrap();
        assert_eq!(light, connection_thread);
        assert_ne!(heavy, connection_thread);
        session.finish_requests().await;
    }

    #[tokio::test]
    async fn light_work_beside_other_requests_of_the_connection_goes_to_the_pool() {
        let session = session();
        let connection_thread = thread::current().id();
        // One request stays in flight until released.
        let release = Arc::new(Notify::new());
        let waiting = Arc::clone(&release);
        let first = {
            let (ran_on, receiver) = oneshot::channel();
            let asking = Arc::clone(&session);
            session.spawn_request(async move {
                waiting.notified().await;
                let work = run_work(&asking, Weight::Light, || Ok(thread::current().id()));
                let _ = ran_on.send(work.await.unwrap());
            });
            receiver
        };
        let beside = request(&session, Weight::Light).await.unwrap();
        assert_ne!(
            beside, connection_thread,
            "ran in place beside another request"
        );
        // Alone again, the first one's light work runs in place.
        release.notify_one();
        assert_eq!(first.await.unwrap(), connection_thread);
        session.finish_requests().await;
    }

    #[tokio::test]
    async fn light_work_that_panics_in_place_is_an_internal_error() {
        let session = session();
        let (result, received) = oneshot::channel();
        let asking = Arc::clone(&session);
        session.spawn_request(async move {
            let work = run_work(&asking, Weight::Light, || -> Result<(), RpcError> {
                panic!("a bug in the engine")
            });
            let _ = result.send(work.await);
        });
        let error = received.await.unwrap().unwrap_err();
        assert_eq!(error.kind, ErrorKind::Internal);
        session.finish_requests().await;
    }
}
