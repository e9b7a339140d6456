//! One token's session and login state behind a mutex: logging in and out, the PIN cache's
//! expiry, and running operations so that a removed card or a forgotten login is noticed.

use super::error::{Fault, TokenError, rv_name};
use super::token::{self, PinState, TokenFlags, TokenIdentity, TokenInfo, TokenObject, TokenRef};
use crate::KeyId;
use cryptoki::context::Pkcs11 as Context;
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::MechanismType;
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::RawAuthPin;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A token found in a slot. Shared (`Arc`) by the registry and by the keys handed out, so a
/// key whose token went away answers `TokenNotPresent` instead of touching a dead session.
pub(super) struct Token {
    pub(super) module: usize,
    pub(super) module_path: PathBuf,
    context: Context,
    pub(super) slot: Slot,
    pub(super) reference: TokenRef,
    pub(super) label: String,
    manufacturer: String,
    model: String,
    pub(super) serial: String,
    removable: bool,
    /// The token's mechanisms, read once: they do not change while it is inserted.
    pub(super) mechanisms: Vec<MechanismType>,
    inner: Mutex<Inner>,
}

struct Inner {
    flags: TokenFlags,
    pin: PinState,
    objects: Vec<TokenObject>,
    state: State,
}

/// The token's lifecycle. The PIN itself is never kept: a login lives in the token, and ends
/// when the cache expires.
enum State {
    /// Removed, or its session broke: every operation answers `TokenNotPresent`.
    Absent,
    /// Present with an open session, not logged in.
    Present(Session),
    /// Present and logged in until `expiry`.
    LoggedIn { session: Session, expiry: Expiry },
}

#[derive(Clone, Copy)]
enum Expiry {
    /// A zero PIN cache: the login serves one operation, then the token is logged out.
    OneUse,
    /// The login ends at this instant.
    At(Instant),
}

/// Whether an operation uses the login up (a key operation) or only looks (reading keys'
/// attributes, writing a certificate).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    Inspect,
    Operate,
}

/// Why an operation run on a token failed, before it is sorted into a [`TokenError`].
pub(super) enum Failure {
    /// A PKCS#11 call failed while doing `operation`.
    Ck(&'static str, CkError),
    /// Already sorted.
    Token(TokenError),
}

impl From<TokenError> for Failure {
    fn from(error: TokenError) -> Self {
        Self::Token(error)
    }
}

/// Tags a PKCS#11 error with what was being done: `.map_err(ck("sign"))`.
pub(super) fn ck(operation: &'static str) -> impl Fn(CkError) -> Failure {
    move |error| Failure::Ck(operation, error)
}

impl State {
    fn session(&self) -> Option<&Session> {
        match self {
            Self::Absent => None,
            Self::Present(session) | Self::LoggedIn { session, .. } => Some(session),
        }
    }

    /// Logs out (the token forgets the login) and keeps the session.
    fn logged_out(self) -> Self {
        match self {
            Self::LoggedIn { session, .. } => {
                if let Err(error) = session.logout()
                    && Fault::of(&error) == Fault::Gone
                {
                    return Self::Absent;
                }
                Self::Present(session)
            }
            other => other,
        }
    }
}

impl Token {
    /// Opens a session on the token in `slot` and reads its objects.
    pub(super) fn open(
        module: usize,
        module_path: PathBuf,
        context: &Context,
        slot: Slot,
        info: &cryptoki::slot::TokenInfo,
    ) -> Result<Self, CkError> {
        // Read-write, to generate keys and store certificates; a write-protected token
        // refuses that, and gets a read-only session.
        let session = context
            .open_rw_session(slot)
            .or_else(|_| context.open_ro_session(slot))?;
        let flags = TokenFlags::of(
            info,
            context
                .get_slot_info(slot)
                .is_ok_and(|slot| slot.removable_device()),
        );
        let objects = token::read_objects(&session, flags.login_required)?;
        Ok(Self {
            module,
            module_path,
            context: context.clone(),
            slot,
            reference: TokenRef::new(info.serial_number(), info.label()),
            label: info.label().to_owned(),
            manufacturer: info.manufacturer_id().to_owned(),
            model: info.model().to_owned(),
            serial: info.serial_number().to_owned(),
            removable: flags.removable,
            mechanisms: context.get_mechanism_list(slot).unwrap_or_default(),
            inner: Mutex::new(Inner {
                flags,
                pin: PinState::of(info),
                objects,
                state: State::Present(session),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic mid-operation leaves a session that is still a session: carry on.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn not_present(&self) -> TokenError {
        TokenError::TokenNotPresent {
            token: self.label.clone(),
        }
    }

    fn pin_required(&self) -> TokenError {
        TokenError::PinRequired {
            token: self.label.clone(),
        }
    }

    pub(super) fn is_present(&self) -> bool {
        !matches!(self.lock().state, State::Absent)
    }

    /// Takes fresh flags from `info`, and logs out an expired login now rather than at the
    /// next use, so the card does not stay unlocked longer than the user asked.
    pub(super) fn update(&self, info: &cryptoki::slot::TokenInfo) {
        let mut inner = self.lock();
        inner.flags = TokenFlags::of(info, self.removable);
        inner.pin = PinState::of(info);
        expire(&mut inner, Instant::now());
    }

    /// Forgets the session and login: the token was removed.
    pub(super) fn vanish(&self) {
        self.lock().state = State::Absent;
    }

    pub(super) fn info(&self) -> TokenInfo {
        let mut inner = self.lock();
        expire(&mut inner, Instant::now());
        TokenInfo {
            token: self.reference.clone(),
            module: self.module_path.clone(),
            label: self.label.clone(),
            manufacturer: self.manufacturer.clone(),
            model: self.model.clone(),
            serial: self.serial.clone(),
            flags: inner.flags,
            pin: inner.pin,
            logged_in: matches!(inner.state, State::LoggedIn { .. }),
            objects: inner.objects.clone(),
        }
    }

    pub(super) fn identities(&self) -> Vec<TokenIdentity> {
        let inner = self.lock();
        if matches!(inner.state, State::Absent) {
            return Vec::new();
        }
        token::identities(&self.reference, &self.label, &inner.objects)
    }

    pub(super) fn key_cka_id(&self, key_id: &KeyId) -> Option<Vec<u8>> {
        let inner = self.lock();
        if matches!(inner.state, State::Absent) {
            return None;
        }
        token::key_cka_id(&inner.objects, key_id)
    }

    /// Logs in with `pin` (an empty PIN on a protected-authentication-path token means "on
    /// the reader's keypad"), replacing any cached login, and caches it for `pin_cache`.
    pub(super) fn login(&self, pin: &[u8], pin_cache: Duration) -> Result<(), TokenError> {
        let mut inner = self.lock();
        // Log out first, so that this PIN is checked even when a login is cached.
        let session = match std::mem::replace(&mut inner.state, State::Absent).logged_out() {
            State::Present(session) => session,
            _ => return Err(self.not_present()),
        };
        let result = if pin.is_empty() && inner.flags.protected_auth_path {
            session.login(UserType::User, None)
        } else {
            // A copy only for the call, zeroized when dropped (`secrecy`).
            let pin = RawAuthPin::new(Box::new(pin.to_vec()));
            session.login_with_raw(UserType::User, &pin)
        };
        match result {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
                let expiry = if pin_cache.is_zero() {
                    Expiry::OneUse
                } else {
                    Expiry::At(Instant::now() + pin_cache)
                };
                // Private keys become visible now.
                if let Ok(objects) = token::read_objects(&session, false) {
                    inner.objects = objects;
                }
                inner.state = State::LoggedIn { session, expiry };
                self.reread_flags(&mut inner);
                Ok(())
            }
            Err(error) if Fault::of(&error) == Fault::Gone => Err(self.not_present()),
            Err(error) => {
                inner.state = State::Present(session);
                self.reread_flags(&mut inner);
                let token = self.label.clone();
                Err(match error {
                    CkError::Pkcs11(RvError::PinLocked, _) => TokenError::PinLocked { token },
                    CkError::Pkcs11(
                        RvError::PinIncorrect | RvError::PinLenRange | RvError::PinInvalid,
                        _,
                    ) if inner.pin.locked => TokenError::PinLocked { token },
                    CkError::Pkcs11(
                        RvError::PinIncorrect | RvError::PinLenRange | RvError::PinInvalid,
                        _,
                    ) => TokenError::WrongPin {
                        token,
                        pin: inner.pin,
                    },
                    other => TokenError::Pkcs11 {
                        operation: "login",
                        rv: rv_name(&other),
                    },
                })
            }
        }
    }

    /// Ends the cached login.
    pub(super) fn logout(&self) -> Result<(), TokenError> {
        let mut inner = self.lock();
        inner.state = std::mem::replace(&mut inner.state, State::Absent).logged_out();
        match inner.state {
            State::Absent => Err(self.not_present()),
            _ => Ok(()),
        }
    }

    fn reread_flags(&self, inner: &mut Inner) {
        match self.context.get_token_info(self.slot) {
            Ok(info) => {
                inner.flags = TokenFlags::of(&info, self.removable);
                inner.pin = PinState::of(&info);
            }
            Err(_) => inner.state = State::Absent,
        }
    }

    /// Re-reads the token's objects (after writing some).
    pub(super) fn reload_objects(&self) {
        let mut inner = self.lock();
        let hides = inner.flags.login_required && !matches!(inner.state, State::LoggedIn { .. });
        if let Some(Ok(objects)) = inner
            .state
            .session()
            .map(|session| token::read_objects(session, hides))
        {
            inner.objects = objects;
        }
    }

    /// Runs `operation` on the token's session, if it is present and, when it needs one,
    /// logged in. A failure that shows the token gone drops the session and the login; one that
    /// shows the login gone drops the login. `Use::Operate` uses up a one-use login.
    pub(super) fn run<T>(
        &self,
        operation: &'static str,
        usage: Use,
        f: impl FnOnce(&Session) -> Result<T, Failure>,
    ) -> Result<T, TokenError> {
        let mut inner = self.lock();
        expire(&mut inner, Instant::now());
        let session = match &inner.state {
            State::Absent => return Err(self.not_present()),
            State::Present(_) if inner.flags.login_required => return Err(self.pin_required()),
            state => state.session().expect("a present token has a session"),
        };
        let result = f(session);
        if usage == Use::Operate
            && let State::LoggedIn {
                expiry: Expiry::OneUse,
                ..
            } = inner.state
        {
            inner.state = std::mem::replace(&mut inner.state, State::Absent).logged_out();
        }
        let error = match result {
            Ok(value) => return Ok(value),
            Err(Failure::Token(error)) => error,
            Err(Failure::Ck(operation, error)) => self.sort(operation, &error),
        };
        let gone = matches!(error, TokenError::TokenNotPresent { .. })
            || self.context.get_token_info(self.slot).is_err();
        if gone {
            inner.state = State::Absent;
            return Err(self.not_present());
        }
        if matches!(error, TokenError::PinRequired { .. }) {
            inner.state = std::mem::replace(&mut inner.state, State::Absent).logged_out();
        }
        tracing::debug!(token = %self.label, operation, %error, "token operation failed");
        Err(error)
    }

    fn sort(&self, operation: &'static str, error: &CkError) -> TokenError {
        match Fault::of(error) {
            Fault::Gone => self.not_present(),
            Fault::LoggedOut => self.pin_required(),
            Fault::Unsupported => TokenError::UnsupportedMechanism {
                token: self.label.clone(),
                operation,
            },
            Fault::Other => TokenError::Pkcs11 {
                operation,
                rv: rv_name(error),
            },
        }
    }
}

/// Logs out a login whose time is up.
fn expire(inner: &mut Inner, now: Instant) {
    if let State::LoggedIn {
        expiry: Expiry::At(until),
        ..
    } = inner.state
        && now >= until
    {
        inner.state = std::mem::replace(&mut inner.state, State::Absent).logged_out();
    }
}
