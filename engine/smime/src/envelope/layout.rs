//! Reading an EnvelopedData or AuthEnvelopedData (DER or BER) from a seekable source without
//! holding its encrypted content: the small fields (recipients, algorithm, authenticated
//! attributes, tag) are read into memory and decoded through `mailseal_pkix::ber`, the content is
//! remembered by position and streamed later, chunk by chunk, however the sender split it.
//!
//! ```text
//! ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT
//!   (Auth)EnvelopedData ::= SEQUENCE { version, originatorInfo [0] OPTIONAL, recipientInfos,
//!     EncryptedContentInfo ::= SEQUENCE { contentType, contentEncryptionAlgorithm,
//!                                         encryptedContent [0] IMPLICIT OCTET STRING OPTIONAL },
//!     authAttrs [1] OPTIONAL, mac OCTET STRING,          -- AuthEnvelopedData (RFC 5083)
//!     unprotectedAttrs [1] / unauthAttrs [2] OPTIONAL } }
//! ```

use super::EnvelopeError;
use super::content::Authentication;
use cms::authenveloped_data::AuthAttributes;
use cms::enveloped_data::RecipientInfos;
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911;
use der::asn1::OctetString;
use der::{Decode, Encode};
use mailseal_pkix::algorithms::oid_name;
use mailseal_pkix::ber::Profile;
use mailseal_pkix::tlv::{self, BUFFER, Header, end_of, expect, has_more, read_header, skip_body};
use spki::AlgorithmIdentifierOwned;
use std::io::{BufReader, Read, Seek, SeekFrom};

/// What decryption needs from the envelope, with the content left in the source.
pub(super) struct Layout {
    /// The recipients.
    pub recipients: RecipientInfos,
    /// contentEncryptionAlgorithm.
    pub algorithm: AlgorithmIdentifierOwned,
    /// The tag and AAD, for AuthEnvelopedData only.
    pub authentication: Option<Authentication>,
    /// Where the `encryptedContent [0]` element starts.
    content_at: u64,
}

fn malformed(what: &'static str) -> EnvelopeError {
    EnvelopeError::malformed(what)
}

/// One whole small element as DER.
fn read_field<R: Read + Seek>(src: &mut R, header: Header) -> Result<Vec<u8>, EnvelopeError> {
    Ok(tlv::read_field(src, header, Profile::ENVELOPED_DATA)?)
}

/// Reads the envelope's layout; the source may hold DER or BER. Headers are read a byte at a
/// time, so the source is read through a buffer.
pub(super) fn read<R: Read + Seek>(src: &mut R) -> Result<Layout, EnvelopeError> {
    read_buffered(&mut BufReader::with_capacity(BUFFER, src))
}

fn read_buffered<R: Read + Seek>(src: &mut R) -> Result<Layout, EnvelopeError> {
    let total = src.seek(SeekFrom::End(0))?;
    src.seek(SeekFrom::Start(0))?;
    let info_header = expect(src, 0x30, "the ContentInfo is not a SEQUENCE")?;
    let info_end_outer = end_of(src, info_header)?;
    let oid = read_header(src)?;
    let content_type = ObjectIdentifier::from_der(&read_field(src, oid)?)
        .map_err(EnvelopeError::der("ContentInfo"))?;
    let authenticated = match content_type {
        rfc5911::ID_ENVELOPED_DATA => false,
        rfc5911::ID_CT_AUTH_ENVELOPED_DATA => true,
        other => {
            return Err(EnvelopeError::NotEncrypted {
                content_type: oid_name(other),
            });
        }
    };
    let explicit = expect(src, 0xa0, "the ContentInfo has no content")?;
    let explicit_end = end_of(src, explicit)?;
    let envelope = expect(src, 0x30, "the envelope is not a SEQUENCE")?;
    let envelope_end = end_of(src, envelope)?;
    let version = expect(src, 0x02, "the envelope has no version")?;
    read_field(src, version)?;
    let mut next = read_header(src)?;
    if next.tag == 0xa0 {
        // originatorInfo: certificates and CRLs of the originator, not needed to decrypt.
        skip_body(src, next, 0)?;
        next = read_header(src)?;
    }
    if next.tag != 0x31 {
        return Err(malformed("the envelope has no recipientInfos"));
    }
    let recipients = RecipientInfos::from_der(&read_field(src, next)?)
        .map_err(EnvelopeError::der("RecipientInfos"))?;

    let info = expect(src, 0x30, "the encrypted content info is not a SEQUENCE")?;
    let info_end = end_of(src, info)?;
    let inner_type = read_header(src)?;
    read_field(src, inner_type)?;
    let algorithm = read_header(src)?;
    let algorithm = AlgorithmIdentifierOwned::from_der(&read_field(src, algorithm)?)
        .map_err(EnvelopeError::der("the content-encryption algorithm"))?;
    let mut content_at = None;
    while has_more(src, info_end)? {
        let at = src.stream_position()?;
        let field = read_header(src)?;
        if field.tag & 0x1f == 0 && field.tag & 0xc0 == 0x80 && content_at.is_none() {
            content_at = Some(at);
        }
        skip_body(src, field, 0)?;
    }
    let content_at = content_at.ok_or(malformed(
        "the encrypted content is absent (detached content is not supported)",
    ))?;

    let authentication = if authenticated {
        let mut aad = Vec::new();
        let mut field = read_header(src)?;
        if field.tag == 0xa1 {
            // authAttrs [1] IMPLICIT SET OF: the AAD is their DER with the SET OF tag
            // (RFC 5083 §2.2).
            let mut der = read_field(src, field)?;
            der[0] = 0x31;
            aad = AuthAttributes::from_der(&der)
                .and_then(|attrs| attrs.to_der())
                .map_err(EnvelopeError::der("authAttrs"))?;
            field = read_header(src)?;
        }
        if field.tag & !0x20 != 0x04 {
            return Err(malformed("the authenticated envelope has no mac"));
        }
        let mac = OctetString::from_der(&read_field(src, field)?)
            .map_err(EnvelopeError::der("the mac"))?;
        Some(Authentication {
            mac: mac.into_bytes(),
            aad,
        })
    } else {
        None
    };
    // Whatever follows (unprotected or unauthenticated attributes) is not needed; it is only
    // checked to be there in full.
    while has_more(src, envelope_end)? {
        let field = read_header(src)?;
        skip_body(src, field, 0)?;
    }
    // The envelope must end where [0] and the ContentInfo end, and nothing may follow.
    tlv::expect_end_within(src, &[explicit_end, info_end_outer])?;
    tlv::expect_end(src, total)?;
    Ok(Layout {
        recipients,
        algorithm,
        authentication,
        content_at,
    })
}

impl Layout {
    /// Streams the encrypted content to `chunk`, in pieces of at most `buffer` bytes, whether
    /// it was sent as one OCTET STRING or split into many (X.690 §8.7.3).
    pub fn for_each_chunk<R: Read + Seek>(
        &self,
        src: &mut R,
        buffer: usize,
        chunk: impl FnMut(&[u8]) -> Result<(), EnvelopeError>,
    ) -> Result<(), EnvelopeError> {
        tlv::for_each_chunk(src, self.content_at, buffer, chunk)
    }
}
