//! `cert.*`: other people's certificates, used to encrypt to them and to verify their mail.

use super::{CertificateInfo, Method};
use crate::Base64Bytes;
use serde::{Deserialize, Serialize};

/// `cert.import`: store certificates (DER, or PEM with one or more certificates).
///
/// Importing a certificate already stored is not an error: it is reported again.
///
/// ```text
/// → {"jsonrpc":"2.0","id":8,"method":"cert.import","params":{"data":"LS0tLS1CRUdJTi…"}}
/// ← {"jsonrpc":"2.0","id":8,"result":{"certificates":[{"fingerprint":"a1b2…","emails":["bob@example.com"],…}]}}
/// ```
#[derive(Debug)]
pub struct Import;

/// Parameters of [`Import`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// One DER certificate, or PEM text holding one or more.
    pub data: Base64Bytes,
}

/// Result of [`Import`] and [`List`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificatesResult {
    /// The certificates.
    pub certificates: Vec<CertificateInfo>,
}

impl Method for Import {
    const NAME: &'static str = "cert.import";
    type Params = ImportParams;
    type Result = CertificatesResult;
}

/// `cert.list`: stored certificates, all or those for one address (compared case-insensitively).
///
/// ```text
/// → {"jsonrpc":"2.0","id":9,"method":"cert.list","params":{"email":"bob@example.com"}}
/// ← {"jsonrpc":"2.0","id":9,"result":{"certificates":[…]}}
/// ```
#[derive(Debug)]
pub struct List;

/// Parameters of [`List`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only certificates for this address.
    #[serde(default)]
    pub email: Option<String>,
}

impl Method for List {
    const NAME: &'static str = "cert.list";
    type Params = ListParams;
    type Result = CertificatesResult;
}

/// `cert.remove`: delete a stored certificate by fingerprint; `cert_not_found` if there is none.
///
/// ```text
/// → {"jsonrpc":"2.0","id":10,"method":"cert.remove","params":{"fingerprint":"a1b2…"}}
/// ← {"jsonrpc":"2.0","id":10,"result":{"removed":"a1b2…"}}
/// ```
#[derive(Debug)]
pub struct Remove;

/// Parameters of [`Remove`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveParams {
    /// SHA-256 fingerprint, hex (colons and case ignored).
    pub fingerprint: String,
}

/// Result of [`Remove`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveResult {
    /// The fingerprint removed, normalized.
    pub removed: String,
}

impl Method for Remove {
    const NAME: &'static str = "cert.remove";
    type Params = RemoveParams;
    type Result = RemoveResult;
}
