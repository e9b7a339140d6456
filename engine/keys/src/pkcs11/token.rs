//! What a token is and holds, as shown to the user: its description, PIN state, and the
//! certificates and keys on it, read from the card's objects.

use super::attributes::{self, Attrs};
use crate::KeyId;
use cryptoki::error::Error as CkError;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass};
use cryptoki::session::Session;
use der::Decode;
use std::fmt;
use std::path::PathBuf;
use x509_cert::Certificate;

/// How a caller names a token: its serial number (or its label when it has none), which
/// `Pkcs11::login` and the other token methods accept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenRef(String);

impl TokenRef {
    pub(super) fn new(serial: &str, label: &str) -> Self {
        Self(if serial.is_empty() { label } else { serial }.to_owned())
    }

    /// The serial number (or label) as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The user PIN's flags, so that the user is warned before a wrong PIN locks the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinState {
    /// A wrong PIN was entered since the last correct one (CKF_USER_PIN_COUNT_LOW).
    pub count_low: bool,
    /// One more wrong PIN locks it (CKF_USER_PIN_FINAL_TRY).
    pub final_try: bool,
    /// It is locked (CKF_USER_PIN_LOCKED).
    pub locked: bool,
    /// It must be changed before use (CKF_USER_PIN_TO_BE_CHANGED).
    pub to_be_changed: bool,
}

/// The token's capabilities that change how it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenFlags {
    /// Keys need a login (CKF_LOGIN_REQUIRED).
    pub login_required: bool,
    /// The PIN is entered on the reader's own keypad, not given by us
    /// (CKF_PROTECTED_AUTHENTICATION_PATH): log in with an empty PIN.
    pub protected_auth_path: bool,
    /// The token has a random-number generator (CKF_RNG).
    pub rng: bool,
    /// Nothing can be written to it (CKF_WRITE_PROTECTED).
    pub write_protected: bool,
    /// Its user PIN is set (CKF_USER_PIN_INITIALIZED).
    pub user_pin_initialized: bool,
    /// It sits in a slot whose token can be removed (CKF_REMOVABLE_DEVICE).
    pub removable: bool,
}

/// A token as the user sees it.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// How to name it in calls.
    pub token: TokenRef,
    /// The module it was found through.
    pub module: PathBuf,
    /// Its label.
    pub label: String,
    /// Its manufacturer.
    pub manufacturer: String,
    /// Its model.
    pub model: String,
    /// Its serial number.
    pub serial: String,
    /// Its capabilities.
    pub flags: TokenFlags,
    /// Its user PIN's state.
    pub pin: PinState,
    /// Whether a login is cached now.
    pub logged_in: bool,
    /// The certificates and keys on it.
    pub objects: Vec<TokenObject>,
}

/// A certificate on the token, or a key without one; objects are paired by CKA_ID.
#[derive(Debug, Clone)]
pub struct TokenObject {
    /// The CKA_ID in hex.
    pub id_hex: String,
    /// The object's label (CKA_LABEL).
    pub label: String,
    /// The certificate with this id, if there is one.
    pub certificate: Option<Certificate>,
    /// A private key with this id is on the token: seen, or, before login on a token that
    /// hides private objects, inferred from a public key with the same id.
    pub has_private_key: bool,
}

/// A certificate on a card with its private key: something to sign and decrypt with.
#[derive(Debug, Clone)]
pub struct TokenIdentity {
    /// The token it is on.
    pub token: TokenRef,
    /// The token's label, to show.
    pub token_label: String,
    /// The key's id (SHA-256 of the certificate's SubjectPublicKeyInfo), the same as a
    /// software key's.
    pub key_id: KeyId,
    /// The certificate.
    pub certificate: Certificate,
}

impl PinState {
    pub(super) fn of(info: &cryptoki::slot::TokenInfo) -> Self {
        Self {
            count_low: info.user_pin_count_low(),
            final_try: info.user_pin_final_try(),
            locked: info.user_pin_locked(),
            to_be_changed: info.user_pin_to_be_changed(),
        }
    }
}

impl TokenFlags {
    pub(super) fn of(info: &cryptoki::slot::TokenInfo, removable: bool) -> Self {
        Self {
            login_required: info.login_required(),
            protected_auth_path: info.protected_authentication_path(),
            rng: info.rng(),
            write_protected: info.write_protected(),
            user_pin_initialized: info.user_pin_initialized(),
            removable,
        }
    }
}

/// Reads the certificates and keys visible in `session` and pairs them by CKA_ID.
/// `hides_private_keys`: the token requires a login that `session` does not have, so a public
/// key stands in as evidence of its private key.
pub(super) fn read_objects(
    session: &Session,
    hides_private_keys: bool,
) -> Result<Vec<TokenObject>, CkError> {
    let labelled = |class| -> Result<Vec<(Vec<u8>, String)>, CkError> {
        session
            .find_objects(&[Attribute::Class(class)])?
            .into_iter()
            .map(|handle| {
                let attrs =
                    Attrs::read(session, handle, &[AttributeType::Id, AttributeType::Label])?;
                Ok((attrs.id(), attrs.label()))
            })
            .collect()
    };
    let private = labelled(ObjectClass::PRIVATE_KEY)?;
    let public = labelled(ObjectClass::PUBLIC_KEY)?;
    let has_private_key = |id: &[u8]| {
        private.iter().any(|(key, _)| key == id)
            || (hides_private_keys && public.iter().any(|(key, _)| key == id))
    };

    let mut objects = Vec::new();
    let certificates = session.find_objects(&[
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
    ])?;
    for handle in certificates {
        let attrs = Attrs::read(
            session,
            handle,
            &[
                AttributeType::Id,
                AttributeType::Label,
                AttributeType::Value,
            ],
        )?;
        let id = attrs.id();
        let Ok(certificate) = Certificate::from_der(attrs.bytes(AttributeType::Value)) else {
            tracing::warn!(id = %hex::encode(&id), "unreadable certificate on a token ignored");
            continue;
        };
        objects.push(TokenObject {
            id_hex: hex::encode(&id),
            label: attrs.label(),
            certificate: Some(certificate),
            has_private_key: has_private_key(&id),
        });
    }
    // Keys without a certificate (e.g. just generated, waiting for one), once per id.
    for (id, label) in private.iter().chain(&public) {
        let id_hex = hex::encode(id);
        if objects.iter().all(|object| object.id_hex != id_hex) {
            objects.push(TokenObject {
                id_hex,
                label: label.clone(),
                certificate: None,
                has_private_key: has_private_key(id),
            });
        }
    }
    Ok(objects)
}

/// The identities among `objects`: certificates whose private key is on the token.
pub(super) fn identities(
    token: &TokenRef,
    label: &str,
    objects: &[TokenObject],
) -> Vec<TokenIdentity> {
    objects
        .iter()
        .filter(|object| object.has_private_key)
        .filter_map(|object| object.certificate.as_ref())
        .map(|certificate| TokenIdentity {
            token: token.clone(),
            token_label: label.to_owned(),
            key_id: KeyId::of_certificate(certificate),
            certificate: certificate.clone(),
        })
        .collect()
}

/// The CKA_ID of the identity whose key is `key_id`, if it is among `objects`.
pub(super) fn key_cka_id(objects: &[TokenObject], key_id: &KeyId) -> Option<Vec<u8>> {
    objects
        .iter()
        .filter(|object| object.has_private_key)
        .find(|object| {
            object
                .certificate
                .as_ref()
                .is_some_and(|certificate| KeyId::of_certificate(certificate) == *key_id)
        })
        .and_then(|object| hex::decode(&object.id_hex).ok())
}

/// Finds the private key with CKA_ID `id` (visible only after login on most tokens).
pub(super) fn find_private_key(
    session: &Session,
    id: &[u8],
) -> Result<Option<cryptoki::object::ObjectHandle>, CkError> {
    attributes::find_one(session, ObjectClass::PRIVATE_KEY, id)
}
