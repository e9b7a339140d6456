//! The company's rules for writing a message (`[compose]` in the policy file) applied to one
//! message: what the Sign and Encrypt toggles start as and whether they may be turned off.
//!
//! The add-ons show these and refuse to send without a required protection; the decision is
//! made here so that every mail client offers the same.

use crate::config::{ComposeConfig, EncryptRule, SignRule};
use mailseal_protocol::methods::policy::{ComposeResult, Toggle};

/// What is known about the message when the rules are applied.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The sender's address, if given.
    pub from: Option<&'a str>,
    /// Whether the user has an identity that can sign for the sender.
    pub can_sign: bool,
    /// Every recipient, lowercased.
    pub recipients: &'a [String],
    /// Whether every recipient has a usable certificate (and there is at least one); only
    /// asked for when a rule depends on it, because finding out may ask the directory.
    pub all_can_receive: Option<bool>,
}

/// Whether the rules need to know if every recipient can receive encrypted mail.
pub fn needs_recipient_check(rules: &ComposeConfig, recipients: &[String]) -> bool {
    rules.encrypt == EncryptRule::WhenPossible
        && required_domain(rules, recipients).is_none()
        && !recipients.is_empty()
}

/// The toggles for one message.
pub fn decide(rules: &ComposeConfig, facts: Facts<'_>) -> ComposeResult {
    ComposeResult {
        sign: sign_toggle(rules.sign, facts),
        encrypt: encrypt_toggle(rules, facts),
    }
}

fn sign_toggle(rule: SignRule, facts: Facts<'_>) -> Toggle {
    let sender = facts.from.unwrap_or("the sender");
    match rule {
        SignRule::Required => toggle(
            true,
            true,
            "company policy requires every message to be signed",
        ),
        SignRule::On if facts.can_sign => toggle(true, false, "signing is on by default"),
        SignRule::On => toggle(
            false,
            false,
            &format!(
                "you have no valid certificate for {sender}, so this message cannot be signed"
            ),
        ),
        SignRule::Off => toggle(false, false, "signing is off by default"),
    }
}

fn encrypt_toggle(rules: &ComposeConfig, facts: Facts<'_>) -> Toggle {
    if let Some(domain) = required_domain(rules, facts.recipients) {
        return toggle(
            true,
            true,
            &format!("company policy requires encryption for mail to {domain}"),
        );
    }
    match rules.encrypt {
        EncryptRule::Required => toggle(
            true,
            true,
            "company policy requires every message to be encrypted",
        ),
        EncryptRule::On => toggle(true, false, "encryption is on by default"),
        EncryptRule::WhenPossible => match facts.all_can_receive {
            Some(true) => toggle(true, false, "every recipient has a certificate"),
            Some(false) => toggle(false, false, "not every recipient has a certificate"),
            None => toggle(false, false, "no recipients yet"),
        },
        EncryptRule::Off => toggle(false, false, "encryption is off by default"),
    }
}

fn toggle(default: bool, required: bool, reason: &str) -> Toggle {
    Toggle {
        default,
        required,
        reason: reason.to_owned(),
    }
}

/// The first of the policy's `encrypt_required_domains` that a recipient is at (the domain
/// itself or a subdomain of it).
fn required_domain<'a>(rules: &'a ComposeConfig, recipients: &[String]) -> Option<&'a str> {
    rules
        .encrypt_required_domains
        .iter()
        .map(|d| d.trim_start_matches('.'))
        .find(|domain| {
            recipients.iter().any(|address| {
                let at = address.rsplit_once('@').map_or("", |(_, d)| d);
                at.eq_ignore_ascii_case(domain)
                    || at
                        .to_ascii_lowercase()
                        .strip_suffix(&domain.to_ascii_lowercase())
                        .is_some_and(|rest| rest.ends_with('.'))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(sign: SignRule, encrypt: EncryptRule, domains: &[&str]) -> ComposeConfig {
        ComposeConfig {
            sign,
            encrypt,
            encrypt_required_domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    fn facts<'a>(recipients: &'a [String], all_can_receive: Option<bool>) -> Facts<'a> {
        Facts {
            from: Some("ann@example.com"),
            can_sign: true,
            recipients,
            all_can_receive,
        }
    }

    fn addresses(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn defaults_sign_when_possible_and_encrypt_when_every_recipient_can_receive() {
        let defaults = ComposeConfig::default();
        let to = addresses(&["bob@example.org"]);
        assert!(needs_recipient_check(&defaults, &to));
        let all = decide(&defaults, facts(&to, Some(true)));
        assert_eq!((all.sign.default, all.sign.required), (true, false));
        assert_eq!((all.encrypt.default, all.encrypt.required), (true, false));
        let some = decide(&defaults, facts(&to, Some(false)));
        assert!(!some.encrypt.default);
        assert_eq!(some.encrypt.reason, "not every recipient has a certificate");
        let cannot_sign = decide(
            &defaults,
            Facts {
                can_sign: false,
                ..facts(&to, Some(true))
            },
        );
        assert!(!cannot_sign.sign.default);
        assert!(
            cannot_sign.sign.reason.contains("ann@example.com"),
            "{}",
            cannot_sign.sign.reason
        );
    }

    #[test]
    fn a_required_domain_or_subdomain_makes_encryption_required() {
        let policy = rules(SignRule::On, EncryptRule::WhenPossible, &["example.com"]);
        for address in ["bob@example.com", "bob@Sales.Example.COM"] {
            let to = addresses(&["carol@other.org", address]);
            assert!(
                !needs_recipient_check(&policy, &to),
                "no directory lookup needed"
            );
            let decided = decide(&policy, facts(&to, None));
            assert!(
                decided.encrypt.required && decided.encrypt.default,
                "{address}"
            );
            assert_eq!(
                decided.encrypt.reason,
                "company policy requires encryption for mail to example.com"
            );
        }
        let elsewhere = addresses(&["bob@notexample.com", "eve@example.com.evil.org"]);
        assert!(
            !decide(&policy, facts(&elsewhere, Some(false)))
                .encrypt
                .required
        );
    }

    #[test]
    fn required_and_off_rules() {
        let strict = rules(SignRule::Required, EncryptRule::Required, &[]);
        let to = addresses(&["bob@example.org"]);
        let decided = decide(
            &strict,
            Facts {
                can_sign: false,
                ..facts(&to, None)
            },
        );
        assert!(
            decided.sign.required && decided.sign.default,
            "required even without an identity: the send then fails with the daemon's reason"
        );
        assert!(decided.encrypt.required);
        let off = decide(
            &rules(SignRule::Off, EncryptRule::Off, &[]),
            facts(&to, Some(true)),
        );
        assert!(!off.sign.default && !off.sign.required);
        assert!(!off.encrypt.default && !off.encrypt.required);
        assert!(!needs_recipient_check(
            &rules(SignRule::On, EncryptRule::On, &[]),
            &to
        ));
    }
}
