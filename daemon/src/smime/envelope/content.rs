//! Content encryption, the symmetric layer both directions share: AES-CBC (RFC 3565) in
//! EnvelopedData and AES-GCM (RFC 5084) in AuthEnvelopedData, with their algorithm
//! identifiers.

use super::EnvelopeError;
use aws_lc_rs::aead::{self, Aad, Nonce, RandomizedNonceKey};
use aws_lc_rs::cipher::{
    self, DecryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911;
use der::Sequence;
use der::asn1::{Any, OctetString};
use mailseal_protocol::methods::smime::ContentEncryption;
use spki::AlgorithmIdentifierOwned;
use zeroize::Zeroizing;

/// The GCM authentication tag length we write and accept: the only one aws-lc-rs verifies,
/// and what every S/MIME client writes.
const GCM_TAG_LEN: u8 = 16;

/// The parameters of the AES-GCM identifiers (RFC 5084 §3.2).
///
/// ```text
/// GCMParameters ::= SEQUENCE {
///   aes-nonce        OCTET STRING, -- recommended size is 12 octets
///   aes-ICVlen       AES-GCM-ICVlen DEFAULT 12 }
///
/// AES-GCM-ICVlen ::= INTEGER (12 | 13 | 14 | 15 | 16)
/// ```
#[derive(Sequence)]
struct GcmParameters {
    nonce: OctetString,
    #[asn1(default = "default_icv_len")]
    icv_len: u8,
}

fn default_icv_len() -> u8 {
    12
}

/// The content-encryption algorithms, by OID. AES-192 is absent: `ContentEncryption` has no
/// variant to report it with.
const ALGORITHMS: [(ObjectIdentifier, ContentEncryption); 4] = [
    (rfc5911::ID_AES_128_CBC, ContentEncryption::Aes128Cbc),
    (rfc5911::ID_AES_256_CBC, ContentEncryption::Aes256Cbc),
    (rfc5911::ID_AES_128_GCM, ContentEncryption::Aes128Gcm),
    (rfc5911::ID_AES_256_GCM, ContentEncryption::Aes256Gcm),
];

/// Whether `algorithm` is an AEAD, carried in AuthEnvelopedData rather than EnvelopedData.
pub(super) fn is_authenticated(algorithm: ContentEncryption) -> bool {
    matches!(
        algorithm,
        ContentEncryption::Aes128Gcm | ContentEncryption::Aes256Gcm
    )
}

/// The length of `algorithm`'s content-encryption key.
pub(super) fn key_len(algorithm: ContentEncryption) -> usize {
    match algorithm {
        ContentEncryption::Aes128Cbc | ContentEncryption::Aes128Gcm => 16,
        ContentEncryption::Aes256Cbc | ContentEncryption::Aes256Gcm => 32,
    }
}

/// `len` fresh random bytes: content-encryption keys, and the RFC 3218 stand-in key.
pub(super) fn random_key(len: usize) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let mut key = Zeroizing::new(vec![0; len]);
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| EnvelopeError::Random)?;
    Ok(key)
}

/// Encrypted content with the identifier that tells the recipient how to decrypt it.
pub(super) struct Sealed {
    /// contentEncryptionAlgorithm, with the IV or the GCM nonce.
    pub identifier: AlgorithmIdentifierOwned,
    /// encryptedContent.
    pub ciphertext: Vec<u8>,
    /// The GCM tag for AuthEnvelopedData's `mac`; `None` for CBC.
    pub tag: Option<Vec<u8>>,
}

/// Encrypts `content` with `cek`. The IV or nonce comes from aws-lc-rs's own generator, so
/// that it cannot be chosen, or reused, by mistake; with a key of the right length, that
/// generator is the only thing that can fail, hence [`EnvelopeError::Random`].
pub(super) fn seal(
    algorithm: ContentEncryption,
    cek: &[u8],
    content: &[u8],
) -> Result<Sealed, EnvelopeError> {
    let oid = ALGORITHMS
        .iter()
        .find(|(_, known)| *known == algorithm)
        .map(|(oid, _)| *oid)
        .expect("every ContentEncryption has an OID");
    let mut buffer = content.to_vec();
    let (parameters, tag) = if is_authenticated(algorithm) {
        let key = RandomizedNonceKey::new(aead_algorithm(algorithm), cek)
            .map_err(|_| EnvelopeError::Random)?;
        let (nonce, tag) = key
            .seal_in_place_separate_tag(Aad::empty(), &mut buffer)
            .map_err(|_| EnvelopeError::Random)?;
        let parameters = GcmParameters {
            nonce: octets(nonce.as_ref())?,
            icv_len: GCM_TAG_LEN,
        };
        (Any::encode_from(&parameters), Some(tag.as_ref().to_vec()))
    } else {
        let key = PaddedBlockEncryptingKey::cbc_pkcs7(cbc_key(algorithm, cek)?)
            .map_err(|_| EnvelopeError::Random)?;
        let context = key
            .encrypt(&mut buffer)
            .map_err(|_| EnvelopeError::Random)?;
        let iv: &[u8] = (&context).try_into().expect("CBC encryption yields an IV");
        (Any::encode_from(&octets(iv)?), None)
    };
    Ok(Sealed {
        identifier: AlgorithmIdentifierOwned {
            oid,
            parameters: Some(
                parameters.map_err(EnvelopeError::der("content-encryption parameters"))?,
            ),
        },
        ciphertext: buffer,
        tag,
    })
}

fn octets(bytes: &[u8]) -> Result<OctetString, EnvelopeError> {
    OctetString::new(bytes).map_err(EnvelopeError::der("an OCTET STRING"))
}

fn aead_algorithm(algorithm: ContentEncryption) -> &'static aead::Algorithm {
    match algorithm {
        ContentEncryption::Aes256Gcm => &aead::AES_256_GCM,
        _ => &aead::AES_128_GCM,
    }
}

/// The AES key for CBC; a key of the wrong length is a failed decryption, like any other
/// wrong key.
fn cbc_key(algorithm: ContentEncryption, cek: &[u8]) -> Result<UnboundCipherKey, EnvelopeError> {
    let aes = match algorithm {
        ContentEncryption::Aes256Cbc => &cipher::AES_256,
        _ => &cipher::AES_128,
    };
    UnboundCipherKey::new(aes, cek).map_err(|_| EnvelopeError::DecryptionFailed)
}

/// A message's content-encryption algorithm, read from its identifier.
pub(super) struct ContentAlgorithm {
    /// Which algorithm.
    pub algorithm: ContentEncryption,
    /// The CBC IV (16 bytes) or the GCM nonce (12 bytes).
    iv: Box<[u8]>,
}

/// Reads contentEncryptionAlgorithm. `authenticated` says whether it came from
/// AuthEnvelopedData, which must use an AEAD (RFC 5083 §2.1), while EnvelopedData must not,
/// as it has nowhere to carry the tag.
pub(super) fn parse(
    identifier: &AlgorithmIdentifierOwned,
    authenticated: bool,
) -> Result<ContentAlgorithm, EnvelopeError> {
    let (purpose, expected) = if authenticated {
        ("authenticated content encryption", true)
    } else {
        ("content encryption", false)
    };
    let algorithm = ALGORITHMS
        .iter()
        .find(|(oid, _)| *oid == identifier.oid)
        .map(|(_, algorithm)| *algorithm)
        .filter(|algorithm| is_authenticated(*algorithm) == expected)
        .ok_or_else(|| EnvelopeError::unsupported(identifier.oid, purpose))?;
    let parameters = identifier
        .parameters
        .as_ref()
        .ok_or(EnvelopeError::malformed(
            "content-encryption parameters are absent",
        ))?;
    let iv = if authenticated {
        let gcm: GcmParameters = parameters
            .decode_as()
            .map_err(EnvelopeError::der("GCMParameters"))?;
        if gcm.icv_len != GCM_TAG_LEN || gcm.nonce.as_bytes().len() != aead::NONCE_LEN {
            return Err(EnvelopeError::unsupported(
                identifier.oid,
                "content encryption (a GCM tag other than 16 bytes or nonce other than 12)",
            ));
        }
        gcm.nonce.into_bytes()
    } else {
        let iv: OctetString = parameters
            .decode_as()
            .map_err(EnvelopeError::der("the AES-CBC IV"))?;
        if iv.as_bytes().len() != cipher::AES_CBC_IV_LEN {
            return Err(EnvelopeError::malformed(
                "an AES-CBC IV that is not 16 bytes",
            ));
        }
        iv.into_bytes()
    };
    Ok(ContentAlgorithm { algorithm, iv })
}

/// AuthEnvelopedData's authentication: the tag, and the additional authenticated data (the
/// DER of authAttrs, if any, RFC 5083 §2.2).
pub(super) struct Authentication {
    /// The `mac` field.
    pub mac: Box<[u8]>,
    /// The AAD.
    pub aad: Vec<u8>,
}

impl ContentAlgorithm {
    /// Decrypts `ciphertext` with `cek`; every failure (wrong key length, bad padding, bad
    /// tag) is [`EnvelopeError::DecryptionFailed`].
    pub(super) fn open(
        &self,
        cek: &[u8],
        ciphertext: &[u8],
        authentication: Option<&Authentication>,
    ) -> Result<Vec<u8>, EnvelopeError> {
        fn failed<E>(_: E) -> EnvelopeError {
            EnvelopeError::DecryptionFailed
        }
        let mut buffer = ciphertext.to_vec();
        let len = match (authentication, is_authenticated(self.algorithm)) {
            (Some(auth), true) => {
                let key =
                    RandomizedNonceKey::new(aead_algorithm(self.algorithm), cek).map_err(failed)?;
                let nonce = Nonce::try_assume_unique_for_key(&self.iv).map_err(failed)?;
                buffer.extend_from_slice(&auth.mac);
                key.open_in_place(nonce, Aad::from(&auth.aad), &mut buffer)
                    .map_err(failed)?
                    .len()
            }
            (None, false) => {
                let key = PaddedBlockDecryptingKey::cbc_pkcs7(cbc_key(self.algorithm, cek)?)
                    .map_err(failed)?;
                let iv: [u8; cipher::AES_CBC_IV_LEN] = (*self.iv).try_into().map_err(failed)?;
                let context = DecryptionContext::Iv128(FixedLength::from(iv));
                key.decrypt(&mut buffer, context).map_err(failed)?.len()
            }
            _ => {
                return Err(EnvelopeError::malformed(
                    "the content encryption does not match the envelope type",
                ));
            }
        };
        buffer.truncate(len);
        Ok(buffer)
    }
}
