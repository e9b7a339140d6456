//! Private keys encrypted at rest under the user's passphrase, as PKCS#8
//! `EncryptedPrivateKeyInfo` (RFC 5958 §3) with PBES2 (RFC 8018 §6.2): a standard form that
//! other tools can write for us (`openssl pkcs8 -topk8 -v2 aes-256-cbc`).
//!
//! Sealing always uses scrypt (RFC 7914) with N = 2^15, r = 8, p = 1 and AES-256-CBC.
//! Unsealing accepts any PBES2 the PKCS#12 reader does (PBKDF2 with HMAC-SHA-1/256/384/512 or
//! scrypt; AES-CBC or DES-EDE3-CBC), so keys pre-sealed by IT with OpenSSL open too. The old
//! PBES1 and PKCS#12 schemes are refused: at rest, nothing weaker than PBES2.
//!
//! # Why scrypt with N = 2^15, r = 8, p = 1
//! It costs 32 MiB of memory and about a tenth of a second per unlock in an optimised build:
//! twice OpenSSL's and RustCrypto's default (2^14, the scrypt paper's figure for interactive
//! logins), short of the paper's 2^20 for file encryption. An unlock is interactive, but a
//! stolen key file invites offline guessing, where memory hardness is what makes GPUs and
//! ASICs expensive; PBKDF2 has none. r = 8 and p = 1 are the values RFC 7914 §2 finds good.
//!
//! Beware: OpenSSL 3.0 caps scrypt at 32 MiB including overhead, so `openssl pkcs8` cannot
//! open keys sealed here ("memory limit exceeded"); only the other direction (OpenSSL seals,
//! we unseal) interoperates.

use super::pkcs12::pbes2::{
    EncryptedPrivateKeyInfo, PBES2_OID, PbeError, Pbes2Params, Pbes2Scheme, SCRYPT_OID,
    ScryptParams,
};
use super::pkcs12::{PrivateKeyDer, is_pkcs8};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use const_oid::db::rfc5911;
use der::asn1::{Any, OctetString};
use der::pem::{self, LineEnding};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use std::fmt;

/// The PEM label of the sealed form, as RFC 7468 §11 gives it for `EncryptedPrivateKeyInfo`.
const PEM_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// scrypt's cost N = 2^SCRYPT_LOG_N (see the module documentation for the choice).
const SCRYPT_LOG_N: u8 = 15;
/// scrypt's block size r.
const SCRYPT_R: u32 = 8;
/// scrypt's parallelism p.
const SCRYPT_P: u32 = 1;
/// Salt length: 128 bits, RFC 8018 §4.1's recommendation of at least 64 doubled.
const SALT_LEN: usize = 16;
/// AES block, hence IV, length.
const IV_LEN: usize = 16;

/// A private key as stored: the DER of an `EncryptedPrivateKeyInfo` known to use PBES2 with
/// parameters this module can unseal.
#[derive(Clone)]
pub struct SealedKey(Vec<u8>);

/// Why a key could not be sealed or unsealed. No variant carries key material or passphrase.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The passphrase does not open the key.
    #[error("wrong passphrase for the sealed key")]
    WrongPassphrase,
    /// The stored form, or the key handed in for sealing, is not what it should be.
    #[error("malformed sealed key: bad {what}")]
    Malformed {
        /// Which part.
        what: &'static str,
        /// The decoder's error, when it found the fault.
        #[source]
        source: Option<der::Error>,
    },
    /// An encryption scheme, KDF or cipher this module does not unseal.
    #[error("unsupported {purpose} in the sealed key: {oid}")]
    UnsupportedScheme {
        /// The algorithm's OID, dotted.
        oid: String,
        /// What the algorithm is used for.
        purpose: &'static str,
    },
    /// A work factor (iterations, scrypt memory) above what we run for one key.
    #[error("the sealed key asks for a {what} above the limit of {limit}")]
    LimitExceeded {
        /// Which parameter.
        what: &'static str,
        /// Our limit.
        limit: u64,
    },
    /// The system's random generator failed, so no salt or IV could be made.
    #[error("the system random number generator failed")]
    Random,
}

impl From<PbeError> for SealError {
    fn from(error: PbeError) -> Self {
        match error {
            PbeError::Malformed { what, source } => Self::Malformed { what, source },
            PbeError::Unsupported { oid, purpose } => Self::UnsupportedScheme {
                oid: oid.to_string(),
                purpose,
            },
            PbeError::LimitExceeded { what, limit } => Self::LimitExceeded { what, limit },
            PbeError::BadDecrypt => Self::WrongPassphrase,
        }
    }
}

/// Encrypts `key` (PKCS#8 DER) under `passphrase`: PBES2 with scrypt (N = 2^15, r = 8, p = 1,
/// see the module documentation for why) and AES-256-CBC, with a random 16-byte salt and IV
/// from aws-lc-rs's `SystemRandom`.
///
/// # Errors
/// [`SealError::Malformed`] if `key` is not PKCS#8 DER (it could never be unsealed as a key),
/// [`SealError::Random`] if the random generator fails.
pub fn seal(key: &PrivateKeyDer, passphrase: &[u8]) -> Result<SealedKey, SealError> {
    if !is_pkcs8(key.as_bytes()) {
        return Err(malformed("private key to seal"));
    }
    encrypt(key.as_bytes(), passphrase)
}

/// Encrypts `plaintext` as [`seal`] describes, whatever it is.
fn encrypt(plaintext: &[u8], passphrase: &[u8]) -> Result<SealedKey, SealError> {
    let rng = SystemRandom::new();
    let mut salt = [0; SALT_LEN];
    let mut iv = [0; IV_LEN];
    rng.fill(&mut salt)
        .and_then(|()| rng.fill(&mut iv))
        .map_err(|_| SealError::Random)?;

    let scrypt = ScryptParams {
        salt: octets(&salt)?,
        cost_parameter: 1 << SCRYPT_LOG_N,
        block_size: SCRYPT_R,
        parallelization_parameter: SCRYPT_P,
        key_length: None,
    };
    let params = Pbes2Params {
        key_derivation_func: AlgorithmIdentifierOwned {
            oid: SCRYPT_OID,
            parameters: Some(any(&scrypt)?),
        },
        encryption_scheme: AlgorithmIdentifierOwned {
            oid: rfc5911::ID_AES_256_CBC,
            parameters: Some(any(&octets(&iv)?)?),
        },
    };
    let parameters = any(&params)?;
    // Read back what we wrote, so that sealing and unsealing run through the same checks.
    let scheme = Pbes2Scheme::from_parameters(Some(&parameters))?;
    let info = EncryptedPrivateKeyInfo {
        encryption_algorithm: AlgorithmIdentifierOwned {
            oid: PBES2_OID,
            parameters: Some(parameters),
        },
        encrypted_data: octets(&scheme.encrypt(passphrase, plaintext)?)?,
    };
    Ok(SealedKey(
        info.to_der()
            .map_err(der_error("EncryptedPrivateKeyInfo"))?,
    ))
}

impl SealedKey {
    /// The stored form: `EncryptedPrivateKeyInfo` DER.
    pub fn as_der(&self) -> &[u8] {
        &self.0
    }

    /// Takes a stored form back, checking that it is an `EncryptedPrivateKeyInfo` under a
    /// PBES2 scheme this module can unseal, so a bad file is found when it is loaded and not
    /// when the user types a passphrase.
    ///
    /// # Errors
    /// [`SealError::Malformed`], [`SealError::UnsupportedScheme`] or
    /// [`SealError::LimitExceeded`], as the check finds.
    pub fn from_der(der: Vec<u8>) -> Result<Self, SealError> {
        let sealed = Self(der);
        sealed.scheme()?;
        Ok(sealed)
    }

    /// The stored form as PEM with the label `ENCRYPTED PRIVATE KEY`, LF line endings.
    pub fn to_pem(&self) -> String {
        pem::encode_string(PEM_LABEL, LineEnding::LF, &self.0)
            .expect("base64 of an in-memory document cannot overflow usize")
    }

    /// Reads the PEM form (label `ENCRYPTED PRIVATE KEY`) and checks it as [`Self::from_der`].
    ///
    /// # Errors
    /// [`SealError::Malformed`] for bad PEM or another label; otherwise as [`Self::from_der`].
    pub fn from_pem(pem: &str) -> Result<Self, SealError> {
        let (label, der) =
            pem::decode_vec(pem.as_bytes()).map_err(|source| der_error("PEM")(source.into()))?;
        if label != PEM_LABEL {
            return Err(malformed("PEM label"));
        }
        Self::from_der(der)
    }

    /// Decrypts the key with `passphrase`.
    ///
    /// # Errors
    /// [`SealError::WrongPassphrase`] when the padding fails, and also when it happens to pass
    /// but the plaintext is not a PKCS#8 key; the other variants as [`Self::from_der`].
    pub fn unseal(&self, passphrase: &[u8]) -> Result<PrivateKeyDer, SealError> {
        let (scheme, info) = self.scheme()?;
        let plaintext = scheme.decrypt(passphrase, info.encrypted_data.as_bytes())?;
        PrivateKeyDer::from_pkcs8(plaintext).ok_or(SealError::WrongPassphrase)
    }

    /// The parsed structure and its checked scheme.
    fn scheme(&self) -> Result<(Pbes2Scheme, EncryptedPrivateKeyInfo), SealError> {
        let info = EncryptedPrivateKeyInfo::from_der(&self.0)
            .map_err(der_error("EncryptedPrivateKeyInfo"))?;
        let algorithm = &info.encryption_algorithm;
        if algorithm.oid != PBES2_OID {
            return Err(SealError::UnsupportedScheme {
                oid: algorithm.oid.to_string(),
                purpose: "key encryption scheme (only PBES2 is accepted)",
            });
        }
        let scheme = Pbes2Scheme::from_parameters(algorithm.parameters.as_ref())?;
        Ok((scheme, info))
    }
}

impl fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedKey({} bytes)", self.0.len())
    }
}

/// `bytes` as an OCTET STRING.
fn octets(bytes: &[u8]) -> Result<OctetString, SealError> {
    OctetString::new(bytes).map_err(der_error("OCTET STRING"))
}

/// `value` encoded as the `parameters` of an AlgorithmIdentifier.
fn any<T: der::Tagged + der::EncodeValue>(value: &T) -> Result<Any, SealError> {
    Any::encode_from(value).map_err(der_error("algorithm parameters"))
}

/// A fault in `what` found by our own checks.
fn malformed(what: &'static str) -> SealError {
    SealError::Malformed { what, source: None }
}

/// A fault in `what` found by the DER encoder or decoder, for `map_err`.
fn der_error(what: &'static str) -> impl FnOnce(der::Error) -> SealError {
    move |source| SealError::Malformed {
        what,
        source: Some(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_test_support::openssl;
    use std::path::Path;

    /// A fresh key (`key.pem`) of the `genpkey` algorithm `algorithm`, as PKCS#8 DER.
    fn new_key(dir: &Path, algorithm: &str) -> Vec<u8> {
        openssl(
            dir,
            &["genpkey", "-algorithm", algorithm, "-out", "key.pem"],
        );
        openssl(
            dir,
            &[
                "pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in", "key.pem",
            ],
        )
    }

    /// `key.pem` as `openssl pkcs8 -topk8` writes it with the passphrase `it-secret` and the
    /// scheme arguments `scheme`.
    fn openssl_sealed(dir: &Path, scheme: &[&str]) -> String {
        let args = [
            "pkcs8",
            "-topk8",
            "-in",
            "key.pem",
            "-passout",
            "pass:it-secret",
        ];
        String::from_utf8(openssl(dir, &[&args[..], scheme].concat())).unwrap()
    }

    /// A sealed key's structure, its PBES2 parameters and their scrypt parameters.
    fn parts(sealed: &SealedKey) -> (EncryptedPrivateKeyInfo, Pbes2Params, ScryptParams) {
        let info = EncryptedPrivateKeyInfo::from_der(sealed.as_der()).unwrap();
        let pbes2 = info.encryption_algorithm.parameters.as_ref().unwrap();
        let params: Pbes2Params = pbes2.decode_as().unwrap();
        let scrypt = params.key_derivation_func.parameters.as_ref().unwrap();
        let scrypt: ScryptParams = scrypt.decode_as().unwrap();
        (info, params, scrypt)
    }

    #[test]
    fn seals_and_unseals_with_the_documented_scheme() {
        let dir = tempfile::tempdir().unwrap();
        let key = new_key(dir.path(), "ED25519");
        let passphrase = "pässphrase".as_bytes();
        let sealed = seal(&PrivateKeyDer::new(key.clone()), passphrase).unwrap();
        assert_eq!(sealed.unseal(passphrase).unwrap().as_bytes(), key);

        // PBES2 with scrypt N = 2^15, r = 8, p = 1 and a 16-byte salt, then AES-256-CBC.
        let (info, params, scrypt) = parts(&sealed);
        assert_eq!(info.encryption_algorithm.oid, PBES2_OID);
        assert_eq!(params.key_derivation_func.oid, SCRYPT_OID);
        let cost = (
            scrypt.cost_parameter,
            scrypt.block_size,
            scrypt.parallelization_parameter,
        );
        assert_eq!(cost, (32768, 8, 1));
        assert_eq!(scrypt.salt.as_bytes().len(), 16);
        assert_eq!(params.encryption_scheme.oid, rfc5911::ID_AES_256_CBC);

        // Salt and IV are fresh every time.
        let again = seal(&PrivateKeyDer::new(key), passphrase).unwrap();
        assert_ne!(again.as_der(), sealed.as_der());

        // PEM and DER round trips; OpenSSL agrees on the structure.
        let pem = sealed.to_pem();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
        assert_eq!(SealedKey::from_pem(&pem).unwrap().as_der(), sealed.as_der());
        let copy = SealedKey::from_der(sealed.as_der().to_vec()).unwrap();
        assert_eq!(copy.as_der(), sealed.as_der());
        std::fs::write(dir.path().join("sealed.pem"), &pem).unwrap();
        openssl(dir.path(), &["asn1parse", "-in", "sealed.pem"]);
        let debug = format!("SealedKey({} bytes)", sealed.as_der().len());
        assert_eq!(format!("{sealed:?}"), debug);
    }

    #[test]
    fn a_wrong_passphrase_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let sealed = seal(&PrivateKeyDer::new(new_key(dir.path(), "X25519")), b"right").unwrap();
        assert!(matches!(
            sealed.unseal(b"wrong"),
            Err(SealError::WrongPassphrase)
        ));
        // A wrong passphrase whose padding happens to check out yields a plaintext that is no
        // key; made here directly by sealing such a plaintext and using the right passphrase.
        let not_a_key = encrypt(b"padding fine, PKCS#8 not", b"right").unwrap();
        assert!(matches!(
            not_a_key.unseal(b"right"),
            Err(SealError::WrongPassphrase)
        ));
    }

    #[test]
    fn unseals_keys_that_openssl_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let key = new_key(dir.path(), "RSA");
        for scheme in [
            // What IT runs: `openssl pkcs8 -topk8 -v2 aes-256-cbc` (PBKDF2-HMAC-SHA256).
            &["-v2", "aes-256-cbc"][..],
            &["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"],
            &["-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA512"],
            &["-v2", "des3", "-v2prf", "hmacWithSHA384"],
            &["-scrypt"],
        ] {
            let sealed = SealedKey::from_pem(&openssl_sealed(dir.path(), scheme)).unwrap();
            assert_eq!(
                sealed.unseal(b"it-secret").unwrap().as_bytes(),
                key,
                "{scheme:?}"
            );
            let wrong = sealed.unseal(b"it-secret!");
            assert!(
                matches!(wrong, Err(SealError::WrongPassphrase)),
                "{scheme:?}"
            );
        }
    }

    #[test]
    fn refuses_what_it_cannot_or_should_not_open() {
        let dir = tempfile::tempdir().unwrap();
        new_key(dir.path(), "ED25519");
        let result = SealedKey::from_pem(&openssl_sealed(dir.path(), &["-v1", "PBE-SHA1-3DES"]));
        let pkcs12_3des = |oid: &str| oid == "1.2.840.113549.1.12.1.3";
        assert!(
            matches!(&result, Err(SealError::UnsupportedScheme { oid, .. }) if pkcs12_3des(oid)),
            "{result:?}"
        );

        let plain = openssl(
            dir.path(),
            &["pkcs8", "-topk8", "-nocrypt", "-in", "key.pem"],
        );
        let plain = String::from_utf8(plain).unwrap();
        for pem in [plain.as_str(), "not PEM"] {
            assert!(matches!(
                SealedKey::from_pem(pem),
                Err(SealError::Malformed { .. })
            ));
        }
        let empty = SealedKey::from_der(vec![0x30, 0x00]);
        assert!(matches!(empty, Err(SealError::Malformed { .. })));
        let not_a_key = seal(&PrivateKeyDer::new(vec![1, 2, 3]), b"x");
        assert!(matches!(not_a_key, Err(SealError::Malformed { .. })));

        // A file asking scrypt for 1 GiB is refused before any work is done.
        let (mut info, mut params, mut scrypt) = parts(&encrypt(b"key", b"x").unwrap());
        scrypt.cost_parameter = 1 << 20;
        params.key_derivation_func.parameters = Some(any(&scrypt).unwrap());
        info.encryption_algorithm.parameters = Some(any(&params).unwrap());
        let result = SealedKey::from_der(info.to_der().unwrap());
        assert!(
            matches!(result, Err(SealError::LimitExceeded { .. })),
            "{result:?}"
        );
    }
}
