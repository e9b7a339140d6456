//! `ca.*`: the company certification authority, for IT's tools and `mailseal ca`.
//!
//! A root and an issuing CA live in the daemon's CA directory (`[ca] dir`); they issue S/MIME
//! certificates following the CA/Browser Forum S/MIME Baseline Requirements' strict profiles,
//! keep every issued serial in a crash-safe database, revoke and publish CRLs. Methods that
//! sign take `ca_password` (the issuing CA key's password); the unlocked key is then kept for
//! `key_cache_seconds` like any key, so a batch sends it once. Without it, and with the key
//! not unlocked, they fail with `key_locked` naming the issuing CA's key id.

use super::transfer::AbsolutePath;
use super::{CertificateInfo, Method};
use crate::{Base64Bytes, Secret};
use serde::{Deserialize, Serialize};

/// Which S/MIME BR certificate profile (all in their *strict* variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateKind {
    /// Mailbox-validated: the mail address only (policy 2.23.140.1.5.1.3).
    Mailbox,
    /// Individual-validated: address and the person's name (2.23.140.1.5.4.3).
    Individual,
    /// Sponsor-validated: address, the person's name and the company (2.23.140.1.5.3.3).
    Organization,
}

impl CertificateKind {
    /// The wire name, also used in the CA database and CSV files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mailbox => "mailbox",
            Self::Individual => "individual",
            Self::Organization => "organization",
        }
    }
}

/// Key types the CA generates or accepts.
///
/// The RSA names are spelled as everywhere else in the product (`rsa-3072`, as in
/// `key_algorithm` and the docs); serde's kebab-case alone would make them `rsa3072`, which
/// is still accepted so that clients written against it keep working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    /// RSA, 2048-bit modulus.
    #[serde(rename = "rsa-2048", alias = "rsa2048")]
    Rsa2048,
    /// RSA, 3072-bit modulus.
    #[serde(rename = "rsa-3072", alias = "rsa3072")]
    Rsa3072,
    /// RSA, 4096-bit modulus.
    #[serde(rename = "rsa-4096", alias = "rsa4096")]
    Rsa4096,
    /// ECDSA/ECDH on P-256.
    EcP256,
    /// ECDSA/ECDH on P-384.
    EcP384,
}

/// What a certificate's key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Usage {
    /// Signing and encryption with one key.
    #[default]
    Both,
    /// Signing only (the signing half of a dual-key pair).
    Signing,
    /// Encryption only (the encryption half of a dual-key pair).
    Encryption,
}

impl Usage {
    /// The wire name, also used in the CA database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Both => "both",
            Self::Signing => "signing",
            Self::Encryption => "encryption",
        }
    }
}

/// Why a certificate is revoked: the RFC 5280 reason codes the S/MIME BR allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// No reason given.
    Unspecified,
    /// The private key was, or may have been, disclosed.
    KeyCompromise,
    /// The person left the company or changed role.
    AffiliationChanged,
    /// Replaced by a new certificate.
    Superseded,
    /// No longer needed.
    CessationOfOperation,
    /// The right to the certificate was withdrawn.
    PrivilegeWithdrawn,
}

/// Where a certificate stands in the CA database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Valid: issued, not revoked, not expired, not replaced.
    Active,
    /// Replaced by `ca.renew`; still valid until it expires, but not the current one.
    Superseded,
    /// Revoked; listed in the CRL.
    Revoked,
    /// Past its notAfter.
    Expired,
}

/// One certificate the CA issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaEntry {
    /// Serial number, hex.
    pub serial: String,
    /// The mail address.
    pub email: String,
    /// The profile.
    pub kind: CertificateKind,
    /// What the key is for.
    pub usage: Usage,
    /// Subject DN (RFC 4514).
    pub subject: String,
    /// Status now.
    pub status: Status,
    /// RFC 3339 UTC.
    pub not_after: String,
    /// Days until notAfter (negative once expired).
    pub days_to_expiry: i64,
    /// When it was revoked (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// Why it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RevocationReason>,
}

/// `ca.init`: create the root and issuing CA in the CA directory.
///
/// ```text
/// → {"jsonrpc":"2.0","id":40,"method":"ca.init","params":{"name":"Example","organization":"Example Corp","keys":{"generate":{"ca_password":"…"}}}}
/// ← {"jsonrpc":"2.0","id":40,"result":{"dir":"/home/it/.local/share/mailseal/ca","root":{…},"issuing":{…},"chain_pem":"-----BEGIN CERTIFICATE-----…"}}
/// ```
#[derive(Debug)]
pub struct Init;

/// Parameters of [`Init`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitParams {
    /// The CA's name: the root is "NAME Root CA", the issuing CA "NAME S/MIME CA".
    pub name: String,
    /// The organizationName of both CA certificates.
    #[serde(default)]
    pub organization: Option<String>,
    /// Where the CA keys come from.
    pub keys: CaKeys,
}

/// The keys of a new CA.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CaKeys {
    /// Generated by the daemon and sealed in the CA directory under `ca_password`.
    Generate {
        /// The keys' type; default `rsa-3072`.
        #[serde(default)]
        algorithm: Option<KeyAlgorithm>,
        /// Protects both CA keys at rest; later requests send it as `ca_password`.
        ca_password: Secret,
    },
    /// Keys already on a smart card or HSM (made with `token.generate_key`), which never
    /// leave it; signing needs a `token.login`, and `ca_password` is not used. Both CA
    /// certificates are written to the token beside their keys.
    Token {
        /// The token's label or serial number.
        token: String,
        /// The root CA key's CKA_ID (hex), as `token.generate_key` returned it.
        root_key_id: String,
        /// The issuing CA key's CKA_ID (hex).
        issuing_key_id: String,
    },
}

/// Result of [`Init`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitResult {
    /// The CA directory.
    pub dir: String,
    /// The root CA certificate.
    pub root: CertificateInfo,
    /// The issuing CA certificate.
    pub issuing: CertificateInfo,
    /// Issuing CA then root, PEM: what mail clients and `trusted_ca_files` need.
    pub chain_pem: String,
}

impl Method for Init {
    const NAME: &'static str = "ca.init";
    type Params = InitParams;
    type Result = InitResult;
}

/// How a PKCS#12 file the CA writes is encrypted (its MAC is HMAC-SHA-256 either way).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pkcs12Format {
    /// PBES2 with PBKDF2-HMAC-SHA-256 and AES-256-CBC: OpenSSL 3's default; Windows, macOS,
    /// Thunderbird and OpenSSL import it.
    #[default]
    Modern,
    /// PBES2 with PBKDF2-HMAC-SHA-1 and AES-128-CBC, the only PBES2 GnuPG 2.2's gpgsm reads.
    Gnupg22,
}

/// Where the certified key comes from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KeySource {
    /// The CA generates the key pair and returns it in a PKCS#12 file.
    Generate {
        /// The key type.
        algorithm: KeyAlgorithm,
        /// Protects the PKCS#12 file.
        pkcs12_password: Secret,
        /// Two key pairs and two certificates, one for signing and one for encryption.
        #[serde(default)]
        dual: bool,
        /// The PKCS#12 encryption.
        #[serde(default)]
        pkcs12_format: Pkcs12Format,
    },
    /// The holder made the key (on a smart card, say) and sent a PKCS#10 request.
    Csr {
        /// The request, DER or PEM.
        request: Base64Bytes,
        /// What the key is to be certified for.
        #[serde(default)]
        usage: Usage,
    },
}

/// What `ca.issue` does when the address already has an active certificate of this kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IfActive {
    /// Refuse with `bad_input` (`params.email`).
    #[default]
    Fail,
    /// Issue nothing and return the active certificates in `existing`.
    Skip,
    /// Revoke them (reason superseded) and issue anew, in one transaction.
    Replace,
}

/// `ca.issue`: issue a certificate of a profile for a mail address.
///
/// ```text
/// → {"jsonrpc":"2.0","id":41,"method":"ca.issue","params":{"kind":"individual","email":"ann@example.com","name":"Ann Example",
///     "key":{"generate":{"algorithm":"ec-p256","pkcs12_password":"…"}},"ca_password":"…"}}
/// ← {"jsonrpc":"2.0","id":41,"result":{"issued":[{"entry":{"serial":"4f1c…","email":"ann@example.com","kind":"individual","usage":"both",…},
///     "certificate":"MIIC…","pkcs12":"MIIK…"}],"existing":[],"replaced":[]}}
/// ```
#[derive(Debug)]
pub struct Issue;

/// Parameters of [`Issue`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueParams {
    /// The profile.
    pub kind: CertificateKind,
    /// The holder's mail address (SAN rfc822Name).
    pub email: String,
    /// The holder's name: required for `individual` and `organization`, refused for `mailbox`.
    #[serde(default)]
    pub name: Option<String>,
    /// The company: required for `organization`, refused otherwise.
    #[serde(default)]
    pub organization: Option<String>,
    /// Where the key comes from.
    pub key: KeySource,
    /// What to do when the address already has an active certificate of this kind.
    #[serde(default)]
    pub if_active: IfActive,
    /// The issuing CA key's password, unless it is unlocked.
    #[serde(default)]
    pub ca_password: Option<Secret>,
}

/// One issued certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Issued {
    /// As `ca.list` shows it.
    pub entry: CaEntry,
    /// The certificate, DER.
    pub certificate: Base64Bytes,
    /// Key, certificate and chain under `pkcs12_password`, when the CA generated the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkcs12: Option<Base64Bytes>,
}

/// Result of [`Issue`] and [`Renew`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssueResult {
    /// What was issued (two for a dual-key request, none when skipped).
    pub issued: Vec<Issued>,
    /// The active certificates that made `if_active: skip` issue nothing.
    pub existing: Vec<CaEntry>,
    /// Serials revoked (reason superseded) by `if_active: replace`.
    #[serde(default)]
    pub replaced: Vec<String>,
}

impl Method for Issue {
    const NAME: &'static str = "ca.issue";
    type Params = IssueParams;
    type Result = IssueResult;
}

/// `ca.renew`: a new certificate for the subject of an active one, which becomes superseded.
///
/// ```text
/// → {"jsonrpc":"2.0","id":42,"method":"ca.renew","params":{"serial":"4f1c…","rekey":{"algorithm":"ec-p256","pkcs12_password":"…"}}}
/// ← {"jsonrpc":"2.0","id":42,"result":{"issued":[{"entry":{"serial":"7a02…",…},"certificate":"MIIC…","pkcs12":"MIIK…"}],"existing":[],"replaced":[]}}
/// ```
#[derive(Debug)]
pub struct Renew;

/// A new key for a renewal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rekey {
    /// The new key's type.
    pub algorithm: KeyAlgorithm,
    /// Protects the PKCS#12 file.
    pub pkcs12_password: Secret,
    /// The PKCS#12 encryption.
    #[serde(default)]
    pub pkcs12_format: Pkcs12Format,
}

/// Parameters of [`Renew`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewParams {
    /// The serial of the active certificate to renew, hex.
    pub serial: String,
    /// A new key pair (returned in a PKCS#12 file); without it the old public key is certified again.
    #[serde(default)]
    pub rekey: Option<Rekey>,
    /// The issuing CA key's password, unless it is unlocked.
    #[serde(default)]
    pub ca_password: Option<Secret>,
}

impl Method for Renew {
    const NAME: &'static str = "ca.renew";
    type Params = RenewParams;
    type Result = IssueResult;
}

/// `ca.batch`: issue to every user of a CSV file, writing a PKCS#12 file and its random
/// password per user into a private directory, with a progress notification per user. Users
/// who already have their certificate and its file are skipped, so it can be run again after
/// a failure or an interruption.
///
/// ```text
/// → {"jsonrpc":"2.0","id":47,"method":"ca.batch","params":{"users":{"path":"/home/it/users.csv"},"out_dir":"/home/it/out",
///     "algorithm":"ec-p256","progress":true}}
/// ← {"jsonrpc":"2.0","method":"progress","params":{"id":47,"done":0,"total":3}}
/// ← …
/// ← {"jsonrpc":"2.0","id":47,"result":{"issued":["ann@example.com"],"reissued":[],"skipped":["bob@example.com"],
///     "failed":[{"line":4,"email":"cy@example.com","error":"name is not allowed in a mailbox certificate (S/MIME BR strict profile)"}],"out_dir":"/home/it/out"}}
/// ```
#[derive(Debug)]
pub struct Batch;

/// The users of a batch: a CSV text with a header naming `email` and optionally `name`,
/// `organization` and `kind`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BatchUsers {
    /// The file's text.
    Csv(String),
    /// A file of the user's, read by the daemon (which runs as the same user).
    Path(AbsolutePath),
}

/// Parameters of [`Batch`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchParams {
    /// Who to issue to.
    pub users: BatchUsers,
    /// Where the files go: created 0700 (refused if it exists and others can read it), every
    /// file in it 0600.
    pub out_dir: AbsolutePath,
    /// The profile of rows without a kind; default `individual`.
    #[serde(default)]
    pub kind: Option<CertificateKind>,
    /// The keys' type; default `rsa-3072`.
    #[serde(default)]
    pub algorithm: Option<KeyAlgorithm>,
    /// The PKCS#12 encryption.
    #[serde(default)]
    pub pkcs12_format: Pkcs12Format,
    /// The issuing CA key's password, unless it is unlocked.
    #[serde(default)]
    pub ca_password: Option<Secret>,
    /// Send a `progress` notification after each user (`done` and `total` count users).
    #[serde(default)]
    pub progress: bool,
}

/// A user a batch could not issue to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchFailure {
    /// The line of the CSV file (the header is line 1).
    pub line: usize,
    /// The address.
    pub email: String,
    /// Why.
    pub error: String,
}

/// Result of [`Batch`]: every user of the file in exactly one list (addresses as written).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchResult {
    /// Issued, with `<email>.p12` and `<email>.password` written.
    pub issued: Vec<String>,
    /// Issued again: an earlier, interrupted run recorded a certificate whose PKCS#12 file
    /// never reached the directory; that one is now revoked as superseded.
    pub reissued: Vec<String>,
    /// Already had an active certificate and its file.
    pub skipped: Vec<String>,
    /// Could not be issued; the others were.
    pub failed: Vec<BatchFailure>,
    /// The output directory, with `passwords.csv` listing every file and its password.
    pub out_dir: String,
}

impl Method for Batch {
    const NAME: &'static str = "ca.batch";
    type Params = BatchParams;
    type Result = BatchResult;
}

/// `ca.revoke`: revoke a certificate and publish a new CRL.
///
/// ```text
/// → {"jsonrpc":"2.0","id":43,"method":"ca.revoke","params":{"serial":"4f1c…","reason":"key_compromise"}}
/// ← {"jsonrpc":"2.0","id":43,"result":{"entry":{"serial":"4f1c…","status":"revoked","reason":"key_compromise",…},"crl":{…}}}
/// ```
#[derive(Debug)]
pub struct Revoke;

/// Parameters of [`Revoke`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeParams {
    /// The serial, hex.
    pub serial: String,
    /// Why.
    pub reason: RevocationReason,
    /// The issuing CA key's password, unless it is unlocked.
    #[serde(default)]
    pub ca_password: Option<Secret>,
}

/// Result of [`Revoke`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeResult {
    /// The certificate, now revoked.
    pub entry: CaEntry,
    /// The CRL that lists it.
    pub crl: CrlResult,
}

impl Method for Revoke {
    const NAME: &'static str = "ca.revoke";
    type Params = RevokeParams;
    type Result = RevokeResult;
}

/// `ca.crl`: sign a fresh CRL and write it to the CA directory (`issuing.crl`, DER, for the
/// web server behind `[ca] crl_url`).
///
/// ```text
/// → {"jsonrpc":"2.0","id":44,"method":"ca.crl","params":{}}
/// ← {"jsonrpc":"2.0","id":44,"result":{"crl":"MIIB…","number":3,"this_update":"2026-11-23T22:00:00Z","next_update":"2026-11-30T22:00:00Z","revoked":1,"path":"/…/ca/issuing.crl"}}
/// ```
#[derive(Debug)]
pub struct Crl;

/// Parameters of [`Crl`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrlParams {
    /// The issuing CA key's password, unless it is unlocked.
    #[serde(default)]
    pub ca_password: Option<Secret>,
}

/// Result of [`Crl`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrlResult {
    /// The CRL, DER.
    pub crl: Base64Bytes,
    /// Its cRLNumber.
    pub number: u64,
    /// RFC 3339 UTC.
    pub this_update: String,
    /// RFC 3339 UTC; publish a new one before then.
    pub next_update: String,
    /// How many certificates it lists.
    pub revoked: usize,
    /// Where it was written.
    pub path: String,
}

impl Method for Crl {
    const NAME: &'static str = "ca.crl";
    type Params = CrlParams;
    type Result = CrlResult;
}

/// `ca.list`: every certificate the CA issued, or those for `email`.
///
/// ```text
/// → {"jsonrpc":"2.0","id":45,"method":"ca.list","params":{"email":"ann@example.com"}}
/// ← {"jsonrpc":"2.0","id":45,"result":{"certificates":[{"serial":"4f1c…","email":"ann@example.com","kind":"individual","usage":"both",
///     "subject":"CN=Ann Example","status":"active","not_after":"2027-11-23T22:00:00Z","days_to_expiry":365}]}}
/// ```
#[derive(Debug)]
pub struct List;

/// Parameters of [`List`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only this address (any case).
    #[serde(default)]
    pub email: Option<String>,
}

/// Result of [`List`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListResult {
    /// Oldest first.
    pub certificates: Vec<CaEntry>,
}

impl Method for List {
    const NAME: &'static str = "ca.list";
    type Params = ListParams;
    type Result = ListResult;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_sources_are_tagged_and_hide_passwords() {
        let params: IssueParams = serde_json::from_value(serde_json::json!({
            "kind": "mailbox", "email": "a@example.com",
            "key": {"generate": {"algorithm": "ec-p256", "pkcs12_password": "hunter2"}}
        }))
        .unwrap();
        assert!(matches!(
            params.key,
            KeySource::Generate {
                algorithm: KeyAlgorithm::EcP256,
                dual: false,
                ..
            }
        ));
        assert_eq!(params.if_active, IfActive::Fail);
        assert!(!format!("{params:?}").contains("hunter2"));
        let csr: KeySource =
            serde_json::from_value(serde_json::json!({"csr": {"request": "AAEC"}})).unwrap();
        assert!(matches!(
            csr,
            KeySource::Csr {
                usage: Usage::Both,
                ..
            }
        ));
    }

    #[test]
    fn batch_users_are_a_csv_text_or_an_absolute_path_and_passwords_stay_hidden() {
        let params: BatchParams = serde_json::from_value(serde_json::json!({
            "users": {"csv": "email\nann@example.com\n"}, "out_dir": "/home/it/out",
            "ca_password": "hunter2"
        }))
        .unwrap();
        assert!(matches!(params.users, BatchUsers::Csv(_)));
        assert_eq!((params.kind, params.algorithm), (None, None));
        assert!(!params.progress);
        assert!(!format!("{params:?}").contains("hunter2"));
        let relative = serde_json::from_value::<BatchParams>(serde_json::json!({
            "users": {"path": "users.csv"}, "out_dir": "/home/it/out"
        }));
        assert!(relative.is_err());
    }

    #[test]
    fn rsa_algorithms_take_the_documented_spelling_and_the_old_one() {
        for (documented, old, algorithm) in [
            ("rsa-2048", "rsa2048", KeyAlgorithm::Rsa2048),
            ("rsa-3072", "rsa3072", KeyAlgorithm::Rsa3072),
            ("rsa-4096", "rsa4096", KeyAlgorithm::Rsa4096),
        ] {
            for spelling in [documented, old] {
                assert_eq!(
                    serde_json::from_value::<KeyAlgorithm>(spelling.into()).unwrap(),
                    algorithm
                );
            }
            assert_eq!(serde_json::to_value(algorithm).unwrap(), documented);
        }
        assert_eq!(
            serde_json::to_value(KeyAlgorithm::EcP256).unwrap(),
            "ec-p256"
        );
        let init: InitParams = serde_json::from_value(serde_json::json!({
            "name": "Example CA",
            "keys": {"generate": {"algorithm": "rsa-3072", "ca_password": "p"}}
        }))
        .unwrap();
        assert!(matches!(
            init.keys,
            CaKeys::Generate {
                algorithm: Some(KeyAlgorithm::Rsa3072),
                ..
            }
        ));
    }
}

/// `ca.publish`: write the active certificates of every address the CA issued to (or of
/// `email`) to the company LDAP directory (`[directory]`), replacing what the person's entry
/// held, so that revoked and superseded certificates disappear there too.
///
/// ```text
/// → {"jsonrpc":"2.0","id":46,"method":"ca.publish","params":{}}
/// ← {"jsonrpc":"2.0","id":46,"result":{"updated":["ann@example.com"],"not_found":["bob@example.com"],"failed":[]}}
/// ```
#[derive(Debug)]
pub struct Publish;

/// Parameters of [`Publish`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishParams {
    /// Only this address.
    #[serde(default)]
    pub email: Option<String>,
}

/// An address that could not be published.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishFailure {
    /// The address.
    pub email: String,
    /// Why.
    pub error: String,
}

/// Result of [`Publish`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishResult {
    /// Addresses whose entry now holds exactly their active certificates.
    pub updated: Vec<String>,
    /// Addresses no directory entry has (the CA never creates entries).
    pub not_found: Vec<String>,
    /// Addresses that failed (several entries, write refused).
    pub failed: Vec<PublishFailure>,
}

impl Method for Publish {
    const NAME: &'static str = "ca.publish";
    type Params = PublishParams;
    type Result = PublishResult;
}
