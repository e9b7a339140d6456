//! Software keys: a PKCS#8 key loaded into aws-lc-rs, which does every operation in constant
//! time (see `DEPENDENCIES.md`: RSA, ECDSA, EdDSA and ECDH from one audited backend).

use super::backend::{Hash, KeyAlgorithm, KeyError, PrivateKeyOps, RsaPadding, SignatureScheme};
use super::pkcs12::PrivateKeyDer;
use aws_lc_rs::agreement::{self, UnparsedPublicKey};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    self, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaEncoding, RsaKeyPair};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5912, rfc8410};
use der::Decode;
use der::asn1::OctetStringRef;
use pkcs8::PrivateKeyInfoRef;
use std::fmt;
use zeroize::Zeroizing;

/// A loaded software key.
pub struct SoftwareKey {
    inner: Inner,
}

enum Inner {
    Rsa {
        signing: RsaKeyPair,
        decrypting: PrivateDecryptingKey,
    },
    Ec {
        algorithm: KeyAlgorithm,
        signing: EcdsaKeyPair,
        agreement: agreement::PrivateKey,
    },
    Ed25519(Ed25519KeyPair),
    X25519(agreement::PrivateKey),
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SoftwareKey({:?})", self.algorithm())
    }
}

fn rejected(error: aws_lc_rs::error::KeyRejected) -> KeyError {
    KeyError::InvalidKey {
        reason: error.description_(),
    }
}

const MALFORMED: KeyError = KeyError::InvalidKey {
    reason: "not a PKCS#8 private key of a supported type",
};

impl SoftwareKey {
    /// Loads a PKCS#8 key (RSA, EC P-256/P-384, Ed25519, X25519), checking it on the way.
    pub fn from_pkcs8(key: &PrivateKeyDer) -> Result<Self, KeyError> {
        let der = key.as_bytes();
        let info = PrivateKeyInfoRef::from_der(der).map_err(|_| MALFORMED)?;
        let inner = match info.algorithm.oid {
            rfc5912::RSA_ENCRYPTION => Inner::Rsa {
                signing: RsaKeyPair::from_pkcs8(der).map_err(rejected)?,
                decrypting: PrivateDecryptingKey::from_pkcs8(der).map_err(rejected)?,
            },
            rfc5912::ID_EC_PUBLIC_KEY => {
                let curve: ObjectIdentifier = info
                    .algorithm
                    .parameters
                    .and_then(|p| p.decode_as().ok())
                    .ok_or(MALFORMED)?;
                let (algorithm, signing, ecdh) = match curve {
                    rfc5912::SECP_256_R_1 => (
                        KeyAlgorithm::EcP256,
                        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                        &agreement::ECDH_P256,
                    ),
                    rfc5912::SECP_384_R_1 => (
                        KeyAlgorithm::EcP384,
                        &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                        &agreement::ECDH_P384,
                    ),
                    other => {
                        return Err(KeyError::UnsupportedKeyType {
                            oid: other.to_string(),
                        });
                    }
                };
                Inner::Ec {
                    algorithm,
                    signing: EcdsaKeyPair::from_pkcs8(signing, der).map_err(rejected)?,
                    agreement: agreement::PrivateKey::from_private_key_der(ecdh, der)
                        .map_err(rejected)?,
                }
            }
            rfc8410::ID_ED_25519 => {
                Inner::Ed25519(Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(rejected)?)
            }
            rfc8410::ID_X_25519 => {
                // aws-lc-rs reads X25519 keys only as the raw scalar inside CurvePrivateKey
                // (RFC 8410 §7).
                let scalar = <&OctetStringRef>::from_der(info.private_key.as_bytes())
                    .map_err(|_| MALFORMED)?;
                Inner::X25519(
                    agreement::PrivateKey::from_private_key(&agreement::X25519, scalar.as_bytes())
                        .map_err(rejected)?,
                )
            }
            other => {
                return Err(KeyError::UnsupportedKeyType {
                    oid: other.to_string(),
                });
            }
        };
        Ok(Self { inner })
    }

    /// The public key as a certificate's subjectPublicKey carries it (RSAPublicKey DER, an
    /// uncompressed point, or 32 raw bytes), to pair the key with its certificate.
    pub fn public_key(&self) -> Result<Vec<u8>, KeyError> {
        Ok(match &self.inner {
            Inner::Rsa { signing, .. } => signing.public_key().as_ref().to_vec(),
            Inner::Ec { signing, .. } => signing.public_key().as_ref().to_vec(),
            Inner::Ed25519(key) => key.public_key().as_ref().to_vec(),
            Inner::X25519(key) => key
                .compute_public_key()
                .map_err(|_| KeyError::InvalidKey {
                    reason: "X25519 public key computation failed",
                })?
                .as_ref()
                .to_vec(),
        })
    }
}

impl SoftwareKey {
    /// Whether `certificate` certifies this key: its subjectPublicKey equals our public key.
    pub fn matches(&self, certificate: &x509_cert::Certificate) -> bool {
        let certified = certificate
            .tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes();
        self.public_key().is_ok_and(|public| public == certified)
    }
}

fn failed(operation: &'static str) -> impl Fn(aws_lc_rs::error::Unspecified) -> KeyError {
    move |_| KeyError::Failed { operation }
}

fn unsupported(operation: &'static str, scheme: impl fmt::Debug) -> KeyError {
    KeyError::UnsupportedScheme {
        operation,
        scheme: format!("{scheme:?}"),
    }
}

impl PrivateKeyOps for SoftwareKey {
    fn algorithm(&self) -> KeyAlgorithm {
        match &self.inner {
            Inner::Rsa { signing, .. } => KeyAlgorithm::Rsa {
                bits: signing.public_modulus_len() * 8,
            },
            Inner::Ec { algorithm, .. } => *algorithm,
            Inner::Ed25519(_) => KeyAlgorithm::Ed25519,
            Inner::X25519(_) => KeyAlgorithm::X25519,
        }
    }

    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        const OP: &str = "sign";
        let rng = SystemRandom::new();
        match (&self.inner, scheme) {
            (
                Inner::Rsa { signing, .. },
                SignatureScheme::RsaPkcs1(hash) | SignatureScheme::RsaPss(hash),
            ) => {
                let encoding: &'static dyn RsaEncoding = match (scheme, hash) {
                    (SignatureScheme::RsaPkcs1(_), Hash::Sha256) => &signature::RSA_PKCS1_SHA256,
                    (SignatureScheme::RsaPkcs1(_), Hash::Sha384) => &signature::RSA_PKCS1_SHA384,
                    (SignatureScheme::RsaPkcs1(_), Hash::Sha512) => &signature::RSA_PKCS1_SHA512,
                    (SignatureScheme::RsaPss(_), Hash::Sha256) => &signature::RSA_PSS_SHA256,
                    (SignatureScheme::RsaPss(_), Hash::Sha384) => &signature::RSA_PSS_SHA384,
                    (SignatureScheme::RsaPss(_), Hash::Sha512) => &signature::RSA_PSS_SHA512,
                    _ => return Err(unsupported(OP, scheme)),
                };
                let mut out = vec![0; signing.public_modulus_len()];
                signing
                    .sign(encoding, &rng, message, &mut out)
                    .map_err(failed(OP))?;
                Ok(out)
            }
            (
                Inner::Ec {
                    algorithm, signing, ..
                },
                SignatureScheme::Ecdsa(hash),
            ) => {
                // The key was loaded for its curve's own hash (P-256/SHA-256, P-384/SHA-384).
                let matches = matches!(
                    (algorithm, hash),
                    (KeyAlgorithm::EcP256, Hash::Sha256) | (KeyAlgorithm::EcP384, Hash::Sha384)
                );
                if !matches {
                    return Err(unsupported(OP, scheme));
                }
                Ok(signing
                    .sign(&rng, message)
                    .map_err(failed(OP))?
                    .as_ref()
                    .to_vec())
            }
            (Inner::Ed25519(key), SignatureScheme::Ed25519) => {
                Ok(key.sign(message).as_ref().to_vec())
            }
            _ => Err(KeyError::WrongKeyType {
                operation: "sign with this scheme",
                algorithm: self.algorithm(),
            }),
        }
    }

    fn rsa_decrypt(
        &self,
        padding: RsaPadding,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        const OP: &str = "RSA decryption";
        let Inner::Rsa { decrypting, .. } = &self.inner else {
            return Err(KeyError::WrongKeyType {
                operation: "decrypt RSA key transport",
                algorithm: self.algorithm(),
            });
        };
        let mut out = Zeroizing::new(vec![0; decrypting.key_size_bytes()]);
        let len = match padding {
            RsaPadding::Pkcs1v15 => Pkcs1PrivateDecryptingKey::new(decrypting.clone())
                .map_err(failed(OP))?
                .decrypt(ciphertext, &mut out)
                .map_err(failed(OP))?
                .len(),
            RsaPadding::Oaep(hash) => {
                let algorithm = match hash {
                    Hash::Sha1 => &rsa::OAEP_SHA1_MGF1SHA1,
                    Hash::Sha256 => &rsa::OAEP_SHA256_MGF1SHA256,
                    Hash::Sha384 => &rsa::OAEP_SHA384_MGF1SHA384,
                    Hash::Sha512 => &rsa::OAEP_SHA512_MGF1SHA512,
                };
                OaepPrivateDecryptingKey::new(decrypting.clone())
                    .map_err(failed(OP))?
                    .decrypt(algorithm, ciphertext, &mut out, None)
                    .map_err(failed(OP))?
                    .len()
            }
        };
        out.truncate(len);
        Ok(out)
    }

    fn ecdh(&self, peer_public_key: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        const OP: &str = "key agreement";
        let (key, algorithm) = match &self.inner {
            Inner::Ec {
                agreement,
                algorithm: KeyAlgorithm::EcP256,
                ..
            } => (agreement, &agreement::ECDH_P256),
            Inner::Ec { agreement, .. } => (agreement, &agreement::ECDH_P384),
            Inner::X25519(key) => (key, &agreement::X25519),
            _ => {
                return Err(KeyError::WrongKeyType {
                    operation: "agree on a key",
                    algorithm: self.algorithm(),
                });
            }
        };
        agreement::agree(
            key,
            UnparsedPublicKey::new(algorithm, peer_public_key),
            KeyError::Failed { operation: OP },
            |secret| Ok(Zeroizing::new(secret.to_vec())),
        )
    }
}
