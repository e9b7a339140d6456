//! Algorithm identifiers of S/MIME (RFC 8551 §2, RFC 5754, RFC 4056, RFC 5758, RFC 8419) and
//! their meaning for the engine: which OID is which digest or signature scheme, in one place.

use crate::keys::backend::{Hash, KeyAlgorithm, SignatureScheme};
use aws_lc_rs::digest;
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5912, rfc8410};
use der::asn1::Any;
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;

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
    let salt_len: u8 = match hash {
        Hash::Sha1 => 20,
        Hash::Sha256 => 32,
        Hash::Sha384 => 48,
        Hash::Sha512 => 64,
    };
    #[derive(der::Sequence)]
    struct PssParams {
        #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
        hash: AlgorithmIdentifierOwned,
        #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
        mgf: AlgorithmIdentifierOwned,
        #[asn1(context_specific = "2", tag_mode = "EXPLICIT")]
        salt_length: u8,
    }
    let der = PssParams {
        hash: hash_id,
        mgf,
        salt_length: salt_len,
    }
    .to_der()
    .expect("PSS parameters encode");
    Any::from_der(&der).expect("just encoded")
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
        o if o == rfc5912::ID_RSASSA_PSS => {
            SignatureScheme::RsaPss(pss_hash(signature).unwrap_or(hash))
        }
        o if o == rfc5912::ECDSA_WITH_SHA_256 => SignatureScheme::Ecdsa(Hash::Sha256),
        o if o == rfc5912::ECDSA_WITH_SHA_384 => SignatureScheme::Ecdsa(Hash::Sha384),
        o if o == rfc5912::ECDSA_WITH_SHA_512 => SignatureScheme::Ecdsa(Hash::Sha512),
        // Some signers name only the key type for ECDSA too; the digest algorithm says the hash.
        o if o == rfc5912::ID_EC_PUBLIC_KEY => SignatureScheme::Ecdsa(hash),
        o if o == rfc8410::ID_ED_25519 => SignatureScheme::Ed25519,
        _ => return None,
    })
}

/// The hash inside RSASSA-PSS parameters (default SHA-1 per RFC 4055 when absent).
fn pss_hash(signature: &AlgorithmIdentifierOwned) -> Option<Hash> {
    #[derive(der::Sequence)]
    struct PssHashOnly {
        #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
        hash: Option<AlgorithmIdentifierOwned>,
        #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
        mgf: Option<AlgorithmIdentifierOwned>,
        #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
        salt_length: Option<u32>,
        #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
        trailer_field: Option<u32>,
    }
    let params = signature.parameters.as_ref()?.to_der().ok()?;
    let parsed = PssHashOnly::from_der(&params).ok()?;
    match parsed.hash {
        Some(hash) => Hash::from_oid(hash.oid),
        None => Some(Hash::Sha1),
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
}
