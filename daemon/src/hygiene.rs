//! Process hygiene at start: no core files and, on Linux, a process that is not dumpable, so
//! that neither a crash nor another process of the user copies the unlocked keys out of the
//! daemon's memory; and what took effect, checked on the process itself, for `daemon.status`.
//!
//! - Linux: `RLIMIT_CORE` 0 (soft and hard, so nothing the daemon runs can raise it again) and
//!   `prctl(PR_SET_DUMPABLE, 0)`, which also covers a `core_pattern` pipe handler (systemd-
//!   coredump, apport) and keeps the user's other processes from `ptrace` and
//!   `/proc/<pid>/mem`.
//! - macOS and the BSDs: `RLIMIT_CORE` 0. (macOS's `PT_DENY_ATTACH` would need `unsafe`
//!   `ptrace`; same-user debugging there already needs the developer tools' entitlement.)
//! - Windows: no core files exist; Windows Error Reporting writes a crash dump only where an
//!   administrator configured `LocalDumps` (HKLM), and a full dump there would hold the keys.
//!   Opting the daemon out (`WerAddExcludedApplication`) is a Win32 call this `unsafe`-free
//!   crate does not make yet: both fields report `false`.
//!
//! Locked memory (`mlock`) is not used: the unlocked keys are aws-lc objects allocated inside
//! aws-lc, which no lock on our own buffers reaches, and `mlockall` would make the daemon's
//! large-message work fail under the usual locked-memory limit (8 MiB). `daemon.status` says so.

use mailseal_protocol::methods::daemon::ProcessHygiene;

/// Turns core files off and makes the process undumpable where the system allows, logging
/// what failed; returns what is in effect.
pub fn harden() -> ProcessHygiene {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, setrlimit};
        let none = Rlimit {
            current: Some(0),
            maximum: Some(0),
        };
        if let Err(error) = setrlimit(Resource::Core, none) {
            tracing::warn!(%error, "cannot turn core files off");
        }
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{DumpableBehavior, set_dumpable_behavior};
        if let Err(error) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
            tracing::warn!(%error, "cannot make the process undumpable");
        }
    }
    let now = current();
    if !(now.core_dumps_off && now.not_dumpable) {
        tracing::warn!(
            ?now,
            "a crash dump or a debugger of the same user could read unlocked keys"
        );
    }
    now
}

/// What is in effect now, read back from the system rather than remembered.
pub fn current() -> ProcessHygiene {
    ProcessHygiene {
        core_dumps_off: core_dumps_off(),
        not_dumpable: not_dumpable(),
        keys_in_locked_memory: false,
    }
}

#[cfg(unix)]
fn core_dumps_off() -> bool {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Core);
    limit.current == Some(0) && limit.maximum == Some(0)
}

#[cfg(not(unix))]
fn core_dumps_off() -> bool {
    false
}

#[cfg(target_os = "linux")]
fn not_dumpable() -> bool {
    rustix::process::dumpable_behavior()
        .is_ok_and(|now| now == rustix::process::DumpableBehavior::NotDumpable)
}

#[cfg(not(target_os = "linux"))]
fn not_dumpable() -> bool {
    false
}
