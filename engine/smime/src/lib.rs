//! The S/MIME engine (RFC 8551): signing, verification, encryption and decryption of whole
//! messages, on CMS (RFC 5652) structures.
//!
//! `message` is the entry point (whole messages in, whole messages out); it uses
//! `mailseal-mime` and `compose` for the mail side and `sign`, `verify` and `envelope` for the
//! CMS side; incoming CMS is read by position (`mailseal_pkix::tlv`), its small parts
//! normalized by `mailseal_pkix::ber`, its content streamed. What it found is said in
//! `report`'s types: every check of every signature, never a bare boolean.
//!
//! Synchronous, with no server, socket or configuration file: the daemon runs it off its event
//! loop, and a mail gateway can link it alone (see `examples/gateway.rs`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod compose;
pub mod encryption;
pub mod envelope;
pub mod harvest;
pub mod message;
pub mod report;
pub mod sign;
pub mod verify;

// What a caller of `message` needs from the crates below, so that a gateway depends on this
// crate and `mailseal-keys` alone.
pub use mailseal_mime::scratch::Scratch;
pub use mailseal_pkix::issuers::Issuers;
pub use mailseal_pkix::revocation::{Revocation, RevocationPolicy};
