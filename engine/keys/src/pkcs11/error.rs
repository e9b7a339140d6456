//! Why a token operation failed, in terms a user can act on (enter the PIN, insert the card),
//! and the sorting of raw PKCS#11 return values into those terms.

use super::token::PinState;
use crate::backend::KeyAlgorithm;
use cryptoki::context::Function;
use cryptoki::error::{Error as CkError, RvError};

/// A failed token operation. Carries labels, key ids and PKCS#11 return-value names, never a
/// PIN or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// No present token has this serial number or label.
    #[error("no token {token:?} (give its serial number or its label)")]
    NoSuchToken {
        /// What the caller asked for.
        token: String,
    },
    /// The token was removed (or stopped answering); its session and login are gone.
    #[error("token {token:?} is not present")]
    TokenNotPresent {
        /// The token's label.
        token: String,
    },
    /// The token needs a login before this, and none is cached (or the cached one expired).
    #[error("token {token:?} needs its PIN")]
    PinRequired {
        /// The token's label.
        token: String,
    },
    /// The PIN was rejected; `pin` says how close the token is to locking it.
    #[error("wrong PIN for token {token:?}{}", pin_hint(pin))]
    WrongPin {
        /// The token's label.
        token: String,
        /// The token's PIN flags read after the failure.
        pin: PinState,
    },
    /// Too many wrong PINs: the token refuses logins until the PIN is reset with its SO PIN/PUK.
    #[error("the PIN of token {token:?} is locked")]
    PinLocked {
        /// The token's label.
        token: String,
    },
    /// No private key with this id (a `KeyId`, or a CKA_ID in hex) is on a present token.
    #[error("no private key {key} on the token")]
    KeyNotFound {
        /// The id asked for.
        key: String,
    },
    /// The token lacks the mechanism (or the parameters) this needs.
    #[error("token {token:?} cannot {operation}")]
    UnsupportedMechanism {
        /// The token's label.
        token: String,
        /// What was asked, in words.
        operation: &'static str,
    },
    /// Mailseal does not make or use keys of this type on tokens.
    #[error("{algorithm:?} keys are not supported on tokens")]
    UnsupportedAlgorithm {
        /// The key type asked for.
        algorithm: KeyAlgorithm,
    },
    /// The key on the card is of a kind Mailseal cannot use.
    #[error("key {key} on token {token:?} is unusable: {reason}")]
    UnusableKey {
        /// The token's label.
        token: String,
        /// The key's CKA_ID in hex.
        key: String,
        /// A fixed description.
        reason: &'static str,
    },
    /// A PKCS#11 call failed for another reason.
    #[error("PKCS#11 {operation} failed: {rv}")]
    Pkcs11 {
        /// What was being done.
        operation: &'static str,
        /// The return value's name (e.g. `FunctionFailed`) or the library error.
        rv: String,
    },
    /// A certificate or request could not be encoded, or one on the card could not be read.
    #[error("cannot {operation}: {source}")]
    Certificate {
        /// What was being done.
        operation: &'static str,
        /// The DER error.
        #[source]
        source: der::Error,
    },
}

fn pin_hint(pin: &PinState) -> &'static str {
    if pin.final_try {
        " (one try left before the PIN locks)"
    } else if pin.count_low {
        " (few tries left)"
    } else {
        ""
    }
}

/// How a raw PKCS#11 failure affects the token's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// The token or its session is gone: drop the session and the login.
    Gone,
    /// The token forgot the login (or never had it): drop the cached login.
    LoggedOut,
    /// The token refused the mechanism or its parameters before touching any data.
    Unsupported,
    /// Anything else.
    Other,
}

impl Fault {
    /// Sorts a PKCS#11 error. Mechanism refusals count only when raised while *starting* an
    /// operation, so a decryption that fails on its data is never mistaken for one (RFC 3218);
    /// key derivation is left out because its parameters carry the peer's (untrusted) point.
    pub(super) fn of(error: &CkError) -> Self {
        let CkError::Pkcs11(rv, function) = error else {
            return Self::Other;
        };
        match rv {
            RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::TokenNotRecognized
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::SlotIdInvalid
            | RvError::CryptokiNotInitialized => Self::Gone,
            RvError::UserNotLoggedIn => Self::LoggedOut,
            RvError::MechanismInvalid
            | RvError::MechanismParamInvalid
            | RvError::KeyFunctionNotPermitted
            | RvError::KeyTypeInconsistent
            | RvError::ArgumentsBad
            | RvError::TemplateInconsistent
            | RvError::AttributeValueInvalid
                if starts_operation(*function) =>
            {
                Self::Unsupported
            }
            _ => Self::Other,
        }
    }
}

fn starts_operation(function: Function) -> bool {
    matches!(
        function,
        Function::SignInit | Function::DecryptInit | Function::GenerateKeyPair
    )
}

/// The name of a PKCS#11 failure for messages and logs (never secret-dependent text).
pub(super) fn rv_name(error: &CkError) -> String {
    match error {
        CkError::Pkcs11(rv, _) => format!("{rv:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_sorted_by_return_value_and_by_the_call_that_failed() {
        let fault = |rv, function| Fault::of(&CkError::Pkcs11(rv, function));
        assert_eq!(fault(RvError::DeviceRemoved, Function::Sign), Fault::Gone);
        assert_eq!(
            fault(RvError::TokenNotPresent, Function::Login),
            Fault::Gone
        );
        assert_eq!(
            fault(RvError::SessionHandleInvalid, Function::FindObjects),
            Fault::Gone
        );
        assert_eq!(
            fault(RvError::UserNotLoggedIn, Function::SignInit),
            Fault::LoggedOut
        );
        assert_eq!(
            fault(RvError::MechanismInvalid, Function::DecryptInit),
            Fault::Unsupported
        );
        // The same values from the data-bearing calls are data failures (RFC 3218).
        assert_eq!(
            fault(RvError::ArgumentsBad, Function::Decrypt),
            Fault::Other
        );
        assert_eq!(
            fault(RvError::MechanismParamInvalid, Function::DeriveKey),
            Fault::Other
        );
        assert_eq!(
            fault(RvError::EncryptedDataInvalid, Function::Decrypt),
            Fault::Other
        );
        assert_eq!(Fault::of(&CkError::NotSupported), Fault::Other);
    }

    #[test]
    fn messages_warn_before_the_pin_locks() {
        let wrong = |pin| TokenError::WrongPin {
            token: "L".to_owned(),
            pin,
        };
        assert_eq!(
            wrong(PinState::default()).to_string(),
            "wrong PIN for token \"L\""
        );
        let low = PinState {
            count_low: true,
            ..PinState::default()
        };
        assert!(wrong(low).to_string().ends_with("(few tries left)"));
        let last = PinState {
            final_try: true,
            ..low
        };
        assert!(wrong(last).to_string().contains("one try left"));
        assert_eq!(
            rv_name(&CkError::Pkcs11(RvError::PinLocked, Function::Login)),
            "PinLocked"
        );
    }
}
