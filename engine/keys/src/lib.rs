//! Private keys for S/MIME: one key trait and its backends, so the engines that sign and
//! decrypt never know whether a key is in software or on a smart card, and never see key
//! material.
//!
//! `backend` is the trait ([`backend::PrivateKeyOps`]) and its vocabulary; `software` holds a
//! key in memory (aws-lc-rs), `pkcs11` one on a card or HSM; `pkcs12` reads and writes PKCS#12
//! files; `sealed` keeps software keys encrypted at rest under a passphrase; `store` is the
//! directory of sealed keys and their certificates. Synchronous: PKCS#11 calls block, so a
//! server runs them off its event loop.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backend;
pub mod pkcs11;
pub mod pkcs12;
pub mod sealed;
pub mod software;
pub mod store;

use aws_lc_rs::digest;
use der::Encode;
use std::fmt;
use std::str::FromStr;
use x509_cert::Certificate;

/// A key's identifier: SHA-256 of its SubjectPublicKeyInfo, so the same key has the same id
/// whether it is in software or on a card, and whichever certificate is issued for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 32]);

impl KeyId {
    /// The id of the key a certificate certifies.
    pub fn of_certificate(cert: &Certificate) -> Self {
        let spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .expect("a decoded SubjectPublicKeyInfo re-encodes");
        let hash = digest::digest(&digest::SHA256, &spki);
        Self(hash.as_ref().try_into().expect("SHA-256 is 32 bytes"))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl FromStr for KeyId {
    type Err = hex::FromHexError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.to_ascii_lowercase(), &mut bytes)?;
        Ok(Self(bytes))
    }
}
