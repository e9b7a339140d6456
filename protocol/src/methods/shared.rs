//! Types that several methods' results share.

use serde::{Deserialize, Serialize};

/// What a certificate says about its owner, as shown to users and scripts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    /// SHA-256 of the DER certificate, lowercase hex: the certificate's stable identifier.
    pub fingerprint: String,
    /// The subject distinguished name (RFC 4514 string).
    pub subject: String,
    /// The issuer distinguished name (RFC 4514 string).
    pub issuer: String,
    /// The serial number, lowercase hex.
    pub serial: String,
    /// The mail addresses the certificate is for (SAN rfc822Name, else the subject's emailAddress).
    pub emails: Vec<String>,
    /// Start of validity, RFC 3339 UTC.
    pub not_before: String,
    /// End of validity, RFC 3339 UTC.
    pub not_after: String,
    /// Whole days until `not_after`; negative once expired.
    pub days_to_expiry: i64,
    /// The public key algorithm and size, e.g. `rsa-2048`, `ec-p256`, `ed25519`.
    pub key_algorithm: String,
}

/// Where an identity's private key lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeyLocation {
    /// Encrypted at rest in the daemon's data directory.
    Software,
    /// On a PKCS#11 token.
    Token {
        /// The token's label.
        token: String,
    },
}

/// Whether a key can be used right now without asking the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// A passphrase or PIN is needed first.
    Locked,
    /// Usable until the cache expires or `key.lock` is called.
    Unlocked,
}
