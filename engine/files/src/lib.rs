//! Crash-safe files for Mailseal's stores (keys, certificates, revocation lists, the CA).
//!
//! Every store writes through [`write_atomically`], so a reader — or the same program after a
//! crash — sees the old file or the new one, never a torn one; and every store reports its
//! failures as one [`StoreError`] that names the file and what was being done to it.
#![forbid(unsafe_code)]

mod atomic;
mod error;

pub use atomic::{Staged, create_private_dir, remove_durably, stage, sync_dir, write_atomically};
pub use error::StoreError;
