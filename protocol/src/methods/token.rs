//! `token.*`: smart cards and hardware tokens (PKCS#11): discovery, PIN login, enrolment.
//!
//! A card's identities appear in `identity.list` beside software ones and work with every
//! `smime.*` method; an operation that needs the card's PIN fails with `pin_required` naming
//! the token, so the client can ask the user and call `token.login`.

use super::{CertificateInfo, Empty, Method};
use crate::{Base64Bytes, Secret};
use serde::{Deserialize, Serialize};

/// A PKCS#11 module (driver) the daemon tried to load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// The module's path.
    pub path: String,
    /// The library's own description when it loaded.
    pub description: Option<String>,
    /// Why it did not load.
    pub error: Option<String>,
}

/// What a token says about its user PIN.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinState {
    /// A wrong PIN was entered since the last good one.
    pub count_low: bool,
    /// One more wrong PIN locks the card.
    pub final_try: bool,
    /// The PIN is locked; only the security officer can unlock it.
    pub locked: bool,
}

/// An identity on a token: a certificate with its private key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenIdentity {
    /// The key id (SHA-256 of the SubjectPublicKeyInfo), as in `identity.list`.
    pub key_id: String,
    /// The certificate.
    pub certificate: CertificateInfo,
}

/// One token in a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The token's label, shown to users.
    pub label: String,
    /// The serial number; with the label, what `token` parameters accept.
    pub serial: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// The PIN is entered on the reader's keypad, not sent by the client.
    pub protected_authentication_path: bool,
    /// PIN state flags.
    pub pin: PinState,
    /// Whether a login is cached now.
    pub logged_in: bool,
    /// Certificates with keys on the token.
    pub identities: Vec<TokenIdentity>,
}

/// `token.list`: modules, tokens, their PIN state and identities.
///
/// ```text
/// → {"jsonrpc":"2.0","id":30,"method":"token.list","params":{}}
/// ← {"jsonrpc":"2.0","id":30,"result":{"modules":[{"path":"/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so","description":"PKCS#11 Kit Proxy Module","error":null}],
///     "tokens":[{"label":"Ann's card","serial":"5c2a…","manufacturer":"SoftHSM project","model":"SoftHSM v2",
///     "protected_authentication_path":false,"pin":{"count_low":false,"final_try":false,"locked":false},"logged_in":false,
///     "identities":[{"key_id":"9e1d…","certificate":{…}}]}]}}
/// ```
#[derive(Debug)]
pub struct List;

/// Result of [`List`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListResult {
    /// Every configured module, loaded or not.
    pub modules: Vec<ModuleInfo>,
    /// Every token present now.
    pub tokens: Vec<TokenInfo>,
}

impl Method for List {
    const NAME: &'static str = "token.list";
    type Params = Empty;
    type Result = ListResult;
}

/// `token.login`: log in to a token with its PIN (empty for a PIN-pad reader), kept for
/// `pin_cache_seconds`. The PIN itself is not kept.
///
/// ```text
/// → {"jsonrpc":"2.0","id":31,"method":"token.login","params":{"token":"Ann's card","pin":"123456"}}
/// ← {"jsonrpc":"2.0","id":31,"result":{"token":"Ann's card","logged_in_for_seconds":600}}
/// ```
#[derive(Debug)]
pub struct Login;

/// Parameters of [`Login`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginParams {
    /// The token's label or serial number.
    pub token: String,
    /// The user PIN.
    pub pin: Secret,
}

/// Result of [`Login`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginResult {
    /// The token's label.
    pub token: String,
    /// How long the login is kept (0: for the next operation only).
    pub logged_in_for_seconds: u64,
}

impl Method for Login {
    const NAME: &'static str = "token.login";
    type Params = LoginParams;
    type Result = LoginResult;
}

/// Parameters naming a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenParams {
    /// The token's label or serial number.
    pub token: String,
}

/// `token.logout`: forget a token's login now.
///
/// ```text
/// → {"jsonrpc":"2.0","id":32,"method":"token.logout","params":{"token":"Ann's card"}}
/// ← {"jsonrpc":"2.0","id":32,"result":{}}
/// ```
#[derive(Debug)]
pub struct Logout;

impl Method for Logout {
    const NAME: &'static str = "token.logout";
    type Params = TokenParams;
    type Result = Empty;
}

/// `token.generate_key`: make a key pair on the card (the private key never leaves it).
///
/// ```text
/// → {"jsonrpc":"2.0","id":33,"method":"token.generate_key","params":{"token":"Ann's card","algorithm":"ec-p256","label":"mail"}}
/// ← {"jsonrpc":"2.0","id":33,"result":{"id":"a1b2c3d4","public_key":"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE…"}}
/// ```
#[derive(Debug)]
pub struct GenerateKey;

/// Key types a card can generate.
///
/// Spelled `rsa-2048` as in the docs and `key_algorithm`; the kebab-case-only `rsa2048` is
/// still accepted (see [`super::ca::KeyAlgorithm`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CardKeyAlgorithm {
    /// RSA with a 2048-bit modulus.
    #[serde(rename = "rsa-2048", alias = "rsa2048")]
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    #[serde(rename = "rsa-3072", alias = "rsa3072")]
    Rsa3072,
    /// ECDSA/ECDH on P-256.
    EcP256,
    /// ECDSA/ECDH on P-384.
    EcP384,
}

/// Parameters of [`GenerateKey`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateKeyParams {
    /// The token's label or serial number.
    pub token: String,
    /// The key type.
    pub algorithm: CardKeyAlgorithm,
    /// The key's label on the card.
    pub label: String,
}

/// Result of [`GenerateKey`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerateKeyResult {
    /// The key's CKA_ID, hex; names it in `token.csr`.
    pub id: String,
    /// The public key as SubjectPublicKeyInfo DER.
    pub public_key: Base64Bytes,
}

impl Method for GenerateKey {
    const NAME: &'static str = "token.generate_key";
    type Params = GenerateKeyParams;
    type Result = GenerateKeyResult;
}

/// `token.csr`: a PKCS#10 certificate request signed by a card key, for the company CA.
///
/// ```text
/// → {"jsonrpc":"2.0","id":34,"method":"token.csr","params":{"token":"Ann's card","id":"a1b2c3d4","name":"Ann Example","email":"ann@example.com"}}
/// ← {"jsonrpc":"2.0","id":34,"result":{"csr":"MIIBPDCB5AIBADA…"}}
/// ```
#[derive(Debug)]
pub struct Csr;

/// Parameters of [`Csr`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsrParams {
    /// The token's label or serial number.
    pub token: String,
    /// The key's CKA_ID, hex.
    pub id: String,
    /// The subject's common name.
    pub name: String,
    /// The mail address for the SAN.
    pub email: String,
}

/// Result of [`Csr`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CsrResult {
    /// The request, DER.
    pub csr: Base64Bytes,
}

impl Method for Csr {
    const NAME: &'static str = "token.csr";
    type Params = CsrParams;
    type Result = CsrResult;
}

/// `token.import_cert`: write the issued certificate to the card beside its key.
///
/// ```text
/// → {"jsonrpc":"2.0","id":35,"method":"token.import_cert","params":{"token":"Ann's card","certificate":"MIIC…"}}
/// ← {"jsonrpc":"2.0","id":35,"result":{"id":"a1b2c3d4"}}
/// ```
#[derive(Debug)]
pub struct ImportCert;

/// Parameters of [`ImportCert`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportCertParams {
    /// The token's label or serial number.
    pub token: String,
    /// The certificate, DER or PEM.
    pub certificate: Base64Bytes,
}

/// Result of [`ImportCert`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportCertResult {
    /// The CKA_ID it was stored under (its key's).
    pub id: String,
}

impl Method for ImportCert {
    const NAME: &'static str = "token.import_cert";
    type Params = ImportCertParams;
    type Result = ImportCertResult;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_card_keys_take_the_documented_spelling_and_the_old_one() {
        for (documented, old, algorithm) in [
            ("rsa-2048", "rsa2048", CardKeyAlgorithm::Rsa2048),
            ("rsa-3072", "rsa3072", CardKeyAlgorithm::Rsa3072),
        ] {
            for spelling in [documented, old] {
                assert_eq!(
                    serde_json::from_value::<CardKeyAlgorithm>(spelling.into()).unwrap(),
                    algorithm
                );
            }
            assert_eq!(serde_json::to_value(algorithm).unwrap(), documented);
        }
        assert_eq!(
            serde_json::from_value::<CardKeyAlgorithm>("ec-p384".into()).unwrap(),
            CardKeyAlgorithm::EcP384
        );
    }
}
