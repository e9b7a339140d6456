//! The company certification authority: a root and an issuing CA that issue S/MIME
//! certificates to the CA/Browser Forum S/MIME Baseline Requirements' strict profiles.
//! Synchronous and free of the daemon's protocol and configuration: the daemon serves it as
//! `ca.*` methods, and a certificate service can link it alone.
//!
//! One job per file: `profile` (what each profile allows and requires), `signer` (the CA key,
//! software or card, behind the key trait, as rcgen's signer), `authority` (the CA directory:
//! creating and unlocking the CA), `db` (issued serials, status and revocations in SQLite,
//! crash-safe), `csr` (checking a holder's request), `issue` (making certificates and PKCS#12
//! files), `crl` (signing CRLs), `batch` (issuing to every user of a CSV file into a
//! directory of PKCS#12 files and passwords). PKCS#12 writing lives beside the
//! reader in `mailseal_keys::pkcs12::write`, so that both share one ASN.1 and KDF implementation.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod authority;
pub mod batch;
pub mod crl;
pub mod csr;
pub mod db;
pub mod issue;
pub mod profile;
pub mod signer;
mod vocabulary;

pub use vocabulary::{
    CertificateKind, IfActive, KeyAlgorithm, Pkcs12Format, RevocationReason, UnknownName, Usage,
};

use mailseal_files::StoreError;
use mailseal_keys::KeyId;
use mailseal_keys::backend::KeyError;
use mailseal_keys::pkcs12::Pkcs12Error;
use mailseal_keys::sealed::SealError;
use std::path::PathBuf;

/// Why a CA operation failed. No variant carries a key, a password or a certificate body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A request asks for something its profile does not allow or lacks what it requires.
    #[error("{field} {reason}")]
    Profile {
        /// The parameter at fault (`email`, `name`, `organization`).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A certificate request that cannot be certified.
    #[error("the certificate request {reason}")]
    Csr {
        /// What is wrong with it.
        reason: String,
    },
    /// No CA in the CA directory yet.
    #[error("there is no CA in {}; create one with ca.init", dir.display())]
    NotInitialized {
        /// The CA directory.
        dir: PathBuf,
    },
    /// `ca.init` on a directory that already holds a CA.
    #[error("{} already holds a CA; it is never overwritten", dir.display())]
    AlreadyInitialized {
        /// The CA directory.
        dir: PathBuf,
    },
    /// The address already has an active certificate of this kind.
    #[error(
        "{email} already has an active {kind} certificate (serial {serial}); revoke or renew it, or ask for if_active skip or replace"
    )]
    AlreadyActive {
        /// The address.
        email: String,
        /// The profile.
        kind: &'static str,
        /// The active certificate's serial.
        serial: String,
    },
    /// The issuing CA key is locked and no password came with the request.
    #[error("the issuing CA key {key_id} is locked; send ca_password")]
    Locked {
        /// The issuing CA's key id.
        key_id: KeyId,
    },
    /// The CA password is wrong.
    #[error("wrong CA password")]
    WrongPassword,
    /// No certificate with this serial was issued here.
    #[error("this CA issued no certificate with serial {serial}")]
    UnknownSerial {
        /// The serial asked for.
        serial: String,
    },
    /// The certificate cannot be renewed or revoked in its state.
    #[error("certificate {serial} is {status}, not active")]
    NotActive {
        /// The serial.
        serial: String,
        /// Its status.
        status: &'static str,
    },
    /// The CA database failed.
    #[error("CA database {}: {source}", path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A CA file could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A structure could not be encoded or decoded.
    #[error("cannot encode or decode the {what}: {source}")]
    Encoding {
        /// What.
        what: &'static str,
        /// The codec's error.
        #[source]
        source: der::Error,
    },
    /// rcgen refused to build or sign something.
    #[error("cannot make the {what}: {source}")]
    Build {
        /// What.
        what: &'static str,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },
    /// The CA key failed to sign.
    #[error("the CA key failed: {0}")]
    Key(#[from] KeyError),
    /// A sealed CA key could not be written or read.
    #[error("sealed CA key: {0}")]
    Seal(SealError),
    /// A PKCS#12 file could not be written.
    #[error("cannot write the PKCS#12 file: {0}")]
    Pkcs12(#[from] Pkcs12Error),
}

impl PkiError {
    /// An encoding failure of `what`, for `map_err`.
    pub fn encoding(what: &'static str) -> impl FnOnce(der::Error) -> Self {
        move |source| Self::Encoding { what, source }
    }

    /// An rcgen failure making `what`, for `map_err`.
    pub(crate) fn build(what: &'static str) -> impl FnOnce(rcgen::Error) -> Self {
        move |source| Self::Build { what, source }
    }
}

impl From<SealError> for PkiError {
    fn from(error: SealError) -> Self {
        match error {
            SealError::WrongPassphrase => Self::WrongPassword,
            other => Self::Seal(other),
        }
    }
}
