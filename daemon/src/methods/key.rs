//! `key.import_pkcs12`, `key.unlock`, `key.lock`.

use super::blocking;
use super::identity::to_wire;
use crate::own_identities::OwnIdentity;
use crate::rpc_error::rpc;
use crate::state::Daemon;
use mailseal_keys::pkcs12::PrivateKeyDer;
use mailseal_keys::software::SoftwareKey;
use mailseal_keys::store::StoredIdentity;
use mailseal_keys::{KeyId, pkcs12, sealed};
use mailseal_pkix::describe::parse_certificates;
use mailseal_protocol::methods::key::{
    ImportPkcs8Params, ImportPkcs12Params, ImportPkcs12Result, LockParams, LockResult,
    UnlockParams, UnlockResult,
};
use mailseal_protocol::{ErrorKind, RpcError, Secret};
use std::sync::Arc;
use x509_cert::Certificate;

/// Imports a PKCS#12 file: decrypt it, seal the key under the passphrase, store, unlock.
pub async fn import_pkcs12(
    daemon: Arc<Daemon>,
    params: ImportPkcs12Params,
) -> Result<ImportPkcs12Result, RpcError> {
    // Without `passphrase` the PKCS#12 password seals the key, so that is the field to blame.
    match &params.passphrase {
        Some(passphrase) => refuse_empty("params.passphrase", passphrase)?,
        None => refuse_empty("params.password", &params.password)?,
    }
    let store = Arc::clone(&daemon);
    let (identity, key) = blocking(move || {
        let contents = pkcs12::parse(params.data.as_slice(), params.password.expose().as_bytes())
            .map_err(rpc)?;
        let passphrase = params.passphrase.as_ref().unwrap_or(&params.password);
        let key = SoftwareKey::from_pkcs8(&contents.private_key).map_err(rpc)?;
        store_identity(
            &store,
            &contents.private_key,
            passphrase,
            contents.certificate,
            contents.chain,
        )
        .map(|identity| (identity, key))
    })
    .await?;
    Ok(finish_import(&daemon, identity, key, "PKCS#12"))
}

/// Imports a PKCS#8 key with its certificate chain.
pub async fn import_pkcs8(
    daemon: Arc<Daemon>,
    params: ImportPkcs8Params,
) -> Result<ImportPkcs12Result, RpcError> {
    refuse_empty("params.passphrase", &params.passphrase)?;
    let store = Arc::clone(&daemon);
    let (identity, key) = blocking(move || {
        let der = pkcs8_der(params.key.as_slice())?;
        let key = SoftwareKey::from_pkcs8(&der).map_err(rpc)?;
        let mut certificates = parse_certificates(params.certificates.as_slice())
            .map_err(|e| {
                bad_input(
                    "params.certificates",
                    &format!("not DER or PEM certificates: {e}"),
                )
            })?
            .into_iter();
        let certificate = certificates
            .next()
            .ok_or_else(|| bad_input("params.certificates", "no certificate"))?;
        if !key.matches(&certificate) {
            return Err(bad_input(
                "params.certificates",
                "the first certificate is not for this key",
            ));
        }
        store_identity(
            &store,
            &der,
            &params.passphrase,
            certificate,
            certificates.collect(),
        )
        .map(|identity| (identity, key))
    })
    .await?;
    Ok(finish_import(&daemon, identity, key, "PKCS#8"))
}

/// PKCS#8 DER from DER or PEM input.
fn pkcs8_der(data: &[u8]) -> Result<PrivateKeyDer, RpcError> {
    if data.trim_ascii_start().starts_with(b"-----BEGIN") {
        let (label, der) = der::pem::decode_vec(data)
            .map_err(|e| bad_input("params.key", &format!("not a PEM private key: {e}")))?;
        // The label found is not quoted: what was sent is never echoed (README, Security notes).
        if label != "PRIVATE KEY" {
            return Err(bad_input(
                "params.key",
                "expected an unencrypted PKCS#8 key (PEM label PRIVATE KEY); convert other \
                 forms with `openssl pkcs8 -topk8 -nocrypt`",
            ));
        }
        Ok(PrivateKeyDer::new(der))
    } else {
        Ok(PrivateKeyDer::new(data.to_vec()))
    }
}

/// Refuses an empty passphrase for sealing a key: the file at rest would open for anyone who
/// copies it (scrypt of nothing is no protection).
fn refuse_empty(field: &str, passphrase: &Secret) -> Result<(), RpcError> {
    if passphrase.expose().is_empty() {
        return Err(bad_input(
            field,
            "the key would be stored without protection; give a non-empty passphrase",
        ));
    }
    Ok(())
}

fn bad_input(field: &str, why: &str) -> RpcError {
    RpcError::new(ErrorKind::bad_input(field), format!("{field}: {why}"))
}

/// Seals and stores an identity (the slow, blocking part of an import).
fn store_identity(
    daemon: &Daemon,
    key: &PrivateKeyDer,
    passphrase: &Secret,
    certificate: Certificate,
    chain: Vec<Certificate>,
) -> Result<Arc<StoredIdentity>, RpcError> {
    let sealed = sealed::seal(key, passphrase.expose().as_bytes()).map_err(rpc)?;
    daemon
        .identities
        .save(StoredIdentity {
            key_id: KeyId::of_certificate(&certificate),
            sealed,
            certificate,
            chain,
        })
        .map_err(rpc)
}

/// Leaves the imported key unlocked (its owner just typed its password) and reports it.
fn finish_import(
    daemon: &Daemon,
    identity: Arc<StoredIdentity>,
    key: SoftwareKey,
    from: &str,
) -> ImportPkcs12Result {
    daemon.keys.insert(identity.key_id, Arc::new(key));
    tracing::info!(key_id = %identity.key_id, "imported an identity from {from}");
    ImportPkcs12Result {
        identity: to_wire(daemon, &OwnIdentity::from(&*identity)),
    }
}

/// Unseals a stored key into the cache.
pub async fn unlock(daemon: Arc<Daemon>, params: UnlockParams) -> Result<UnlockResult, RpcError> {
    let identity = find_identity(&daemon, &params.key_id)?;
    let key_id = identity.key_id;
    let key = blocking(move || {
        let der = identity
            .sealed
            .unseal(params.passphrase.expose().as_bytes())
            .map_err(rpc)?;
        SoftwareKey::from_pkcs8(&der).map_err(rpc)
    })
    .await?;
    daemon.keys.insert(key_id, Arc::new(key));
    Ok(UnlockResult {
        key_id: key_id.to_string(),
        unlocked_for_seconds: daemon.keys.ttl().as_secs(),
    })
}

/// Forgets one or all unlocked keys.
pub async fn lock(daemon: Arc<Daemon>, params: LockParams) -> Result<LockResult, RpcError> {
    let key_id = params.key_id.as_deref().map(parse_key_id).transpose()?;
    if let Some(id) = &key_id
        && daemon.identities.get(id).is_none()
    {
        return Err(key_not_found(&id.to_string()));
    }
    Ok(LockResult {
        locked: daemon.keys.lock(key_id.as_ref()),
    })
}

/// The identity with this key id, or the protocol error saying why there is none.
fn find_identity(daemon: &Daemon, key_id: &str) -> Result<Arc<StoredIdentity>, RpcError> {
    daemon
        .identities
        .get(&parse_key_id(key_id)?)
        .ok_or_else(|| key_not_found(key_id))
}

pub(super) fn parse_key_id(text: &str) -> Result<KeyId, RpcError> {
    text.parse().map_err(|_| {
        RpcError::new(
            ErrorKind::bad_input("params.key_id"),
            "params.key_id: expected a key id (64 hex digits, as identity.list shows)",
        )
    })
}

pub(super) fn key_not_found(key_id: &str) -> RpcError {
    RpcError::new(
        ErrorKind::KeyNotFound {
            key_id: key_id.to_owned(),
        },
        format!("no identity has key id {key_id}; identity.list shows the known keys"),
    )
}
