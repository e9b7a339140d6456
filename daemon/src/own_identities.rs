//! The user's own identities wherever their keys live (the software store or a smart card),
//! seen one way by the handlers: a certificate, its chain, where the key is, and the key
//! itself when it can be used without asking the user.

use crate::state::Daemon;
use mailseal_keys::KeyId;
use mailseal_keys::backend::PrivateKeyOps;
use mailseal_keys::pkcs11::TokenError;
use mailseal_keys::store::StoredIdentity;
use mailseal_pkix::describe::{Period, emails, period};
use std::sync::Arc;
use std::time::SystemTime;
use x509_cert::Certificate;

/// Where an own identity's private key lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyHome {
    /// Sealed in the daemon's store; usable after `key.unlock` (or import).
    Software,
    /// On a PKCS#11 token; usable after `token.login`.
    Token {
        /// The token's label.
        label: String,
    },
}

/// An own identity, software or card.
#[derive(Debug, Clone)]
pub struct OwnIdentity {
    /// The key's id.
    pub key_id: KeyId,
    /// The identity's certificate.
    pub certificate: Certificate,
    /// Its chain, as far as known.
    pub chain: Vec<Certificate>,
    /// Where the key lives.
    pub home: KeyHome,
}

/// Why an identity's key cannot be used right now: the user must do something first.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyUnavailable {
    /// A software key needs its passphrase (`key.unlock`).
    #[error("key {key_id} is locked; unlock it with key.unlock")]
    Locked {
        /// The key.
        key_id: KeyId,
    },
    /// A card key needs its PIN, or the card is gone.
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl From<&StoredIdentity> for OwnIdentity {
    fn from(stored: &StoredIdentity) -> Self {
        Self {
            key_id: stored.key_id,
            certificate: stored.certificate.clone(),
            chain: stored.chain.clone(),
            home: KeyHome::Software,
        }
    }
}

impl Daemon {
    /// Every own identity, software ones first, then those on smart cards (whose chain is
    /// looked up among the stored certificates).
    pub fn own_identities(&self) -> Vec<OwnIdentity> {
        let mut all: Vec<OwnIdentity> = self
            .identities
            .all()
            .iter()
            .map(|stored| OwnIdentity::from(&**stored))
            .collect();
        let cards = self.tokens.identities();
        if cards.is_empty() {
            // Every signing request comes here: copy the store only when a card needs it.
            return all;
        }
        let known = self.certs.list(None);
        all.extend(cards.into_iter().map(|card| OwnIdentity {
            key_id: card.key_id,
            chain: issuers_of(&card.certificate, &known),
            certificate: card.certificate,
            home: KeyHome::Token {
                label: card.token_label,
            },
        }));
        all
    }

    /// The identity to sign mail from `address` with: the one whose certificate names it and is
    /// valid now (the longest-lived if several), never one that has expired.
    pub fn signing_identity_for(&self, address: &str, now: SystemTime) -> Option<OwnIdentity> {
        self.own_identities()
            .into_iter()
            .filter(|i| {
                emails(&i.certificate).iter().any(|e| e == address)
                    && matches!(period(&i.certificate, now), Period::Within(_))
            })
            .max_by_key(|i| {
                i.certificate
                    .tbs_certificate()
                    .validity()
                    .not_after
                    .to_system_time()
            })
    }

    /// The identity's key, or what the user must do before it can be used.
    pub fn usable_key(
        &self,
        identity: &OwnIdentity,
    ) -> Result<Arc<dyn PrivateKeyOps>, KeyUnavailable> {
        match &identity.home {
            KeyHome::Software => self
                .keys
                .get(&identity.key_id)
                .ok_or(KeyUnavailable::Locked {
                    key_id: identity.key_id,
                }),
            KeyHome::Token { .. } => Ok(self.tokens.key(&identity.key_id)?),
        }
    }
}

/// The chain above `certificate` among `known` certificates, closest issuer first, so card
/// signatures carry it as software ones do (a card usually holds only the user's certificate).
fn issuers_of(certificate: &Certificate, known: &[Certificate]) -> Vec<Certificate> {
    let mut chain: Vec<Certificate> = Vec::new();
    let mut current = certificate.clone();
    while chain.len() < 8 {
        let tbs = current.tbs_certificate();
        if tbs.issuer() == tbs.subject() {
            break;
        }
        let Some(issuer) = known
            .iter()
            .find(|c| c.tbs_certificate().subject() == tbs.issuer())
        else {
            break;
        };
        chain.push(issuer.clone());
        current = issuer.clone();
    }
    chain
}
