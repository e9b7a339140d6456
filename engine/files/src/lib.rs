//! Crash-safe files for Mailseal's stores (keys, certificates, revocation lists, the CA).
//!
//! Every store writes through [`write_atomically`], so a reader — or the same program after a
//! crash — sees the old file or the new one, never a torn one; and every store reports its
//! failures as one [`StoreError`] that names the file and what was being done to it. What
//! must appear all at once (a new CA) is built in a [`stage_dir`]; what a crash left of
//! either goes at the next start ([`remove_stale_temps`]).
#![forbid(unsafe_code)]

mod atomic;
mod error;
mod staged_dir;
mod stale;

pub use atomic::{Staged, create_private_dir, remove_durably, stage, sync_dir, write_atomically};
pub use error::StoreError;
pub use staged_dir::{StagedDir, stage_dir};
pub use stale::{open_store_dir, remove_stale_temps};
