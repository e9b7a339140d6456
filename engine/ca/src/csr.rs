//! Checking a holder's PKCS#10 request (RFC 2986) before it is certified: its signature
//! (proof that the requester holds the key), its key (RSA 2048–8192 bits, EC P-256 or P-384)
//! and that it asks for nothing the profile forbids: no CA, no other names, no other usages,
//! no subject field the profile does not put there itself. The certificate's content always
//! comes from the profile and the request's parameters, never from the CSR; only the public
//! key is taken from it.

use super::PkiError;
use super::profile::{KeyFamily, Subject, key_usages};
use crate::vocabulary::{CertificateKind, Usage};
use const_oid::db::{rfc4519, rfc5912};
use der::asn1::UintRef;
use der::{Decode, Encode, Sequence};
use rcgen::{
    CertificateSigningRequestParams, ExtendedKeyUsagePurpose, IsCa, SanType, SubjectPublicKeyInfo,
};
use x509_cert::request::CertReq;

/// The smallest and largest RSA moduli certified (S/MIME BR §6.1.5: at least 2048).
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;
/// `pkcs-9-at-emailAddress`.
const EMAIL_ADDRESS: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1");

/// A request that passed every check: the public key to certify and its family.
#[derive(Debug)]
pub struct CheckedCsr {
    /// The public key, as rcgen certifies it.
    pub public_key: SubjectPublicKeyInfo,
    /// RSA or EC, which decides the key usages.
    pub family: KeyFamily,
}

/// RFC 8017 Appendix A.1.1 `RSAPublicKey`, to learn the modulus size.
#[derive(Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// Checks `request` (DER or PEM) for `subject` and `usage`.
///
/// # Errors
/// [`PkiError::Csr`] saying what is wrong.
pub fn check(request: &[u8], subject: &Subject, usage: Usage) -> Result<CheckedCsr, PkiError> {
    let der = if request.starts_with(b"-----BEGIN") {
        der::pem::decode_vec(request)
            .map_err(|_| refuse("is not a PEM certificate request"))?
            .1
    } else {
        request.to_vec()
    };
    let parsed =
        CertificateSigningRequestParams::from_der(&der.as_slice().into()).map_err(|e| {
            refuse(match e {
                rcgen::Error::InvalidCertificationRequestSignature => {
                    "signature does not verify: it was not signed by the key it holds"
                }
                rcgen::Error::UnsupportedExtension => {
                    "asks for an extension the S/MIME profiles do not allow"
                }
                rcgen::Error::UnsupportedSignatureAlgorithm => {
                    "uses an unsupported signature algorithm"
                }
                _ => "is not a PKCS#10 certificate request",
            })
        })?;
    let params = parsed.params;
    if !matches!(params.is_ca, IsCa::NoCa | IsCa::ExplicitNoCa) {
        return Err(refuse("asks for a CA certificate"));
    }
    for name in &params.subject_alt_names {
        match name {
            SanType::Rfc822Name(email) if email.as_str().eq_ignore_ascii_case(subject.email()) => {}
            _ => {
                return Err(refuse(
                    "asks for a subjectAltName other than the address being certified",
                ));
            }
        }
    }
    if params
        .extended_key_usages
        .iter()
        .any(|eku| *eku != ExtendedKeyUsagePurpose::EmailProtection)
    {
        return Err(refuse(
            "asks for an extended key usage other than emailProtection",
        ));
    }

    let request =
        CertReq::from_der(&der).map_err(|_| refuse("is not a PKCS#10 certificate request"))?;
    check_subject(&request, subject)?;
    let spki = &request.info.public_key;
    let family = match spki.algorithm.oid {
        rfc5912::RSA_ENCRYPTION => {
            let key = RsaPublicKey::from_der(spki.subject_public_key.raw_bytes())
                .map_err(|_| refuse("holds an unreadable RSA key"))?;
            let bits = key.modulus.as_bytes().len() * 8
                - key
                    .modulus
                    .as_bytes()
                    .first()
                    .map_or(8, |b| b.leading_zeros() as usize);
            if !RSA_BITS.contains(&bits) {
                return Err(refuse("holds an RSA key outside 2048 to 8192 bits"));
            }
            KeyFamily::Rsa
        }
        rfc5912::ID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok());
            match curve {
                Some(rfc5912::SECP_256_R_1 | rfc5912::SECP_384_R_1) => KeyFamily::Ec,
                _ => {
                    return Err(refuse(
                        "holds an EC key on a curve other than P-256 or P-384",
                    ));
                }
            }
        }
        _ => return Err(refuse("holds a key type the S/MIME profiles do not allow")),
    };
    let allowed = key_usages(family, usage);
    if params.key_usages.iter().any(|ku| !allowed.contains(ku)) {
        return Err(refuse(
            "asks for a key usage this key type and usage do not get",
        ));
    }
    let spki_der = spki
        .to_der()
        .map_err(PkiError::encoding("request's public key"))?;
    let public_key = SubjectPublicKeyInfo::from_der(&spki_der)
        .map_err(|_| refuse("holds a key rcgen cannot certify"))?;
    Ok(CheckedCsr { public_key, family })
}

/// Every subject attribute in the request must be one the profile writes, with its value:
/// commonName (the address for mailbox, the name otherwise), organizationName, emailAddress.
fn check_subject(request: &CertReq, subject: &Subject) -> Result<(), PkiError> {
    for attribute in request.info.subject.iter() {
        let value = attribute
            .value
            .decode_as::<der::asn1::Utf8StringRef<'_>>()
            .map(|s| s.as_str().to_owned())
            .or_else(|_| {
                attribute
                    .value
                    .decode_as::<der::asn1::PrintableStringRef<'_>>()
                    .map(|s| s.as_str().to_owned())
            })
            .or_else(|_| {
                attribute
                    .value
                    .decode_as::<der::asn1::Ia5StringRef<'_>>()
                    .map(|s| s.as_str().to_owned())
            })
            .map_err(|_| refuse("has a subject attribute in an unsupported string type"))?;
        // Addresses compare in any case; names and companies exactly.
        let expected = match (attribute.oid, subject.kind()) {
            (rfc4519::CN, CertificateKind::Mailbox) | (EMAIL_ADDRESS, _) => {
                Some((subject.email(), true))
            }
            (rfc4519::CN, _) => subject.name().map(|name| (name, false)),
            (rfc4519::O, _) => subject.organization().map(|org| (org, false)),
            _ => None,
        };
        match expected {
            Some((expected, true)) if expected.eq_ignore_ascii_case(&value) => {}
            Some((expected, false)) if expected == value => {}
            Some(_) => {
                return Err(refuse(
                    "asks for a subject that differs from the name, address or company being certified",
                ));
            }
            None => {
                return Err(refuse(
                    "asks for a subject field this profile does not allow",
                ));
            }
        }
    }
    Ok(())
}

fn refuse(reason: &str) -> PkiError {
    PkiError::Csr {
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair, KeyUsagePurpose};

    fn csr(edit: impl FnOnce(&mut CertificateParams)) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "Ann Example");
        params.subject_alt_names = vec![SanType::Rfc822Name("ann@example.com".try_into().unwrap())];
        edit(&mut params);
        params.serialize_request(&key).unwrap().der().to_vec()
    }

    /// A change to a request's parameters.
    type Edit = Box<dyn FnOnce(&mut CertificateParams)>;

    fn ann() -> Subject {
        Subject::new(
            CertificateKind::Individual,
            "ann@example.com",
            Some("Ann Example"),
            None,
        )
        .unwrap()
    }

    #[test]
    fn a_plain_request_passes_and_forbidden_asks_are_refused() {
        let checked = check(&csr(|_| {}), &ann(), Usage::Both).unwrap();
        assert_eq!(checked.family, KeyFamily::Ec);
        let refused: [(&str, Edit); 5] = [
            (
                "CA",
                Box::new(|p| p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained)),
            ),
            (
                "subjectAltName",
                Box::new(|p| {
                    p.subject_alt_names
                        .push(SanType::DnsName("example.com".try_into().unwrap()))
                }),
            ),
            (
                "extended key usage",
                Box::new(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]),
            ),
            (
                "subject field",
                Box::new(|p| p.distinguished_name.push(DnType::CountryName, "DE")),
            ),
            (
                "key usage",
                Box::new(|p| p.key_usages = vec![KeyUsagePurpose::KeyCertSign]),
            ),
        ];
        for (what, edit) in refused {
            match check(&csr(edit), &ann(), Usage::Both) {
                Err(PkiError::Csr { reason }) => assert!(reason.contains(what), "{what}: {reason}"),
                other => panic!("{what}: {other:?}"),
            }
        }
        // Signing-only certificates do not get keyAgreement.
        let agreement = csr(|p| p.key_usages = vec![KeyUsagePurpose::KeyAgreement]);
        assert!(check(&agreement, &ann(), Usage::Signing).is_err());
        assert!(check(&agreement, &ann(), Usage::Encryption).is_ok());
    }

    #[test]
    fn a_tampered_request_fails_its_signature() {
        let mut der = csr(|_| {});
        // A byte of the signature value, at the end of the request.
        let at = der.len() - 10;
        der[at] ^= 1;
        match check(&der, &ann(), Usage::Both) {
            Err(PkiError::Csr { reason }) => assert!(
                reason.contains("signature") || reason.contains("PKCS#10"),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }
    }
}
