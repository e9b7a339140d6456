//! `key.*`: bringing private keys in, and unlocking and locking them.

use super::Method;
use super::identity::Identity;
use crate::{Base64Bytes, Secret};
use serde::{Deserialize, Serialize};

/// `key.import_pkcs12`: import an own identity (private key, certificate and chain) from a
/// PKCS#12 file, the form in which CAs and IT hand out keys.
///
/// The key is stored encrypted under `passphrase` (default: the PKCS#12 password) and left
/// unlocked for the cache time, since the user has just typed its password. A wrong password
/// fails with `wrong_password` and writes nothing.
///
/// ```text
/// → {"jsonrpc":"2.0","id":4,"method":"key.import_pkcs12","params":{"data":"MIIK…","password":"s3cret"}}
/// ← {"jsonrpc":"2.0","id":4,"result":{"identity":{"key_id":"5f0c…","certificate":{…},"chain":[…],
///     "location":{"kind":"software"},"state":"unlocked"}}}
/// ```
#[derive(Debug)]
pub struct ImportPkcs12;

/// Parameters of [`ImportPkcs12`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportPkcs12Params {
    /// The PKCS#12 file (DER).
    pub data: Base64Bytes,
    /// The PKCS#12 file's password.
    pub password: Secret,
    /// The passphrase to store the key under; defaults to `password`.
    #[serde(default)]
    pub passphrase: Option<Secret>,
}

/// Result of [`ImportPkcs12`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportPkcs12Result {
    /// The identity now stored.
    pub identity: Identity,
}

impl Method for ImportPkcs12 {
    const NAME: &'static str = "key.import_pkcs12";
    type Params = ImportPkcs12Params;
    type Result = ImportPkcs12Result;
}

/// `key.unlock`: decrypt a stored key into the daemon's memory for the cache time.
///
/// ```text
/// → {"jsonrpc":"2.0","id":5,"method":"key.unlock","params":{"key_id":"5f0c…","passphrase":"s3cret"}}
/// ← {"jsonrpc":"2.0","id":5,"result":{"key_id":"5f0c…","unlocked_for_seconds":600}}
/// ```
#[derive(Debug)]
pub struct Unlock;

/// Parameters of [`Unlock`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlockParams {
    /// The key to unlock.
    pub key_id: String,
    /// Its passphrase.
    pub passphrase: Secret,
}

/// Result of [`Unlock`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnlockResult {
    /// The key now unlocked.
    pub key_id: String,
    /// How long it stays unlocked.
    pub unlocked_for_seconds: u64,
}

impl Method for Unlock {
    const NAME: &'static str = "key.unlock";
    type Params = UnlockParams;
    type Result = UnlockResult;
}

/// `key.lock`: forget unlocked keys now (one, or all when `key_id` is absent), e.g. when the
/// screen locks.
///
/// ```text
/// → {"jsonrpc":"2.0","id":6,"method":"key.lock","params":{}}
/// ← {"jsonrpc":"2.0","id":6,"result":{"locked":1}}
/// ```
#[derive(Debug)]
pub struct Lock;

/// Parameters of [`Lock`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockParams {
    /// The key to lock; all keys when absent.
    #[serde(default)]
    pub key_id: Option<String>,
}

/// Result of [`Lock`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockResult {
    /// How many unlocked keys were forgotten.
    pub locked: usize,
}

impl Method for Lock {
    const NAME: &'static str = "key.lock";
    type Params = LockParams;
    type Result = LockResult;
}

/// `key.import_pkcs8`: import an own identity from a PKCS#8 private key and its certificate
/// chain, for keys made outside a PKCS#12 file (`openssl genpkey`, an internal CA's tooling).
///
/// The key must belong to the first certificate. It is stored encrypted under `passphrase`
/// and left unlocked for the cache time.
///
/// ```text
/// → {"jsonrpc":"2.0","id":11,"method":"key.import_pkcs8","params":{"key":"LS0tLS1CRUdJTiBQUklWQVRF…",
///     "certificates":"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0t…","passphrase":"s3cret"}}
/// ← {"jsonrpc":"2.0","id":11,"result":{"identity":{"key_id":"5f0c…",…}}}
/// ```
#[derive(Debug)]
pub struct ImportPkcs8;

/// Parameters of [`ImportPkcs8`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportPkcs8Params {
    /// The unencrypted PKCS#8 private key, DER or PEM.
    pub key: Base64Bytes,
    /// The certificate of the key first, then its chain: DER (one) or PEM (several).
    pub certificates: Base64Bytes,
    /// The passphrase to store the key under.
    pub passphrase: Secret,
}

impl Method for ImportPkcs8 {
    const NAME: &'static str = "key.import_pkcs8";
    type Params = ImportPkcs8Params;
    type Result = ImportPkcs12Result;
}
