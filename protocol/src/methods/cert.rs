//! `cert.*`: other people's certificates, used to encrypt to them and to verify their mail.

use super::{CertificateInfo, Method};
use crate::Base64Bytes;
use serde::{Deserialize, Serialize};
use std::fmt;

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

/// `cert.find`: the certificate to encrypt to an address, and why every other candidate is
/// not it.
///
/// Candidates come from the user's own identities, the certificate store (imported, harvested
/// from signed mail, or found in the directory before) and the company directory when one is
/// configured. Each is judged by the rules `smime.encrypt` applies: the certificate names the
/// address, is valid now, its extendedKeyUsage (if any) allows emailProtection, and its key can
/// receive (RSA with keyEncipherment, EC P-256/P-384 or X25519 with keyAgreement, when keyUsage
/// is present; Ed25519 only signs). The usable one expiring last is chosen, which is the one
/// `smime.encrypt` uses. Finding none is not an error: `certificate` is null and the
/// candidates and `directory` say why.
///
/// ```text
/// → {"jsonrpc":"2.0","id":12,"method":"cert.find","params":{"email":"bob@example.com"}}
/// ← {"jsonrpc":"2.0","id":12,"result":{"certificate":{"fingerprint":"a1b2…",…},"source":"directory",
///    "candidates":[{"certificate":{…},"source":"directory","usable":true,"reason":"RSA key transport, valid until 2027-11-23T19:00:00Z"},
///                  {"certificate":{…},"source":"harvested","usable":false,"reason":"expired on 2025-01-31T00:00:00Z"}],
///    "directory":{"status":"answered","certificates":1,"cached":false,"unreadable":[]}}}
/// ```
#[derive(Debug)]
pub struct Find;

/// Parameters of [`Find`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindParams {
    /// The mail address to encrypt to (compared case-insensitively).
    pub email: String,
}

/// Where a certificate came from, so that a user can tell a directory entry from a
/// certificate someone's signed mail brought along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertSource {
    /// Imported into the store (`cert.import`), or stored before sources were recorded.
    Store,
    /// Taken from a verified signature in mail the user opened.
    Harvested,
    /// One of the user's own identities (mail to oneself).
    Own,
    /// The company directory (LDAP), now or in an earlier lookup.
    Directory,
}

/// The wire name (`store`, `harvested`, `own`, `directory`), for messages and the CLI.
impl fmt::Display for CertSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Store => "store",
            Self::Harvested => "harvested",
            Self::Own => "own",
            Self::Directory => "directory",
        })
    }
}

/// One certificate considered by [`Find`], with the verdict on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The certificate.
    pub certificate: CertificateInfo,
    /// Where it came from.
    pub source: CertSource,
    /// Whether mail can be encrypted to it.
    pub usable: bool,
    /// Why it is usable (how the key is used, until when, and whether revocation was checked)
    /// or why not (expired, wrong key usage, another address, `revoked: …`, …).
    pub reason: String,
}

/// What the company directory said in a [`Find`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DirectoryStatus {
    /// No `[directory]` in the daemon's configuration.
    NotConfigured,
    /// The directory answered (now, or within the cache time).
    Answered {
        /// How many certificates its entries for the address hold.
        certificates: usize,
        /// Whether the answer came from the daemon's cache.
        cached: bool,
        /// Values that are not certificates, each with its entry and why, for IT to fix.
        unreadable: Vec<String>,
    },
    /// The directory could not be asked (unreachable, too slow, bind refused, …).
    Failed {
        /// What went wrong, for people.
        error: String,
    },
}

/// Result of [`Find`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindResult {
    /// The certificate `smime.encrypt` would use; null when no candidate is usable.
    pub certificate: Option<CertificateInfo>,
    /// Where that certificate came from; null with it.
    pub source: Option<CertSource>,
    /// Every certificate considered: the usable ones first, best first, then the rejected.
    pub candidates: Vec<Candidate>,
    /// The directory's part in the answer.
    pub directory: DirectoryStatus,
}

impl Method for Find {
    const NAME: &'static str = "cert.find";
    type Params = FindParams;
    type Result = FindResult;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_results_have_the_documented_shape() {
        let info = CertificateInfo {
            fingerprint: "a1".into(),
            subject: "CN=Bob".into(),
            issuer: "CN=CA".into(),
            serial: "01".into(),
            emails: vec!["bob@example.com".into()],
            not_before: "2026-01-01T00:00:00Z".into(),
            not_after: "2027-01-01T00:00:00Z".into(),
            days_to_expiry: 30,
            key_algorithm: "rsa-2048".into(),
        };
        let result = FindResult {
            certificate: Some(info.clone()),
            source: Some(CertSource::Directory),
            candidates: vec![Candidate {
                certificate: info,
                source: CertSource::Directory,
                usable: true,
                reason: "RSA key transport".into(),
            }],
            directory: DirectoryStatus::Answered {
                certificates: 1,
                cached: false,
                unreadable: Vec::new(),
            },
        };
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["source"], "directory");
        for source in [
            CertSource::Store,
            CertSource::Harvested,
            CertSource::Own,
            CertSource::Directory,
        ] {
            assert_eq!(serde_json::to_value(source).unwrap(), source.to_string());
        }
        assert_eq!(json["candidates"][0]["usable"], true);
        assert_eq!(json["directory"]["status"], "answered");
        let back: FindResult = serde_json::from_value(json).unwrap();
        assert_eq!(back, result);
        let failed = serde_json::to_value(DirectoryStatus::Failed {
            error: "down".into(),
        })
        .unwrap();
        assert_eq!(
            failed,
            serde_json::json!({"status": "failed", "error": "down"})
        );
        let none = serde_json::to_value(DirectoryStatus::NotConfigured).unwrap();
        assert_eq!(none, serde_json::json!({"status": "not_configured"}));
    }
}
