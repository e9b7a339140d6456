//! The public half of a PKCS#8 private key, in the form a certificate's `subjectPublicKey`
//! carries it. It is found by loading the key as the daemon will use it, which also checks
//! that the key is sound, so a corrupt key is refused at import and not at the first signature.

use super::{Pkcs12Error, PrivateKeyDer};
use crate::backend::KeyError;
use crate::software::SoftwareKey;

/// The public key of `key`: RSAPublicKey DER for RSA, the uncompressed point for ECDSA, the raw
/// 32 bytes for Ed25519 and X25519. Other key types are [`Pkcs12Error::UnsupportedAlgorithm`].
pub(super) fn public_key(key: &PrivateKeyDer) -> Result<Vec<u8>, Pkcs12Error> {
    SoftwareKey::from_pkcs8(key)
        .and_then(|key| key.public_key())
        .map_err(|error| match error {
            KeyError::UnsupportedKeyType { oid } => Pkcs12Error::UnsupportedAlgorithm {
                oid,
                purpose: "private key type",
            },
            KeyError::InvalidKey { reason } => Pkcs12Error::InvalidPrivateKey { reason },
            _ => Pkcs12Error::InvalidPrivateKey {
                reason: "the key could not be loaded",
            },
        })
}
