//! Algorithm identifiers of S/MIME (RFC 8551 §2, RFC 5754, RFC 4056, RFC 5758, RFC 8419) and
//! their meaning for the engine: which OID is which digest or signature scheme, in one place.

use aws_lc_rs::digest;
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5912, rfc8410};
use der::asn1::Any;
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;

/// A key's type and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA with a modulus of `bits`.
    Rsa {
        /// Modulus length.
        bits: usize,
    },
    /// ECDSA/ECDH on NIST P-256.
    EcP256,
    /// ECDSA/ECDH on NIST P-384.
    EcP384,
    /// EdDSA on Curve25519 (RFC 8419); signs only.
    Ed25519,
    /// ECDH on Curve25519 (RFC 8418); decrypts only.
    X25519,
}

/// A hash function used in a signature or key-transport scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hash {
    /// SHA-1: only ever accepted when reading old mail.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// How a signature is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2) with the hash.
    RsaPkcs1(Hash),
    /// RSASSA-PSS (RFC 4056) with the hash, MGF1 with the same hash, salt of the hash's length.
    RsaPss(Hash),
    /// ECDSA with the hash (RFC 5753), the signature DER-encoded.
    Ecdsa(Hash),
    /// Ed25519 (RFC 8419), pure mode.
    Ed25519,
}

impl Hash {
    /// The digest algorithm's OID (RFC 5754 §2).
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha1 => rfc5912::ID_SHA_1,
            Self::Sha256 => rfc5912::ID_SHA_256,
            Self::Sha384 => rfc5912::ID_SHA_384,
            Self::Sha512 => rfc5912::ID_SHA_512,
        }
    }

    /// The hash an OID names, if it is one we know.
    pub fn from_oid(oid: ObjectIdentifier) -> Option<Self> {
        [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|h| h.oid() == oid)
    }

    /// The name used in `micalg` (RFC 8551 §3.5.3.2).
    pub fn micalg(self) -> &'static str {
        match self {
            Self::Sha1 => "sha-1",
            Self::Sha256 => "sha-256",
            Self::Sha384 => "sha-384",
            Self::Sha512 => "sha-512",
        }
    }

    /// The aws-lc-rs algorithm.
    pub fn aws(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }

    /// Hashes `data` in one go.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.aws(), data).as_ref().to_vec()
    }

    /// The digest AlgorithmIdentifier as SignedData carries it: no parameters, as RFC 5754
    /// §2 says implementations should send.
    pub fn algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: None,
        }
    }
}

/// The signature scheme and hash we use by default for a key: SHA-256 for RSA and P-256,
/// SHA-384 for P-384 (RFC 8551 §2.1, RFC 5753), pure Ed25519 (RFC 8419). RSA uses PKCS#1
/// v1.5, which every client verifies; RSA-PSS on request.
pub fn default_scheme(key: KeyAlgorithm) -> Option<(SignatureScheme, Hash)> {
    match key {
        KeyAlgorithm::Rsa { .. } => Some((SignatureScheme::RsaPkcs1(Hash::Sha256), Hash::Sha256)),
        KeyAlgorithm::EcP256 => Some((SignatureScheme::Ecdsa(Hash::Sha256), Hash::Sha256)),
        KeyAlgorithm::EcP384 => Some((SignatureScheme::Ecdsa(Hash::Sha384), Hash::Sha384)),
        KeyAlgorithm::Ed25519 => Some((SignatureScheme::Ed25519, Hash::Sha512)),
        KeyAlgorithm::X25519 => None,
    }
}

/// The signatureAlgorithm identifier of a SignerInfo made with `scheme`.
///
/// RSA PKCS#1 v1.5 is identified as `rsaEncryption` with NULL parameters, as OpenSSL, gpgsm,
/// Outlook and Thunderbird send it (RFC 3370 §3.2 allows it); RSA-PSS carries its parameters
/// (RFC 4056 §3); ECDSA and Ed25519 have none (RFC 5758 §3.2, RFC 8419 §2.3).
pub fn signature_algorithm_identifier(scheme: SignatureScheme) -> AlgorithmIdentifierOwned {
    let (oid, parameters) = match scheme {
        SignatureScheme::RsaPkcs1(_) => (rfc5912::RSA_ENCRYPTION, Some(Any::null())),
        SignatureScheme::RsaPss(hash) => (rfc5912::ID_RSASSA_PSS, Some(pss_parameters(hash))),
        SignatureScheme::Ecdsa(Hash::Sha384) => (rfc5912::ECDSA_WITH_SHA_384, None),
        SignatureScheme::Ecdsa(Hash::Sha512) => (rfc5912::ECDSA_WITH_SHA_512, None),
        SignatureScheme::Ecdsa(_) => (rfc5912::ECDSA_WITH_SHA_256, None),
        SignatureScheme::Ed25519 => (rfc8410::ID_ED_25519, None),
    };
    AlgorithmIdentifierOwned { oid, parameters }
}

/// RSASSA-PSS-params (RFC 4055 §3.1) for `hash`: MGF1 with the same hash, salt of its length.
fn pss_parameters(hash: Hash) -> Any {
    let hash_id = hash.algorithm_identifier();
    let mgf = AlgorithmIdentifierOwned {
        oid: rfc5912::ID_MGF_1,
        parameters: Some(Any::encode_from(&hash_id).expect("algorithm identifiers encode")),
    };
    let salt_length = match hash {
        Hash::Sha1 => 20,
        Hash::Sha256 => 32,
        Hash::Sha384 => 48,
        Hash::Sha512 => 64,
    };
    let der = RsassaPssParams {
        hash: Some(hash_id),
        mgf: Some(mgf),
        salt_length: Some(salt_length),
        trailer_field: None,
    }
    .to_der()
    .expect("PSS parameters encode");
    Any::from_der(&der).expect("just encoded")
}

/// RSASSA-PSS-params as encoded (RFC 4055 §3.1); absent fields take the defaults.
///
/// ```text
/// RSASSA-PSS-params  ::=  SEQUENCE  {
///     hashAlgorithm      [0] HashAlgorithm DEFAULT sha1Identifier,
///     maskGenAlgorithm   [1] MaskGenAlgorithm DEFAULT mgf1SHA1Identifier,
///     saltLength         [2] INTEGER DEFAULT 20,
///     trailerField       [3] INTEGER DEFAULT 1  }
/// ```
#[derive(der::Sequence)]
struct RsassaPssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mgf: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_length: Option<u32>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    trailer_field: Option<u32>,
}

/// What the RSASSA-PSS parameters of a signature algorithm identifier say, defaults applied
/// (RFC 4055 §3.1): choosing the scheme needs only the hash, checking a signature all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PssParams {
    /// The message hash; `None` when it is one we do not know.
    pub hash: Option<Hash>,
    /// The hash of MGF1; `None` when the mask generation function is not MGF1 with a hash we
    /// know.
    pub mgf1_hash: Option<Hash>,
    /// The salt length in bytes.
    pub salt_length: u32,
    /// The trailer field; 1 is the only one defined (0xBC).
    pub trailer_field: u32,
}

impl PssParams {
    /// Reads the parameters of an `id-RSASSA-PSS` identifier; `None` when they are absent or
    /// do not decode.
    pub fn of(signature: &AlgorithmIdentifierOwned) -> Option<Self> {
        let der = signature.parameters.as_ref()?.to_der().ok()?;
        let params = RsassaPssParams::from_der(&der).ok()?;
        let hash_of = |id: &AlgorithmIdentifierOwned| Hash::from_oid(id.oid);
        let mgf1_hash = match &params.mgf {
            None => Some(Hash::Sha1),
            Some(mgf) if mgf.oid == rfc5912::ID_MGF_1 => mgf
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<AlgorithmIdentifierOwned>().ok())
                .and_then(|inner| hash_of(&inner)),
            Some(_) => None,
        };
        Some(Self {
            hash: params.hash.as_ref().map_or(Some(Hash::Sha1), hash_of),
            mgf1_hash,
            salt_length: params.salt_length.unwrap_or(20),
            trailer_field: params.trailer_field.unwrap_or(1),
        })
    }
}

/// What a SignerInfo's algorithms say about how to check its signature.
///
/// `digest` is the SignerInfo's digestAlgorithm; `signature` its signatureAlgorithm, which may
/// name only the key type (`rsaEncryption`) or the full scheme (`sha256WithRSAEncryption`,
/// `ecdsa-with-SHA384`, `id-RSASSA-PSS` with parameters). Returns `None` for anything else.
pub fn signature_scheme(
    digest: &AlgorithmIdentifierOwned,
    signature: &AlgorithmIdentifierOwned,
) -> Option<SignatureScheme> {
    let hash = Hash::from_oid(digest.oid)?;
    let oid = signature.oid;
    Some(match oid {
        o if o == rfc5912::RSA_ENCRYPTION => SignatureScheme::RsaPkcs1(hash),
        o if o == rfc5912::SHA_1_WITH_RSA_ENCRYPTION => SignatureScheme::RsaPkcs1(Hash::Sha1),
        o if o == rfc5912::SHA_256_WITH_RSA_ENCRYPTION => SignatureScheme::RsaPkcs1(Hash::Sha256),
        o if o == rfc5912::SHA_384_WITH_RSA_ENCRYPTION => SignatureScheme::RsaPkcs1(Hash::Sha384),
        o if o == rfc5912::SHA_512_WITH_RSA_ENCRYPTION => SignatureScheme::RsaPkcs1(Hash::Sha512),
        o if o == rfc5912::ID_RSASSA_PSS => SignatureScheme::RsaPss(
            PssParams::of(signature)
                .and_then(|params| params.hash)
                .unwrap_or(hash),
        ),
        o if o == rfc5912::ECDSA_WITH_SHA_256 => SignatureScheme::Ecdsa(Hash::Sha256),
        o if o == rfc5912::ECDSA_WITH_SHA_384 => SignatureScheme::Ecdsa(Hash::Sha384),
        o if o == rfc5912::ECDSA_WITH_SHA_512 => SignatureScheme::Ecdsa(Hash::Sha512),
        // Some signers name only the key type for ECDSA too; the digest algorithm says the hash.
        o if o == rfc5912::ID_EC_PUBLIC_KEY => SignatureScheme::Ecdsa(hash),
        o if o == rfc8410::ID_ED_25519 => SignatureScheme::Ed25519,
        _ => return None,
    })
}

/// An OID for people: dotted, with its registered name when `const-oid` knows it, as in
/// "1.2.840.113549.1.7.3 (id-envelopedData)"; for reports and error messages.
pub fn oid_name(oid: ObjectIdentifier) -> String {
    match const_oid::db::DB.by_oid(&oid) {
        Some(name) => format!("{oid} ({name})"),
        None => oid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_round_trip_through_their_identifiers() {
        for (scheme, hash) in [
            (SignatureScheme::RsaPkcs1(Hash::Sha256), Hash::Sha256),
            (SignatureScheme::RsaPss(Hash::Sha384), Hash::Sha384),
            (SignatureScheme::Ecdsa(Hash::Sha384), Hash::Sha384),
            (SignatureScheme::Ed25519, Hash::Sha512),
        ] {
            let id = signature_algorithm_identifier(scheme);
            assert_eq!(
                signature_scheme(&hash.algorithm_identifier(), &id),
                Some(scheme)
            );
        }
        assert_eq!(Hash::from_oid(Hash::Sha512.oid()), Some(Hash::Sha512));
        assert_eq!(Hash::Sha256.digest(b"abc").len(), 32);
    }

    #[test]
    fn pss_parameters_encode_and_read_back() {
        let id = signature_algorithm_identifier(SignatureScheme::RsaPss(Hash::Sha256));
        assert_eq!(
            hex::encode(id.to_der().unwrap()),
            "303d06092a864886f70d01010a3030a00d300b0609608648016503040201a11a301806092a864886f7\
             0d010108300b0609608648016503040201a203020120"
        );
        assert_eq!(
            PssParams::of(&id),
            Some(PssParams {
                hash: Some(Hash::Sha256),
                mgf1_hash: Some(Hash::Sha256),
                salt_length: 32,
                trailer_field: 1,
            })
        );
        // Empty parameters mean every default: SHA-1, MGF1 with SHA-1, 20 bytes of salt.
        let defaults = AlgorithmIdentifierOwned {
            oid: rfc5912::ID_RSASSA_PSS,
            parameters: Some(Any::from_der(&[0x30, 0x00]).unwrap()),
        };
        assert_eq!(
            PssParams::of(&defaults),
            Some(PssParams {
                hash: Some(Hash::Sha1),
                mgf1_hash: Some(Hash::Sha1),
                salt_length: 20,
                trailer_field: 1,
            })
        );
        // Without parameters the digest algorithm names the hash.
        let bare = AlgorithmIdentifierOwned {
            oid: rfc5912::ID_RSASSA_PSS,
            parameters: None,
        };
        assert_eq!(PssParams::of(&bare), None);
        assert_eq!(
            signature_scheme(&Hash::Sha512.algorithm_identifier(), &bare),
            Some(SignatureScheme::RsaPss(Hash::Sha512))
        );
    }

    #[test]
    fn oid_names_carry_the_registered_name() {
        assert_eq!(
            oid_name(rfc5912::ID_SHA_256),
            "2.16.840.1.101.3.4.2.1 (id-sha256)"
        );
        assert_eq!(oid_name(ObjectIdentifier::new_unwrap("1.2.3.4")), "1.2.3.4");
    }
}
