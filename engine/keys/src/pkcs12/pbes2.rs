//! PBES2 (RFC 8018 §6.2), the password-based encryption OpenSSL 3 and Windows use for keys,
//! shared by PKCS#12 files (`super`) and keys sealed at rest (`crate::sealed`).
//!
//! It sits under `pkcs12/` beside the block ciphers (`cbc`) it shares with the PKCS#12 PBE
//! schemes; nothing here is PKCS#12-specific.
//!
//! The ASN.1 types are our own rather than `pkcs5::pbes2`'s: that crate panics on a Triple-DES
//! IV shorter than 8 bytes (a slice index on untrusted input), refuses salts over 32 bytes and
//! decrypts with RustCrypto's AES where this project's backend is aws-lc-rs. Only its `scrypt`
//! re-export is used, since aws-lc-rs has no scrypt.

use super::cbc::BlockCipher;
use aws_lc_rs::pbkdf2;
use const_oid::db::{rfc5753, rfc5911};
use der::Decode as _;
use der::asn1::{Any, ObjectIdentifier, OctetString};
use der::{Choice, DecodeValue, EncodingRules, Sequence};
use pkcs5::scrypt;
use spki::AlgorithmIdentifierOwned;
use std::num::NonZeroU32;
use zeroize::Zeroizing;

/// `id-PBES2` (RFC 8018 Appendix A.4).
pub(crate) const PBES2_OID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
/// `id-scrypt` (RFC 7914 §7).
pub(crate) const SCRYPT_OID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11591.4.11");
/// `id-hmacWithSHA1` (RFC 8018 Appendix B.1.1), PBKDF2's default PRF.
const HMAC_WITH_SHA1_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.7");

/// The most PBKDF2 or PKCS#12-KDF iterations a file may ask for. Exporters use 2048 (OpenSSL,
/// Windows) up to OWASP's 600 000; ten million still finish in seconds, while a hostile file
/// asking for four billion would stall the daemon for hours.
const MAX_ITERATIONS: u32 = 10_000_000;

/// The most memory (128·N·r·p bytes) scrypt may use: 256 MiB, eight times what sealing uses,
/// so that a hostile parameter set cannot exhaust the machine.
const MAX_SCRYPT_BYTES: u64 = 256 << 20;

/// Why password-based encryption or decryption failed. Both `Pkcs12Error` and `SealError`
/// are made from it, each naming the wrong-password case its own way.
#[derive(Debug)]
pub(crate) enum PbeError {
    /// The structure or its parameters do not parse or do not fit together.
    Malformed {
        /// Which part.
        what: &'static str,
        /// The decoder's error, if a decoder found the fault.
        source: Option<der::Error>,
    },
    /// An algorithm outside what this module implements.
    Unsupported {
        /// The algorithm's OID.
        oid: ObjectIdentifier,
        /// What the algorithm was for.
        purpose: &'static str,
    },
    /// A work factor beyond what we accept from a file.
    LimitExceeded {
        /// Which parameter.
        what: &'static str,
        /// Our limit.
        limit: u64,
    },
    /// The padding did not check out, or the plaintext is not what it should be: with a key
    /// derived from a password, that is the wrong password.
    BadDecrypt,
}

impl PbeError {
    /// A malformed part found by our own checks.
    pub(crate) fn malformed(what: &'static str) -> Self {
        Self::Malformed { what, source: None }
    }

    /// A malformed part found by the decoder, for `map_err`.
    pub(crate) fn der(what: &'static str) -> impl FnOnce(der::Error) -> Self {
        move |source| Self::Malformed {
            what,
            source: Some(source),
        }
    }
}

/// An encrypted PKCS#8 key: a PKCS#12 `pkcs8ShroudedKeyBag`, and the form keys are sealed in.
///
/// RFC 5958 §3:
/// ```text
/// EncryptedPrivateKeyInfo ::= SEQUENCE {
///   encryptionAlgorithm  EncryptionAlgorithmIdentifier,
///   encryptedData        EncryptedData }
///
/// EncryptionAlgorithmIdentifier ::= AlgorithmIdentifier
///                                    { CONTENT-ENCRYPTION,
///                                      { KeyEncryptionAlgorithms } }
///
/// EncryptedData ::= OCTET STRING -- Encrypted PrivateKeyInfo
/// ```
#[derive(Sequence)]
pub(crate) struct EncryptedPrivateKeyInfo {
    /// The password-based scheme and its parameters.
    pub(crate) encryption_algorithm: AlgorithmIdentifierOwned,
    /// The encrypted `PrivateKeyInfo` DER.
    pub(crate) encrypted_data: OctetString,
}

/// RFC 8018 Appendix A.4:
/// ```text
/// PBES2-params ::= SEQUENCE {
///     keyDerivationFunc AlgorithmIdentifier {{PBES2-KDFs}},
///     encryptionScheme AlgorithmIdentifier {{PBES2-Encs}} }
/// ```
#[derive(Sequence)]
pub(crate) struct Pbes2Params {
    /// PBKDF2 or scrypt with their parameters.
    pub(crate) key_derivation_func: AlgorithmIdentifierOwned,
    /// The block cipher, with its IV as parameters.
    pub(crate) encryption_scheme: AlgorithmIdentifierOwned,
}

/// RFC 8018 Appendix A.2 (its `otherSource` salt is reserved there, so unsupported here):
/// ```text
/// PBKDF2-params ::= SEQUENCE {
///     salt CHOICE {
///       specified OCTET STRING,
///       otherSource AlgorithmIdentifier {{PBKDF2-SaltSources}}
///     },
///     iterationCount INTEGER (1..MAX),
///     keyLength INTEGER (1..MAX) OPTIONAL,
///     prf AlgorithmIdentifier {{PBKDF2-PRFs}} DEFAULT
///     algid-hmacWithSHA1 }
/// ```
#[derive(Sequence)]
struct Pbkdf2Params {
    salt: OctetString,
    iteration_count: u32,
    key_length: Option<u32>,
    prf: Option<AlgorithmIdentifierOwned>,
}

/// RFC 7914 §7.1:
/// ```text
/// scrypt-params ::= SEQUENCE {
///        salt OCTET STRING,
///        costParameter INTEGER (1..MAX),
///        blockSize INTEGER (1..MAX),
///        parallelizationParameter INTEGER (1..MAX),
///        keyLength INTEGER (1..MAX) OPTIONAL }
/// ```
#[derive(Sequence)]
pub(crate) struct ScryptParams {
    /// The salt.
    pub(crate) salt: OctetString,
    /// N, a power of two.
    pub(crate) cost_parameter: u64,
    /// r.
    pub(crate) block_size: u32,
    /// p.
    pub(crate) parallelization_parameter: u32,
    /// The key length, when the writer chose to state it.
    pub(crate) key_length: Option<u32>,
}

/// A PBES2 scheme whose every parameter has been checked: ready to derive a key and run.
pub(crate) struct Pbes2Scheme {
    kdf: Kdf,
    cipher: BlockCipher,
    iv: Vec<u8>,
}

/// A key derivation function with its parameters.
enum Kdf {
    Pbkdf2 {
        prf: pbkdf2::Algorithm,
        salt: Vec<u8>,
        iterations: NonZeroU32,
    },
    Scrypt {
        params: scrypt::Params,
        salt: Vec<u8>,
    },
}

impl Pbes2Scheme {
    /// Parses and checks the parameters of an `id-PBES2` AlgorithmIdentifier (BER allowed).
    pub(crate) fn from_parameters(parameters: Option<&Any>) -> Result<Self, PbeError> {
        let params: Pbes2Params = decode_parameters(parameters, "PBES2 parameters")?;
        let scheme = &params.encryption_scheme;
        let cipher = match scheme.oid {
            rfc5911::ID_AES_128_CBC => BlockCipher::Aes128,
            rfc5911::ID_AES_192_CBC => BlockCipher::Aes192,
            rfc5911::ID_AES_256_CBC => BlockCipher::Aes256,
            rfc5911::DES_EDE_3_CBC => BlockCipher::DesEde3,
            oid => {
                return Err(PbeError::Unsupported {
                    oid,
                    purpose: "PBES2 encryption scheme",
                });
            }
        };
        // Writers send the IV as a primitive OCTET STRING, even in BER files; a constructed
        // one would not survive `Any` (see `asn1`) and fails the length check below.
        let iv: OctetString = decode_parameters(scheme.parameters.as_ref(), "PBES2 IV")?;
        if iv.as_bytes().len() != cipher.iv_len() {
            return Err(PbeError::malformed("PBES2 IV length"));
        }
        let kdf = Kdf::from_algorithm(&params.key_derivation_func, cipher.key_len())?;
        Ok(Self {
            kdf,
            cipher,
            iv: iv.into_bytes().into_vec(),
        })
    }

    /// Derives the key from `password` (its bytes as given, which in PKCS#12 files means
    /// UTF-8, as OpenSSL and Windows write them) and decrypts `ciphertext`.
    pub(crate) fn decrypt(
        &self,
        password: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, PbeError> {
        let key = self.kdf.derive(password, self.cipher.key_len())?;
        self.cipher.decrypt(&key, &self.iv, ciphertext)
    }

    /// Derives the key from `password` and encrypts `plaintext` (AES schemes only).
    pub(crate) fn encrypt(&self, password: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, PbeError> {
        let key = self.kdf.derive(password, self.cipher.key_len())?;
        self.cipher.encrypt(&key, &self.iv, plaintext)
    }
}

/// A PBES2 AlgorithmIdentifier with PBKDF2 for writing: HMAC-SHA-256 and AES-256-CBC
/// (`modern`), or PBKDF2's default HMAC-SHA-1 with AES-128-CBC, the only PBES2 that GnuPG 2.2's
/// gpgsm reads (tried with 2.2.40: any other PRF or cipher fails at "pkcs5PBES2-params").
pub(crate) fn pbkdf2_algorithm(
    modern: bool,
    salt: &[u8],
    iterations: u32,
    iv: &[u8],
) -> Result<AlgorithmIdentifierOwned, PbeError> {
    fn encode(what: &'static str, value: &impl der::Encode) -> Result<Any, PbeError> {
        value
            .to_der()
            .and_then(|der| Any::from_der(&der))
            .map_err(PbeError::der(what))
    }
    let octets =
        |bytes: &[u8]| OctetString::new(bytes).map_err(PbeError::der("PBES2 octet string"));
    let pbkdf2 = Pbkdf2Params {
        salt: octets(salt)?,
        iteration_count: iterations,
        key_length: None,
        prf: modern.then(|| AlgorithmIdentifierOwned {
            oid: rfc5753::ID_HMAC_WITH_SHA_256,
            parameters: Some(Any::null()),
        }),
    };
    let params = Pbes2Params {
        key_derivation_func: AlgorithmIdentifierOwned {
            oid: rfc5911::ID_PBKDF_2,
            parameters: Some(encode("PBKDF2 parameters", &pbkdf2)?),
        },
        encryption_scheme: AlgorithmIdentifierOwned {
            oid: if modern {
                rfc5911::ID_AES_256_CBC
            } else {
                rfc5911::ID_AES_128_CBC
            },
            parameters: Some(encode("PBES2 IV", &octets(iv)?)?),
        },
    };
    Ok(AlgorithmIdentifierOwned {
        oid: PBES2_OID,
        parameters: Some(encode("PBES2 parameters", &params)?),
    })
}

impl Kdf {
    /// Checks a `keyDerivationFunc` for a cipher taking `key_len`-byte keys.
    fn from_algorithm(
        algorithm: &AlgorithmIdentifierOwned,
        key_len: usize,
    ) -> Result<Self, PbeError> {
        let parameters = algorithm.parameters.as_ref();
        match algorithm.oid {
            rfc5911::ID_PBKDF_2 => {
                let params: Pbkdf2Params = decode_parameters(parameters, "PBKDF2 parameters")?;
                check_key_length(params.key_length, key_len)?;
                let prf = match params.prf.map(|prf| prf.oid) {
                    None | Some(HMAC_WITH_SHA1_OID) => pbkdf2::PBKDF2_HMAC_SHA1,
                    Some(rfc5753::ID_HMAC_WITH_SHA_256) => pbkdf2::PBKDF2_HMAC_SHA256,
                    Some(rfc5753::ID_HMAC_WITH_SHA_384) => pbkdf2::PBKDF2_HMAC_SHA384,
                    Some(rfc5753::ID_HMAC_WITH_SHA_512) => pbkdf2::PBKDF2_HMAC_SHA512,
                    Some(oid) => {
                        return Err(PbeError::Unsupported {
                            oid,
                            purpose: "PBKDF2 pseudorandom function",
                        });
                    }
                };
                let iterations = NonZeroU32::new(params.iteration_count)
                    .ok_or_else(|| PbeError::malformed("PBKDF2 iteration count"))?;
                check_iterations(iterations.get())?;
                Ok(Self::Pbkdf2 {
                    prf,
                    salt: params.salt.into_bytes().into_vec(),
                    iterations,
                })
            }
            SCRYPT_OID => {
                let stated: ScryptParams = decode_parameters(parameters, "scrypt parameters")?;
                check_key_length(stated.key_length, key_len)?;
                let (n, r, p) = (
                    stated.cost_parameter,
                    stated.block_size,
                    stated.parallelization_parameter,
                );
                if n < 2 || !n.is_power_of_two() {
                    return Err(PbeError::malformed("scrypt cost parameter"));
                }
                if 128 * u128::from(n) * u128::from(r) * u128::from(p) > MAX_SCRYPT_BYTES.into() {
                    return Err(PbeError::LimitExceeded {
                        what: "scrypt memory",
                        limit: MAX_SCRYPT_BYTES,
                    });
                }
                // n is a power of two below 2^64: its exponent is below 64 and fits a u8.
                let log_n = n.ilog2() as u8;
                let params = scrypt::Params::new(log_n, r, p)
                    .map_err(|_| PbeError::malformed("scrypt parameters"))?;
                Ok(Self::Scrypt {
                    params,
                    salt: stated.salt.into_bytes().into_vec(),
                })
            }
            oid => Err(PbeError::Unsupported {
                oid,
                purpose: "PBES2 key derivation function",
            }),
        }
    }

    /// Derives `len` key bytes from `password`.
    fn derive(&self, password: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>, PbeError> {
        let mut key = Zeroizing::new(vec![0; len]);
        match self {
            Self::Pbkdf2 {
                prf,
                salt,
                iterations,
            } => pbkdf2::derive(*prf, *iterations, salt, password, &mut key),
            Self::Scrypt { params, salt } => scrypt::scrypt(password, salt, params, &mut key)
                .map_err(|_| PbeError::malformed("scrypt key length"))?,
        }
        Ok(key)
    }
}

/// Refuses iteration counts beyond [`MAX_ITERATIONS`].
pub(crate) fn check_iterations(iterations: u32) -> Result<(), PbeError> {
    if iterations > MAX_ITERATIONS {
        return Err(PbeError::LimitExceeded {
            what: "iteration count",
            limit: MAX_ITERATIONS.into(),
        });
    }
    Ok(())
}

/// A stated key length must be the cipher's.
fn check_key_length(stated: Option<u32>, key_len: usize) -> Result<(), PbeError> {
    match stated {
        Some(len) if usize::try_from(len).ok() != Some(key_len) => {
            Err(PbeError::malformed("KDF key length"))
        }
        _ => Ok(()),
    }
}

/// Decodes an AlgorithmIdentifier's `parameters` as `T`, under BER so that indefinite lengths
/// from Windows and Java exports parse too.
pub(crate) fn decode_parameters<'a, T>(
    parameters: Option<&'a Any>,
    what: &'static str,
) -> Result<T, PbeError>
where
    T: Choice<'a> + DecodeValue<'a, Error = der::Error>,
{
    parameters
        .ok_or_else(|| PbeError::malformed(what))?
        .decode_as_encoding(EncodingRules::Ber)
        .map_err(PbeError::der(what))
}
