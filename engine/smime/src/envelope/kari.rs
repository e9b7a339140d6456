//! Key agreement with EC and X25519 keys (RFC 5652 §6.2.2): ephemeral-static ECDH (RFC 5753
//! §3.1, RFC 8418 §3), a KDF over the shared secret, and AES key wrap (RFC 3394) of the
//! content-encryption key.

use super::{EnvelopeError, recipients};
use aws_lc_rs::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey};
use aws_lc_rs::digest;
use aws_lc_rs::hkdf;
use aws_lc_rs::key_wrap::{self, AesKek, KeyWrap as _};
use aws_lc_rs::rand::SystemRandom;
use cms::content_info::CmsVersion;
use cms::enveloped_data::{
    KeyAgreeRecipientIdentifier, KeyAgreeRecipientInfo, OriginatorIdentifierOrKey,
    OriginatorPublicKey, RecipientEncryptedKey, RecipientInfo,
};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5753, rfc5911, rfc5912, rfc8410};
use der::asn1::{Any, BitString, OctetString};
use der::{Encode, Sequence};
use mailseal_keys::backend::{Hash, KeyError, PrivateKeyOps};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use zeroize::Zeroizing;

/// The input to the KDF besides the shared secret (RFC 5753 §7.2), also used by RFC 8418 §2.
///
/// ```text
/// ECC-CMS-SharedInfo ::= SEQUENCE {
///     keyInfo         AlgorithmIdentifier,
///     entityUInfo [0] EXPLICIT OCTET STRING OPTIONAL,
///     suppPubInfo [2] EXPLICIT OCTET STRING   }
/// ```
#[derive(Sequence)]
struct EccCmsSharedInfo {
    /// The key-wrap algorithm identifier, as keyEncryptionAlgorithm's parameters carry it.
    key_info: AlgorithmIdentifierOwned,
    /// The ukm, when the sender gave one.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    entity_u_info: Option<OctetString>,
    /// The key-encryption key's length in bits, 32-bit big-endian.
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT")]
    supp_pub_info: OctetString,
}

/// The curves we agree keys on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Curve {
    /// NIST P-256.
    P256,
    /// NIST P-384.
    P384,
    /// Curve25519 (RFC 7748).
    X25519,
}

impl Curve {
    /// The curve of a certificate's public key, if it is one of ours.
    pub(super) fn of(spki: &SubjectPublicKeyInfoOwned) -> Option<Self> {
        match spki.algorithm.oid {
            rfc5912::ID_EC_PUBLIC_KEY => {
                let named: ObjectIdentifier =
                    spki.algorithm.parameters.as_ref()?.decode_as().ok()?;
                match named {
                    rfc5912::SECP_256_R_1 => Some(Self::P256),
                    rfc5912::SECP_384_R_1 => Some(Self::P384),
                    _ => None,
                }
            }
            rfc8410::ID_X_25519 => Some(Self::X25519),
            _ => None,
        }
    }

    fn agreement(self) -> &'static agreement::Algorithm {
        match self {
            Self::P256 => &agreement::ECDH_P256,
            Self::P384 => &agreement::ECDH_P384,
            Self::X25519 => &agreement::X25519,
        }
    }

    /// The originator key's algorithm: `id-ecPublicKey` with the named curve (RFC 5480 §2.1.1),
    /// or `id-X25519` without parameters (RFC 8410 §3).
    fn public_key_algorithm(self) -> AlgorithmIdentifierOwned {
        let (oid, curve) = match self {
            Self::P256 => (rfc5912::ID_EC_PUBLIC_KEY, Some(rfc5912::SECP_256_R_1)),
            Self::P384 => (rfc5912::ID_EC_PUBLIC_KEY, Some(rfc5912::SECP_384_R_1)),
            Self::X25519 => (rfc8410::ID_X_25519, None),
        };
        AlgorithmIdentifierOwned {
            oid,
            parameters: curve.map(Any::from),
        }
    }

    /// The scheme we encrypt with: the X9.63 KDF with SHA-256, or SHA-384 for P-384 (RFC 5753
    /// §8, RFC 8418 §2.1), and AES-256 key wrap whatever the content cipher, since the KEK
    /// should be no weaker than the strongest content key.
    fn scheme(self) -> (Kdf, KeyWrap) {
        match self {
            Self::P256 | Self::X25519 => (Kdf::X963(Hash::Sha256), KeyWrap::Aes256),
            Self::P384 => (Kdf::X963(Hash::Sha384), KeyWrap::Aes256),
        }
    }
}

/// How the key-encryption key is derived from the shared secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kdf {
    /// ANSI X9.63 KDF (RFC 5753 §7.2, SEC 1 §3.6.1).
    X963(Hash),
    /// HKDF (RFC 5869, RFC 8418 §2.2): the shared secret as input keying material, no salt,
    /// the shared info (which carries the ukm, if any) as `info`.
    Hkdf(Hash),
}

/// `dhSinglePass-stdDH-hkdf-sha256-scheme` and its SHA-384/512 siblings (RFC 8418 §6), which
/// `const-oid` does not list.
const HKDF_SHA256_SCHEME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.3.19");
const HKDF_SHA384_SCHEME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.3.20");
const HKDF_SHA512_SCHEME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.3.21");

/// The key-agreement schemes (keyEncryptionAlgorithm), all standard Diffie-Hellman, which on
/// these prime-order curves is also what the cofactor schemes compute. The SHA-1 one is
/// OpenSSL's default, so mail from OpenSSL-based senders uses it; we only read it.
const SCHEMES: [(ObjectIdentifier, Kdf); 7] = [
    (
        rfc5753::DH_SINGLE_PASS_STD_DH_SHA_1_KDF_SCHEME,
        Kdf::X963(Hash::Sha1),
    ),
    (
        rfc5753::DH_SINGLE_PASS_STD_DH_SHA_256_KDF_SCHEME,
        Kdf::X963(Hash::Sha256),
    ),
    (
        rfc5753::DH_SINGLE_PASS_STD_DH_SHA_384_KDF_SCHEME,
        Kdf::X963(Hash::Sha384),
    ),
    (
        rfc5753::DH_SINGLE_PASS_STD_DH_SHA_512_KDF_SCHEME,
        Kdf::X963(Hash::Sha512),
    ),
    (HKDF_SHA256_SCHEME, Kdf::Hkdf(Hash::Sha256)),
    (HKDF_SHA384_SCHEME, Kdf::Hkdf(Hash::Sha384)),
    (HKDF_SHA512_SCHEME, Kdf::Hkdf(Hash::Sha512)),
];

impl Kdf {
    fn from_oid(oid: ObjectIdentifier) -> Option<Self> {
        SCHEMES.iter().find(|(o, _)| *o == oid).map(|(_, kdf)| *kdf)
    }

    fn oid(self) -> ObjectIdentifier {
        SCHEMES
            .iter()
            .find(|(_, kdf)| *kdf == self)
            .map(|(oid, _)| *oid)
            .expect("every KDF has a scheme OID")
    }

    /// `len` bytes derived from the shared secret `z` and the DER `shared_info`.
    fn derive(self, z: &[u8], shared_info: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
        match self {
            Self::X963(hash) => {
                let mut out = Zeroizing::new(Vec::with_capacity(len + 64));
                // K = Hash(Z || counter || SharedInfo) for counter = 1, 2, ... (32-bit BE).
                let mut counter = 1u32;
                while out.len() < len {
                    let mut context = digest::Context::new(hash.aws());
                    context.update(z);
                    context.update(&counter.to_be_bytes());
                    context.update(shared_info);
                    out.extend_from_slice(context.finish().as_ref());
                    counter += 1;
                }
                out.truncate(len);
                out
            }
            Self::Hkdf(hash) => {
                let algorithm = match hash {
                    Hash::Sha1 => hkdf::HKDF_SHA1_FOR_LEGACY_USE_ONLY,
                    Hash::Sha256 => hkdf::HKDF_SHA256,
                    Hash::Sha384 => hkdf::HKDF_SHA384,
                    Hash::Sha512 => hkdf::HKDF_SHA512,
                };
                struct Len(usize);
                impl hkdf::KeyType for Len {
                    fn len(&self) -> usize {
                        self.0
                    }
                }
                let mut out = Zeroizing::new(vec![0; len]);
                hkdf::Salt::new(algorithm, &[])
                    .extract(z)
                    .expand(&[shared_info], Len(len))
                    .and_then(|okm| okm.fill(&mut out))
                    .expect("a key-wrap key is far shorter than HKDF's limit");
                out
            }
        }
    }
}

/// AES key wrap (RFC 3394, RFC 3565 §2.3.2); aws-lc-rs has no AES-192 wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyWrap {
    Aes128,
    Aes256,
}

const KEY_WRAPS: [(ObjectIdentifier, KeyWrap); 2] = [
    (rfc5911::ID_AES_128_WRAP, KeyWrap::Aes128),
    (rfc5911::ID_AES_256_WRAP, KeyWrap::Aes256),
];

impl KeyWrap {
    fn from_oid(oid: ObjectIdentifier) -> Option<Self> {
        KEY_WRAPS.iter().find(|(o, _)| *o == oid).map(|(_, w)| *w)
    }

    /// The identifier, without parameters as RFC 3565 §2.3.2 requires.
    fn identifier(self) -> AlgorithmIdentifierOwned {
        let oid = KEY_WRAPS
            .iter()
            .find(|(_, w)| *w == self)
            .map(|(oid, _)| *oid)
            .expect("every key wrap has an OID");
        AlgorithmIdentifierOwned {
            oid,
            parameters: None,
        }
    }

    fn cipher(self) -> &'static key_wrap::AesBlockCipher {
        match self {
            Self::Aes128 => &key_wrap::AES_128,
            Self::Aes256 => &key_wrap::AES_256,
        }
    }

    fn kek_len(self) -> usize {
        use key_wrap::BlockCipher as _;
        self.cipher().key_len()
    }

    fn kek(self, kek: &[u8]) -> AesKek {
        AesKek::new(self.cipher(), kek).expect("the KDF yields a key of the wrap's length")
    }
}

/// The key-encryption key, as sender and recipient both derive it (RFC 5753 §3.1.1, §7.2).
fn derive_kek(
    kdf: Kdf,
    wrap_identifier: &AlgorithmIdentifierOwned,
    wrap: KeyWrap,
    ukm: Option<&OctetString>,
    z: &[u8],
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let bits = u32::try_from(wrap.kek_len() * 8).expect("a key length fits in 32 bits");
    let shared_info = EccCmsSharedInfo {
        key_info: wrap_identifier.clone(),
        entity_u_info: ukm.cloned(),
        supp_pub_info: OctetString::new(bits.to_be_bytes())
            .map_err(EnvelopeError::der("suppPubInfo"))?,
    }
    .to_der()
    .map_err(EnvelopeError::der("ECC-CMS-SharedInfo"))?;
    Ok(kdf.derive(z, &shared_info, wrap.kek_len()))
}

/// The KeyAgreeRecipientInfo carrying `cek` to `recipient`'s key on `curve`, through a fresh
/// ephemeral key.
pub(super) fn recipient_info(
    recipient: &Certificate,
    curve: Curve,
    cek: &[u8],
) -> Result<RecipientInfo, EnvelopeError> {
    let unusable = || {
        EnvelopeError::unsupported_recipient(
            recipient,
            "its public key is not a valid point of its curve",
        )
    };
    let peer = recipient
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .as_bytes()
        .ok_or_else(unusable)?;
    let ephemeral = EphemeralPrivateKey::generate(curve.agreement(), &SystemRandom::new())
        .map_err(|_| EnvelopeError::Random)?;
    let public = ephemeral
        .compute_public_key()
        .map_err(|_| EnvelopeError::Random)?;
    let z = agreement::agree_ephemeral(
        ephemeral,
        UnparsedPublicKey::new(curve.agreement(), peer),
        unusable(),
        |z| Ok(Zeroizing::new(z.to_vec())),
    )?;
    let (kdf, wrap) = curve.scheme();
    let wrap_identifier = wrap.identifier();
    let kek = derive_kek(kdf, &wrap_identifier, wrap, None, &z)?;
    let mut wrapped = vec![0; cek.len() + 8];
    let wrapped = wrap
        .kek(&kek)
        .wrap(cek, &mut wrapped)
        .expect("an AES key can be wrapped")
        .to_vec();
    Ok(RecipientInfo::Kari(KeyAgreeRecipientInfo {
        version: CmsVersion::V3,
        originator: OriginatorIdentifierOrKey::OriginatorKey(OriginatorPublicKey {
            algorithm: curve.public_key_algorithm(),
            public_key: BitString::from_bytes(public.as_ref())
                .map_err(EnvelopeError::der("the originator key"))?,
        }),
        ukm: None,
        key_enc_alg: AlgorithmIdentifierOwned {
            oid: kdf.oid(),
            parameters: Some(
                Any::encode_from(&wrap_identifier)
                    .map_err(EnvelopeError::der("the key-wrap algorithm"))?,
            ),
        },
        recipient_enc_keys: vec![RecipientEncryptedKey {
            rid: KeyAgreeRecipientIdentifier::IssuerAndSerialNumber(recipients::issuer_and_serial(
                recipient,
            )),
            enc_key: OctetString::new(wrapped).map_err(EnvelopeError::der("encryptedKey"))?,
        }],
    }))
}

/// Recovers the content-encryption key wrapped in `encrypted_key` of `kari` with `key`. A
/// failed agreement (a bad originator point) or unwrap is [`EnvelopeError::DecryptionFailed`].
pub(super) fn decrypt_cek(
    kari: &KeyAgreeRecipientInfo,
    encrypted_key: &OctetString,
    key: &dyn PrivateKeyOps,
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let scheme = kari.key_enc_alg.oid;
    let kdf =
        Kdf::from_oid(scheme).ok_or_else(|| EnvelopeError::unsupported(scheme, "key agreement"))?;
    let wrap_identifier: AlgorithmIdentifierOwned = kari
        .key_enc_alg
        .parameters
        .as_ref()
        .ok_or(EnvelopeError::malformed(
            "a key agreement without its key-wrap algorithm",
        ))?
        .decode_as()
        .map_err(EnvelopeError::der("the key-wrap algorithm"))?;
    let wrap = KeyWrap::from_oid(wrap_identifier.oid)
        .ok_or_else(|| EnvelopeError::unsupported(wrap_identifier.oid, "key wrap"))?;
    let OriginatorIdentifierOrKey::OriginatorKey(originator) = &kari.originator else {
        return Err(EnvelopeError::unsupported(
            scheme,
            "key agreement with a static originator key (only ephemeral-static ECDH is supported)",
        ));
    };
    let peer = originator
        .public_key
        .as_bytes()
        .ok_or(EnvelopeError::malformed(
            "an originator key with unused bits",
        ))?;
    let z = key.ecdh(peer).map_err(|error| match error {
        KeyError::Failed { .. } => EnvelopeError::DecryptionFailed,
        other => other.into(),
    })?;
    let kek = derive_kek(kdf, &wrap_identifier, wrap, kari.ukm.as_ref(), &z)?;
    let wrapped = encrypted_key.as_bytes();
    let mut cek = Zeroizing::new(vec![0; wrapped.len()]);
    let len = wrap
        .kek(&kek)
        .unwrap(wrapped, &mut cek)
        .map_err(|_| EnvelopeError::DecryptionFailed)?
        .len();
    cek.truncate(len);
    Ok(cek)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The X9.63 KDF against a hand-computed two-block expansion: the counter starts at 1 and
    /// is big-endian. (The corpus samples check whole schemes in `envelope::tests`.)
    #[test]
    fn x963_counts_blocks_from_one() {
        let z = [1u8; 32];
        let info = b"info";
        let out = Kdf::X963(Hash::Sha256).derive(&z, info, 40);
        let block = |counter: u32| {
            let mut data = z.to_vec();
            data.extend_from_slice(&counter.to_be_bytes());
            data.extend_from_slice(info);
            Hash::Sha256.digest(&data)
        };
        let mut expected = block(1);
        expected.extend(block(2));
        assert_eq!(out[..], expected[..40]);
    }

    #[test]
    fn schemes_and_wraps_round_trip_through_their_oids() {
        for (oid, kdf) in SCHEMES {
            assert_eq!(Kdf::from_oid(oid), Some(kdf));
            assert_eq!(kdf.oid(), oid);
        }
        for (oid, wrap) in KEY_WRAPS {
            assert_eq!(KeyWrap::from_oid(oid), Some(wrap));
            assert_eq!(wrap.identifier().oid, oid);
        }
    }
}
