//! `daemon.hello`, `daemon.ping`, `daemon.status`.

use crate::state::Daemon;
use mailseal_protocol::methods::daemon::{HelloParams, HelloResult, PingParams, StatusResult};
use mailseal_protocol::methods::{Empty, METHODS};
use mailseal_protocol::{ErrorKind, PROTOCOL_VERSION, RpcError, SUPPORTED_VERSIONS};
use std::sync::Arc;
use std::time::Duration;

/// The longest `daemon.ping` delay, so a ping cannot hold a request slot for long.
const MAX_PING_DELAY_MS: u64 = 10_000;

/// Picks the highest protocol version both sides speak.
pub async fn hello(_daemon: Arc<Daemon>, params: HelloParams) -> Result<HelloResult, RpcError> {
    tracing::debug!(client = params.client.as_deref().unwrap_or("?"), "hello");
    let version = SUPPORTED_VERSIONS
        .iter()
        .rev()
        .find(|v| params.protocol_versions.contains(v))
        .ok_or_else(|| {
            RpcError::new(
                ErrorKind::UnsupportedVersion { supported: SUPPORTED_VERSIONS.to_vec() },
                format!(
                    "this daemon speaks protocol versions {SUPPORTED_VERSIONS:?}, the client offered {:?}",
                    params.protocol_versions
                ),
            )
        })?;
    Ok(HelloResult {
        protocol_version: *version,
        daemon_version: env!("CARGO_PKG_VERSION").into(),
        capabilities: METHODS.iter().map(|m| m.name.to_owned()).collect(),
    })
}

/// Answers after the requested delay.
pub async fn ping(_daemon: Arc<Daemon>, params: PingParams) -> Result<Empty, RpcError> {
    if params.delay_ms > MAX_PING_DELAY_MS {
        return Err(RpcError::new(
            ErrorKind::bad_input("params.delay_ms"),
            format!("params.delay_ms: at most {MAX_PING_DELAY_MS}"),
        ));
    }
    tokio::time::sleep(Duration::from_millis(params.delay_ms)).await;
    Ok(Empty {})
}

/// Reports what the daemon is and holds.
pub async fn status(daemon: Arc<Daemon>, _params: Empty) -> Result<StatusResult, RpcError> {
    let identities = daemon.own_identities();
    Ok(StatusResult {
        daemon_version: env!("CARGO_PKG_VERSION").into(),
        protocol_version: PROTOCOL_VERSION,
        pid: std::process::id(),
        uptime_seconds: daemon.started.elapsed().as_secs(),
        socket: daemon.socket.display().to_string(),
        data_dir: daemon.data_dir.display().to_string(),
        unlocked_keys: identities
            .iter()
            .filter(|i| daemon.usable_key(i).is_ok())
            .count(),
        identities: identities.len(),
        certificates: daemon.certs.len(),
        key_cache_seconds: daemon.keys.ttl().as_secs(),
        process: crate::hygiene::current(),
    })
}
