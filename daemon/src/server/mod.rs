//! The daemon's server: claim the socket, accept connections, stop gracefully.
mod connection;
pub mod dispatch;
pub mod endpoint;
mod idle;
mod peer;
mod shutdown;
mod thread;

use crate::state::Daemon;
use crate::transfer::streams::{OpenStreams, StreamLimits};
use endpoint::{EndpointError, claim};
use interprocess::local_socket::tokio::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Serves `daemon` on its socket until SIGTERM or SIGINT, then finishes requests in flight
/// (for at most the configured grace time) and returns.
pub async fn run(daemon: Daemon) -> Result<(), EndpointError> {
    let endpoint::Endpoint { listener, lock } = claim(&daemon.socket)?;
    let daemon = Arc::new(daemon);
    let shutdown = CancellationToken::new();
    shutdown::on_signal(shutdown.clone());
    spawn_key_sweeper(Arc::clone(&daemon), shutdown.clone());
    spawn_token_poller(Arc::clone(&daemon), shutdown.clone());
    spawn_expiry_watch(Arc::clone(&daemon), shutdown.clone());
    // Room for every connection before saying ready: clients may connect at once.
    let config = &daemon.config;
    let descriptors =
        thread::raise_descriptor_limit(config.max_connections, config.max_open_streams);
    if let Some(fit) = descriptors.connections_fit {
        tracing::warn!(
            max_connections = config.max_connections,
            "the open-file limit leaves room for about {fit} connections at once; raise it (LimitNOFILE=) or lower max_connections"
        );
    }
    if descriptors.streams < config.max_open_streams {
        tracing::warn!(
            max_open_streams = config.max_open_streams,
            "the open-file limit leaves room for {} open streams besides the connections; raise it (LimitNOFILE=)",
            descriptors.streams
        );
    }
    let streams = StreamLimits {
        streams: config.max_streams_per_connection,
        bytes: config.max_stream_bytes_per_connection,
        everywhere: OpenStreams::new(descriptors.streams),
    };
    tracing::info!(socket = %daemon.socket.display(), version = env!("CARGO_PKG_VERSION"), "ready");

    let connections = TaskTracker::new();
    let open = idle::Connections::new();
    let slots = Arc::new(Semaphore::new(daemon.config.max_connections));
    let mut next_connection: u64 = 0;
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        next_connection += 1;
        let span = tracing::info_span!("connection", id = next_connection);
        if let Err(why) = peer::is_allowed(&stream) {
            tracing::warn!(parent: &span, "refused a connection: {why}");
            continue;
        }
        // Every slot taken: the connection idle longest makes room; when all are busy, the
        // newcomer waits for one to finish.
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                open.close_longest_idle();
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    slot = Arc::clone(&slots).acquire_owned() => slot.expect("semaphore never closed"),
                }
            }
        };
        let place = connection::Place {
            shutdown: shutdown.clone(),
            registered: open.register(next_connection),
            streams: streams.clone(),
        };
        let daemon = Arc::clone(&daemon);
        let (tracked, inside) = (connections.token(), span.clone());
        let serve = move |stream| {
            let served = async move {
                connection::serve(stream, daemon, place).await;
                drop((slot, tracked));
            };
            tracing::Instrument::instrument(served, inside)
        };
        let name = format!("connection-{next_connection}");
        if let Err(e) = thread::spawn(stream, name, serve) {
            tracing::warn!(parent: &span, error = %e, "cannot start a thread for a connection; dropped it");
        }
    }

    // Stop taking connections (dropping the listener removes the socket file), then give the
    // requests in flight their grace time.
    drop(listener);
    connections.close();
    let grace = Duration::from_secs(daemon.config.shutdown_grace_seconds);
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "stopping with requests still unfinished after the grace time"
        );
    }
    daemon.keys.lock(None);
    tracing::info!("stopped");
    drop(lock);
    Ok(())
}

/// Looks for inserted and removed cards every 2 seconds, so a removed card's session and login
/// are dropped without a restart (PKCS#11 calls block: they run off the async workers).
fn spawn_token_poller(daemon: Arc<Daemon>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    let daemon = Arc::clone(&daemon);
                    let _ = tokio::task::spawn_blocking(move || daemon.tokens.refresh()).await;
                }
            }
        }
    });
}

/// Warns in the log about own certificates near or past expiry, at start and once a day.
fn spawn_expiry_watch(daemon: Arc<Daemon>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(24 * 60 * 60));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    let daemon = Arc::clone(&daemon);
                    let _ = tokio::task::spawn_blocking(move || crate::methods::identity::log_expiry_warnings(&daemon)).await;
                }
            }
        }
    });
}

/// Drops expired keys every second, so an unlocked key is gone when its time is up, not at
/// its next use.
fn spawn_key_sweeper(daemon: Arc<Daemon>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => { daemon.keys.sweep(); }
            }
        }
    });
}
