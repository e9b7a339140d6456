//! `policy.compose`.

use crate::certs::find;
use crate::compose_policy::{self, Facts};
use crate::state::Daemon;
use mailseal_mime::mime::addresses;
use mailseal_protocol::RpcError;
use mailseal_protocol::methods::policy::{ComposeParams, ComposeResult};
use std::sync::Arc;
use std::time::SystemTime;

/// The Sign and Encrypt toggles for a message, from the company's `[compose]` rules.
pub async fn compose(
    daemon: Arc<Daemon>,
    params: ComposeParams,
) -> Result<ComposeResult, RpcError> {
    let now = SystemTime::now();
    let from = params
        .from
        .as_deref()
        .and_then(|f| addresses(f).into_iter().next());
    let mut recipients: Vec<String> = params
        .recipients
        .iter()
        .flat_map(|r| addresses(r))
        .collect();
    recipients.sort();
    recipients.dedup();
    let rules = &daemon.config.compose;
    let all_can_receive = if compose_policy::needs_recipient_check(rules, &recipients) {
        // All at once: each may wait for the directory.
        let mut lookups = tokio::task::JoinSet::new();
        for address in recipients.clone() {
            let daemon = Arc::clone(&daemon);
            lookups.spawn(async move { find::find(&daemon, &address, now).await.best().is_some() });
        }
        let mut all = true;
        while let Some(found) = lookups.join_next().await {
            all &= found.unwrap_or(false);
        }
        Some(all)
    } else {
        None
    };
    let can_sign = from
        .as_deref()
        .is_some_and(|address| daemon.signing_identity_for(address, now).is_some());
    Ok(compose_policy::decide(
        rules,
        Facts {
            from: from.as_deref(),
            can_sign,
            recipients: &recipients,
            all_can_receive,
        },
    ))
}
