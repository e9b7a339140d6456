//! Smart cards and hardware tokens over PKCS#11: discovering tokens and the identities on them,
//! logging in without ever keeping the PIN, and card keys that behave exactly like software
//! keys behind `PrivateKeyOps`.
//!
//! Every method blocks on the card: call them from `spawn_blocking`. Each token has one
//! session behind a `std::sync::Mutex`, so concurrent operations on a token take turns and
//! never share a session; no lock is held across an `.await` because nothing here is async.

mod attributes;
mod enrol;
mod error;
mod key;
mod module;
mod session;
mod token;

#[cfg(test)]
mod tests;

pub use enrol::GeneratedKey;
pub use error::TokenError;
pub use module::ModuleStatus;
pub use token::{PinState, TokenFlags, TokenIdentity, TokenInfo, TokenObject, TokenRef};

use crate::KeyId;
use crate::backend::PrivateKeyOps;
use attributes::{Attrs, KEY_ATTRIBUTES};
use key::CardKey;
use module::Module;
use session::{Token, Use, ck};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The PKCS#11 modules the daemon uses and the tokens found through them: one per daemon,
/// `Send + Sync`, shared by every request handler and the slot poller.
pub struct Pkcs11 {
    modules: Vec<Module>,
    /// How long a login stays usable; zero means one operation per login.
    pin_cache: Duration,
    /// The tokens present at the last refresh. Locked only briefly, never while a token's
    /// own lock is wanted, so the two cannot deadlock.
    tokens: Mutex<Vec<Arc<Token>>>,
    /// Makes refreshes take turns, so a token is never opened twice.
    refreshing: Mutex<()>,
}

impl std::fmt::Debug for Pkcs11 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11")
            .field("modules", &self.modules.len())
            .field("pin_cache", &self.pin_cache)
            .finish_non_exhaustive()
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Pkcs11 {
    /// Loads every module and looks for tokens. A module that fails to load is remembered
    /// with its reason (see [`Pkcs11::modules`]), never a panic and never fatal: one broken
    /// driver must not keep the daemon from starting.
    pub fn load(modules: &[PathBuf], pin_cache: Duration) -> Self {
        let pkcs11 = Self {
            modules: modules.iter().map(|path| Module::load(path)).collect(),
            pin_cache,
            tokens: Mutex::new(Vec::new()),
            refreshing: Mutex::new(()),
        };
        pkcs11.refresh();
        pkcs11
    }

    /// The default module list: the p11-kit proxy, which reaches every module the system
    /// registered with p11-kit (the first found of the usual install paths), or nothing.
    pub fn default_modules() -> Vec<PathBuf> {
        module::default_modules()
    }

    /// The configured modules and whether each loaded, to explain a missing token.
    pub fn modules(&self) -> Vec<ModuleStatus> {
        self.modules.iter().map(Module::status).collect()
    }

    /// Rescans the slots (call it at most every 2 s from a poller): new tokens are opened,
    /// tokens that vanished lose their session and cached login, and expired logins end. A
    /// token reachable through two modules (e.g. directly and through p11-kit) is kept once.
    pub fn refresh(&self) {
        let _turn = locked(&self.refreshing);
        let previous = locked(&self.tokens).clone();
        let mut next: Vec<Arc<Token>> = Vec::new();
        let mut seen = HashSet::new();
        for (index, module) in self.modules.iter().enumerate() {
            let Ok(loaded) = &module.loaded else { continue };
            let slots = match loaded.context.get_slots_with_token() {
                Ok(slots) => slots,
                Err(error) => {
                    // Perhaps passing: keep its tokens as they were until the next refresh.
                    tracing::debug!(module = %module.path.display(), %error, "cannot list slots");
                    next.extend(
                        previous
                            .iter()
                            .filter(|token| token.module == index)
                            .cloned(),
                    );
                    continue;
                }
            };
            for slot in slots {
                // A token whose information cannot be read is as good as absent.
                let Ok(info) = loaded.context.get_token_info(slot) else {
                    continue;
                };
                let physical = (
                    info.manufacturer_id().to_owned(),
                    info.model().to_owned(),
                    info.serial_number().to_owned(),
                    info.label().to_owned(),
                );
                if !info.token_initialized() || !seen.insert(physical) {
                    continue;
                }
                let known = previous.iter().find(|token| {
                    token.module == index
                        && token.slot == slot
                        && token.serial == info.serial_number()
                        && token.is_present()
                });
                if let Some(token) = known {
                    token.update(&info);
                    next.push(Arc::clone(token));
                    continue;
                }
                match Token::open(index, module.path.clone(), &loaded.context, slot, &info) {
                    Ok(token) => {
                        tracing::info!(token = %token.label, "token inserted");
                        next.push(Arc::new(token));
                    }
                    Err(error) => {
                        // Debug only: the poller would repeat a warning every 2 s.
                        tracing::debug!(token = %info.label(), %error, "cannot open the token");
                    }
                }
            }
        }
        for token in &previous {
            if !next.iter().any(|kept| Arc::ptr_eq(kept, token)) {
                tracing::info!(token = %token.label, "token removed");
                token.vanish();
            }
        }
        *locked(&self.tokens) = next;
    }

    fn present(&self) -> Vec<Arc<Token>> {
        locked(&self.tokens).clone()
    }

    /// The present token whose serial number, or else label, is `name`.
    fn find(&self, name: &str) -> Result<Arc<Token>, TokenError> {
        let tokens = self.present();
        tokens
            .iter()
            .find(|token| token.serial == name)
            .or_else(|| tokens.iter().find(|token| token.label == name))
            .cloned()
            .ok_or_else(|| TokenError::NoSuchToken {
                token: name.to_owned(),
            })
    }

    /// Whether any card is present: work that may use a card's key (a decryption) then counts
    /// as long, since a card may wait on its reader.
    pub fn any_present(&self) -> bool {
        !locked(&self.tokens).is_empty()
    }

    /// The present tokens, their PIN state and their objects, for the user to choose from.
    pub fn tokens(&self) -> Vec<TokenInfo> {
        self.present().iter().map(|token| token.info()).collect()
    }

    /// Identities on cards: a certificate with a private key of the same CKA_ID.
    pub fn identities(&self) -> Vec<TokenIdentity> {
        self.present()
            .iter()
            .flat_map(|token| token.identities())
            .collect()
    }

    /// Logs in to the token named by serial number or label, and keeps the login (never the
    /// PIN) for the PIN cache's duration. On a protected-authentication-path token, an empty
    /// `pin` means the PIN is entered on the reader.
    pub fn login(&self, token: &str, pin: &[u8]) -> Result<(), TokenError> {
        self.find(token)?.login(pin, self.pin_cache)
    }

    /// Ends the token's cached login now.
    pub fn logout(&self, token: &str) -> Result<(), TokenError> {
        self.find(token)?.logout()
    }

    /// The key for an identity, usable now: `PinRequired` if its token needs a login and none
    /// is cached (or it expired). With a zero PIN cache the login serves one operation, so
    /// each use needs [`Pkcs11::login`] again; the PIN is never kept to log in again.
    pub fn key(&self, key_id: &KeyId) -> Result<Arc<dyn PrivateKeyOps>, TokenError> {
        Ok(Arc::new(self.card_key(key_id)?))
    }

    /// [`Pkcs11::key`] as its concrete type.
    fn card_key(&self, key_id: &KeyId) -> Result<CardKey, TokenError> {
        let (token, id) = self
            .present()
            .into_iter()
            .find_map(|token| token.key_cka_id(key_id).map(|id| (token, id)))
            .ok_or_else(|| TokenError::KeyNotFound {
                key: key_id.to_string(),
            })?;
        Self::card_key_at(token, id, &key_id.to_string())
    }

    /// A key on `token` named by its CKA_ID (hex) with its public key as SubjectPublicKeyInfo
    /// DER, for a key that has no certificate yet: the company CA (`pki`) makes its own
    /// certificates with keys on a card.
    pub fn key_by_id(
        &self,
        token: &str,
        id_hex: &str,
    ) -> Result<(Arc<dyn PrivateKeyOps>, Vec<u8>), TokenError> {
        const OP: &str = "read the public key";
        let token = self.find(token)?;
        let not_found = || TokenError::KeyNotFound {
            key: id_hex.to_owned(),
        };
        let id = hex::decode(id_hex).map_err(|_| not_found())?;
        let unusable = |reason| TokenError::UnusableKey {
            token: token.label.clone(),
            key: id_hex.to_owned(),
            reason,
        };
        let spki = token.run(OP, Use::Inspect, |session| {
            let public =
                attributes::find_one(session, cryptoki::object::ObjectClass::PUBLIC_KEY, &id)
                    .map_err(ck(OP))?
                    .ok_or_else(not_found)?;
            let attrs = Attrs::read(session, public, &KEY_ATTRIBUTES).map_err(ck(OP))?;
            let info = attributes::public_key_info(&attrs)
                .ok_or_else(|| unusable("its public key is not readable"))?;
            Ok(der::Encode::to_der(&info)
                .map_err(|_| unusable("its public key does not encode"))?)
        })?;
        let key = Self::card_key_at(token, id, id_hex)?;
        Ok((Arc::new(key), spki))
    }

    /// The key with CKA_ID `id` on `token`, checked usable; `name` names it in errors.
    fn card_key_at(token: Arc<Token>, id: Vec<u8>, name: &str) -> Result<CardKey, TokenError> {
        const OP: &str = "read the key's attributes";
        let unusable = |reason| TokenError::UnusableKey {
            token: token.label.clone(),
            key: hex::encode(&id),
            reason,
        };
        let algorithm = token.run(OP, Use::Inspect, |session| {
            let key = token::find_private_key(session, &id)
                .map_err(ck(OP))?
                .ok_or_else(|| TokenError::KeyNotFound {
                    key: name.to_owned(),
                })?;
            let attrs = Attrs::read(session, key, &KEY_ATTRIBUTES).map_err(ck(OP))?;
            if attrs.always_authenticate() {
                return Err(unusable(
                    "it wants its PIN before every use (CKA_ALWAYS_AUTHENTICATE), and Mailseal \
                     never keeps PINs",
                )
                .into());
            }
            Ok(attributes::key_algorithm(&attrs).map_err(unusable)?)
        })?;
        Ok(CardKey {
            token,
            id,
            algorithm,
        })
    }
}

impl Drop for Pkcs11 {
    /// Closes every session (keys still held elsewhere then answer `TokenNotPresent`) and
    /// finalizes the modules this instance initialized.
    fn drop(&mut self) {
        for token in locked(&self.tokens).drain(..) {
            token.vanish();
        }
        for module in &self.modules {
            module.finalize();
        }
    }
}
