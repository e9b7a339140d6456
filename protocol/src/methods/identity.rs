//! `identity.*`: the user's own identities, each a private key with its certificate.

use super::{CertificateInfo, Empty, KeyLocation, KeyState, Method};
use serde::{Deserialize, Serialize};

/// One own identity: what the user signs and decrypts with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The key's identifier: SHA-256 of its SubjectPublicKeyInfo, lowercase hex.
    pub key_id: String,
    /// The identity's certificate.
    pub certificate: CertificateInfo,
    /// The issuing chain stored with it, closest issuer first as imported.
    pub chain: Vec<CertificateInfo>,
    /// Where the private key lives.
    pub location: KeyLocation,
    /// Whether the key can be used without a passphrase right now.
    pub state: KeyState,
    /// Set when the certificate expires within the configured warning period (or has expired),
    /// so add-ons and the CLI can tell the user to renew in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_warning: Option<String>,
}

/// `identity.list`: every own identity, for pickers and for expiry warnings.
///
/// ```text
/// → {"jsonrpc":"2.0","id":7,"method":"identity.list","params":{}}
/// ← {"jsonrpc":"2.0","id":7,"result":{"identities":[{"key_id":"5f0c…","certificate":{"subject":"CN=Ann,…",
///     "emails":["ann@example.com"],"days_to_expiry":364,…},"chain":[…],"location":{"kind":"software"},"state":"locked"}]}}
/// ```
#[derive(Debug)]
pub struct List;

/// Result of [`List`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListResult {
    /// The identities, ordered by first email address.
    pub identities: Vec<Identity>,
}

impl Method for List {
    const NAME: &'static str = "identity.list";
    type Params = Empty;
    type Result = ListResult;
}
