//! What a certificate says about its owner, in the form users and scripts see it.

use crate::ber::{self, Profile};
use aws_lc_rs::digest;
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5911, rfc5912, rfc8410};
use der::{Decode, Encode, EncodingRules};
use spki::SubjectPublicKeyInfoOwned;
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

/// SHA-256 of a certificate's DER: its identifier in the store and on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a certificate.
    pub fn of(cert: &Certificate) -> Self {
        let der = cert.to_der().expect("a decoded certificate re-encodes");
        Self::of_der(&der)
    }

    /// The fingerprint of DER bytes already at hand.
    pub fn of_der(der: &[u8]) -> Self {
        let hash = digest::digest(&digest::SHA256, der);
        Self(hash.as_ref().try_into().expect("SHA-256 is 32 bytes"))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Accepts what people paste: any case, with or without colons (as `openssl x509 -fingerprint`
/// prints them).
impl FromStr for Fingerprint {
    type Err = hex::FromHexError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let compact: String = text.chars().filter(|c| *c != ':').collect();
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(compact, &mut bytes)?;
        Ok(Self(bytes))
    }
}

/// The mail addresses a certificate is for: its SAN rfc822Names, or, only when the SAN has
/// none, the legacy emailAddress attributes of the subject (RFC 8550 §3). Lowercased, since
/// mailbox comparison in practice ignores case.
pub fn emails(cert: &Certificate) -> Vec<String> {
    let tbs = cert.tbs_certificate();
    let from_san: Vec<String> = match tbs.get_extension::<SubjectAltName>() {
        Ok(Some((_, san))) => san
            .0
            .iter()
            .filter_map(|name| match name {
                GeneralName::Rfc822Name(addr) => Some(addr.as_str().to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if !from_san.is_empty() {
        return from_san;
    }
    tbs.subject()
        .iter()
        .filter(|atv| atv.oid == EMAIL_ADDRESS)
        .filter_map(|atv| der::asn1::Ia5StringRef::try_from(&atv.value).ok())
        .map(|addr| addr.as_str().to_ascii_lowercase())
        .collect()
}

/// PKCS#9 emailAddress (RFC 2985 §5.2.1).
const EMAIL_ADDRESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1");

/// A short name for the key type and size: `rsa-2048`, `ec-p256`, `ed25519`, `x25519`.
pub fn key_algorithm(cert: &Certificate) -> String {
    let spki = cert.tbs_certificate().subject_public_key_info();
    let oid = spki.algorithm.oid;
    if oid == rfc5912::RSA_ENCRYPTION {
        let bits = spki
            .subject_public_key
            .as_bytes()
            .and_then(|der| rsa_modulus_bits(der).ok())
            .map_or_else(|| "?".to_owned(), |b| b.to_string());
        return format!("rsa-{bits}");
    }
    if oid == rfc5912::ID_EC_PUBLIC_KEY {
        return match named_curve(spki) {
            Some(c) if c == rfc5912::SECP_256_R_1 => "ec-p256".into(),
            Some(c) if c == rfc5912::SECP_384_R_1 => "ec-p384".into(),
            Some(c) if c == rfc5912::SECP_521_R_1 => "ec-p521".into(),
            Some(c) => format!("ec-{c}"),
            None => "ec-?".into(),
        };
    }
    match oid {
        o if o == rfc8410::ID_ED_25519 => "ed25519".into(),
        o if o == rfc8410::ID_ED_448 => "ed448".into(),
        o if o == rfc8410::ID_X_25519 => "x25519".into(),
        o if o == rfc8410::ID_X_448 => "x448".into(),
        o => o.to_string(),
    }
}

/// Bit length of an RSA modulus from a PKCS#1 RSAPublicKey (RFC 8017 §A.1.1), the contents of
/// an RSA subjectPublicKey; shared with signature verification, which judges key sizes by it.
pub fn rsa_modulus_bits(der: &[u8]) -> der::Result<usize> {
    #[derive(der::Sequence)]
    struct RsaPublicKey<'a> {
        modulus: der::asn1::UintRef<'a>,
        _public_exponent: der::asn1::UintRef<'a>,
    }
    let key = RsaPublicKey::from_der(der)?;
    let bytes = key.modulus.as_bytes();
    let leading = bytes.first().map_or(0, |b| b.leading_zeros() as usize);
    Ok(bytes.len() * 8 - leading)
}

/// The namedCurve of an EC public key (RFC 5480 §2.1.1); `None` when the parameters are absent
/// or another choice (implicitCurve, specifiedCurve).
pub fn named_curve(spki: &SubjectPublicKeyInfoOwned) -> Option<ObjectIdentifier> {
    spki.algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
}

/// Where a moment falls in a certificate's validity period (inclusive at both ends), with the
/// boundary worth naming: the start when before it, else the end. Every validity check (a
/// signature's, a path's, a recipient's, our own signing identity's) asks this one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Period {
    /// Not yet valid; holds notBefore (RFC 3339).
    Before(String),
    /// Valid; holds notAfter.
    Within(String),
    /// Expired; holds notAfter.
    After(String),
}

/// Where `at` falls in `cert`'s validity period.
pub fn period(cert: &Certificate, at: SystemTime) -> Period {
    let validity = cert.tbs_certificate().validity();
    if at < validity.not_before.to_system_time() {
        Period::Before(validity.not_before.to_date_time().to_string())
    } else if at > validity.not_after.to_system_time() {
        Period::After(validity.not_after.to_date_time().to_string())
    } else {
        Period::Within(validity.not_after.to_date_time().to_string())
    }
}

/// Whole days from `now` to the end of `cert`'s validity: negative once it has expired, and
/// `-1` from its first second past notAfter (a certificate is not "0 days" from expiry after it).
pub fn days_to_expiry(cert: &Certificate, now: SystemTime) -> i64 {
    let not_after = cert.tbs_certificate().validity().not_after.to_system_time();
    match not_after.duration_since(now) {
        Ok(left) => (left.as_secs() / 86_400) as i64,
        Err(past) => -(past.duration().as_secs().div_ceil(86_400) as i64),
    }
}

/// Decodes certificates from DER (one) or PEM (one or more).
///
/// PEM files in the wild carry explanatory text and other blocks (keys, CRLs) beside the
/// certificates: every `CERTIFICATE` block is taken, everything else ignored.
pub fn parse_certificates(data: &[u8]) -> Result<Vec<Certificate>, der::Error> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(vec![Certificate::from_der(data)?]);
    };
    if !text.contains("-----BEGIN ") {
        return Ok(vec![Certificate::from_der(data)?]);
    }
    let mut certs = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let end = block.find(END).ok_or(der::ErrorKind::Failed)? + END.len();
        let (label, der) = der::pem::decode_vec(&block.as_bytes()[..end])?;
        debug_assert_eq!(label, "CERTIFICATE");
        certs.push(Certificate::from_der(&der)?);
        rest = &block[end..];
    }
    if certs.is_empty() {
        return Err(der::ErrorKind::Failed.into());
    }
    Ok(certs)
}

/// Every certificate of a PKCS #7 SignedData (RFC 5652 §5.1), BER or DER: the certs-only
/// bags that directories and authorityInfoAccess caIssuers URLs serve.
pub fn signed_data_certificates(value: &[u8]) -> der::Result<Vec<Certificate>> {
    let der = ber::to_der(value, Profile::SIGNED_DATA)?;
    let info = ContentInfo::from_ber(&der)?;
    if info.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(der::ErrorKind::OidUnknown {
            oid: info.content_type,
        }
        .into());
    }
    let signed: SignedData = info.content.decode_as_encoding(EncodingRules::Ber)?;
    let certificates = signed.certificates.map(|set| set.0.into_vec());
    Ok(certificates
        .unwrap_or_default()
        .into_iter()
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(cert) => Some(cert),
            CertificateChoices::Other(_) => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_test_support::{TempPki, rfc9216};

    #[test]
    fn describes_the_rfc9216_certificates() {
        let Some(dir) = rfc9216("certs") else { return };
        let load = |name: &str| {
            parse_certificates(&std::fs::read(dir.join(name)).unwrap())
                .unwrap()
                .remove(0)
        };
        let alice = load("alice@smime.example.sig.pem");
        assert_eq!(emails(&alice), vec!["alice@smime.example"]);
        assert_eq!(key_algorithm(&alice), "rsa-2048");
        assert_eq!(
            key_algorithm(&load("carlos@smime.example.sig.pem")),
            "ed25519"
        );
        assert_eq!(key_algorithm(&load("dana@smime.example.enc.pem")), "x25519");
        assert!(days_to_expiry(&alice, SystemTime::UNIX_EPOCH) > 10_000);
        assert_eq!(Fingerprint::of(&alice).to_string().len(), 64);
    }

    #[test]
    fn legacy_subject_email_and_ec_keys() {
        let pki = TempPki::new();
        let cert = pki.self_signed("ec", "/CN=Eve/emailAddress=Eve@Example.COM", None);
        assert_eq!(emails(&cert), vec!["eve@example.com"]);
        assert_eq!(key_algorithm(&cert), "ec-p256");
        // A SAN address wins over the subject's emailAddress.
        let cert = pki.self_signed(
            "rsa",
            "/CN=Ann/emailAddress=old@example.com",
            Some("ann@example.com"),
        );
        assert_eq!(emails(&cert), vec!["ann@example.com"]);
        assert_eq!(key_algorithm(&cert), "rsa-2048");
    }

    #[test]
    fn expired_certificates_have_negative_days() {
        let pki = TempPki::new();
        let cert = pki.self_signed("rsa", "/CN=Old", None);
        let after = cert.tbs_certificate().validity().not_after.to_system_time();
        let days = days_to_expiry(
            &cert,
            after + std::time::Duration::from_secs(86_400 * 3 + 5),
        );
        assert_eq!(days, -4);
    }

    #[test]
    fn fingerprints_parse_in_any_case_with_colons() {
        let fp = Fingerprint::of_der(b"x");
        let colons = fp
            .to_string()
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(colons.parse::<Fingerprint>().unwrap(), fp);
        assert!("abc".parse::<Fingerprint>().is_err());
    }

    #[test]
    fn pem_bundles_and_der_both_parse() {
        let pki = TempPki::new();
        let cert = pki.self_signed("rsa", "/CN=A", None);
        let der = cert.to_der().unwrap();
        assert_eq!(parse_certificates(&der).unwrap(), vec![cert.clone()]);
        let pem = std::fs::read(pki.dir().join("cert.pem")).unwrap();
        let mut two = pem.clone();
        two.extend_from_slice(&pem);
        assert_eq!(parse_certificates(&two).unwrap().len(), 2);
        assert!(parse_certificates(b"garbage").is_err());
        assert!(parse_certificates(b"-----BEGIN nothing").is_err());
    }
}
