//! Making CMS SignedData (RFC 5652 §5) the way S/MIME wants it (RFC 8551 §2.5): signed
//! attributes contentType, signingTime, messageDigest, SMIMECapabilities and
//! SMIMEEncryptionKeyPreference; the signer's certificate and chain included.

use crate::encryption::ContentEncryption;
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::CmsVersion;
use cms::signed_data::{SignerIdentifier, SignerInfo, SignerInfos};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5911, rfc6268};
use der::asn1::{Any, OctetString, SetOfVec, UtcTime};
use der::{Decode, DerOrd, Encode};
use mailseal_keys::backend::{Hash, KeyError, PrivateKeyOps, SignatureScheme};
use mailseal_pkix::algorithms::{default_scheme, signature_algorithm_identifier};
use mailseal_pkix::tlv;
use spki::AlgorithmIdentifierOwned;
use std::cmp::Ordering;
use std::time::SystemTime;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::time::Time;

/// Who signs: the key (software or card) and the certificates to send along.
#[derive(Debug)]
pub struct Signer<'a> {
    /// The private key.
    pub key: &'a dyn PrivateKeyOps,
    /// The signer's certificate.
    pub certificate: &'a Certificate,
    /// The chain to include, so recipients can build the path without a directory.
    pub chain: &'a [Certificate],
    /// Sign with RSASSA-PSS instead of PKCS#1 v1.5 when the key is RSA.
    pub rsa_pss: bool,
}

/// Why a message could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The key cannot sign (an X25519 encryption-only key).
    #[error("this key cannot sign")]
    NotASigningKey,
    /// The key operation failed (card removed, …).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A structure could not be encoded (should not happen for valid certificates).
    #[error("cannot encode the signature: {0}")]
    Encode(#[from] der::Error),
}

/// A made signature: the DER `ContentInfo` of type id-signedData around the place of the
/// content, and the digest used (for `micalg`). The ContentInfo is `head`, then the
/// encapsulated content's bytes as they are (nothing for a detached signature), then `tail`:
/// so that the content of an opaque signature streams between them, never held.
#[derive(Debug)]
pub struct Signature {
    /// Everything up to the content.
    pub head: Vec<u8>,
    /// Everything after the content.
    pub tail: Vec<u8>,
    /// The digest algorithm of the signature.
    pub hash: Hash,
}

/// The scheme `signer` signs with, and its digest: the key's default (SHA-256, SHA-384 for
/// P-384), with RSASSA-PSS instead of PKCS#1 v1.5 when asked.
pub fn scheme(signer: &Signer<'_>) -> Result<(SignatureScheme, Hash), SignError> {
    match default_scheme(signer.key.algorithm()) {
        Some((SignatureScheme::RsaPkcs1(hash), _)) if signer.rsa_pss => {
            Ok((SignatureScheme::RsaPss(hash), hash))
        }
        Some(chosen) => Ok(chosen),
        None => Err(SignError::NotASigningKey),
    }
}

/// Signs `content` (the canonical MIME entity) in memory, for the tests: the whole DER
/// ContentInfo. `detached` leaves the content out of the SignedData (for `multipart/signed`);
/// otherwise it is encapsulated (opaque signing).
#[cfg(test)]
pub fn sign(
    content: &[u8],
    signer: &Signer<'_>,
    detached: bool,
    now: SystemTime,
) -> Result<(Vec<u8>, Hash), SignError> {
    let (_, hash) = scheme(signer)?;
    let encapsulated = (!detached).then_some(content.len() as u64);
    let signature = sign_digest(&hash.digest(content), encapsulated, signer, now)?;
    let content = if detached { &[][..] } else { content };
    Ok(([&signature.head, content, &signature.tail].concat(), hash))
}

/// Signs content whose digest (by the hash of [`scheme`]) is `digest`, so that the content
/// itself can be hashed as it streams by. `encapsulated_len` is the length of the content for
/// opaque signing, which goes between [`Signature::head`] and [`Signature::tail`]; `None` for
/// a detached signature, whose head and tail together are the ContentInfo.
pub fn sign_digest(
    digest: &[u8],
    encapsulated_len: Option<u64>,
    signer: &Signer<'_>,
    now: SystemTime,
) -> Result<Signature, SignError> {
    let (scheme, hash) = scheme(signer)?;
    let issuer_and_serial = IssuerAndSerialNumber {
        issuer: signer.certificate.tbs_certificate().issuer().clone(),
        serial_number: signer.certificate.tbs_certificate().serial_number().clone(),
    };
    let signed_attrs = signed_attributes(digest, &issuer_and_serial, now)?;
    // The signature covers the DER of the attributes as a SET OF (RFC 5652 §5.4).
    let signature = signer.key.sign(scheme, &signed_attrs.to_der()?)?;
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(issuer_and_serial),
        digest_alg: hash.algorithm_identifier(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: signature_algorithm_identifier(scheme),
        signature: OctetString::new(signature)?,
        unsigned_attrs: None,
    };
    // SignedData (RFC 5652 §5.1), written by hand around the content so that its lengths, known
    // up front, are DER however long the content:
    //   SEQUENCE { version, digestAlgorithms, encapContentInfo SEQUENCE { eContentType,
    //     eContent [0] EXPLICIT OCTET STRING OPTIONAL }, certificates [0] IMPLICIT, signerInfos }
    let mut before = CmsVersion::V1.to_der()?;
    before.extend(SetOfVec::try_from(vec![hash.algorithm_identifier()])?.to_der()?);
    let mut encap = rfc6268::ID_DATA.to_der()?;
    let mut content_len = 0;
    if let Some(len) = encapsulated_len {
        let octets = tlv::header(0x04, Some(len));
        encap.extend(tlv::header(0xa0, Some(octets.len() as u64 + len)));
        encap.extend(octets);
        content_len = len;
    }
    before.extend(tlv::header(0x30, Some(encap.len() as u64 + content_len)));
    before.extend(encap);
    let mut after = certificate_set(signer)?;
    after.extend(SignerInfos(SetOfVec::try_from(vec![signer_info])?).to_der()?);
    let signed_len = (before.len() + after.len()) as u64 + content_len;
    let signed_header = tlv::header(0x30, Some(signed_len));
    // ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT ANY }
    let explicit_len = signed_header.len() as u64 + signed_len;
    let explicit_header = tlv::header(0xa0, Some(explicit_len));
    let content_type = rfc6268::ID_SIGNED_DATA.to_der()?;
    let info_len = (content_type.len() + explicit_header.len()) as u64 + explicit_len;
    let mut head = tlv::header(0x30, Some(info_len));
    head.extend(content_type);
    head.extend(explicit_header);
    head.extend(signed_header);
    head.extend(before);
    Ok(Signature {
        head,
        tail: after,
        hash,
    })
}

/// `certificates [0] IMPLICIT CertificateSet` (RFC 5652 §5.1) holding the signer's certificate
/// and chain. Written by hand because it was most of a small signature's encoding work: the
/// certificates are sorted in place by the same [`DerOrd`] the `cms` types use for a SET OF (so
/// that our own decoder accepts the order) and each is encoded once, where building the `cms`
/// type would clone every certificate first.
fn certificate_set(signer: &Signer<'_>) -> Result<Vec<u8>, SignError> {
    let mut certificates: Vec<&Certificate> = std::iter::once(signer.certificate)
        .chain(signer.chain)
        .collect();
    let mut failed = None;
    certificates.sort_by(|a, b| {
        a.der_cmp(b).unwrap_or_else(|e| {
            failed.get_or_insert(e);
            Ordering::Equal
        })
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    let encodings = certificates
        .into_iter()
        .map(Encode::to_der)
        .collect::<Result<Vec<_>, _>>()?;
    let len: usize = encodings.iter().map(Vec::len).sum();
    let mut set = tlv::header(0xa0, Some(len as u64));
    set.extend(encodings.concat());
    Ok(set)
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, der::Error> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

fn signed_attributes(
    digest: &[u8],
    issuer_and_serial: &IssuerAndSerialNumber,
    now: SystemTime,
) -> Result<SetOfVec<Attribute>, der::Error> {
    let capabilities: Vec<AlgorithmIdentifierOwned> = ContentEncryption::PREFERENCE
        .iter()
        .map(|algorithm| AlgorithmIdentifierOwned {
            oid: algorithm.oid(),
            parameters: None,
        })
        .collect();
    // SMIMEEncryptionKeyPreference ::= CHOICE { issuerAndSerialNumber [0] IMPLICIT … }
    // (RFC 8551 §2.5.3): the SEQUENCE's tag becomes [0] constructed.
    let mut preference = issuer_and_serial.to_der()?;
    preference[0] = 0xA0;
    let attributes = vec![
        attribute(
            rfc5911::ID_CONTENT_TYPE,
            Any::encode_from(&rfc6268::ID_DATA)?,
        )?,
        attribute(
            rfc5911::ID_SIGNING_TIME,
            Any::encode_from(&signing_time(now)?)?,
        )?,
        attribute(
            rfc5911::ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest)?)?,
        )?,
        attribute(
            rfc5911::SMIME_CAPABILITIES,
            Any::encode_from(&capabilities)?,
        )?,
        attribute(rfc5911::ID_AA_ENCRYP_KEY_PREF, Any::from_der(&preference)?)?,
    ];
    SetOfVec::try_from(attributes)
}

/// signingTime is UTCTime through 2049 and GeneralizedTime after (RFC 5652 §11.3).
fn signing_time(now: SystemTime) -> Result<Time, der::Error> {
    let since_epoch = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let date_time =
        der::DateTime::from_unix_duration(std::time::Duration::from_secs(since_epoch.as_secs()))?;
    Ok(match UtcTime::from_date_time(date_time) {
        Ok(utc) => Time::UtcTime(utc),
        Err(_) => Time::GeneralTime(der::asn1::GeneralizedTime::from_date_time(date_time)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_keys::pkcs12::PrivateKeyDer;
    use mailseal_keys::software::SoftwareKey;
    use mailseal_test_support::{TempPki, openssl};

    /// The hand-written certificate set is a DER SET OF: `[0]` around the certificates'
    /// encodings in ascending order of those encodings (X.690 §11.6), whatever order they come
    /// in. (The `cms` crate's `SetOfVec` is not the oracle: with random serial numbers it
    /// ordered two certificates of equal length the other way now and then.)
    #[test]
    fn certificate_set_is_the_der_set_of() {
        let pki = TempPki::new();
        let certs = [
            pki.self_signed("ec", "/CN=Zed", None),
            pki.self_signed("rsa", "/CN=Ann", None),
            pki.self_signed("ec", "/CN=Bob", None),
        ];
        let key_der = openssl(
            pki.dir(),
            &[
                "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER",
            ],
        );
        let key = SoftwareKey::from_pkcs8(&PrivateKeyDer::new(key_der)).unwrap();
        let signer = Signer {
            key: &key,
            certificate: &certs[0],
            chain: &certs[1..],
            rsa_pss: false,
        };
        let mut encodings: Vec<Vec<u8>> = certs.iter().map(|c| c.to_der().unwrap()).collect();
        encodings.sort();
        let content = encodings.concat();
        let mut expected = vec![0xa0, 0x82];
        expected.extend_from_slice(&u16::try_from(content.len()).unwrap().to_be_bytes());
        expected.extend_from_slice(&content);
        assert_eq!(certificate_set(&signer).unwrap(), expected);
    }

    /// Signs with a fresh key of `kind` and checks the result with `openssl cms -verify`.
    fn signs_for_openssl(newkey: &[&str], detached: bool) {
        let pki = TempPki::new();
        let dir = pki.dir();
        let mut args = vec![
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Ann",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-addext",
            "subjectAltName=email:ann@example.com",
        ];
        args.extend_from_slice(newkey);
        openssl(dir, &args);
        let key_der = openssl(
            dir,
            &[
                "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER",
            ],
        );
        let key = SoftwareKey::from_pkcs8(&PrivateKeyDer::new(key_der)).unwrap();
        let cert = mailseal_pkix::describe::parse_certificates(
            &std::fs::read(dir.join("cert.pem")).unwrap(),
        )
        .unwrap()
        .remove(0);
        let content = b"Content-Type: text/plain\r\n\r\nHello\r\n";
        let (signature, _) = sign(
            content,
            &Signer {
                key: &key,
                certificate: &cert,
                chain: &[],
                rsa_pss: false,
            },
            detached,
            SystemTime::now(),
        )
        .unwrap();
        // The SignedData written by hand around the content is DER, as the cms types write it.
        let decoded = cms::content_info::ContentInfo::from_der(&signature).unwrap();
        assert_eq!(decoded.to_der().unwrap(), signature);
        std::fs::write(dir.join("sig.der"), &signature).unwrap();
        std::fs::write(dir.join("content"), content).unwrap();
        let mut verify = vec![
            "cms", "-verify", "-inform", "DER", "-in", "sig.der", "-binary", "-CAfile", "cert.pem",
            "-purpose", "any", "-out", "out",
        ];
        if detached {
            verify.extend(["-content", "content"]);
        }
        openssl(dir, &verify);
        assert_eq!(std::fs::read(dir.join("out")).unwrap(), content);
        let printed = String::from_utf8(openssl(
            dir,
            &[
                "cms", "-cmsout", "-print", "-inform", "DER", "-in", "sig.der",
            ],
        ))
        .unwrap();
        for attribute in [
            "signingTime",
            "messageDigest",
            "contentType",
            "S/MIME Capabilities",
            "id-smime-aa-encrypKeyPref",
        ] {
            assert!(
                printed.contains(attribute),
                "{attribute} missing:\n{printed}"
            );
        }
    }

    #[test]
    fn rsa_detached_and_opaque_signatures_verify_with_openssl() {
        signs_for_openssl(&["-newkey", "rsa:2048"], true);
        signs_for_openssl(&["-newkey", "rsa:2048"], false);
    }

    // Ed25519 is not here: OpenSSL 3.0 cannot verify Ed25519 in CMS ("invalid digest"; added
    // in 3.2). Our Ed25519 signatures are checked by our verifier and the RFC 9216 corpus.
    #[test]
    fn ecdsa_signatures_verify_with_openssl() {
        signs_for_openssl(
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            true,
        );
        signs_for_openssl(
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
            false,
        );
    }
}
