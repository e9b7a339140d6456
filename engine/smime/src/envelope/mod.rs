//! CMS encryption layer: EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083,
//! RFC 5084), encrypted to recipients' certificates and decrypted with our keys, with the
//! algorithms of RFC 8551 §2.7.
//!
//! [`seal`] takes the MIME entity to protect and writes the DER ContentInfo that becomes
//! the body of an `application/pkcs7-mime` part; [`decrypt`] does the reverse, reading DER or
//! BER. Every private-key operation goes through [`PrivateKeyOps`], so software keys and smart
//! cards behave alike, and all other cryptography through aws-lc-rs.
//!
//! | | encrypt | decrypt |
//! |---|---|---|
//! | content | AES-128/256-CBC (EnvelopedData), AES-128/256-GCM (AuthEnvelopedData) | the same |
//! | RSA key transport | PKCS#1 v1.5; RSAES-OAEP with SHA-1/256/384/512, MGF1 of the same hash | the same |
//! | ECDH key agreement (P-256, P-384, X25519; RFC 5753, RFC 8418) | ephemeral-static, X9.63 KDF with SHA-256 (SHA-384 for P-384), AES-256 key wrap | X9.63 KDF with SHA-1/256/384/512 or HKDF-SHA-256/384/512; AES-128/256 key wrap |
//!
//! Refused: AES-192 (which `ContentEncryption` cannot name), 3DES, ChaCha20-Poly1305, RC2,
//! KEK, password and other recipient kinds, static-static key agreement.
//!
//! Files: `encrypt.rs` and `decrypt.rs` hold the two directions, `content.rs` the symmetric
//! layer, `ktri.rs` and `kari.rs` the two kinds of recipient, `recipients.rs` how recipients
//! are identified; `mailseal_pkix::ber` reads BER.

mod content;
mod decrypt;
mod encrypt;
mod gcm;
mod kari;
mod ktri;
mod layout;
mod recipients;
#[cfg(test)]
mod tests;

pub use decrypt::decrypt;
#[cfg(test)]
pub use decrypt::decrypt_to_vec;
#[cfg(test)]
pub use encrypt::encrypt_to_vec;
pub use encrypt::{Envelope, seal};

use const_oid::ObjectIdentifier;
use mailseal_keys::KeyId;
use mailseal_keys::backend::{KeyError, PrivateKeyOps, RsaPadding};
use mailseal_pkix::algorithms::oid_name;
use mailseal_pkix::ber::BerError;
use mailseal_pkix::tlv::TlvError;
use x509_cert::Certificate;

/// A recipient to encrypt to: the certificate the recipient published for encryption.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    /// The recipient's certificate; its key says how the content key reaches them (RSA key
    /// transport or ECDH key agreement).
    pub certificate: &'a Certificate,
    /// The RSA padding, chosen by the caller because only it knows what the recipient's client
    /// supports (PKCS#1 v1.5 everywhere, OAEP in newer clients). Ignored for EC keys.
    pub rsa_padding: RsaPadding,
}

/// One of our keys that may be able to decrypt, with the certificate that names it in
/// messages. `key: None` means the key is locked: a message for it yields
/// [`EnvelopeError::Locked`], so that the caller can ask the user to unlock that key.
#[derive(Debug, Clone, Copy)]
pub struct OwnKey<'a> {
    /// The key's identifier, reported back in [`Decrypted`] and [`EnvelopeError::Locked`].
    pub key_id: KeyId,
    /// The certificate senders encrypted to: its issuer and serial number or its subject key
    /// identifier is how a RecipientInfo names the key.
    pub certificate: &'a Certificate,
    /// The unlocked key, or `None` when it is locked.
    pub key: Option<&'a dyn PrivateKeyOps>,
}

/// What protected a decrypted message, for the report shown to the user.
#[derive(Debug, Clone, Copy)]
pub struct Decryption {
    /// The content-encryption algorithm the sender chose.
    pub algorithm: crate::report::ContentEncryption,
    /// The key that decrypted it.
    pub key_id: KeyId,
}

/// A message decrypted in memory, for the tests.
#[cfg(test)]
pub struct Decrypted {
    /// The decrypted content (the inner MIME entity).
    pub content: Vec<u8>,
    /// The content-encryption algorithm the sender chose.
    pub algorithm: crate::report::ContentEncryption,
    /// The key that decrypted it.
    pub key_id: KeyId,
}

/// The content is the user's private mail: never printed.
#[cfg(test)]
impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decrypted")
            .field("content", &format_args!("<{} bytes>", self.content.len()))
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// Why a message could not be encrypted or decrypted.
///
/// No variant carries key material, and every failure that depends on secret data (RSA
/// padding, key unwrap, authentication tag, CBC padding) is the one [`Self::DecryptionFailed`].
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The input is not a well-formed CMS structure (or, when encrypting, cannot become one).
    #[error("malformed CMS message: {what}")]
    Malformed {
        /// What was wrong, in words.
        what: &'static str,
        /// The decoder's error, when one was involved.
        #[source]
        source: Option<der::Error>,
    },
    /// The ContentInfo holds something other than (auth)enveloped data.
    #[error("the CMS message is {content_type}, not encrypted data")]
    NotEncrypted {
        /// The content type found (OID and name).
        content_type: String,
    },
    /// None of our keys is among the recipients.
    #[error("the message is not encrypted to any of our keys; its recipients: {}", recipients.join("; "))]
    NotForUs {
        /// The message's recipients, described for people (issuer and serial number, or
        /// subject key identifier).
        recipients: Vec<String>,
    },
    /// One of our keys is a recipient, but it is locked.
    #[error("the message is encrypted to key {key_id}, which is locked")]
    Locked {
        /// The key to unlock.
        key_id: KeyId,
    },
    /// An algorithm we do not implement (or refuse, like ChaCha20-Poly1305 or 3DES).
    #[error("unsupported {purpose} algorithm {oid}")]
    UnsupportedAlgorithm {
        /// The algorithm's OID, with its name when known.
        oid: String,
        /// What the algorithm was for (content encryption, key transport, ...).
        purpose: &'static str,
    },
    /// A recipient's certificate cannot be encrypted to.
    #[error("cannot encrypt to {subject}: {reason}")]
    UnsupportedRecipientKey {
        /// The certificate's subject.
        subject: String,
        /// Why, in words.
        reason: &'static str,
    },
    /// Decryption failed: wrong key, corrupted or tampered message. Deliberately one error for
    /// every cause, so that no oracle tells an attacker which check failed (RFC 3218).
    #[error("decryption failed: the message is damaged or was not encrypted with this key")]
    DecryptionFailed,
    /// A private-key operation failed for a reason unrelated to the message (wrong key type,
    /// token error).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// The content is longer than the algorithm allows (AES-GCM: 64 GiB).
    #[error("the content is too long for its encryption algorithm")]
    TooLarge,
    /// Reading the content or writing the result failed.
    #[error("cannot read or write the message: {0}")]
    Io(#[from] std::io::Error),
}

impl EnvelopeError {
    /// `Malformed` for a decoding (or encoding) error of `what`.
    fn der(what: &'static str) -> impl FnOnce(der::Error) -> Self {
        move |source| Self::Malformed {
            what,
            source: Some(source),
        }
    }

    /// `Malformed` for a fault found without a decoder's error.
    fn malformed(what: &'static str) -> Self {
        Self::Malformed { what, source: None }
    }

    /// `UnsupportedAlgorithm` for `oid` used for `purpose`.
    fn unsupported(oid: ObjectIdentifier, purpose: &'static str) -> Self {
        Self::UnsupportedAlgorithm {
            oid: oid_name(oid),
            purpose,
        }
    }

    /// `UnsupportedRecipientKey` for `recipient`'s certificate.
    fn unsupported_recipient(recipient: &Certificate, reason: &'static str) -> Self {
        Self::UnsupportedRecipientKey {
            subject: recipient.tbs_certificate().subject().to_string(),
            reason,
        }
    }
}

/// Bad BER is a malformed message, described in the BER reader's words.
impl From<BerError> for EnvelopeError {
    fn from(error: BerError) -> Self {
        Self::Malformed {
            what: error.problem.what(),
            source: Some(error.into()),
        }
    }
}

/// A fault found while reading the envelope by position.
impl From<TlvError> for EnvelopeError {
    fn from(error: TlvError) -> Self {
        match error {
            TlvError::Malformed(what) => Self::malformed(what),
            TlvError::Ber(error) => error.into(),
            TlvError::Io(error) => Self::Io(error),
        }
    }
}
