//! `identity.list`.

use crate::own_identities::{KeyHome, OwnIdentity};
use crate::state::Daemon;
use crate::wire::describe;
use mailseal_protocol::RpcError;
use mailseal_protocol::methods::identity::{Identity, ListResult};
use mailseal_protocol::methods::{CertificateInfo, Empty, KeyLocation, KeyState};
use std::sync::Arc;
use std::time::SystemTime;

/// How an identity is shown on the wire, with its lock state as of now.
pub fn to_wire(daemon: &Daemon, identity: &OwnIdentity) -> Identity {
    let now = SystemTime::now();
    let certificate = describe(&identity.certificate, now);
    Identity {
        key_id: identity.key_id.to_string(),
        chain: identity.chain.iter().map(|c| describe(c, now)).collect(),
        certificate: certificate.clone(),
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
        expiry_warning: expiry_warning(&certificate, daemon.config.expiry_warning_days),
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

/// The warning for a certificate that expires within `days` or has expired; expired own
/// certificates no longer sign (see `smime.sign`), so the user must hear of it in time.
pub fn expiry_warning(certificate: &CertificateInfo, days: u64) -> Option<String> {
    let left = certificate.days_to_expiry;
    let who = certificate.emails.join(", ");
    if left < 0 {
        Some(format!(
            "the certificate for {who} expired on {}; it no longer signs: renew it",
            certificate.not_after
        ))
    } else if left.unsigned_abs() <= days {
        Some(format!(
            "the certificate for {who} expires in {left} days ({}): renew it",
            certificate.not_after
        ))
    } else {
        None
    }
}

/// Logs a warning for every own certificate near or past its expiry (at start and once a day).
pub fn log_expiry_warnings(daemon: &Daemon) {
    for identity in daemon.own_identities() {
        let info = describe(&identity.certificate, SystemTime::now());
        if let Some(warning) = expiry_warning(&info, daemon.config.expiry_warning_days) {
            tracing::warn!(key_id = %identity.key_id, "{warning}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(days_to_expiry: i64) -> CertificateInfo {
        CertificateInfo {
            fingerprint: String::new(),
            subject: String::new(),
            issuer: String::new(),
            serial: String::new(),
            emails: vec!["ann@example.com".into()],
            not_before: String::new(),
            not_after: "2027-01-01T00:00:00Z".into(),
            days_to_expiry,
            key_algorithm: String::new(),
        }
    }

    #[test]
    fn warns_within_the_period_and_after_expiry() {
        assert_eq!(expiry_warning(&info(31), 30), None);
        assert!(
            expiry_warning(&info(30), 30)
                .unwrap()
                .contains("expires in 30 days")
        );
        assert!(
            expiry_warning(&info(0), 30)
                .unwrap()
                .contains("expires in 0 days")
        );
        assert!(
            expiry_warning(&info(-2), 30)
                .unwrap()
                .contains("expired on 2027-01-01")
        );
    }
}
