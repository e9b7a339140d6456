//! The ASN.1 of a PKCS#12 file (RFC 7292), decoded under BER.
//!
//! Where the type of a value depends on the OID before it (ContentInfo, SafeBag, CertBag), the
//! decoder reads the OID and then the value as the type the OID names, never through
//! `der::Any`: `Any` forgets that a BER OCTET STRING was constructed and would hand back its
//! segments' headers as content, and constructed OCTET STRINGs are what Windows exports use.

use super::pbes2::EncryptedPrivateKeyInfo;
use cms::encrypted_data::EncryptedData;
use const_oid::db::rfc5911;
use der::asn1::{AnyRef, ObjectIdentifier, OctetString};
use der::{
    DecodeValue, FixedTag, Header, Reader, Sequence, SliceReader, Tag, TagMode, TagNumber, Tagged,
};
use spki::AlgorithmIdentifierOwned;

/// `keyBag` (RFC 7292 §4.2.1).
const KEY_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.1");
/// `pkcs8ShroudedKeyBag` (RFC 7292 §4.2.2).
pub(super) const PKCS8_SHROUDED_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");
/// `certBag` (RFC 7292 §4.2.3).
pub(super) const CERT_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.3");
/// `x509Certificate` certificate type (RFC 7292 §4.2.3, `certTypes 1`).
pub(super) const X509_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.22.1");

/// The file.
///
/// RFC 7292 §4:
/// ```text
/// PFX ::= SEQUENCE {
///     version     INTEGER {v3(3)}(v3,...),
///     authSafe    ContentInfo,
///     macData     MacData OPTIONAL
/// }
/// ```
pub(super) struct Pfx {
    /// 3 for every file RFC 7292 describes.
    pub(super) version: u8,
    /// The AuthenticatedSafe, as `Data` in password integrity mode.
    pub(super) auth_safe: ContentInfo,
    /// The password MAC over the AuthenticatedSafe.
    pub(super) mac_data: Option<MacData>,
}

impl<'a> DecodeValue<'a> for Pfx {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        Ok(Self {
            version: reader.decode()?,
            auth_safe: reader.decode()?,
            mac_data: reader.decode()?,
        })
    }
}

impl FixedTag for Pfx {
    const TAG: Tag = Tag::Sequence;
}

/// The integrity MAC.
///
/// RFC 7292 §4:
/// ```text
/// MacData ::= SEQUENCE {
///     mac         DigestInfo,
///     macSalt     OCTET STRING,
///     iterations  INTEGER DEFAULT 1
///     -- Note: The default is for historical reasons and its use is
///     -- deprecated.
/// }
/// ```
#[derive(Sequence)]
pub(super) struct MacData {
    /// The HMAC's hash and value.
    pub(super) mac: DigestInfo,
    /// Salt for the MAC key.
    pub(super) mac_salt: OctetString,
    /// KDF iterations; absent means 1.
    pub(super) iterations: Option<u32>,
}

/// RFC 8017 §9.2 (and Appendix A.2.4):
/// ```text
/// DigestInfo ::= SEQUENCE {
///     digestAlgorithm DigestAlgorithm,
///     digest OCTET STRING
/// }
/// ```
#[derive(Sequence)]
pub(super) struct DigestInfo {
    /// The hash under the HMAC.
    pub(super) digest_algorithm: AlgorithmIdentifierOwned,
    /// The HMAC value.
    pub(super) digest: OctetString,
}

/// An element of the AuthenticatedSafe (and the PFX's `authSafe`), with the two content types
/// password privacy uses.
///
/// RFC 5652 §3, with RFC 7292 §4.1's note on its use:
/// ```text
/// ContentInfo ::= SEQUENCE {
///   contentType ContentType,
///   content [0] EXPLICIT ANY DEFINED BY contentType }
///
/// AuthenticatedSafe ::= SEQUENCE OF ContentInfo
///     -- Data if unencrypted
///     -- EncryptedData if password-encrypted
///     -- EnvelopedData if public key-encrypted
/// ```
pub(super) enum ContentInfo {
    /// `id-data`: an OCTET STRING holding BER.
    Data(OctetString),
    /// `id-encryptedData`: encrypted under the password.
    EncryptedData(EncryptedData),
    /// Any other content type (signedData, envelopedData, …), left unread.
    Other(ObjectIdentifier),
}

impl<'a> DecodeValue<'a> for ContentInfo {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let content_type: ObjectIdentifier = reader.decode()?;
        Ok(match content_type {
            rfc5911::ID_DATA => Self::Data(explicit(reader)?),
            rfc5911::ID_ENCRYPTED_DATA => Self::EncryptedData(explicit(reader)?),
            other => {
                explicit_raw(reader)?;
                Self::Other(other)
            }
        })
    }
}

impl FixedTag for ContentInfo {
    const TAG: Tag = Tag::Sequence;
}

/// One item of a SafeContents.
///
/// RFC 7292 §4.2:
/// ```text
/// SafeContents ::= SEQUENCE OF SafeBag
///
/// SafeBag ::= SEQUENCE {
///     bagId         BAG-TYPE.&id ({PKCS12BagSet}),
///     bagValue      [0] EXPLICIT BAG-TYPE.&Type({PKCS12BagSet}{@bagId}),
///     bagAttributes SET OF PKCS12Attribute OPTIONAL
/// }
/// ```
/// `bagAttributes` (friendlyName, localKeyId, CSP names) are skipped: keys and certificates
/// are paired by their public keys, which cannot be mislabelled.
pub(super) enum SafeBag<'a> {
    /// `keyBag`: a plain `PrivateKeyInfo` (RFC 7292 §4.2.1), as its DER bytes in the input.
    Key(&'a [u8]),
    /// `pkcs8ShroudedKeyBag`: an `EncryptedPrivateKeyInfo` (RFC 7292 §4.2.2).
    ShroudedKey(EncryptedPrivateKeyInfo),
    /// `certBag` (RFC 7292 §4.2.3).
    Cert(CertBag),
    /// crlBag, secretBag, safeContentsBag (nested SafeContents are not followed) or unknown.
    Other,
}

impl<'a> DecodeValue<'a> for SafeBag<'a> {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let bag_id: ObjectIdentifier = reader.decode()?;
        let bag = match bag_id {
            KEY_BAG => Self::Key(first_tlv(explicit_raw(reader)?)?),
            PKCS8_SHROUDED_KEY_BAG => Self::ShroudedKey(explicit(reader)?),
            CERT_BAG => Self::Cert(explicit(reader)?),
            _ => {
                explicit_raw(reader)?;
                Self::Other
            }
        };
        let _attributes: Option<AnyRef<'a>> = reader.decode()?;
        Ok(bag)
    }
}

impl FixedTag for SafeBag<'_> {
    const TAG: Tag = Tag::Sequence;
}

/// A certificate bag.
///
/// RFC 7292 §4.2.3:
/// ```text
/// CertBag ::= SEQUENCE {
///     certId      BAG-TYPE.&id   ({CertTypes}),
///     certValue   [0] EXPLICIT BAG-TYPE.&Type ({CertTypes}{@certId})
/// }
///
/// x509Certificate BAG-TYPE ::=
///     {OCTET STRING IDENTIFIED BY {certTypes 1}}
///     -- DER-encoded X.509 certificate stored in OCTET STRING
/// ```
pub(super) enum CertBag {
    /// The DER of an X.509 certificate.
    X509(OctetString),
    /// An SDSI or unknown certificate type, left unread.
    Other,
}

impl<'a> DecodeValue<'a> for CertBag {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let cert_id: ObjectIdentifier = reader.decode()?;
        if cert_id == X509_CERTIFICATE {
            return Ok(Self::X509(explicit(reader)?));
        }
        explicit_raw(reader)?;
        Ok(Self::Other)
    }
}

impl FixedTag for CertBag {
    const TAG: Tag = Tag::Sequence;
}

/// The tag of every `[0] EXPLICIT` in these structures.
const EXPLICIT_0: Tag = Tag::ContextSpecific {
    constructed: true,
    number: TagNumber(0),
};

/// Reads a `[0] EXPLICIT T` that must be present.
fn explicit<'a, T, R>(reader: &mut R) -> der::Result<T>
where
    T: DecodeValue<'a, Error = der::Error> + FixedTag + 'a,
    R: Reader<'a>,
{
    reader
        .context_specific(TagNumber(0), TagMode::Explicit)?
        .ok_or_else(|| reader.error(EXPLICIT_0.value_error()))
}

/// Reads a `[0] EXPLICIT` of any content and returns the content's bytes; BER indefinite
/// lengths leave their end-of-contents octets at the end.
fn explicit_raw<'a, R: Reader<'a>>(reader: &mut R) -> der::Result<&'a [u8]> {
    let wrapper: AnyRef<'a> = reader.decode()?;
    wrapper.tag().assert_eq(EXPLICIT_0)?;
    Ok(wrapper.value())
}

/// The first TLV in `bytes` (so without any end-of-contents octets that follow it).
fn first_tlv(bytes: &[u8]) -> der::Result<&[u8]> {
    SliceReader::new(bytes)?.tlv_bytes()
}
