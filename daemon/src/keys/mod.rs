//! Private keys: reading PKCS#12 files, keeping keys encrypted at rest, and holding unlocked
//! keys in memory for a while.
pub mod backend;
pub mod cache;
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
