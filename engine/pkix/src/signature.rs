//! Checking one signature value against a public key with aws-lc-rs, for SignerInfos (RFC 5652
//! §5.6) and certificates (RFC 5280 §6.1.3) alike, and judging whether the algorithms and key
//! are strong enough (RFC 8551 §2.2 and §2.1).

use crate::algorithms::{Hash, SignatureScheme};
use crate::algorithms::{PssParams, oid_name, signature_scheme};
use crate::describe::{named_curve, rsa_modulus_bits};
use aws_lc_rs::signature::{self as sig, RsaPssSaltLength, VerificationAlgorithm};
use const_oid::db::{rfc5912, rfc8410};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::fmt;

/// What a public key is, as far as choosing a verification algorithm and judging its strength
/// needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with a modulus of `bits`.
    Rsa {
        /// Modulus length.
        bits: usize,
    },
    /// ECDSA on a NIST curve.
    Ec(Curve),
    /// Ed25519 (RFC 8410).
    Ed25519,
}

/// The NIST curves aws-lc-rs verifies on (RFC 5480 §2.1.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// secp256r1.
    P256,
    /// secp384r1.
    P384,
    /// secp521r1.
    P521,
}

impl KeyKind {
    /// Reads the key type (and RSA size or curve) from a SubjectPublicKeyInfo.
    pub fn of(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, SignatureError> {
        let oid = spki.algorithm.oid;
        if oid == rfc5912::RSA_ENCRYPTION || oid == rfc5912::ID_RSASSA_PSS {
            let bits = key_bytes(spki)
                .and_then(|der| rsa_modulus_bits(der).ok())
                .ok_or(SignatureError::BadKey)?;
            return Ok(Self::Rsa { bits });
        }
        if oid == rfc5912::ID_EC_PUBLIC_KEY {
            return match named_curve(spki) {
                Some(c) if c == rfc5912::SECP_256_R_1 => Ok(Self::Ec(Curve::P256)),
                Some(c) if c == rfc5912::SECP_384_R_1 => Ok(Self::Ec(Curve::P384)),
                Some(c) if c == rfc5912::SECP_521_R_1 => Ok(Self::Ec(Curve::P521)),
                Some(c) => Err(SignatureError::UnsupportedKey(oid_name(c))),
                None => Err(SignatureError::BadKey),
            };
        }
        if oid == rfc8410::ID_ED_25519 {
            return Ok(Self::Ed25519);
        }
        Err(SignatureError::UnsupportedKey(oid_name(oid)))
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "RSA-{bits}"),
            Self::Ec(Curve::P256) => f.write_str("P-256"),
            Self::Ec(Curve::P384) => f.write_str("P-384"),
            Self::Ec(Curve::P521) => f.write_str("P-521"),
            Self::Ed25519 => f.write_str("Ed25519"),
        }
    }
}

/// Why a signature could not be checked or did not verify; the text goes into reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The algorithm identifier names nothing we verify.
    #[error("unsupported signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// The public key is of a type or curve we do not verify with.
    #[error("unsupported public key type {0}")]
    UnsupportedKey(String),
    /// The public key's encoding is broken.
    #[error("the public key is malformed")]
    BadKey,
    /// The algorithm does not fit the key (e.g. ECDSA with an RSA key).
    #[error("a {key} key cannot make {algorithm} signatures")]
    KeyMismatch {
        /// The key.
        key: KeyKind,
        /// The algorithm named.
        algorithm: String,
    },
    /// The mathematics said no.
    #[error("the signature value does not verify with the {0} key")]
    Invalid(KeyKind),
}

/// A signature algorithm as a SignerInfo or certificate names it, ready to verify with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithm {
    scheme: SignatureScheme,
    /// RSASSA-PSS salt length from the parameters (RFC 4055 §3.1).
    pss_salt: u16,
}

impl Algorithm {
    /// The algorithm of a SignerInfo: its digestAlgorithm says the hash when the
    /// signatureAlgorithm names only the key type (`rsaEncryption`, RFC 3370 §3.2).
    pub fn for_signer(
        digest: &AlgorithmIdentifierOwned,
        signature: &AlgorithmIdentifierOwned,
    ) -> Result<Self, SignatureError> {
        let scheme = signature_scheme(digest, signature)
            .ok_or_else(|| SignatureError::UnsupportedAlgorithm(oid_name(signature.oid)))?;
        Self::with_pss_parameters(scheme, signature)
    }

    /// The algorithm of a certificate's signature, which always names its hash itself
    /// (RFC 5754 §3, RFC 5758 §3.2, RFC 4055 §3); bare key types are refused there.
    pub fn for_certificate(signature: &AlgorithmIdentifierOwned) -> Result<Self, SignatureError> {
        let unsupported = || SignatureError::UnsupportedAlgorithm(oid_name(signature.oid));
        if signature.oid == rfc5912::RSA_ENCRYPTION || signature.oid == rfc5912::ID_EC_PUBLIC_KEY {
            return Err(unsupported());
        }
        // The digest argument only serves identifiers that name a key type, refused above.
        let scheme = signature_scheme(&Hash::Sha256.algorithm_identifier(), signature)
            .ok_or_else(unsupported)?;
        Self::with_pss_parameters(scheme, signature)
    }

    fn with_pss_parameters(
        scheme: SignatureScheme,
        signature: &AlgorithmIdentifierOwned,
    ) -> Result<Self, SignatureError> {
        let SignatureScheme::RsaPss(hash) = scheme else {
            return Ok(Self {
                scheme,
                pss_salt: 0,
            });
        };
        let pss_salt = pss_salt(hash, signature)
            .ok_or_else(|| SignatureError::UnsupportedAlgorithm("RSASSA-PSS parameters".into()))?;
        Ok(Self { scheme, pss_salt })
    }

    /// The hash the signature itself uses (none for pure Ed25519).
    pub fn hash(&self) -> Option<Hash> {
        match self.scheme {
            SignatureScheme::RsaPkcs1(h)
            | SignatureScheme::RsaPss(h)
            | SignatureScheme::Ecdsa(h) => Some(h),
            SignatureScheme::Ed25519 => None,
        }
    }

    /// A name for reports, with the key: "RSA-2048/SHA-256", "RSA-PSS-3072/SHA-384",
    /// "ECDSA P-256/SHA-256", "Ed25519".
    pub fn describe(&self, key: KeyKind) -> String {
        let hash = self.hash().map(hash_name).unwrap_or_default();
        match (self.scheme, key) {
            (SignatureScheme::RsaPss(_), KeyKind::Rsa { bits }) => format!("RSA-PSS-{bits}/{hash}"),
            (SignatureScheme::Ecdsa(_), key) => format!("ECDSA {key}/{hash}"),
            (SignatureScheme::Ed25519, key) => key.to_string(),
            (_, key) => format!("{key}/{hash}"),
        }
    }

    /// Checks `signature` over `message` with the key in `spki`; returns the key's kind.
    pub fn verify(
        &self,
        spki: &SubjectPublicKeyInfoOwned,
        message: &[u8],
        signature: &[u8],
    ) -> Result<KeyKind, SignatureError> {
        self.verify_covered(spki, Covered::Message(message), signature)
    }

    /// Checks `signature` over what it covers, given whole or as its digest by this
    /// algorithm's hash; returns the key's kind.
    pub fn verify_covered(
        &self,
        spki: &SubjectPublicKeyInfoOwned,
        covered: Covered<'_>,
        signature: &[u8],
    ) -> Result<KeyKind, SignatureError> {
        let key = KeyKind::of(spki)?;
        let bytes = key_bytes(spki).ok_or(SignatureError::BadKey)?;
        let mismatch = || SignatureError::KeyMismatch {
            key,
            algorithm: self.describe(key),
        };
        let unsupported = || SignatureError::UnsupportedAlgorithm(self.describe(key));
        let pss = |params: sig::RsaParameters| {
            params.with_pss_salt_length(RsaPssSaltLength::Custom(self.pss_salt))
        };
        let rsa_pss;
        let algorithm: &dyn VerificationAlgorithm = match (self.scheme, key) {
            (SignatureScheme::RsaPkcs1(hash), KeyKind::Rsa { .. }) => match hash {
                Hash::Sha1 => &sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                Hash::Sha256 => &sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                Hash::Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                Hash::Sha512 => &sig::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
            },
            (SignatureScheme::RsaPss(hash), KeyKind::Rsa { .. }) => {
                rsa_pss = match hash {
                    Hash::Sha1 => return Err(unsupported()),
                    Hash::Sha256 => pss(sig::RSA_PSS_2048_8192_SHA256),
                    Hash::Sha384 => pss(sig::RSA_PSS_2048_8192_SHA384),
                    Hash::Sha512 => pss(sig::RSA_PSS_2048_8192_SHA512),
                };
                &rsa_pss
            }
            (SignatureScheme::Ecdsa(hash), KeyKind::Ec(curve)) => match (curve, hash) {
                (Curve::P256, Hash::Sha1) => &sig::ECDSA_P256_SHA1_ASN1,
                (Curve::P256, Hash::Sha256) => &sig::ECDSA_P256_SHA256_ASN1,
                (Curve::P256, Hash::Sha384) => &sig::ECDSA_P256_SHA384_ASN1,
                (Curve::P256, Hash::Sha512) => &sig::ECDSA_P256_SHA512_ASN1,
                (Curve::P384, Hash::Sha1) => return Err(unsupported()),
                (Curve::P384, Hash::Sha256) => &sig::ECDSA_P384_SHA256_ASN1,
                (Curve::P384, Hash::Sha384) => &sig::ECDSA_P384_SHA384_ASN1,
                (Curve::P384, Hash::Sha512) => &sig::ECDSA_P384_SHA512_ASN1,
                (Curve::P521, Hash::Sha1) => &sig::ECDSA_P521_SHA1_ASN1,
                (Curve::P521, Hash::Sha256) => &sig::ECDSA_P521_SHA256_ASN1,
                (Curve::P521, Hash::Sha384) => &sig::ECDSA_P521_SHA384_ASN1,
                (Curve::P521, Hash::Sha512) => &sig::ECDSA_P521_SHA512_ASN1,
            },
            (SignatureScheme::Ed25519, KeyKind::Ed25519) => &sig::ED25519,
            _ => return Err(mismatch()),
        };
        let verified = match covered {
            Covered::Message(message) => algorithm.verify_sig(bytes, message, signature),
            Covered::Digest(digest) => {
                // Pure Ed25519 has no hash to take a digest by.
                let hash = self.hash().ok_or_else(unsupported)?;
                let digest = aws_lc_rs::digest::Digest::import_less_safe(digest, hash.aws())
                    .map_err(|_| SignatureError::Invalid(key))?;
                algorithm.verify_digest_sig(bytes, &digest, signature)
            }
        };
        verified.map_err(|_| SignatureError::Invalid(key))?;
        Ok(key)
    }
}

/// What a signature is checked over: the signed bytes, or their digest by the signature
/// algorithm's hash when the bytes streamed past (a large message's content).
#[derive(Debug, Clone, Copy)]
pub enum Covered<'a> {
    /// The bytes themselves.
    Message(&'a [u8]),
    /// Their digest.
    Digest(&'a [u8]),
}

/// What makes an algorithm choice weak by RFC 8551 §2.1–2.2 and RFC 8550 §4.3: SHA-1 anywhere,
/// RSA under 2048 bits. Empty when nothing is.
pub fn weaknesses(hashes: &[Hash], key: Option<KeyKind>) -> Vec<String> {
    let mut weak = Vec::new();
    if hashes.contains(&Hash::Sha1) {
        weak.push("SHA-1".to_owned());
    }
    if let Some(KeyKind::Rsa { bits }) = key
        && bits < 2048
    {
        weak.push(format!("RSA-{bits} key"));
    }
    weak
}

/// "SHA-256" for reports.
pub fn hash_name(hash: Hash) -> String {
    hash.micalg().to_ascii_uppercase()
}

/// The key as aws-lc-rs takes it: PKCS#1 RSAPublicKey, SEC1 point or raw Ed25519 key, which is
/// what the subjectPublicKey BIT STRING holds.
fn key_bytes(spki: &SubjectPublicKeyInfoOwned) -> Option<&[u8]> {
    spki.subject_public_key.as_bytes()
}

/// The salt length of RSASSA-PSS parameters (RFC 4055 §3.1), when they describe what aws-lc-rs
/// verifies: the given hash, MGF1 with that same hash, trailer field 1.
fn pss_salt(hash: Hash, signature: &AlgorithmIdentifierOwned) -> Option<u16> {
    let params = PssParams::of(signature)?;
    let ok =
        params.hash == Some(hash) && params.mgf1_hash == Some(hash) && params.trailer_field == 1;
    ok.then(|| u16::try_from(params.salt_length).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use const_oid::ObjectIdentifier;

    #[test]
    fn weak_choices_are_named() {
        assert!(weaknesses(&[Hash::Sha256], Some(KeyKind::Rsa { bits: 2048 })).is_empty());
        assert_eq!(
            weaknesses(
                &[Hash::Sha1, Hash::Sha256],
                Some(KeyKind::Rsa { bits: 1024 })
            ),
            ["SHA-1", "RSA-1024 key"]
        );
        assert!(weaknesses(&[], Some(KeyKind::Ed25519)).is_empty());
    }

    #[test]
    fn unknown_algorithms_are_refused() {
        let bogus = AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.2.3.4"),
            parameters: None,
        };
        assert_eq!(
            Algorithm::for_signer(&Hash::Sha256.algorithm_identifier(), &bogus),
            Err(SignatureError::UnsupportedAlgorithm("1.2.3.4".into()))
        );
        let rsa = AlgorithmIdentifierOwned {
            oid: rfc5912::RSA_ENCRYPTION,
            parameters: None,
        };
        assert!(Algorithm::for_certificate(&rsa).is_err());
    }

    #[test]
    fn pss_parameters_must_use_one_hash() {
        let scheme = crate::algorithms::signature_algorithm_identifier(SignatureScheme::RsaPss(
            Hash::Sha384,
        ));
        let algorithm = Algorithm::for_signer(&Hash::Sha384.algorithm_identifier(), &scheme);
        assert_eq!(algorithm.unwrap().pss_salt, 48);
        assert_eq!(pss_salt(Hash::Sha256, &scheme), None);
    }
}
