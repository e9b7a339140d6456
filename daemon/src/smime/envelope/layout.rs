//! Reading an EnvelopedData or AuthEnvelopedData (DER or BER) from a seekable source without
//! holding its encrypted content: the small fields (recipients, algorithm, authenticated
//! attributes, tag) are read into memory and decoded through `smime::ber`, the content is
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
use crate::smime::algorithms::oid_name;
use crate::smime::ber::{self, Profile};
use cms::authenveloped_data::AuthAttributes;
use cms::enveloped_data::RecipientInfos;
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911;
use der::asn1::OctetString;
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use std::io::{BufReader, Read, Seek, SeekFrom};

/// The most bytes of one small field held in memory (recipientInfos with many recipients,
/// originator certificates): far above real mail, far below a memory problem.
const MAX_FIELD: u64 = 16 << 20;
/// The read buffer under the byte-by-byte header reads.
const BUFFER: usize = 64 * 1024;
/// How deep constructed elements may nest inside a field or the content.
const MAX_DEPTH: usize = 16;

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

/// A tag and length as read: `len` is `None` for the indefinite form.
#[derive(Debug, Clone, Copy)]
struct Header {
    tag: u8,
    len: Option<u64>,
}

impl Header {
    fn constructed(self) -> bool {
        self.tag & 0x20 != 0
    }
}

fn malformed(what: &'static str) -> EnvelopeError {
    EnvelopeError::malformed(what)
}

fn read_byte<R: Read>(src: &mut R) -> Result<u8, EnvelopeError> {
    let mut byte = [0];
    src.read_exact(&mut byte)
        .map_err(|_| malformed("the CMS message is truncated"))?;
    Ok(byte[0])
}

/// Reads a tag and a length. High tag numbers do not occur in these structures.
fn read_header<R: Read>(src: &mut R) -> Result<Header, EnvelopeError> {
    let tag = read_byte(src)?;
    if tag & 0x1f == 0x1f {
        return Err(malformed("an unexpected high tag number"));
    }
    let first = read_byte(src)?;
    let len = match first {
        0x80 if tag & 0x20 != 0 => None,
        0x80 => return Err(malformed("an indefinite length on a primitive element")),
        0xff => return Err(malformed("a reserved length octet")),
        short if short < 0x80 => Some(u64::from(short)),
        long => {
            let octets = usize::from(long & 0x7f);
            if octets > 8 {
                return Err(malformed("a length too large"));
            }
            let mut len = 0u64;
            for _ in 0..octets {
                len = len << 8 | u64::from(read_byte(src)?);
            }
            Some(len)
        }
    };
    Ok(Header { tag, len })
}

/// Whether the next two bytes are end-of-contents (consumed if so).
fn at_end_of_contents<R: Read + Seek>(src: &mut R) -> Result<bool, EnvelopeError> {
    let mut two = [0u8; 2];
    src.read_exact(&mut two)
        .map_err(|_| malformed("the CMS message is truncated"))?;
    if two == [0, 0] {
        Ok(true)
    } else {
        src.seek(SeekFrom::Current(-2))?;
        Ok(false)
    }
}

/// Writes the header back as it was read (the raw bytes of a field are re-read through `ber`).
fn encode_header(header: Header) -> Vec<u8> {
    let mut out = vec![header.tag];
    match header.len {
        None => out.push(0x80),
        Some(len) if len < 0x80 => out.push(len as u8),
        Some(len) => {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
    }
    out
}

/// The rest of an element whose header was read, appended to `out` as raw BER.
fn read_body<R: Read + Seek>(
    src: &mut R,
    header: Header,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), EnvelopeError> {
    if depth > MAX_DEPTH {
        return Err(malformed("nesting too deep"));
    }
    out.extend(encode_header(header));
    match header.len {
        Some(len) => {
            if out.len() as u64 + len > MAX_FIELD {
                return Err(malformed("a field of the envelope is too large"));
            }
            let start = out.len();
            out.resize(start + len as usize, 0);
            src.read_exact(&mut out[start..])
                .map_err(|_| malformed("the CMS message is truncated"))?;
        }
        None => loop {
            if at_end_of_contents(src)? {
                out.extend_from_slice(&[0, 0]);
                break;
            }
            let child = read_header(src)?;
            read_body(src, child, out, depth + 1)?;
            if out.len() as u64 > MAX_FIELD {
                return Err(malformed("a field of the envelope is too large"));
            }
        },
    }
    Ok(())
}

/// One whole small element as DER.
fn read_field<R: Read + Seek>(src: &mut R, header: Header) -> Result<Vec<u8>, EnvelopeError> {
    let mut raw = Vec::new();
    read_body(src, header, &mut raw, 0)?;
    Ok(ber::to_der(&raw, Profile::ENVELOPED_DATA)?)
}

/// Moves past an element whose header was read.
fn skip_body<R: Read + Seek>(
    src: &mut R,
    header: Header,
    depth: usize,
) -> Result<(), EnvelopeError> {
    if depth > MAX_DEPTH {
        return Err(malformed("nesting too deep"));
    }
    match header.len {
        Some(len) => {
            let len = i64::try_from(len).map_err(|_| malformed("a length too large"))?;
            src.seek(SeekFrom::Current(len))?;
        }
        None => {
            while !at_end_of_contents(src)? {
                let child = read_header(src)?;
                skip_body(src, child, depth + 1)?;
            }
        }
    }
    Ok(())
}

fn expect<R: Read>(src: &mut R, tag: u8, what: &'static str) -> Result<Header, EnvelopeError> {
    let header = read_header(src)?;
    if header.tag == tag {
        Ok(header)
    } else {
        Err(malformed(what))
    }
}

/// Where a constructed element with `header` ends: its end offset, or `None` when it ends with
/// end-of-contents.
fn end_of<R: Seek>(src: &mut R, header: Header) -> Result<Option<u64>, EnvelopeError> {
    Ok(match header.len {
        Some(len) => Some(src.stream_position()? + len),
        None => None,
    })
}

/// Whether the constructed element ending at `end` has more children.
fn has_more<R: Read + Seek>(src: &mut R, end: Option<u64>) -> Result<bool, EnvelopeError> {
    match end {
        Some(end) => Ok(src.stream_position()? < end),
        None => Ok(!at_end_of_contents(src)?),
    }
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
    for end in [explicit_end, info_end_outer] {
        if has_more(src, end)? {
            return Err(malformed("data after the envelope inside the ContentInfo"));
        }
    }
    let position = src.stream_position()?;
    if position != total {
        return Err(malformed(if position > total {
            "the CMS message is truncated"
        } else {
            "trailing data after the ContentInfo"
        }));
    }
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
        mut chunk: impl FnMut(&[u8]) -> Result<(), EnvelopeError>,
    ) -> Result<(), EnvelopeError> {
        let mut src = BufReader::with_capacity(BUFFER, src);
        src.seek(SeekFrom::Start(self.content_at))?;
        let header = read_header(&mut src)?;
        let mut piece = vec![0u8; buffer];
        walk(&mut src, header, 0, &mut piece, &mut chunk)
    }
}

fn walk<R: Read + Seek>(
    src: &mut R,
    header: Header,
    depth: usize,
    piece: &mut [u8],
    chunk: &mut impl FnMut(&[u8]) -> Result<(), EnvelopeError>,
) -> Result<(), EnvelopeError> {
    if depth > MAX_DEPTH {
        return Err(malformed("nesting too deep"));
    }
    if !header.constructed() {
        let mut left = header.len.unwrap_or(0);
        while left > 0 {
            let n = piece.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            src.read_exact(&mut piece[..n])
                .map_err(|_| malformed("the CMS message is truncated"))?;
            chunk(&piece[..n])?;
            left -= n as u64;
        }
        return Ok(());
    }
    let end = end_of(src, header)?;
    while has_more(src, end)? {
        let child = read_header(src)?;
        if child.tag & !0x20 != 0x04 {
            return Err(malformed(
                "a chunk of the encrypted content is not an OCTET STRING",
            ));
        }
        walk(src, child, depth + 1, piece, chunk)?;
    }
    Ok(())
}
