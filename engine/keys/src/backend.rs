//! The private-key operations S/MIME needs, behind one trait, so that the S/MIME engine works
//! the same with a software key and a smart-card key and never sees key material.

use std::fmt;
use zeroize::Zeroizing;

pub use mailseal_pkix::algorithms::{Hash, KeyAlgorithm, SignatureScheme};

/// How an RSA key-transport ciphertext is padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaPadding {
    /// RSAES-PKCS1-v1_5 (RFC 8017 §7.2).
    Pkcs1v15,
    /// RSAES-OAEP (RFC 8017 §7.1, RFC 3560) with the hash for both OAEP and MGF1, empty label.
    Oaep(Hash),
}

/// Why a private-key operation failed. Carries no key material and no secret-dependent detail:
/// in particular a padding failure and any other decryption failure look the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key cannot do this (e.g. decrypt with an Ed25519 key).
    #[error("a {algorithm:?} key cannot {operation}")]
    WrongKeyType {
        /// The operation asked for.
        operation: &'static str,
        /// The key's type.
        algorithm: KeyAlgorithm,
    },
    /// The key's type can, but not with these parameters (e.g. a hash the token lacks).
    #[error("{operation} with {scheme} is not supported for this key")]
    UnsupportedScheme {
        /// The operation.
        operation: &'static str,
        /// The scheme in words.
        scheme: String,
    },
    /// The operation failed (bad ciphertext, bad peer key, token error).
    #[error("{operation} failed")]
    Failed {
        /// The operation.
        operation: &'static str,
    },
    /// The smart card holding the key was removed.
    #[error("the token {token:?} holding the key is not present")]
    TokenNotPresent {
        /// The token's name.
        token: String,
    },
    /// The smart card holding the key needs its PIN (`token.login`).
    #[error("the token {token:?} holding the key needs its PIN")]
    PinRequired {
        /// The token's name.
        token: String,
    },
    /// The key is of a type (or on a curve) this daemon does not use.
    #[error("unsupported key type {oid}")]
    UnsupportedKeyType {
        /// The algorithm or curve OID.
        oid: String,
    },
    /// The key material is unusable.
    #[error("the private key is unusable: {reason}")]
    InvalidKey {
        /// A fixed description, never key material.
        reason: &'static str,
    },
}

/// A private key the S/MIME engine can use.
pub trait PrivateKeyOps: Send + Sync + fmt::Debug {
    /// The key's type.
    fn algorithm(&self) -> KeyAlgorithm;

    /// Signs `message` (the DER of the signed attributes), hashing it as the scheme says.
    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, KeyError>;

    /// Decrypts an RSA key-transport ciphertext into the content-encryption key.
    fn rsa_decrypt(
        &self,
        padding: RsaPadding,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyError>;

    /// Computes the ECDH shared secret (the X coordinate, or the X25519 output) with a peer's
    /// public key (an uncompressed point, or 32 bytes for X25519).
    fn ecdh(&self, peer_public_key: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError>;
}
