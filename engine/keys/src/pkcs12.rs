//! Reads (and, in `write`, writes) PKCS#12 files (RFC 7292), the `.p12`/`.pfx` form in which CAs, Windows, macOS and
//! Thunderbird hand out an S/MIME identity: a private key, its certificate and the CA chain.
//!
//! # What is read
//! - Password integrity: an HMAC with SHA-1, SHA-256, SHA-384 or SHA-512 keyed by the PKCS#12
//!   KDF (RFC 7292 Appendix B). Public-key integrity (`signedData`), public-key privacy
//!   (`envelopedData`) and PBMAC1 (RFC 9579) are refused as unsupported.
//! - Encrypted safes and shrouded key bags under PBES2 (PBKDF2 with HMAC-SHA-1/256/384/512 or
//!   scrypt; AES-128/192/256-CBC or DES-EDE3-CBC) — OpenSSL 3's default and Windows' "AES256"
//!   export — or the RFC 7292 Appendix C schemes of Windows and OpenSSL 1.x: SHA-1 with
//!   3-key or 2-key Triple DES, 128-bit or 40-bit RC2. RC4 schemes are refused.
//! - Key bags, shrouded key bags and X.509 certificate bags; CRL, secret, SDSI and nested
//!   SafeContents bags are skipped.
//! - DER and BER: indefinite lengths and constructed OCTET STRINGs, as Windows and Java write.
//!
//! # Passwords
//! One password opens the MAC and every encryption: as UTF-8 bytes for PBES2 (what OpenSSL and
//! Windows do), as a NUL-terminated BMPString for the KDF of Appendix B. An empty password is
//! tried both as the BMPString `00 00` and as no bytes at all, since writers differ.
//!
//! A file without a MAC is read only with an empty password, as OpenSSL's `-nomac` exports
//! are. With a password, a missing MAC is [`Pkcs12Error::MissingMac`]: the MAC is what
//! authenticates the contents, and a file stripped of it could carry a key and certificate
//! pair someone else slipped in, which an encrypted bag's padding would never reveal.
//!
//! # Pairing
//! The certificate returned is the first, in file order, whose public key is the private
//! key's (found by loading the key with aws-lc-rs, which also checks it); `localKeyId`
//! attributes are ignored, since they can be wrong and public keys cannot. Every other
//! certificate, including a second one for the same key, goes to `chain`.

mod asn1;
mod cbc;
mod kdf;
mod keypair;
mod pbe;
pub(super) mod pbes2;
mod write;

use asn1::{CertBag, ContentInfo, MacData, Pfx, SafeBag};
use aws_lc_rs::{digest, hmac};
use const_oid::db::rfc5912;
use der::Decode;
use der::asn1::ObjectIdentifier;
use kdf::Purpose;
use pbe::Password;
use pbes2::PbeError;
use std::fmt;
use x509_cert::Certificate;
use zeroize::Zeroizing;

pub use write::{
    Encryption as WriteEncryption, ITERATIONS as WRITE_ITERATIONS, Pkcs12Identity, write,
};

/// What a PKCS#12 file held for one identity.
#[derive(Debug)]
pub struct Pkcs12Contents {
    /// The private key as PKCS#8 `PrivateKeyInfo` DER, checked by aws-lc-rs.
    pub private_key: PrivateKeyDer,
    /// The certificate whose public key matches `private_key`.
    pub certificate: Certificate,
    /// Every other certificate in the file (normally the CA chain), in file order.
    pub chain: Vec<Certificate>,
}

/// The PKCS#8 DER of a private key, wiped from memory when dropped.
///
/// Its `Debug` shows the length only, so a key can never end up in a log line.
pub struct PrivateKeyDer(Zeroizing<Vec<u8>>);

impl PrivateKeyDer {
    /// Takes `der` as PKCS#8 DER without checking it, for keys from sources the caller trusts
    /// (a sealed key is checked when it is unsealed).
    pub fn new(der: Vec<u8>) -> Self {
        Self(Zeroizing::new(der))
    }

    /// The DER bytes, to hand to the crypto backend.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Takes `der` if it is a PKCS#8 `PrivateKeyInfo` (or `OneAsymmetricKey`) in DER. After a
    /// decryption, `None` means the password was wrong even though the padding looked right.
    pub(crate) fn from_pkcs8(der: Zeroizing<Vec<u8>>) -> Option<Self> {
        is_pkcs8(&der).then_some(Self(der))
    }
}

impl fmt::Debug for PrivateKeyDer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKeyDer({} bytes, redacted)", self.0.len())
    }
}

/// Whether `der` is a PKCS#8 `PrivateKeyInfo` (or `OneAsymmetricKey`) in DER.
pub(crate) fn is_pkcs8(der: &[u8]) -> bool {
    pkcs8::PrivateKeyInfoRef::from_der(der).is_ok()
}

/// Why a PKCS#12 file could not be read. No variant carries key material or the password.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Pkcs12Error {
    /// The file, or a part of it, is not what RFC 7292 describes.
    #[error("malformed PKCS#12 file: bad {what}")]
    Malformed {
        /// Which part.
        what: &'static str,
        /// The ASN.1 decoder's error, when it found the fault.
        #[source]
        source: Option<der::Error>,
    },
    /// The MAC does not verify, or an encrypted part does not decrypt, under this password.
    #[error("wrong password for the PKCS#12 file")]
    WrongPassword,
    /// The file has no MAC, which is accepted only with an empty password.
    #[error(
        "the PKCS#12 file has no integrity MAC; only files with an empty password may lack one"
    )]
    MissingMac,
    /// An algorithm or mode this reader does not implement.
    #[error("unsupported {purpose} in the PKCS#12 file: {oid}")]
    UnsupportedAlgorithm {
        /// The algorithm's OID, dotted.
        oid: String,
        /// What the algorithm is used for.
        purpose: &'static str,
    },
    /// A work factor (iterations, scrypt memory) above what a file may demand of the daemon.
    #[error("the PKCS#12 file asks for a {what} above the limit of {limit}")]
    LimitExceeded {
        /// Which parameter.
        what: &'static str,
        /// Our limit.
        limit: u64,
    },
    /// The file holds certificates but no private key.
    #[error("the PKCS#12 file holds no private key")]
    NoPrivateKey,
    /// The file holds more than one private key; import them one file at a time.
    #[error("the PKCS#12 file holds more than one private key")]
    MultiplePrivateKeys,
    /// No certificate in the file is for the private key.
    #[error("no certificate in the PKCS#12 file matches its private key")]
    NoMatchingCertificate,
    /// The private key does not load: corrupt, inconsistent, or of an unusable size.
    #[error("the private key in the PKCS#12 file is unusable: {reason}")]
    InvalidPrivateKey {
        /// aws-lc-rs's reason, such as `InconsistentComponents` or `TooSmall`.
        reason: &'static str,
    },
}

impl From<PbeError> for Pkcs12Error {
    fn from(error: PbeError) -> Self {
        match error {
            PbeError::Malformed { what, source } => Self::Malformed { what, source },
            PbeError::Unsupported { oid, purpose } => unsupported(oid, purpose),
            PbeError::LimitExceeded { what, limit } => Self::LimitExceeded { what, limit },
            PbeError::BadDecrypt => Self::WrongPassword,
        }
    }
}

/// Reads the PKCS#12 file `der` (DER or BER) with `password` (UTF-8).
///
/// # Errors
/// [`Pkcs12Error::WrongPassword`] when the MAC or a decryption fails; the other variants for
/// files that are damaged, unsupported or do not hold exactly one identity.
pub fn parse(der: &[u8], password: &[u8]) -> Result<Pkcs12Contents, Pkcs12Error> {
    let pfx = Pfx::from_ber(der).map_err(undecodable("PFX structure"))?;
    if pfx.version != 3 {
        return Err(malformed("PFX version"));
    }
    let auth_safe = match &pfx.auth_safe {
        ContentInfo::Data(data) => data.as_bytes(),
        ContentInfo::EncryptedData(_) => {
            return Err(malformed("authSafe content type"));
        }
        ContentInfo::Other(oid) => {
            return Err(unsupported(
                *oid,
                "integrity mode (only password integrity is supported)",
            ));
        }
    };
    let password = check_integrity(pfx.mac_data.as_ref(), auth_safe, password)?;

    let mut bags = Bags::default();
    let contents =
        Vec::<ContentInfo>::from_ber(auth_safe).map_err(undecodable("AuthenticatedSafe"))?;
    for content in contents {
        match content {
            ContentInfo::Data(data) => bags.add(data.as_bytes(), &password)?,
            ContentInfo::EncryptedData(encrypted) => {
                let info = encrypted.enc_content_info;
                let ciphertext = info
                    .encrypted_content
                    .ok_or(malformed("EncryptedData content"))?;
                let plaintext =
                    pbe::decrypt(&info.content_enc_alg, &password, ciphertext.as_bytes())?;
                bags.add(&plaintext, &password)?;
            }
            ContentInfo::Other(oid) => {
                return Err(unsupported(
                    oid,
                    "privacy mode (only password privacy is supported)",
                ));
            }
        }
    }
    bags.into_contents()
}

/// Checks the MAC and settles which form of the password the file was written with.
fn check_integrity<'a>(
    mac_data: Option<&MacData>,
    auth_safe: &[u8],
    password: &'a [u8],
) -> Result<Password<'a>, Pkcs12Error> {
    let bmp = kdf::bmp_password(password);
    let Some(mac_data) = mac_data else {
        return if password.is_empty() {
            Ok(Password {
                utf8: password,
                bmp,
            })
        } else {
            Err(Pkcs12Error::MissingMac)
        };
    };
    let mut candidates = vec![bmp];
    if password.is_empty() {
        candidates.push(Zeroizing::new(Vec::new()));
    }
    for bmp in candidates {
        if mac_matches(mac_data, auth_safe, &bmp)? {
            return Ok(Password {
                utf8: password,
                bmp,
            });
        }
    }
    Err(Pkcs12Error::WrongPassword)
}

/// Whether the MAC over `auth_safe` verifies with the BMPString password `bmp`; compared in
/// constant time by `hmac::verify`.
fn mac_matches(mac_data: &MacData, auth_safe: &[u8], bmp: &[u8]) -> Result<bool, Pkcs12Error> {
    let (hash, hmac_algorithm) = match mac_data.mac.digest_algorithm.oid {
        rfc5912::ID_SHA_1 => (
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        ),
        rfc5912::ID_SHA_256 => (&digest::SHA256, hmac::HMAC_SHA256),
        rfc5912::ID_SHA_384 => (&digest::SHA384, hmac::HMAC_SHA384),
        rfc5912::ID_SHA_512 => (&digest::SHA512, hmac::HMAC_SHA512),
        oid => {
            return Err(unsupported(oid, "MAC algorithm"));
        }
    };
    // RFC 5754 §2: the hash's parameters are absent or NULL.
    if let Some(parameters) = &mac_data.mac.digest_algorithm.parameters
        && !parameters.is_null()
    {
        return Err(malformed("MAC algorithm parameters"));
    }
    if mac_data.mac.digest.as_bytes().len() != hash.output_len() {
        return Err(malformed("MAC length"));
    }
    let iterations = mac_data.iterations.unwrap_or(1);
    pbes2::check_iterations(iterations)?;
    let salt = mac_data.mac_salt.as_bytes();
    let key = kdf::derive(hash, bmp, salt, iterations, Purpose::Mac, hash.output_len());
    let key = hmac::Key::new(hmac_algorithm, &key);
    Ok(hmac::verify(&key, auth_safe, mac_data.mac.digest.as_bytes()).is_ok())
}

/// The keys and certificates found so far, in file order.
#[derive(Default)]
struct Bags {
    keys: Vec<PrivateKeyDer>,
    certificates: Vec<Certificate>,
}

impl Bags {
    /// Collects the bags of one SafeContents.
    fn add(&mut self, safe_contents: &[u8], password: &Password<'_>) -> Result<(), Pkcs12Error> {
        let bags =
            Vec::<SafeBag<'_>>::from_ber(safe_contents).map_err(undecodable("SafeContents"))?;
        for bag in bags {
            match bag {
                SafeBag::Key(der) => {
                    let key = PrivateKeyDer::from_pkcs8(Zeroizing::new(der.to_vec()))
                        .ok_or(malformed("key bag"))?;
                    self.keys.push(key);
                }
                SafeBag::ShroudedKey(info) => {
                    let plaintext = pbe::decrypt(
                        &info.encryption_algorithm,
                        password,
                        info.encrypted_data.as_bytes(),
                    )?;
                    self.keys.push(
                        PrivateKeyDer::from_pkcs8(plaintext).ok_or(Pkcs12Error::WrongPassword)?,
                    );
                }
                SafeBag::Cert(CertBag::X509(der)) => {
                    let certificate = Certificate::from_der(der.as_bytes())
                        .map_err(undecodable("certificate"))?;
                    self.certificates.push(certificate);
                }
                SafeBag::Cert(CertBag::Other) | SafeBag::Other => {}
            }
        }
        Ok(())
    }

    /// The one identity the file must hold.
    fn into_contents(self) -> Result<Pkcs12Contents, Pkcs12Error> {
        let mut keys = self.keys.into_iter();
        let private_key = keys.next().ok_or(Pkcs12Error::NoPrivateKey)?;
        if keys.next().is_some() {
            return Err(Pkcs12Error::MultiplePrivateKeys);
        }
        let (certificate, chain) = split_identity(&private_key, self.certificates)?;
        Ok(Pkcs12Contents {
            private_key,
            certificate,
            chain,
        })
    }
}

/// Takes the first certificate for `key` out of `certificates`; the rest are the chain.
fn split_identity(
    key: &PrivateKeyDer,
    mut certificates: Vec<Certificate>,
) -> Result<(Certificate, Vec<Certificate>), Pkcs12Error> {
    let public = keypair::public_key(key)?;
    let position = certificates
        .iter()
        .position(|certificate| {
            let spki = certificate.tbs_certificate().subject_public_key_info();
            spki.subject_public_key.as_bytes() == Some(public.as_slice())
        })
        .ok_or(Pkcs12Error::NoMatchingCertificate)?;
    let certificate = certificates.remove(position);
    Ok((certificate, certificates))
}

/// A fault in `what` found by our own checks.
fn malformed(what: &'static str) -> Pkcs12Error {
    Pkcs12Error::Malformed { what, source: None }
}

/// An algorithm used for `purpose` that this reader does not implement.
fn unsupported(oid: ObjectIdentifier, purpose: &'static str) -> Pkcs12Error {
    Pkcs12Error::UnsupportedAlgorithm {
        oid: oid.to_string(),
        purpose,
    }
}

/// A fault in `what` found by the decoder, for `map_err`.
fn undecodable(what: &'static str) -> impl FnOnce(der::Error) -> Pkcs12Error {
    move |source| Pkcs12Error::Malformed {
        what,
        source: Some(source),
    }
}

#[cfg(test)]
mod tests;
