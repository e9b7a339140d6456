//! `identity.list`.

use crate::certs::describe::describe;
use crate::own_identities::{KeyHome, OwnIdentity};
use crate::state::Daemon;
use mailseal_protocol::RpcError;
use mailseal_protocol::methods::identity::{Identity, ListResult};
use mailseal_protocol::methods::{Empty, KeyLocation, KeyState};
use std::sync::Arc;
use std::time::SystemTime;

/// How an identity is shown on the wire, with its lock state as of now.
pub fn to_wire(daemon: &Daemon, identity: &OwnIdentity) -> Identity {
    let now = SystemTime::now();
    Identity {
        key_id: identity.key_id.to_string(),
        certificate: describe(&identity.certificate, now),
        chain: identity.chain.iter().map(|c| describe(c, now)).collect(),
        location: match &identity.home {
            KeyHome::Software => KeyLocation::Software,
            KeyHome::Token { label } => KeyLocation::Token {
                token: label.clone(),
            },
        },
        state: if daemon.usable_key(identity).is_ok() {
            KeyState::Unlocked
        } else {
            KeyState::Locked
        },
    }
}

/// Lists own identities, ordered by first address.
pub async fn list(daemon: Arc<Daemon>, _params: Empty) -> Result<ListResult, RpcError> {
    let mut identities: Vec<Identity> = daemon
        .own_identities()
        .iter()
        .map(|i| to_wire(&daemon, i))
        .collect();
    identities.sort_by(|a, b| a.certificate.emails.cmp(&b.certificate.emails));
    Ok(ListResult { identities })
}
