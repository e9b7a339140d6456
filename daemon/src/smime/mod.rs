//! The S/MIME engine (RFC 8551): MIME handling, signing, verification, encryption and
//! decryption of whole messages, on CMS (RFC 5652) structures.
//!
//! `message` is the entry point (whole messages in, whole messages out); it uses `mime` and
//! `compose` for the mail side and `sign`, `verify` and `envelope` for the CMS side; incoming CMS
//! is read by position (`tlv`), its small parts normalized by `ber`, its content streamed.
pub mod algorithms;
pub(crate) mod ber;
pub mod canonical;
pub mod compose;
pub mod encoders;
pub mod envelope;
pub mod message;
pub mod mime;
pub mod scratch;
pub mod sign;
pub(crate) mod tlv;
pub mod verify;
