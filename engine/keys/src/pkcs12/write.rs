//! Writes PKCS#12 files (RFC 7292) for handing an identity to a user: the company CA's
//! `ca.issue` returns one for every key pair it generates.
//!
//! It sits beside the reader so that both use one set of OIDs, one PBES2 and one PKCS#12 KDF.
//!
//! # What is written
//! The modern form OpenSSL 3 writes by default and Windows 10 (1709+), macOS and Thunderbird
//! import: the key in a `pkcs8ShroudedKeyBag` and the certificates in an `EncryptedData` safe,
//! both under PBES2 (PBKDF2-HMAC-SHA-256, by default [`ITERATIONS`] rounds, AES-256-CBC, random 16-byte
//! salts and IVs), and an HMAC-SHA-256 integrity MAC keyed by the Appendix B KDF with as many
//! rounds. The key bag and the holder's certificate carry the same `localKeyId` (the SHA-256 of
//! the certificate) and a `friendlyName`, which Windows and macOS show in their key stores.

use super::asn1::{CERT_BAG, DigestInfo, MacData, PKCS8_SHROUDED_KEY_BAG, X509_CERTIFICATE};
use super::kdf::{self, Purpose};
use super::pbes2::{self, EncryptedPrivateKeyInfo, PBES2_OID, Pbes2Scheme};
use super::{Pkcs12Error, PrivateKeyDer};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::{digest, hmac};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::encrypted_data::EncryptedData;
use cms::enveloped_data::EncryptedContentInfo;
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::{Any, BmpString, ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;

/// The default rounds of PBKDF2 for both encryptions and of the Appendix B KDF for the MAC:
/// ten times the 10 000 that NIST SP 800-132 asks as a minimum, for passwords people choose.
pub const ITERATIONS: u32 = 100_000;
/// `friendlyName` (PKCS #9, RFC 2985 §5.5.1).
const FRIENDLY_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.20");
/// `localKeyId` (PKCS #9, RFC 2985 §5.5.2).
const LOCAL_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.21");

/// What goes into a PKCS#12 file: one key, its certificate, and the chain above it.
#[derive(Debug)]
pub struct Pkcs12Identity<'a> {
    /// The private key (PKCS#8 DER).
    pub key: &'a PrivateKeyDer,
    /// The key's certificate, DER.
    pub certificate: &'a [u8],
    /// The CA certificates, DER, issuing CA first.
    pub chain: &'a [Vec<u8>],
    /// The name key stores show for the identity (usually the mail address).
    pub friendly_name: &'a str,
    /// KDF rounds ([`ITERATIONS`] unless the password is random enough not to need them).
    pub iterations: u32,
    /// Which PBES2 parameters.
    pub encryption: Encryption,
}

/// The PBES2 parameters of both encryptions (the MAC is HMAC-SHA-256 either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encryption {
    /// PBKDF2-HMAC-SHA-256 and AES-256-CBC: OpenSSL 3's default, read by Windows, macOS,
    /// Thunderbird (NSS) and OpenSSL.
    #[default]
    Modern,
    /// PBKDF2-HMAC-SHA-1 and AES-128-CBC: what GnuPG 2.2's gpgsm reads (it refuses every
    /// other PBES2); still no RC2, 3DES or SHA-1 MAC.
    Gnupg22,
}

/// A SafeBag as written (RFC 7292 §4.2); the reader's `SafeBag` only decodes.
#[derive(Sequence)]
struct SafeBagOut {
    bag_id: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    bag_value: Any,
    bag_attributes: Option<SetOfVec<Attribute>>,
}

/// A CertBag as written (RFC 7292 §4.2.3).
#[derive(Sequence)]
struct CertBagOut {
    cert_id: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    cert_value: OctetString,
}

/// The PFX as written (RFC 7292 §4).
#[derive(Sequence)]
struct PfxOut {
    version: u8,
    auth_safe: ContentInfo,
    mac_data: MacData,
}

/// Writes `identity` as a PKCS#12 file protected by `password` (used as UTF-8 by PBES2 and as
/// a BMPString by the MAC, as OpenSSL and Windows do).
///
/// # Errors
/// [`Pkcs12Error::Malformed`] if a part cannot be encoded (a certificate that is not DER);
/// never for a valid identity.
pub fn write(identity: &Pkcs12Identity<'_>, password: &[u8]) -> Result<Vec<u8>, Pkcs12Error> {
    let local_key_id = digest::digest(&digest::SHA256, identity.certificate);
    let attributes = bag_attributes(identity.friendly_name, local_key_id.as_ref())?;

    let mut cert_bags = vec![cert_bag(identity.certificate, Some(attributes.clone()))?];
    for ca in identity.chain {
        cert_bags.push(cert_bag(ca, None)?);
    }
    let cert_safe = encode("certificate SafeContents", &cert_bags)?;
    let (algorithm, ciphertext) = encrypt(identity, password, &cert_safe)?;
    let encrypted_certs = ContentInfo {
        content_type: rfc5911::ID_ENCRYPTED_DATA,
        content: to_any(
            "EncryptedData",
            &EncryptedData {
                version: CmsVersion::V0,
                enc_content_info: EncryptedContentInfo {
                    content_type: rfc5911::ID_DATA,
                    content_enc_alg: algorithm,
                    encrypted_content: Some(octets(&ciphertext)?),
                },
                unprotected_attrs: None,
            },
        )?,
    };

    let (algorithm, ciphertext) = encrypt(identity, password, identity.key.as_bytes())?;
    let shrouded = EncryptedPrivateKeyInfo {
        encryption_algorithm: algorithm,
        encrypted_data: octets(&ciphertext)?,
    };
    let key_safe = encode(
        "key SafeContents",
        &vec![SafeBagOut {
            bag_id: PKCS8_SHROUDED_KEY_BAG,
            bag_value: to_any("shrouded key bag", &shrouded)?,
            bag_attributes: Some(attributes),
        }],
    )?;
    let key_data = data(&key_safe)?;

    let auth_safe = encode("AuthenticatedSafe", &vec![encrypted_certs, key_data])?;
    let mac_data = mac(password, &auth_safe, identity.iterations)?;
    encode(
        "PFX",
        &PfxOut {
            version: 3,
            auth_safe: data(&auth_safe)?,
            mac_data,
        },
    )
}

/// friendlyName and localKeyId, shared by the key and its certificate so importers pair them.
fn bag_attributes(
    friendly_name: &str,
    local_key_id: &[u8],
) -> Result<SetOfVec<Attribute>, Pkcs12Error> {
    let name = BmpString::from_utf8(friendly_name).map_err(undecodable("friendlyName"))?;
    let attribute = |oid, value: Any| -> Result<Attribute, Pkcs12Error> {
        Ok(Attribute {
            oid,
            values: SetOfVec::try_from(vec![value]).map_err(undecodable("attribute"))?,
        })
    };
    SetOfVec::try_from(vec![
        attribute(FRIENDLY_NAME, to_any("friendlyName", &name)?)?,
        attribute(LOCAL_KEY_ID, to_any("localKeyId", &octets(local_key_id)?)?)?,
    ])
    .map_err(undecodable("bag attributes"))
}

/// A certBag for the DER certificate `der`.
fn cert_bag(
    der: &[u8],
    attributes: Option<SetOfVec<Attribute>>,
) -> Result<SafeBagOut, Pkcs12Error> {
    let bag = CertBagOut {
        cert_id: X509_CERTIFICATE,
        cert_value: octets(der)?,
    };
    Ok(SafeBagOut {
        bag_id: CERT_BAG,
        bag_value: to_any("certBag", &bag)?,
        bag_attributes: attributes,
    })
}

/// Encrypts under a fresh PBES2 scheme; returns its AlgorithmIdentifier and the ciphertext.
fn encrypt(
    identity: &Pkcs12Identity<'_>,
    password: &[u8],
    plaintext: &[u8],
) -> Result<(AlgorithmIdentifierOwned, Vec<u8>), Pkcs12Error> {
    let salt = random::<16>()?;
    let iv = random::<16>()?;
    let modern = identity.encryption == Encryption::Modern;
    let algorithm = pbes2::pbkdf2_algorithm(modern, &salt, identity.iterations, &iv)?;
    debug_assert_eq!(algorithm.oid, PBES2_OID);
    // Read back what we wrote, so that writing and reading run through the same checks.
    let scheme = Pbes2Scheme::from_parameters(algorithm.parameters.as_ref())?;
    let ciphertext = scheme.encrypt(password, plaintext)?;
    Ok((algorithm, ciphertext))
}

/// The HMAC-SHA-256 integrity MAC over the AuthenticatedSafe (RFC 7292 §5.1).
fn mac(password: &[u8], auth_safe: &[u8], iterations: u32) -> Result<MacData, Pkcs12Error> {
    let salt = random::<16>()?;
    let hash = &digest::SHA256;
    let bmp = kdf::bmp_password(password);
    let key = kdf::derive(
        hash,
        &bmp,
        &salt,
        iterations,
        Purpose::Mac,
        hash.output_len(),
    );
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), auth_safe);
    Ok(MacData {
        mac: DigestInfo {
            digest_algorithm: AlgorithmIdentifierOwned {
                oid: rfc5912::ID_SHA_256,
                parameters: Some(Any::null()),
            },
            digest: octets(tag.as_ref())?,
        },
        mac_salt: octets(&salt)?,
        iterations: Some(iterations),
    })
}

/// An `id-data` ContentInfo around `bytes`.
fn data(bytes: &[u8]) -> Result<ContentInfo, Pkcs12Error> {
    Ok(ContentInfo {
        content_type: rfc5911::ID_DATA,
        content: to_any("data", &octets(bytes)?)?,
    })
}

fn random<const N: usize>() -> Result<[u8; N], Pkcs12Error> {
    let mut bytes = [0; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Pkcs12Error::Malformed {
            what: "random salt or IV (the system's generator failed)",
            source: None,
        })?;
    Ok(bytes)
}

fn octets(bytes: &[u8]) -> Result<OctetString, Pkcs12Error> {
    OctetString::new(bytes).map_err(undecodable("octet string"))
}

fn encode(what: &'static str, value: &impl Encode) -> Result<Vec<u8>, Pkcs12Error> {
    value.to_der().map_err(undecodable(what))
}

fn to_any(what: &'static str, value: &impl Encode) -> Result<Any, Pkcs12Error> {
    Any::from_der(&encode(what, value)?).map_err(undecodable(what))
}

fn undecodable(what: &'static str) -> impl FnOnce(der::Error) -> Pkcs12Error {
    move |source| Pkcs12Error::Malformed {
        what,
        source: Some(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs12::parse;

    fn identity() -> (PrivateKeyDer, Vec<u8>, Vec<u8>) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        (
            PrivateKeyDer::new(key.serialize_der()),
            cert.der().to_vec(),
            ca.der().to_vec(),
        )
    }

    #[test]
    fn what_it_writes_reads_back_and_a_wrong_password_fails() {
        let (key, cert, ca) = identity();
        let chain = vec![ca.clone()];
        for encryption in [Encryption::Modern, Encryption::Gnupg22] {
            let der = write(
                &Pkcs12Identity {
                    key: &key,
                    certificate: &cert,
                    chain: &chain,
                    friendly_name: "ann@example.com",
                    iterations: 2048,
                    encryption,
                },
                "pässword".as_bytes(),
            )
            .unwrap();
            let contents = parse(&der, "pässword".as_bytes()).unwrap();
            assert_eq!(contents.private_key.as_bytes(), key.as_bytes());
            assert_eq!(contents.certificate.to_der().unwrap(), cert);
            assert_eq!(contents.chain.len(), 1);
            assert_eq!(contents.chain[0].to_der().unwrap(), ca);
            assert!(matches!(
                parse(&der, b"wrong"),
                Err(Pkcs12Error::WrongPassword)
            ));
        }
    }
}
