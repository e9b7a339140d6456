//! The public half of a PKCS#8 private key, in the form a certificate's `subjectPublicKey`
//! carries it. It is found by loading the key into aws-lc-rs, which also checks that the key
//! is sound, so a corrupt key is refused here and not at the first signature.

use super::{Pkcs12Error, PrivateKeyDer, malformed, undecodable, unsupported};
use aws_lc_rs::agreement;
use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::rsa;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use const_oid::db::{rfc5912, rfc8410};
use der::Decode;
use der::asn1::{ObjectIdentifier, OctetStringRef};
use pkcs8::PrivateKeyInfoRef;

/// The public key of `key`: RSAPublicKey DER for RSA, the uncompressed point for ECDSA, the raw
/// 32 bytes for Ed25519 and X25519. Other key types are [`Pkcs12Error::UnsupportedAlgorithm`].
pub(super) fn public_key(key: &PrivateKeyDer) -> Result<Vec<u8>, Pkcs12Error> {
    let der = key.as_bytes();
    let info = PrivateKeyInfoRef::from_der(der).map_err(undecodable("private key"))?;
    let public = match info.algorithm.oid {
        rfc5912::RSA_ENCRYPTION => rsa::KeyPair::from_pkcs8(der)
            .map_err(rejected)?
            .public_key()
            .as_ref()
            .to_vec(),
        rfc5912::ID_EC_PUBLIC_KEY => {
            let curve: ObjectIdentifier = info
                .algorithm
                .parameters
                .ok_or(malformed("EC key curve"))?
                .decode_as()
                .map_err(undecodable("EC key curve"))?;
            let algorithm = match curve {
                rfc5912::SECP_256_R_1 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                rfc5912::SECP_384_R_1 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                rfc5912::SECP_521_R_1 => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
                oid => return Err(unsupported(oid, "elliptic curve")),
            };
            EcdsaKeyPair::from_pkcs8(algorithm, der)
                .map_err(rejected)?
                .public_key()
                .as_ref()
                .to_vec()
        }
        rfc8410::ID_ED_25519 => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(rejected)?
            .public_key()
            .as_ref()
            .to_vec(),
        rfc8410::ID_X_25519 => x25519_public_key(&info)?,
        oid => return Err(unsupported(oid, "private key type")),
    };
    Ok(public)
}

/// aws-lc-rs has no PKCS#8 reader for X25519 agreement keys: take the raw scalar out of the
/// `CurvePrivateKey` (RFC 8410 §7) and compute the public key from it.
fn x25519_public_key(info: &PrivateKeyInfoRef<'_>) -> Result<Vec<u8>, Pkcs12Error> {
    let scalar = <&OctetStringRef>::from_der(info.private_key.as_bytes())
        .map_err(undecodable("X25519 private key"))?;
    let private = agreement::PrivateKey::from_private_key(&agreement::X25519, scalar.as_bytes())
        .map_err(rejected)?;
    let public = private
        .compute_public_key()
        .map_err(|_| Pkcs12Error::InvalidPrivateKey {
            reason: "X25519 public key computation failed",
        })?
        .as_ref()
        .to_vec();
    // A OneAsymmetricKey (RFC 5958) may state the public key as well: it must be this one.
    match info.public_key {
        Some(stated) if stated.raw_bytes() != public.as_slice() => {
            Err(Pkcs12Error::InvalidPrivateKey {
                reason: "InconsistentComponents",
            })
        }
        _ => Ok(public),
    }
}

/// aws-lc-rs's reason (a fixed word such as `InvalidEncoding`, never key material).
fn rejected(error: KeyRejected) -> Pkcs12Error {
    Pkcs12Error::InvalidPrivateKey {
        reason: error.description_(),
    }
}
