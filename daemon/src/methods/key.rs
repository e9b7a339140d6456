//! `key.import_pkcs12`, `key.unlock`, `key.lock`.

use super::blocking;
use super::identity::to_wire;
use crate::keys::software::SoftwareKey;
use crate::keys::store::StoredIdentity;
use crate::keys::{KeyId, pkcs12, sealed};
use crate::state::Daemon;
use mailseal_protocol::methods::key::{
    ImportPkcs12Params, ImportPkcs12Result, LockParams, LockResult, UnlockParams, UnlockResult,
};
use mailseal_protocol::{ErrorKind, RpcError};
use std::sync::Arc;

/// Imports a PKCS#12 file: decrypt it, seal the key under the passphrase, store, unlock.
pub async fn import_pkcs12(
    daemon: Arc<Daemon>,
    params: ImportPkcs12Params,
) -> Result<ImportPkcs12Result, RpcError> {
    let store = Arc::clone(&daemon);
    let (identity, key) = blocking(move || {
        let contents = pkcs12::parse(params.data.as_slice(), params.password.expose().as_bytes())?;
        let passphrase = params.passphrase.as_ref().unwrap_or(&params.password);
        let key = SoftwareKey::from_pkcs8(&contents.private_key)?;
        let sealed = sealed::seal(&contents.private_key, passphrase.expose().as_bytes())?;
        let identity = store.identities.save(StoredIdentity {
            key_id: KeyId::of_certificate(&contents.certificate),
            sealed,
            certificate: contents.certificate,
            chain: contents.chain,
        })?;
        Ok((identity, key))
    })
    .await?;
    daemon.keys.insert(identity.key_id, Arc::new(key));
    tracing::info!(key_id = %identity.key_id, "imported an identity from PKCS#12");
    Ok(ImportPkcs12Result {
        identity: to_wire(&daemon, &identity),
    })
}

/// Unseals a stored key into the cache.
pub async fn unlock(daemon: Arc<Daemon>, params: UnlockParams) -> Result<UnlockResult, RpcError> {
    let identity = find_identity(&daemon, &params.key_id)?;
    let key_id = identity.key_id;
    let key = blocking(move || {
        let der = identity
            .sealed
            .unseal(params.passphrase.expose().as_bytes())?;
        Ok(SoftwareKey::from_pkcs8(&der)?)
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
pub(super) fn find_identity(
    daemon: &Daemon,
    key_id: &str,
) -> Result<Arc<StoredIdentity>, RpcError> {
    daemon
        .identities
        .get(&parse_key_id(key_id)?)
        .ok_or_else(|| key_not_found(key_id))
}

fn parse_key_id(text: &str) -> Result<KeyId, RpcError> {
    text.parse().map_err(|_| {
        RpcError::new(
            ErrorKind::bad_input("params.key_id"),
            "params.key_id: expected a key id (64 hex digits, as identity.list shows)",
        )
    })
}

fn key_not_found(key_id: &str) -> RpcError {
    RpcError::new(
        ErrorKind::KeyNotFound {
            key_id: key_id.to_owned(),
        },
        format!("no identity has key id {key_id}; identity.list shows the known keys"),
    )
}
