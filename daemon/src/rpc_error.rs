//! The one place where internal errors become protocol errors (code, kind, human message).
//!
//! Messages come from the internal errors' `Display`, which by construction never contains a
//! key, a password or a message body.

use crate::certs::publish::PublishError;
use crate::display::DisplayError;
use crate::own_identities::KeyUnavailable;
use mailseal_ca::PkiError;
use mailseal_ca::batch::BatchError;
use mailseal_files::StoreError;
use mailseal_keys::backend::KeyError;
use mailseal_keys::pkcs11::TokenError;
use mailseal_keys::pkcs12::Pkcs12Error;
use mailseal_keys::sealed::SealError;
use mailseal_protocol::{ErrorKind, RpcError};
use mailseal_smime::envelope::EnvelopeError;
use mailseal_smime::message::MessageError;
use mailseal_smime::sign::SignError;

/// An engine's error as the protocol reports it. A trait of the daemon's own, as neither the
/// engines' errors nor `RpcError` are this crate's types (so `From` cannot be implemented);
/// handlers write `.map_err(rpc)?`.
pub trait ToRpc {
    /// The protocol error: a code and kind from the error table, and a human message.
    fn to_rpc(self) -> RpcError;
}

/// [`ToRpc::to_rpc`] as a function, for `map_err`.
pub fn rpc(error: impl ToRpc) -> RpcError {
    error.to_rpc()
}

impl ToRpc for StoreError {
    fn to_rpc(self) -> RpcError {
        let error = self;
        tracing::error!(error = %error, "storage failure");
        RpcError::new(ErrorKind::Internal, format!("storage failure: {error}"))
    }
}

impl ToRpc for Pkcs12Error {
    fn to_rpc(self) -> RpcError {
        let error = self;
        let kind = match &error {
            Pkcs12Error::WrongPassword => ErrorKind::WrongPassword,
            _ => ErrorKind::bad_input("params.data"),
        };
        RpcError::new(kind, format!("cannot import the PKCS#12 file: {error}"))
    }
}

impl ToRpc for SealError {
    fn to_rpc(self) -> RpcError {
        let error = self;
        match error {
            SealError::WrongPassphrase => {
                RpcError::new(ErrorKind::WrongPassword, "wrong passphrase for this key")
            }
            other => {
                tracing::error!(error = %other, "stored key unusable");
                RpcError::new(
                    ErrorKind::Internal,
                    format!("the stored key is unusable: {other}"),
                )
            }
        }
    }
}

impl ToRpc for KeyError {
    fn to_rpc(self) -> RpcError {
        let error = self;
        let kind = match &error {
            KeyError::TokenNotPresent { token } => ErrorKind::TokenNotPresent {
                token: token.clone(),
            },
            KeyError::PinRequired { token } => ErrorKind::PinRequired {
                token: token.clone(),
            },
            KeyError::WrongKeyType { .. } | KeyError::UnsupportedScheme { .. } => {
                ErrorKind::bad_input("params.key_id")
            }
            _ => ErrorKind::Internal,
        };
        RpcError::new(kind, format!("key operation failed: {error}"))
    }
}

impl ToRpc for MessageError {
    fn to_rpc(self) -> RpcError {
        let error = self;
        let message = error.to_string();
        let kind = match error {
            MessageError::Envelope(EnvelopeError::Locked { key_id }) => {
                return RpcError::new(
                    ErrorKind::KeyLocked {
                        key_id: key_id.to_string(),
                    },
                    format!(
                        "the message is encrypted to key {key_id}, which is locked; unlock it with key.unlock"
                    ),
                );
            }
            MessageError::Envelope(EnvelopeError::NotForUs { recipients }) => {
                ErrorKind::NotARecipient { recipients }
            }
            MessageError::Envelope(EnvelopeError::UnsupportedAlgorithm { oid, .. }) => {
                ErrorKind::UnsupportedAlgorithm { oid }
            }
            MessageError::Envelope(EnvelopeError::DecryptionFailed) => ErrorKind::DecryptionFailed,
            MessageError::Envelope(EnvelopeError::Key(key))
            | MessageError::Sign(SignError::Key(key)) => {
                return key.to_rpc();
            }
            MessageError::Sign(SignError::NotASigningKey) => ErrorKind::bad_input("params.key_id"),
            MessageError::Envelope(EnvelopeError::UnsupportedRecipientKey { .. }) => {
                ErrorKind::bad_input("params.recipients")
            }
            MessageError::Mime(_)
            | MessageError::Verify(_)
            | MessageError::NotApplicable(_)
            | MessageError::TooDeep
            | MessageError::Envelope(
                EnvelopeError::Malformed { .. } | EnvelopeError::NotEncrypted { .. },
            ) => ErrorKind::bad_input("params.message"),
            _ => ErrorKind::Internal,
        };
        RpcError::new(kind, message)
    }
}

impl ToRpc for DisplayError {
    fn to_rpc(self) -> RpcError {
        let error = self;
        // Every refusal is about the message sent: not MIME, or beyond what is shown.
        RpcError::new(ErrorKind::bad_input("params.message"), error.to_string())
    }
}

impl From<KeyUnavailable> for RpcError {
    fn from(error: KeyUnavailable) -> Self {
        let message = error.to_string();
        match error {
            KeyUnavailable::Locked { key_id } => RpcError::new(
                ErrorKind::KeyLocked {
                    key_id: key_id.to_string(),
                },
                message,
            ),
            KeyUnavailable::Token(token) => token.to_rpc(),
        }
    }
}

impl ToRpc for TokenError {
    fn to_rpc(self) -> RpcError {
        let error = self;
        if let TokenError::NoSuchToken { .. } = error {
            // The name matched no token, so it is only what the caller typed, perhaps a PIN
            // in the wrong field: not quoted back (README, Security notes), `token` left empty.
            return RpcError::new(
                ErrorKind::TokenNotPresent {
                    token: String::new(),
                },
                "no token has that serial number or label; token.list shows the tokens present",
            );
        }
        let message = error.to_string();
        let kind = match error {
            TokenError::NoSuchToken { token } | TokenError::TokenNotPresent { token } => {
                ErrorKind::TokenNotPresent { token }
            }
            TokenError::PinRequired { token } => ErrorKind::PinRequired { token },
            TokenError::WrongPin { token, pin } => ErrorKind::WrongPin {
                token,
                count_low: pin.count_low,
                final_try: pin.final_try,
            },
            TokenError::PinLocked { token } => ErrorKind::PinLocked { token },
            TokenError::KeyNotFound { .. } => ErrorKind::KeyNotFound {
                key_id: String::new(),
            },
            TokenError::UnsupportedMechanism { .. }
            | TokenError::UnsupportedAlgorithm { .. }
            | TokenError::UnusableKey { .. }
            | TokenError::Certificate { .. } => ErrorKind::bad_input("params"),
            _ => ErrorKind::Internal,
        };
        RpcError::new(kind, message)
    }
}

impl ToRpc for PkiError {
    fn to_rpc(self) -> RpcError {
        let error = self;
        let message = error.to_string();
        let kind = match error {
            PkiError::Profile { field, .. } => ErrorKind::bad_input(format!("params.{field}")),
            PkiError::Csr { .. } => ErrorKind::bad_input("params.key.csr.request"),
            PkiError::AlreadyActive { .. } => ErrorKind::bad_input("params.email"),
            PkiError::NotActive { .. } => ErrorKind::bad_input("params.serial"),
            PkiError::NotInitialized { .. } | PkiError::AlreadyInitialized { .. } => {
                ErrorKind::bad_input("ca")
            }
            PkiError::Locked { key_id } => ErrorKind::KeyLocked {
                key_id: key_id.to_string(),
            },
            PkiError::WrongPassword => ErrorKind::WrongPassword,
            PkiError::UnknownSerial { serial } => ErrorKind::CertNotFound { query: serial },
            PkiError::Store(store) => return store.to_rpc(),
            PkiError::Key(key) => return key.to_rpc(),
            _ => {
                tracing::error!(error = %message, "CA failure");
                ErrorKind::Internal
            }
        };
        RpcError::new(kind, message)
    }
}

impl ToRpc for BatchError {
    fn to_rpc(self) -> RpcError {
        let error = self;
        let message = error.to_string();
        let kind = match error {
            BatchError::Exposed { .. } | BatchError::OutDir(_) => ErrorKind::BadPath {
                field: "params.out_dir".into(),
            },
            BatchError::Store(store) => return store.to_rpc(),
            _ => ErrorKind::Internal,
        };
        RpcError::new(kind, message)
    }
}

impl From<PublishError> for RpcError {
    fn from(error: PublishError) -> Self {
        let kind = match &error {
            PublishError::NotConfigured => ErrorKind::bad_input("directory"),
            _ => ErrorKind::Internal,
        };
        RpcError::new(kind, format!("cannot publish: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_name_that_matched_nothing_is_not_quoted_back() {
        let err = TokenError::NoSuchToken {
            token: "1234-pin".into(),
        }
        .to_rpc();
        assert_eq!(
            err.kind,
            ErrorKind::TokenNotPresent {
                token: String::new()
            }
        );
        assert!(!err.message.contains("1234"), "{}", err.message);
        let present = TokenError::TokenNotPresent {
            token: "Ann's card".into(),
        }
        .to_rpc();
        assert!(
            present.message.contains("Ann's card"),
            "{}",
            present.message
        );
    }
}
