//! `daemon.*`: version negotiation, health and status.

use super::{Empty, Method};
use serde::{Deserialize, Serialize};

/// `daemon.hello`: agree on a protocol version and learn what the daemon can do.
///
/// Clients call it first. The daemon picks the highest version both sides speak, or fails with
/// `unsupported_version` listing its own.
///
/// ```text
/// → {"jsonrpc":"2.0","id":1,"method":"daemon.hello","params":{"client":"mailseal-cli/0.1.0","protocol_versions":[1]}}
/// ← {"jsonrpc":"2.0","id":1,"result":{"protocol_version":1,"daemon_version":"0.1.0","capabilities":["cert.import",…]}}
/// ```
#[derive(Debug)]
pub struct Hello;

/// Parameters of [`Hello`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelloParams {
    /// Name and version of the client, for the daemon's log.
    #[serde(default)]
    pub client: Option<String>,
    /// The protocol versions the client speaks.
    pub protocol_versions: Vec<u32>,
}

/// Result of [`Hello`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HelloResult {
    /// The version both sides will speak.
    pub protocol_version: u32,
    /// The daemon's release version.
    pub daemon_version: String,
    /// Every method name this daemon answers.
    pub capabilities: Vec<String>,
}

impl Method for Hello {
    const NAME: &'static str = "daemon.hello";
    type Params = HelloParams;
    type Result = HelloResult;
}

/// `daemon.ping`: a liveness probe.
///
/// `delay_ms` (at most 10 000) holds the reply back, so monitoring can measure queueing and tests
/// can keep a request in flight (e.g. across a shutdown).
///
/// ```text
/// → {"jsonrpc":"2.0","id":2,"method":"daemon.ping","params":{"delay_ms":0}}
/// ← {"jsonrpc":"2.0","id":2,"result":{}}
/// ```
#[derive(Debug)]
pub struct Ping;

/// Parameters of [`Ping`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingParams {
    /// Milliseconds to wait before answering.
    #[serde(default)]
    pub delay_ms: u64,
}

impl Method for Ping {
    const NAME: &'static str = "daemon.ping";
    type Params = PingParams;
    type Result = Empty;
}

/// `daemon.status`: what the daemon is and holds, for `mailseal status` and support tickets.
///
/// ```text
/// → {"jsonrpc":"2.0","id":3,"method":"daemon.status","params":{}}
/// ← {"jsonrpc":"2.0","id":3,"result":{"daemon_version":"0.1.0","protocol_version":1,"pid":4242,
///     "uptime_seconds":12,"socket":"/run/user/1000/mailseal/mailseal.sock",
///     "data_dir":"/home/ann/.local/share/mailseal","identities":1,"unlocked_keys":0,
///     "certificates":3,"key_cache_seconds":600,
///     "process":{"core_dumps_off":true,"not_dumpable":true,"keys_in_locked_memory":false}}}
/// ```
#[derive(Debug)]
pub struct Status;

/// Result of [`Status`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusResult {
    /// The daemon's release version.
    pub daemon_version: String,
    /// The daemon's native protocol version.
    pub protocol_version: u32,
    /// The daemon's process id.
    pub pid: u32,
    /// Seconds since the daemon started.
    pub uptime_seconds: u64,
    /// The socket it listens on.
    pub socket: String,
    /// Where keys and certificates are stored.
    pub data_dir: String,
    /// How many own identities (key + certificate) are known.
    pub identities: usize,
    /// How many of their keys are unlocked right now.
    pub unlocked_keys: usize,
    /// How many other people's certificates are stored.
    pub certificates: usize,
    /// How long an unlocked key stays unlocked.
    pub key_cache_seconds: u64,
    /// What protects the unlocked keys in the daemon's memory (absent from daemons before it
    /// was reported: all `false`).
    #[serde(default)]
    pub process: ProcessHygiene,
}

/// What keeps unlocked keys from leaving the daemon's memory, each as the daemon checked it on
/// itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessHygiene {
    /// The core-file size limit is 0 (soft and hard): a crash writes no core file, which would
    /// hold every unlocked key.
    pub core_dumps_off: bool,
    /// Linux: the process is not dumpable (`PR_SET_DUMPABLE` 0), so no core is made by any
    /// handler either, and the user's other processes cannot attach a debugger or read its
    /// memory through `/proc`. `false` where the system has no such setting.
    pub not_dumpable: bool,
    /// Unlocked keys are in memory locked against swapping. Not so yet: the keys live inside
    /// aws-lc's own allocations, which no per-buffer lock reaches, and locking the whole
    /// process would fail its large-message work under the usual locked-memory limit.
    pub keys_in_locked_memory: bool,
}

impl Method for Status {
    const NAME: &'static str = "daemon.status";
    type Params = Empty;
    type Result = StatusResult;
}
