//! Content encryption, the symmetric layer both directions share: AES-CBC (RFC 3565) in
//! EnvelopedData and AES-GCM (RFC 5084) in AuthEnvelopedData, with their algorithm
//! identifiers.
//!
//! Both run as streams ([`Sealing`], [`Opening`]): content of any size goes through in pieces,
//! and a message held in memory goes through the same code in one piece.

use super::EnvelopeError;
use super::gcm::{self, Direction, Gcm};
use crate::report::ContentEncryption;
use aws_lc_rs::cipher::{
    self, DecryptionContext, EncryptionContext, StreamingDecryptingKey, StreamingEncryptingKey,
    UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use der::Sequence;
use der::asn1::{Any, OctetString};
use spki::AlgorithmIdentifierOwned;
use zeroize::Zeroizing;

/// The GCM authentication tag length we write and accept: what every S/MIME client writes.
const GCM_TAG_LEN: u8 = gcm::TAG_LEN as u8;

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

/// Content encryption in progress: the identifier to put in front of the ciphertext (known
/// before the first byte), then the ciphertext piece by piece, then the tag.
pub(super) struct Sealing {
    /// contentEncryptionAlgorithm, with the IV or the GCM nonce.
    pub identifier: AlgorithmIdentifierOwned,
    cipher: SealCipher,
}

enum SealCipher {
    Cbc(StreamingEncryptingKey),
    Gcm(Box<Gcm>),
}

/// Starts encrypting with `cek`. The IV or nonce is fresh from the system's generator for
/// every message, so that it cannot be chosen, or reused, by mistake; with a key of the right
/// length, that generator is the only thing that can fail, hence [`EnvelopeError::Random`].
pub(super) fn seal(algorithm: ContentEncryption, cek: &[u8]) -> Result<Sealing, EnvelopeError> {
    let oid = algorithm.oid();
    let random = SystemRandom::new();
    let (parameters, cipher) = if algorithm.is_authenticated() {
        let mut nonce = [0u8; gcm::NONCE_LEN];
        random.fill(&mut nonce).map_err(|_| EnvelopeError::Random)?;
        let gcm = Gcm::new(aes(algorithm), cek, &nonce, &[], Direction::Seal)
            .map_err(|_| EnvelopeError::Random)?;
        let parameters = GcmParameters {
            nonce: octets(&nonce)?,
            icv_len: GCM_TAG_LEN,
        };
        (
            Any::encode_from(&parameters),
            SealCipher::Gcm(Box::new(gcm)),
        )
    } else {
        let mut iv = [0u8; cipher::AES_CBC_IV_LEN];
        random.fill(&mut iv).map_err(|_| EnvelopeError::Random)?;
        let key = StreamingEncryptingKey::less_safe_cbc_pkcs7(
            cbc_key(algorithm, cek)?,
            EncryptionContext::Iv128(FixedLength::from(iv)),
        )
        .map_err(|_| EnvelopeError::Random)?;
        (Any::encode_from(&octets(&iv)?), SealCipher::Cbc(key))
    };
    Ok(Sealing {
        identifier: AlgorithmIdentifierOwned {
            oid,
            parameters: Some(
                parameters.map_err(EnvelopeError::der("content-encryption parameters"))?,
            ),
        },
        cipher,
    })
}

impl Sealing {
    /// How long the ciphertext of `plain_len` bytes is: CBC pads to the next whole block
    /// (always adding at least one byte), GCM adds nothing (the tag goes apart).
    pub fn ciphertext_len(&self, plain_len: u64) -> u64 {
        match self.cipher {
            SealCipher::Cbc(_) => (plain_len / 16 + 1) * 16,
            SealCipher::Gcm(_) => plain_len,
        }
    }

    /// Encrypts `input`, appending the ciphertext to `output`.
    pub fn update(&mut self, input: &[u8], output: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        match &mut self.cipher {
            SealCipher::Cbc(key) => {
                let start = output.len();
                output.resize(start + input.len() + 15, 0);
                let written = key
                    .update(input, &mut output[start..])
                    .map_err(|_| EnvelopeError::Random)?
                    .written()
                    .len();
                output.truncate(start + written);
            }
            SealCipher::Gcm(gcm) => gcm
                .update(input, output)
                .map_err(|_| EnvelopeError::TooLarge)?,
        }
        Ok(())
    }

    /// Appends the last ciphertext (CBC padding) to `output` and returns the GCM tag for
    /// AuthEnvelopedData's `mac`; `None` for CBC.
    pub fn finish(self, output: &mut Vec<u8>) -> Result<Option<[u8; gcm::TAG_LEN]>, EnvelopeError> {
        match self.cipher {
            SealCipher::Cbc(key) => {
                let mut last = [0u8; 16];
                let (_, update) = key.finish(&mut last).map_err(|_| EnvelopeError::Random)?;
                output.extend_from_slice(update.written());
                Ok(None)
            }
            SealCipher::Gcm(gcm) => Ok(Some(gcm.tag())),
        }
    }
}

fn octets(bytes: &[u8]) -> Result<OctetString, EnvelopeError> {
    OctetString::new(bytes).map_err(EnvelopeError::der("an OCTET STRING"))
}

/// The AES variant of `algorithm`.
fn aes(algorithm: ContentEncryption) -> &'static cipher::Algorithm {
    match algorithm {
        ContentEncryption::Aes256Cbc | ContentEncryption::Aes256Gcm => &cipher::AES_256,
        ContentEncryption::Aes128Cbc | ContentEncryption::Aes128Gcm => &cipher::AES_128,
    }
}

/// The AES key for CBC; a key of the wrong length is a failed decryption, like any other
/// wrong key.
fn cbc_key(algorithm: ContentEncryption, cek: &[u8]) -> Result<UnboundCipherKey, EnvelopeError> {
    UnboundCipherKey::new(aes(algorithm), cek).map_err(|_| EnvelopeError::DecryptionFailed)
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
    let algorithm = ContentEncryption::from_oid(identifier.oid)
        .filter(|algorithm| algorithm.is_authenticated() == expected)
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
        if gcm.icv_len != GCM_TAG_LEN || gcm.nonce.as_bytes().len() != gcm::NONCE_LEN {
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
    /// Starts decrypting with `cek`. Every failure (wrong key length, and later bad padding or
    /// a bad tag) is [`EnvelopeError::DecryptionFailed`].
    pub(super) fn open(
        &self,
        cek: &[u8],
        authentication: Option<&Authentication>,
    ) -> Result<Opening, EnvelopeError> {
        fn failed<E>(_: E) -> EnvelopeError {
            EnvelopeError::DecryptionFailed
        }
        let cipher = match (authentication, self.algorithm.is_authenticated()) {
            (Some(auth), true) => {
                let nonce: &[u8; gcm::NONCE_LEN] = (*self.iv).try_into().map_err(failed)?;
                let gcm = Gcm::new(aes(self.algorithm), cek, nonce, &auth.aad, Direction::Open)
                    .map_err(failed)?;
                OpenCipher::Gcm(Box::new(gcm), auth.mac.clone())
            }
            (None, false) => {
                let iv: [u8; cipher::AES_CBC_IV_LEN] = (*self.iv).try_into().map_err(failed)?;
                let key = StreamingDecryptingKey::cbc_pkcs7(
                    cbc_key(self.algorithm, cek)?,
                    DecryptionContext::Iv128(FixedLength::from(iv)),
                )
                .map_err(failed)?;
                OpenCipher::Cbc(key)
            }
            _ => {
                return Err(EnvelopeError::malformed(
                    "the content encryption does not match the envelope type",
                ));
            }
        };
        Ok(Opening { cipher })
    }
}

/// Content decryption in progress. Its output must not be used before [`Opening::finish`]
/// succeeds: only then are the CBC padding and the GCM tag checked.
pub(super) struct Opening {
    cipher: OpenCipher,
}

enum OpenCipher {
    Cbc(StreamingDecryptingKey),
    Gcm(Box<Gcm>, Box<[u8]>),
}

impl Opening {
    /// Decrypts `input`, appending the plaintext to `output`.
    pub fn update(&mut self, input: &[u8], output: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        match &mut self.cipher {
            OpenCipher::Cbc(key) => {
                let start = output.len();
                output.resize(start + input.len() + 16, 0);
                let written = key
                    .update(input, &mut output[start..])
                    .map_err(|_| EnvelopeError::DecryptionFailed)?
                    .written()
                    .len();
                output.truncate(start + written);
            }
            OpenCipher::Gcm(gcm, _) => gcm
                .update(input, output)
                .map_err(|_| EnvelopeError::DecryptionFailed)?,
        }
        Ok(())
    }

    /// Appends the last plaintext to `output` and checks the padding or the tag.
    pub fn finish(self, output: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        match self.cipher {
            OpenCipher::Cbc(key) => {
                let mut last = [0u8; 16];
                let update = key
                    .finish(&mut last)
                    .map_err(|_| EnvelopeError::DecryptionFailed)?;
                output.extend_from_slice(update.written());
            }
            OpenCipher::Gcm(gcm, mac) => gcm
                .verify(&mac)
                .map_err(|_| EnvelopeError::DecryptionFailed)?,
        }
        Ok(())
    }
}
