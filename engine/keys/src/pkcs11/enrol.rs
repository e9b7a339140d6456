//! Getting a certificate for a card key: generating the key pair on the card, a PKCS#10
//! request signed on the card, and storing the issued certificate next to its key.

use super::Pkcs11;
use super::attributes::{self, Attrs, KEY_ATTRIBUTES, public_key_info};
use super::error::TokenError;
use super::key::plan;
use super::session::{Failure, Use, ck};
use super::token;
use crate::backend::{Hash, KeyAlgorithm, SignatureScheme};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc4519, rfc5280, rfc5912};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, CertificateType, ObjectClass};
use cryptoki::session::Session;
use cryptoki::types::Ulong;
use der::asn1::{Any, BitString, Ia5String, OctetString, SetOfVec, Utf8StringRef};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::request::{CertReq, CertReqInfo, ExtensionReq, Version};

/// A key pair just made on a card, to request a certificate for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    /// Its CKA_ID in hex, to name it in `Pkcs11::csr`.
    pub id_hex: String,
    /// Its SubjectPublicKeyInfo, DER.
    pub public_key: Vec<u8>,
}

fn encoding(operation: &'static str) -> impl Fn(der::Error) -> TokenError {
    move |source| TokenError::Certificate { operation, source }
}

impl Pkcs11 {
    /// Generates a key pair on the card, private key sensitive and never extractable, with a
    /// fresh random CKA_ID, so the key can never leave the card.
    pub fn generate_key(
        &self,
        token: &str,
        algorithm: KeyAlgorithm,
        label: &str,
    ) -> Result<GeneratedKey, TokenError> {
        const OP: &str = "generate a key pair";
        let token = self.find(token)?;
        let (mechanism, public_specific, private_specific) = match algorithm {
            KeyAlgorithm::Rsa { bits } if matches!(bits, 2048 | 3072 | 4096) => (
                Mechanism::RsaPkcsKeyPairGen,
                vec![
                    Attribute::ModulusBits(
                        Ulong::try_from(bits)
                            .map_err(|_| TokenError::UnsupportedAlgorithm { algorithm })?,
                    ),
                    Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
                    Attribute::Encrypt(true),
                    Attribute::Verify(true),
                ],
                vec![Attribute::Decrypt(true), Attribute::Sign(true)],
            ),
            KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 => {
                let curve = match algorithm {
                    KeyAlgorithm::EcP256 => rfc5912::SECP_256_R_1,
                    _ => rfc5912::SECP_384_R_1,
                };
                (
                    Mechanism::EccKeyPairGen,
                    vec![
                        Attribute::EcParams(curve.to_der().map_err(encoding("encode a curve"))?),
                        Attribute::Verify(true),
                    ],
                    vec![Attribute::Sign(true), Attribute::Derive(true)],
                )
            }
            _ => return Err(TokenError::UnsupportedAlgorithm { algorithm }),
        };
        if !token.mechanisms.is_empty() && !token.mechanisms.contains(&mechanism.mechanism_type()) {
            return Err(TokenError::UnsupportedMechanism {
                token: token.label.clone(),
                operation: OP,
            });
        }
        let mut id = [0u8; 16];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| TokenError::Pkcs11 {
            operation: OP,
            rv: "no random id".to_owned(),
        })?;
        let common = [
            Attribute::Token(true),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let public_template =
            [&common[..], &[Attribute::Private(false)], &public_specific].concat();
        let private_template = [
            &common[..],
            &[
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
            ],
            &private_specific,
        ]
        .concat();
        let public_key = token.run(OP, Use::Operate, |session| {
            let (public, _private) = session
                .generate_key_pair(&mechanism, &public_template, &private_template)
                .map_err(ck(OP))?;
            let attrs = Attrs::read(session, public, &KEY_ATTRIBUTES).map_err(ck(OP))?;
            let spki = public_key_info(&attrs).ok_or_else(|| TokenError::Pkcs11 {
                operation: OP,
                rv: "the new public key is unreadable".to_owned(),
            })?;
            Ok(spki.to_der().map_err(encoding("encode the public key"))?)
        })?;
        token.reload_objects();
        Ok(GeneratedKey {
            id_hex: hex::encode(id),
            public_key,
        })
    }

    /// A PKCS#10 request (RFC 2986) signed on the card for the key with CKA_ID `id_hex`:
    /// subject CN=`common_name`, and an extensionRequest (RFC 2985 §5.4.2) for an S/MIME
    /// certificate (RFC 8550 §4.4): subjectAltName rfc822Name `email`, keyUsage, and
    /// extKeyUsage emailProtection.
    pub fn csr(
        &self,
        token: &str,
        id_hex: &str,
        common_name: &str,
        email: &str,
    ) -> Result<Vec<u8>, TokenError> {
        const OP: &str = "sign a certificate request";
        let token = self.find(token)?;
        let not_found = || TokenError::KeyNotFound {
            key: id_hex.to_owned(),
        };
        let id = hex::decode(id_hex).map_err(|_| not_found())?;
        let subject = common_name_only(common_name)?;
        let unusable = |reason| TokenError::UnusableKey {
            token: token.label.clone(),
            key: id_hex.to_owned(),
            reason,
        };
        token.run(OP, Use::Operate, |session| {
            let key = token::find_private_key(session, &id)
                .map_err(ck(OP))?
                .ok_or_else(not_found)?;
            let private = Attrs::read(session, key, &KEY_ATTRIBUTES).map_err(ck(OP))?;
            let algorithm = attributes::key_algorithm(&private).map_err(unusable)?;
            let public_key = match attributes::find_one(session, ObjectClass::PUBLIC_KEY, &id)
                .map_err(ck(OP))?
            {
                Some(public) => {
                    public_key_info(&Attrs::read(session, public, &KEY_ATTRIBUTES).map_err(ck(OP))?)
                }
                None => None,
            }
            .or_else(|| public_key_info(&private))
            .ok_or_else(|| unusable("its public key is not on the token"))?;
            let info = CertReqInfo {
                version: Version::V1,
                subject,
                public_key,
                attributes: extension_request(algorithm, email)?,
            };
            let to_sign = info.to_der().map_err(encoding("encode the request"))?;
            let (scheme, signature_algorithm) = signature_algorithm(algorithm)?;
            let signature = plan(algorithm, scheme, &token.mechanisms, &to_sign)
                .map_err(|_| TokenError::UnsupportedMechanism {
                    token: token.label.clone(),
                    operation: OP,
                })?
                .sign(session, key)?;
            let request = CertReq {
                info,
                algorithm: signature_algorithm,
                signature: BitString::from_bytes(&signature)
                    .map_err(encoding("encode the request"))?,
            };
            Ok(request.to_der().map_err(encoding("encode the request"))?)
        })
    }

    /// Writes an issued certificate to the card next to its key (same CKA_ID, found by
    /// matching the public key), so the card carries its identity to other applications too.
    /// Importing the same certificate again changes nothing. Returns the CKA_ID in hex.
    pub fn import_certificate(
        &self,
        token: &str,
        certificate: &Certificate,
    ) -> Result<String, TokenError> {
        const OP: &str = "import a certificate";
        let token = self.find(token)?;
        let encoded = |value: der::Result<Vec<u8>>| value.map_err(encoding(OP));
        let tbs = certificate.tbs_certificate();
        let value = encoded(certificate.to_der())?;
        let wanted = encoded(tbs.subject_public_key_info().to_der())?;
        let template_rest = [
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Subject(encoded(tbs.subject().to_der())?),
            Attribute::Issuer(encoded(tbs.issuer().to_der())?),
            Attribute::SerialNumber(encoded(tbs.serial_number().to_der())?),
            Attribute::Value(value.clone()),
        ];
        let label = tbs.subject().common_name().ok().flatten().map(String::from);
        let id = token.run(OP, Use::Inspect, |session| {
            let (id, key_label) =
                matching_key(session, &wanted)?.ok_or_else(|| TokenError::KeyNotFound {
                    key: "matching the certificate".to_owned(),
                })?;
            let present = session
                .find_objects(&[
                    Attribute::Class(ObjectClass::CERTIFICATE),
                    Attribute::Value(value.clone()),
                ])
                .map_err(ck(OP))?;
            if present.is_empty() {
                let label = if key_label.is_empty() {
                    label.clone().unwrap_or_else(|| "certificate".to_owned())
                } else {
                    key_label
                };
                let template = [
                    &template_rest[..],
                    &[
                        Attribute::Id(id.clone()),
                        Attribute::Label(label.into_bytes()),
                    ],
                ]
                .concat();
                session.create_object(&template).map_err(ck(OP))?;
            }
            Ok(id)
        })?;
        token.reload_objects();
        Ok(hex::encode(id))
    }
}

/// The CKA_ID and label of the key (public or private object) whose public key is the DER
/// SubjectPublicKeyInfo `wanted`.
fn matching_key(session: &Session, wanted: &[u8]) -> Result<Option<(Vec<u8>, String)>, Failure> {
    const OP: &str = "find the certificate's key";
    for class in [ObjectClass::PUBLIC_KEY, ObjectClass::PRIVATE_KEY] {
        for object in session
            .find_objects(&[Attribute::Class(class)])
            .map_err(ck(OP))?
        {
            let attrs = Attrs::read(session, object, &KEY_ATTRIBUTES).map_err(ck(OP))?;
            let matches = public_key_info(&attrs)
                .and_then(|spki| spki.to_der().ok())
                .is_some_and(|spki| spki == wanted);
            if matches {
                return Ok(Some((attrs.id(), attrs.label())));
            }
        }
    }
    Ok(None)
}

/// The Name `CN=common_name`, as a UTF8String (RFC 5280 §4.1.2.6).
fn common_name_only(common_name: &str) -> Result<Name, TokenError> {
    let wrap = encoding("encode the subject name");
    let value =
        Any::encode_from(&Utf8StringRef::new(common_name).map_err(&wrap)?).map_err(&wrap)?;
    let rdn = RelativeDistinguishedName::try_from(vec![AttributeTypeAndValue {
        oid: rfc4519::COMMON_NAME,
        value,
    }])
    .map_err(&wrap)?;
    let mut rdns = RdnSequence::default();
    rdns.push(rdn);
    Name::from_der(&rdns.to_der().map_err(&wrap)?).map_err(&wrap)
}

fn extension<T: Encode>(
    oid: ObjectIdentifier,
    critical: bool,
    value: &T,
) -> der::Result<Extension> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

/// The request's attributes: one extensionRequest with the S/MIME extensions. keyUsage as RFC
/// 8550 §4.4.2 says for the key's type: RSA signs and transports keys, EC signs and agrees.
fn extension_request(
    algorithm: KeyAlgorithm,
    email: &str,
) -> Result<SetOfVec<x509_cert::attr::Attribute>, TokenError> {
    let wrap = encoding("encode the request's extensions");
    let address = Ia5String::new(email).map_err(&wrap)?;
    let usage = match algorithm {
        KeyAlgorithm::Rsa { .. } => KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment,
        _ => KeyUsages::DigitalSignature | KeyUsages::KeyAgreement,
    };
    let extensions = vec![
        extension(
            rfc5280::ID_CE_SUBJECT_ALT_NAME,
            false,
            &SubjectAltName(vec![GeneralName::Rfc822Name(address)]),
        ),
        extension(rfc5280::ID_CE_KEY_USAGE, true, &KeyUsage(usage)),
        extension(
            rfc5280::ID_CE_EXT_KEY_USAGE,
            false,
            &ExtendedKeyUsage(vec![rfc5280::ID_KP_EMAIL_PROTECTION]),
        ),
    ]
    .into_iter()
    .collect::<der::Result<Vec<_>>>()
    .map_err(&wrap)?;
    let attribute =
        x509_cert::attr::Attribute::try_from(ExtensionReq(extensions)).map_err(&wrap)?;
    SetOfVec::try_from(vec![attribute]).map_err(&wrap)
}

/// The scheme a request is signed with, and its AlgorithmIdentifier: SHA-256 with RSA
/// (RFC 4055 §5, NULL parameters), ECDSA with the curve's hash (RFC 5758 §3.2, no parameters).
fn signature_algorithm(
    algorithm: KeyAlgorithm,
) -> Result<(SignatureScheme, AlgorithmIdentifierOwned), TokenError> {
    let (scheme, oid, parameters) = match algorithm {
        KeyAlgorithm::Rsa { .. } => (
            SignatureScheme::RsaPkcs1(Hash::Sha256),
            rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            Some(Any::null()),
        ),
        KeyAlgorithm::EcP256 => (
            SignatureScheme::Ecdsa(Hash::Sha256),
            rfc5912::ECDSA_WITH_SHA_256,
            None,
        ),
        KeyAlgorithm::EcP384 => (
            SignatureScheme::Ecdsa(Hash::Sha384),
            rfc5912::ECDSA_WITH_SHA_384,
            None,
        ),
        _ => return Err(TokenError::UnsupportedAlgorithm { algorithm }),
    };
    Ok((scheme, AlgorithmIdentifierOwned { oid, parameters }))
}
