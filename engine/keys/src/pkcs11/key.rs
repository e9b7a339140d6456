//! A private key on a token behind `PrivateKeyOps`, behaving exactly like a `SoftwareKey`: the
//! same schemes accepted, the same signature encodings, the same raw ECDH secret.

use super::attributes::coordinate_len;
use super::error::TokenError;
use super::session::{Failure, Token, Use, ck};
use super::token;
use crate::backend::{Hash, KeyAlgorithm, KeyError, PrivateKeyOps, RsaPadding, SignatureScheme};
use aws_lc_rs::digest;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::types::Ulong;
use der::asn1::UintRef;
use der::{Encode, Sequence};
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

/// A key on a card: its token, its CKA_ID, and its type read from its attributes.
pub(super) struct CardKey {
    pub(super) token: Arc<Token>,
    pub(super) id: Vec<u8>,
    pub(super) algorithm: KeyAlgorithm,
}

impl fmt::Debug for CardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CardKey({:?} on {:?}, id {})",
            self.algorithm,
            self.token.label,
            hex::encode(&self.id)
        )
    }
}

/// A hash as PKCS#11 and PKCS#1 name it.
struct HashParams {
    digest: &'static digest::Algorithm,
    mechanism: MechanismType,
    mgf: PkcsMgfType,
    /// The DER DigestInfo (RFC 8017 §9.2, note 1) up to the digest itself.
    digest_info_prefix: &'static [u8],
}

fn hash_params(hash: Hash) -> HashParams {
    match hash {
        Hash::Sha1 => HashParams {
            digest: &digest::SHA1_FOR_LEGACY_USE_ONLY,
            mechanism: MechanismType::SHA1,
            mgf: PkcsMgfType::MGF1_SHA1,
            digest_info_prefix: &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ],
        },
        Hash::Sha256 => HashParams {
            digest: &digest::SHA256,
            mechanism: MechanismType::SHA256,
            mgf: PkcsMgfType::MGF1_SHA256,
            digest_info_prefix: &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
        },
        Hash::Sha384 => HashParams {
            digest: &digest::SHA384,
            mechanism: MechanismType::SHA384,
            mgf: PkcsMgfType::MGF1_SHA384,
            digest_info_prefix: &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
        },
        Hash::Sha512 => HashParams {
            digest: &digest::SHA512,
            mechanism: MechanismType::SHA512,
            mgf: PkcsMgfType::MGF1_SHA512,
            digest_info_prefix: &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        },
    }
}

/// A signature to make on the card: the mechanism, its input, and whether the output is an
/// ECDSA `r || s` to DER-encode.
pub(super) struct Plan {
    mechanism: Mechanism<'static>,
    input: Vec<u8>,
    ecdsa_coordinate_len: Option<usize>,
}

/// Chooses how to make `scheme`'s signature of `message` with a key of `algorithm` on a token
/// offering `mechanisms`: the token's hash-and-sign mechanism when it has one, else our hash
/// fed to the raw mechanism. Accepts exactly the schemes `SoftwareKey` accepts.
pub(super) fn plan(
    algorithm: KeyAlgorithm,
    scheme: SignatureScheme,
    mechanisms: &[MechanismType],
    message: &[u8],
) -> Result<Plan, KeyError> {
    let unsupported = || KeyError::UnsupportedScheme {
        operation: "sign",
        scheme: format!("{scheme:?}"),
    };
    // An empty list means the module did not say: try the raw mechanisms.
    let raw_available = |raw| mechanisms.is_empty() || mechanisms.contains(&raw);
    let hashed = |hash: &HashParams| digest::digest(hash.digest, message).as_ref().to_vec();
    match (algorithm, scheme) {
        (
            KeyAlgorithm::Rsa { .. },
            SignatureScheme::RsaPkcs1(hash) | SignatureScheme::RsaPss(hash),
        ) => {
            if hash == Hash::Sha1 {
                return Err(unsupported());
            }
            let params = hash_params(hash);
            let pss = PkcsPssParams {
                hash_alg: params.mechanism,
                mgf: params.mgf,
                s_len: Ulong::try_from(params.digest.output_len()).map_err(|_| unsupported())?,
            };
            let (direct, raw) = match (scheme, hash) {
                (SignatureScheme::RsaPss(_), Hash::Sha256) => {
                    (Mechanism::Sha256RsaPkcsPss(pss), Mechanism::RsaPkcsPss(pss))
                }
                (SignatureScheme::RsaPss(_), Hash::Sha384) => {
                    (Mechanism::Sha384RsaPkcsPss(pss), Mechanism::RsaPkcsPss(pss))
                }
                (SignatureScheme::RsaPss(_), _) => {
                    (Mechanism::Sha512RsaPkcsPss(pss), Mechanism::RsaPkcsPss(pss))
                }
                (_, Hash::Sha256) => (Mechanism::Sha256RsaPkcs, Mechanism::RsaPkcs),
                (_, Hash::Sha384) => (Mechanism::Sha384RsaPkcs, Mechanism::RsaPkcs),
                _ => (Mechanism::Sha512RsaPkcs, Mechanism::RsaPkcs),
            };
            if mechanisms.contains(&direct.mechanism_type()) {
                return Ok(Plan {
                    mechanism: direct,
                    input: message.to_vec(),
                    ecdsa_coordinate_len: None,
                });
            }
            if !raw_available(raw.mechanism_type()) {
                return Err(unsupported());
            }
            let input = match raw {
                // PKCS#1 v1.5 over a bare hash needs its DigestInfo (RFC 8017 §9.2 step 2).
                Mechanism::RsaPkcs => [params.digest_info_prefix, &hashed(&params)].concat(),
                _ => hashed(&params),
            };
            Ok(Plan {
                mechanism: raw,
                input,
                ecdsa_coordinate_len: None,
            })
        }
        (KeyAlgorithm::EcP256, SignatureScheme::Ecdsa(hash))
        | (KeyAlgorithm::EcP384, SignatureScheme::Ecdsa(hash)) => {
            // Each curve with its own hash, as the software key was loaded.
            let matches = matches!(
                (algorithm, hash),
                (KeyAlgorithm::EcP256, Hash::Sha256) | (KeyAlgorithm::EcP384, Hash::Sha384)
            );
            if !matches || !raw_available(MechanismType::ECDSA) {
                return Err(unsupported());
            }
            Ok(Plan {
                mechanism: Mechanism::Ecdsa,
                input: hashed(&hash_params(hash)),
                ecdsa_coordinate_len: coordinate_len(algorithm),
            })
        }
        _ => Err(KeyError::WrongKeyType {
            operation: "sign with this scheme",
            algorithm,
        }),
    }
}

/// ECDSA-Sig-Value (RFC 5753 §7.2, RFC 3279 §2.2.3).
///
/// ```text
/// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }
/// ```
#[derive(Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

impl Plan {
    /// Signs on the card with `key` and encodes the result as a `SoftwareKey` would.
    pub(super) fn sign(self, session: &Session, key: ObjectHandle) -> Result<Vec<u8>, Failure> {
        const OP: &str = "sign";
        let signature = session
            .sign(&self.mechanism, key, &self.input)
            .map_err(ck(OP))?;
        let Some(len) = self.ecdsa_coordinate_len else {
            return Ok(signature);
        };
        let malformed = || TokenError::Pkcs11 {
            operation: OP,
            rv: "malformed ECDSA signature from the token".to_owned(),
        };
        if signature.len() != 2 * len {
            return Err(malformed().into());
        }
        let (r, s) = signature.split_at(len);
        EcdsaSigValue {
            r: UintRef::new(r).map_err(|_| malformed())?,
            s: UintRef::new(s).map_err(|_| malformed())?,
        }
        .to_der()
        .map_err(|_| malformed().into())
    }
}

/// A token failure as the S/MIME engine sees it. Only a failure that depends on the data is
/// `Failed` (the RFC 3218 countermeasure applies to it); a missing token or login is not.
fn key_error(operation: &'static str, scheme: &dyn fmt::Debug) -> impl Fn(TokenError) -> KeyError {
    move |error| match error {
        TokenError::TokenNotPresent { token } => KeyError::TokenNotPresent { token },
        TokenError::PinRequired { token } => KeyError::PinRequired { token },
        TokenError::KeyNotFound { .. } => KeyError::InvalidKey {
            reason: "the key is no longer on its token",
        },
        TokenError::UnsupportedMechanism { .. } => KeyError::UnsupportedScheme {
            operation,
            scheme: format!("{scheme:?}"),
        },
        _ => KeyError::Failed { operation },
    }
}

impl CardKey {
    /// Runs `f` with this key's handle in the token's session, as one use of the login.
    fn with_key<T>(
        &self,
        operation: &'static str,
        scheme: &dyn fmt::Debug,
        f: impl FnOnce(&Session, ObjectHandle) -> Result<T, Failure>,
    ) -> Result<T, KeyError> {
        self.token
            .run(operation, Use::Operate, |session| {
                let key = token::find_private_key(session, &self.id)
                    .map_err(ck(operation))?
                    .ok_or_else(|| TokenError::KeyNotFound {
                        key: hex::encode(&self.id),
                    })?;
                f(session, key)
            })
            .map_err(key_error(operation, scheme))
    }

    /// `PrivateKeyOps::sign` with the mechanisms given rather than the token's, so that each
    /// path (the token hashing, or we) can be exercised on a token that has both.
    pub(super) fn sign_with(
        &self,
        mechanisms: &[MechanismType],
        scheme: SignatureScheme,
        message: &[u8],
    ) -> Result<Vec<u8>, KeyError> {
        let plan = plan(self.algorithm, scheme, mechanisms, message)?;
        self.with_key("sign", &scheme, |session, key| plan.sign(session, key))
    }
}

impl PrivateKeyOps for CardKey {
    fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.sign_with(&self.token.mechanisms, scheme, message)
    }

    fn rsa_decrypt(
        &self,
        padding: RsaPadding,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        const OP: &str = "RSA decryption";
        if !matches!(self.algorithm, KeyAlgorithm::Rsa { .. }) {
            return Err(KeyError::WrongKeyType {
                operation: "decrypt RSA key transport",
                algorithm: self.algorithm,
            });
        }
        let mechanism = match padding {
            RsaPadding::Pkcs1v15 => Mechanism::RsaPkcs,
            RsaPadding::Oaep(hash) => {
                let params = hash_params(hash);
                Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
                    params.mechanism,
                    params.mgf,
                    PkcsOaepSource::empty(),
                ))
            }
        };
        self.with_key(OP, &padding, |session, key| {
            session
                .decrypt(&mechanism, key, ciphertext)
                .map(Zeroizing::new)
                .map_err(ck(OP))
        })
    }

    fn ecdh(&self, peer_public_key: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        const OP: &str = "key agreement";
        let Some(len) = coordinate_len(self.algorithm) else {
            return Err(KeyError::WrongKeyType {
                operation: "agree on a key",
                algorithm: self.algorithm,
            });
        };
        // An uncompressed point on our curve, as aws-lc-rs demands of a software key's peer.
        if peer_public_key.len() != 1 + 2 * len || peer_public_key[0] != 0x04 {
            return Err(KeyError::Failed { operation: OP });
        }
        let value_len = Ulong::try_from(len).map_err(|_| KeyError::Failed { operation: OP })?;
        self.with_key(OP, &"ECDH", |session, key| {
            let mechanism =
                Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), peer_public_key));
            // A session object we may read back: the raw shared secret Z (RFC 5753 §3.1.1
            // applies the KDF in software, as for software keys).
            let template = [
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::Token(false),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
                Attribute::ValueLen(value_len),
            ];
            let secret = session
                .derive_key(&mechanism, key, &template)
                .map_err(ck(OP))?;
            let value = session.get_attributes(secret, &[AttributeType::Value]);
            if let Err(error) = session.destroy_object(secret) {
                tracing::warn!(%error, "cannot destroy a derived ECDH secret on the token");
            }
            // Wrapped at once, so that a secret of the wrong length is wiped too.
            let secret = value
                .map_err(ck(OP))?
                .into_iter()
                .find_map(|attribute| match attribute {
                    Attribute::Value(value) => Some(Zeroizing::new(value)),
                    _ => None,
                });
            match secret {
                Some(secret) if secret.len() == len => Ok(secret),
                _ => Err(TokenError::Pkcs11 {
                    operation: OP,
                    rv: "the token did not return the shared secret".to_owned(),
                }
                .into()),
            }
        })
    }
}
