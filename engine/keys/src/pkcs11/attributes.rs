//! Reading object attributes: ids and labels, a key's type and size, and a public key as the
//! SubjectPublicKeyInfo a certificate would carry, so card keys pair with certificates.

use crate::backend::KeyAlgorithm;
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912;
use cryptoki::error::Error as CkError;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use der::asn1::{BitString, OctetString, UintRef};
use der::{Decode, Encode, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

/// Some attributes of one object, as read (missing or sensitive ones are simply absent).
pub(super) struct Attrs(Vec<Attribute>);

impl Attrs {
    pub(super) fn read(
        session: &Session,
        object: ObjectHandle,
        types: &[AttributeType],
    ) -> Result<Self, CkError> {
        session.get_attributes(object, types).map(Self)
    }

    /// A byte-string attribute, empty when absent.
    pub(super) fn bytes(&self, wanted: AttributeType) -> &[u8] {
        self.0
            .iter()
            .find_map(|attribute| match (wanted, attribute) {
                (AttributeType::Id, Attribute::Id(value))
                | (AttributeType::Label, Attribute::Label(value))
                | (AttributeType::Value, Attribute::Value(value))
                | (AttributeType::Modulus, Attribute::Modulus(value))
                | (AttributeType::PublicExponent, Attribute::PublicExponent(value))
                | (AttributeType::EcParams, Attribute::EcParams(value))
                | (AttributeType::EcPoint, Attribute::EcPoint(value)) => Some(value.as_slice()),
                _ => None,
            })
            .unwrap_or_default()
    }

    pub(super) fn id(&self) -> Vec<u8> {
        self.bytes(AttributeType::Id).to_vec()
    }

    pub(super) fn label(&self) -> String {
        String::from_utf8_lossy(self.bytes(AttributeType::Label)).into_owned()
    }

    pub(super) fn key_type(&self) -> Option<KeyType> {
        self.0.iter().find_map(|attribute| match attribute {
            Attribute::KeyType(key_type) => Some(*key_type),
            _ => None,
        })
    }

    /// CKA_ALWAYS_AUTHENTICATE: the key wants the PIN again before every use.
    pub(super) fn always_authenticate(&self) -> bool {
        self.0
            .iter()
            .any(|attribute| matches!(attribute, Attribute::AlwaysAuthenticate(true)))
    }
}

/// The attributes [`key_algorithm`] and [`public_key_info`] read, with the id and label.
pub(super) const KEY_ATTRIBUTES: [AttributeType; 8] = [
    AttributeType::Id,
    AttributeType::KeyType,
    AttributeType::Modulus,
    AttributeType::PublicExponent,
    AttributeType::EcParams,
    AttributeType::EcPoint,
    AttributeType::Label,
    AttributeType::AlwaysAuthenticate,
];

/// The one object of `class` with CKA_ID `id`, if any.
pub(super) fn find_one(
    session: &Session,
    class: ObjectClass,
    id: &[u8],
) -> Result<Option<ObjectHandle>, CkError> {
    Ok(session
        .find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())])?
        .into_iter()
        .next())
}

/// The big-endian integer without its leading zero bytes.
fn trim(integer: &[u8]) -> &[u8] {
    let start = integer
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(integer.len());
    &integer[start..]
}

fn curve(params: &[u8]) -> Option<(KeyAlgorithm, ObjectIdentifier)> {
    let oid = ObjectIdentifier::from_der(params).ok()?;
    match oid {
        rfc5912::SECP_256_R_1 => Some((KeyAlgorithm::EcP256, oid)),
        rfc5912::SECP_384_R_1 => Some((KeyAlgorithm::EcP384, oid)),
        _ => None,
    }
}

/// The length of a coordinate (and of a scalar) on the key's curve.
pub(super) fn coordinate_len(algorithm: KeyAlgorithm) -> Option<usize> {
    match algorithm {
        KeyAlgorithm::EcP256 => Some(32),
        KeyAlgorithm::EcP384 => Some(48),
        _ => None,
    }
}

/// The key's type and size, as `SoftwareKey::algorithm` would say for the same key (an RSA
/// size counts the modulus bytes).
pub(super) fn key_algorithm(attrs: &Attrs) -> Result<KeyAlgorithm, &'static str> {
    match attrs.key_type() {
        Some(KeyType::RSA) => match trim(attrs.bytes(AttributeType::Modulus)).len() {
            0 => Err("its RSA modulus is not readable"),
            bytes => Ok(KeyAlgorithm::Rsa { bits: bytes * 8 }),
        },
        Some(KeyType::EC) => curve(attrs.bytes(AttributeType::EcParams))
            .map(|(algorithm, _)| algorithm)
            .ok_or("it is on a curve other than P-256 and P-384"),
        _ => Err("it is neither an RSA nor an EC key"),
    }
}

/// RSAPublicKey (RFC 8017 §A.1.1).
///
/// ```text
/// RSAPublicKey ::= SEQUENCE {
///     modulus           INTEGER,  -- n
///     publicExponent    INTEGER   -- e
/// }
/// ```
#[derive(Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// The SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) of a key from its attributes: the modulus and
/// exponent of an RSA key (public or private object), or the curve and point of an EC public
/// key. `None` when they are missing.
pub(super) fn public_key_info(attrs: &Attrs) -> Option<SubjectPublicKeyInfoOwned> {
    match attrs.key_type()? {
        KeyType::RSA => {
            let modulus = trim(attrs.bytes(AttributeType::Modulus));
            let exponent = trim(attrs.bytes(AttributeType::PublicExponent));
            if modulus.is_empty() || exponent.is_empty() {
                return None;
            }
            let key = RsaPublicKey {
                modulus: UintRef::new(modulus).ok()?,
                public_exponent: UintRef::new(exponent).ok()?,
            }
            .to_der()
            .ok()?;
            Some(SubjectPublicKeyInfoOwned {
                algorithm: AlgorithmIdentifierOwned {
                    oid: rfc5912::RSA_ENCRYPTION,
                    parameters: Some(der::asn1::Null.into()),
                },
                subject_public_key: BitString::from_bytes(&key).ok()?,
            })
        }
        KeyType::EC => {
            let (algorithm, oid) = curve(attrs.bytes(AttributeType::EcParams))?;
            let point_len = 1 + 2 * coordinate_len(algorithm)?;
            let stored = attrs.bytes(AttributeType::EcPoint);
            // CKA_EC_POINT is a DER OCTET STRING, but some tokens store the bare point.
            let point = if stored.len() == point_len {
                stored.to_vec()
            } else {
                OctetString::from_der(stored).ok()?.as_bytes().to_vec()
            };
            if point.len() != point_len || point[0] != 0x04 {
                return None;
            }
            Some(SubjectPublicKeyInfoOwned {
                algorithm: AlgorithmIdentifierOwned {
                    oid: rfc5912::ID_EC_PUBLIC_KEY,
                    parameters: Some((&oid).into()),
                },
                subject_public_key: BitString::from_bytes(&point).ok()?,
            })
        }
        _ => None,
    }
}
