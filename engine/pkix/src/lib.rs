//! X.509 for Mailseal: the certificate side of S/MIME, with no MIME and no messages.
//!
//! - Reading: `ber` (the one reader of tag and length octets, and BER to DER for small
//!   structures, with named limits), `tlv` (reading large CMS structures by position),
//!   `describe` (fingerprints, addresses, validity, PEM/DER), `algorithms` (which OID is which
//!   hash or signature scheme), `signature` (checking a signature with a public key, and naming
//!   weak algorithms).
//! - Judging: `path` (RFC 5280 §6 path validation with `name_constraints`), `issuers`
//!   (completing a chain from the known certificates and caIssuers), `revocation` (CRL and
//!   OCSP under a [`revocation::RevocationPolicy`]), each check's [`Outcome`].
//! - Keeping: `store` (other people's certificates on disk), `system_store` (the operating
//!   system's trust anchors), `fetch` (the `Fetch` trait, and HTTP downloads with deadlines and size caps).
//!
//! Everything here is synchronous and knows nothing of the daemon, its protocol or its
//! configuration file, so a mail gateway or a certificate service can link it alone.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod algorithms;
pub mod ber;
pub mod describe;
pub mod fetch;
pub mod issuers;
pub mod name_constraints;
mod outcome;
pub mod path;
pub mod revocation;
pub mod signature;
pub mod store;
pub mod system_store;
pub mod tlv;

pub use outcome::Outcome;
