//! BER to DER rewriting (X.690 §8, §10) of incoming CMS, shared by verification and decryption,
//! so that what Outlook and `openssl cms -stream` send decodes with the DER-oriented
//! `der`/`cms` types.
//!
//! `der` 0.8 reads indefinite lengths only in part, and rejects constructed strings of definite
//! length (RustCrypto/formats#779) and strings nested inside `Any`; all of these occur in real
//! mail: indefinite lengths throughout and content split into chunks (X.690 §8.7.3). Parsing the
//! whole BER tree once and writing it back keeps every later step on plain DER TLVs. What it
//! does:
//!
//! - indefinite lengths become definite, and every length is written in its shortest form;
//! - constructed strings become primitive, their chunks concatenated (X.690 §8.6.4, §8.7.3,
//!   §8.23.6), for the string types the [`Profile`] names;
//! - for decryption, `encryptedContent [0] IMPLICIT OCTET STRING` (RFC 5652 §6.1), the one
//!   implicitly tagged string large enough to be chunked in practice, is joined too;
//! - nothing else changes: elements of a SET OF keep their order, because signatures cover the
//!   bytes as the signer sent them (RFC 5652 §5.4) and re-sorting would break them (`der` sorts
//!   where DER rules need it, when decoding).
//!
//! Input that is already DER comes out byte for byte the same.
//!
//! [`decode_header`] is Mailseal's one reader of identifier and length octets: `tlv` and the
//! S/MIME sniffing of a ContentInfo's type use it too, so all agree on a header and its limits.

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911;
use der::{Encode, ErrorKind, Length};
use std::borrow::Cow;
use std::fmt;

/// What one kind of incoming CMS needs from the rewriting: verification and decryption differ
/// only in these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// How deep elements may nest, the outermost at depth 0: only there to stop abuse, so that
    /// the recursion's stack stays small.
    max_depth: usize,
    /// Whether constructed BIT STRINGs are joined (each chunk's unused-bits count checked)
    /// rather than refused.
    bit_strings: bool,
    /// Whether constructed UTCTime and GeneralizedTime are joined rather than left as sent.
    times: bool,
    /// Whether the chunked `encryptedContent` of (Auth)EnvelopedData is joined.
    encrypted_content: bool,
}

impl Profile {
    /// SignedData, for verification. Certificates and signed attributes are decoded field by
    /// field, so every string type BER may split is joined, BIT STRINGs (keys, signatures, key
    /// usage) and times (signingTime, validity) included; CMS needs about a dozen levels.
    pub const SIGNED_DATA: Self = Self {
        max_depth: 48,
        bit_strings: true,
        times: true,
        encrypted_content: false,
    };

    /// EnvelopedData and AuthEnvelopedData, for decryption. The bulk is the encrypted content,
    /// whose implicit `[0]` only the schema identifies; a constructed BIT STRING, which `der`
    /// could not read either, is refused, and constructed times are left for `der` to judge
    /// where it decodes them. A certificate in originatorInfo stays far below 64 levels.
    pub const ENVELOPED_DATA: Self = Self {
        max_depth: 64,
        bit_strings: false,
        times: false,
        encrypted_content: true,
    };
}

/// Rewrites one BER element, with nothing after it, as DER.
pub fn to_der(input: &[u8], profile: Profile) -> Result<Vec<u8>, BerError> {
    let mut reader = Reader {
        rest: input,
        offset: 0,
        profile,
    };
    let mut root = reader.element(0)?.ok_or(BerError {
        problem: Problem::EndOfContentsAtTop,
        at: 0,
    })?;
    if !reader.rest.is_empty() {
        return Err(reader.fail(Problem::TrailingData {
            remaining: reader.rest.len(),
        }));
    }
    if profile.encrypted_content {
        join_encrypted_content(&mut root)?;
    }
    let mut out = Vec::with_capacity(root.encoded_len());
    root.write(&mut out);
    Ok(out)
}

/// Why BER could not be rewritten, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at byte {at}")]
pub struct BerError {
    /// What is wrong.
    pub problem: Problem,
    /// The offset in the input where it was found.
    pub at: usize,
}

/// What can be wrong with BER input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The input ends where a tag should start.
    TruncatedTag,
    /// A high tag number (X.690 §8.1.2.4) without its last octet, or longer than `der` reads.
    BadTagNumber,
    /// A high tag number where the reader allows none (CMS has none).
    HighTagNumber,
    /// The length octet 0xFF, which X.690 §8.1.3.5 reserves.
    ReservedLength,
    /// A length in more octets than fit a `u64`.
    LengthTooLarge,
    /// A primitive element with the indefinite length, which only constructed ones may have.
    IndefinitePrimitive,
    /// The input ends inside a length or a value.
    Truncated,
    /// End-of-contents octets that are not `00 00`.
    BadEndOfContents,
    /// End-of-contents octets inside a definite length, where nothing is to be ended.
    EndOfContentsInDefinite,
    /// End-of-contents octets instead of the outermost element.
    EndOfContentsAtTop,
    /// Nesting deeper than the profile allows.
    TooDeep,
    /// Bytes after the outermost element.
    TrailingData {
        /// How many.
        remaining: usize,
    },
    /// A chunk of a constructed OCTET STRING or character string that is not a primitive
    /// OCTET STRING (X.690 §8.7.3.2, §8.23.6).
    StringChunk,
    /// A constructed BIT STRING where the profile refuses them.
    ConstructedBitString,
    /// A chunk of a constructed BIT STRING that is not a primitive BIT STRING (X.690 §8.6.4).
    BitStringChunk,
    /// A BIT STRING chunk without its initial unused-bits octet.
    MissingUnusedBits,
    /// Unused bits in a BIT STRING chunk other than the last, or more than seven.
    MisplacedUnusedBits,
}

impl Problem {
    /// The problem in words, as errors show it.
    pub fn what(self) -> &'static str {
        match self {
            Self::TruncatedTag => "truncated tag",
            Self::BadTagNumber => "a bad high tag number",
            Self::HighTagNumber => "an unexpected high tag number",
            Self::ReservedLength => "a reserved length octet",
            Self::LengthTooLarge => "a length too large",
            Self::IndefinitePrimitive => "an indefinite length on a primitive element",
            Self::Truncated => "truncated",
            Self::BadEndOfContents => "a bad end-of-contents marker",
            Self::EndOfContentsInDefinite => "an end-of-contents marker in a definite length",
            Self::EndOfContentsAtTop => "an end-of-contents marker at the top",
            Self::TooDeep => "nesting too deep",
            Self::TrailingData { .. } => "trailing data after the ContentInfo",
            Self::StringChunk => "a string chunk that is not an OCTET STRING",
            Self::ConstructedBitString => "a constructed BIT STRING",
            Self::BitStringChunk => "a BIT STRING chunk that is not a BIT STRING",
            Self::MissingUnusedBits => "a BIT STRING chunk without its unused-bits count",
            Self::MisplacedUnusedBits => "unused bits in a BIT STRING chunk other than the last",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what())
    }
}

/// For callers that report decoding errors as `der::Error`s: the nearest `der` kind, at the
/// same offset.
impl From<BerError> for der::Error {
    fn from(error: BerError) -> Self {
        let length = |n: usize| Length::try_from(n).unwrap_or(Length::MAX);
        let at = length(error.at);
        let kind = match error.problem {
            Problem::TruncatedTag | Problem::Truncated => return der::Error::incomplete(at),
            Problem::BadTagNumber | Problem::HighTagNumber => ErrorKind::TagNumberInvalid,
            Problem::ReservedLength | Problem::LengthTooLarge => ErrorKind::Overlength,
            Problem::IndefinitePrimitive
            | Problem::BadEndOfContents
            | Problem::EndOfContentsInDefinite
            | Problem::EndOfContentsAtTop => ErrorKind::IndefiniteLength,
            Problem::TooDeep => ErrorKind::NestingDepth,
            Problem::TrailingData { remaining } => ErrorKind::TrailingData {
                decoded: at,
                remaining: length(remaining),
            },
            Problem::StringChunk | Problem::BitStringChunk => ErrorKind::Noncanonical {
                tag: der::Tag::OctetString,
            },
            Problem::ConstructedBitString | Problem::MisplacedUnusedBits => {
                ErrorKind::Noncanonical {
                    tag: der::Tag::BitString,
                }
            }
            Problem::MissingUnusedBits => ErrorKind::Length {
                tag: der::Tag::BitString,
            },
        };
        kind.at(at)
    }
}

/// The most octets a long-form length may have: a `u64` (X.690 §8.1.3.5 allows 126).
const MAX_LENGTH_OCTETS: usize = 8;
/// The most octets a high tag number may continue in after the first identifier octet: as many
/// as `der` reads.
const MAX_TAG_NUMBER_OCTETS: usize = 5;

/// Identifier and length octets as read.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    /// The first identifier octet: class, constructed bit, and the tag number below 31.
    pub tag: u8,
    /// How many identifier octets there are: more than one for a high tag number.
    pub tag_octets: usize,
    /// The length, `None` when indefinite; whether it fits the input is the caller's to check.
    pub len: Option<u64>,
    /// How many octets the identifier and length take.
    pub octets: usize,
}

impl Header {
    /// Whether the element is constructed (X.690 §8.1.2.5).
    pub fn constructed(self) -> bool {
        self.tag & 0x20 != 0
    }
}

/// Reads identifier and length octets (X.690 §8.1.2, §8.1.3), taking no more `octets` than the
/// header has, so that a stream read a byte at a time works as well as a slice. An indefinite
/// length comes back whatever the constructed bit, for the caller to judge in its own order; a
/// fault's `at` is relative to the header's start.
pub fn decode_header(
    octets: impl IntoIterator<Item = u8>,
    high_tag_numbers: bool,
) -> Result<Header, BerError> {
    let fault = |problem, at| BerError { problem, at };
    let mut octets = octets.into_iter();
    let tag = octets.next().ok_or(fault(Problem::TruncatedTag, 0))?;
    let tag_octets = match tag & 0x1f {
        0x1f if !high_tag_numbers => return Err(fault(Problem::HighTagNumber, 0)),
        // High tag numbers continue in octets with bit 8 set (X.690 §8.1.2.4).
        0x1f => {
            octets
                .by_ref()
                .take(MAX_TAG_NUMBER_OCTETS)
                .position(|octet| octet & 0x80 == 0)
                .ok_or(fault(Problem::BadTagNumber, 0))?
                + 2
        }
        _ => 1,
    };
    let first = octets.next().ok_or(fault(Problem::Truncated, tag_octets))?;
    let (len, length_octets) = match first {
        0x00..=0x7f => (Some(u64::from(first)), 0),
        0x80 => (None, 0),
        0xff => return Err(fault(Problem::ReservedLength, tag_octets)),
        _ => {
            let count = usize::from(first & 0x7f);
            if count > MAX_LENGTH_OCTETS {
                return Err(fault(Problem::LengthTooLarge, tag_octets));
            }
            let len = (0..count)
                .try_fold(0u64, |len, _| Some(len << 8 | u64::from(octets.next()?)))
                .ok_or(fault(Problem::Truncated, tag_octets + 1))?;
            (Some(len), count)
        }
    };
    Ok(Header {
        tag,
        tag_octets,
        len,
        octets: tag_octets + 1 + length_octets,
    })
}

/// A one-octet tag and a length in DER form (X.690 §10.1), or the indefinite form for `None`.
/// Written by hand because lengths here may exceed what the `der` crate's `Length` holds.
pub fn header(tag: u8, len: Option<u64>) -> Vec<u8> {
    [vec![tag], length_octets(len)].concat()
}

/// Length octets: short form below 128, else the fewest long-form octets; `None` is indefinite.
fn length_octets(len: Option<u64>) -> Vec<u8> {
    match len {
        None => vec![0x80],
        Some(len) if len < 0x80 => vec![len as u8],
        Some(len) => {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            let mut out = vec![0x80 | (bytes.len() - skip) as u8];
            out.extend_from_slice(&bytes[skip..]);
            out
        }
    }
}

/// A tag: the identifier octets as they appear in the input (X.690 §8.1.2), constructed bit
/// included; comparisons ignore that bit, which the body decides when writing.
#[derive(Clone, Copy)]
struct Tag<'a>(&'a [u8]);

impl Tag<'_> {
    const END_OF_CONTENTS: u8 = 0x00;
    const BIT_STRING: u8 = 0x03;
    const OCTET_STRING: u8 = 0x04;
    const OBJECT_IDENTIFIER: u8 = 0x06;
    const UTC_TIME: u8 = 0x17;
    const GENERALIZED_TIME: u8 = 0x18;
    const SEQUENCE: u8 = 0x10;
    const CONTEXT_0: u8 = 0x80;

    /// Whether this is the one-octet tag `first` (class and number; the constructed bit is
    /// ignored).
    fn is(self, first: u8) -> bool {
        matches!(self.0, [octet] if octet & !0x20 == first)
    }

    /// The number of a universal tag (which always fits the first octet), `None` for others.
    fn universal(self) -> Option<u8> {
        match self.0 {
            [octet] if octet & 0xc0 == 0 => Some(octet & 0x1f),
            _ => None,
        }
    }
}

/// OCTET STRING and the restricted character strings (X.690 §8.23), which BER may split into
/// OCTET STRING chunks whatever their type.
fn is_octet_or_character_string(number: u8) -> bool {
    matches!(number, 4 | 12 | 18..=22 | 25..=28 | 30)
}

/// One element of the tree.
struct Node<'a> {
    tag: Tag<'a>,
    body: Body<'a>,
    /// Where the element starts in the input, for error reports.
    at: usize,
}

enum Body<'a> {
    Primitive(Cow<'a, [u8]>),
    Constructed(Vec<Node<'a>>),
}

/// A cursor over the input, or over the value of one definite-length element, that knows its
/// offset in the whole input.
struct Reader<'a> {
    rest: &'a [u8],
    offset: usize,
    profile: Profile,
}

impl<'a> Reader<'a> {
    fn fail(&self, problem: Problem) -> BerError {
        BerError {
            problem,
            at: self.offset,
        }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], BerError> {
        if self.rest.len() < len {
            return Err(self.fail(Problem::Truncated));
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        self.offset += len;
        Ok(head)
    }

    /// Parses one element; `None` for an end-of-contents marker.
    fn element(&mut self, depth: usize) -> Result<Option<Node<'a>>, BerError> {
        let at = self.offset;
        let fail = |problem| BerError { problem, at };
        let header = decode_header(self.rest.iter().copied(), true).map_err(|fault| BerError {
            at: at + fault.at,
            ..fault
        })?;
        let tag = Tag(&self.take(header.octets)?[..header.tag_octets]);
        let constructed = header.constructed();
        // A length beyond memory is beyond the input too.
        let length = header
            .len
            .map(|len| usize::try_from(len).unwrap_or(usize::MAX));
        if tag.is(Tag::END_OF_CONTENTS) {
            return match (constructed, length) {
                (false, Some(0)) => Ok(None),
                _ => Err(fail(Problem::BadEndOfContents)),
            };
        }
        if depth > self.profile.max_depth {
            return Err(fail(Problem::TooDeep));
        }
        let body = match (constructed, length) {
            (false, Some(len)) => Body::Primitive(Cow::Borrowed(self.take(len)?)),
            (false, None) => return Err(fail(Problem::IndefinitePrimitive)),
            (true, Some(len)) => {
                let mut inner = Reader {
                    offset: self.offset,
                    rest: self.take(len)?,
                    profile: self.profile,
                };
                let mut children = Vec::new();
                while !inner.rest.is_empty() {
                    let child_at = inner.offset;
                    let child = inner.element(depth + 1)?.ok_or(BerError {
                        problem: Problem::EndOfContentsInDefinite,
                        at: child_at,
                    })?;
                    children.push(child);
                }
                Body::Constructed(children)
            }
            (true, None) => {
                let mut children = Vec::new();
                while let Some(child) = self.element(depth + 1)? {
                    children.push(child);
                }
                Body::Constructed(children)
            }
        };
        let mut node = Node { tag, body, at };
        if constructed {
            match tag.universal() {
                Some(Tag::BIT_STRING) if self.profile.bit_strings => node.join_bit_string()?,
                Some(Tag::BIT_STRING) => return Err(fail(Problem::ConstructedBitString)),
                Some(Tag::UTC_TIME | Tag::GENERALIZED_TIME) if self.profile.times => {
                    node.join_chunks()?
                }
                Some(number) if is_octet_or_character_string(number) => node.join_chunks()?,
                _ => {}
            }
        }
        Ok(Some(node))
    }
}

impl Node<'_> {
    /// Joins the chunks of a constructed string into one primitive value (X.690 §8.7.3.2:
    /// the value is the concatenation of the chunks', which may themselves be constructed).
    fn join_chunks(&mut self) -> Result<(), BerError> {
        let Body::Constructed(chunks) = &self.body else {
            return Ok(());
        };
        let mut joined = Vec::new();
        for chunk in chunks {
            // Chunks are OCTET STRINGs whatever the string type; nested chunks were joined
            // when the chunk was parsed, so each is primitive by now.
            match &chunk.body {
                Body::Primitive(bytes) if chunk.tag.is(Tag::OCTET_STRING) => {
                    joined.extend_from_slice(bytes)
                }
                _ => return Err(chunk.fail(Problem::StringChunk)),
            }
        }
        self.body = Body::Primitive(Cow::Owned(joined));
        Ok(())
    }

    /// Joins the chunks of a constructed BIT STRING (X.690 §8.6.4): each starts with its count
    /// of unused bits, which only the last may have non-zero; the joined value starts with
    /// the last one's.
    fn join_bit_string(&mut self) -> Result<(), BerError> {
        let Body::Constructed(chunks) = &self.body else {
            return Ok(());
        };
        let mut joined = vec![0];
        let mut unused = 0;
        for chunk in chunks {
            let Body::Primitive(bytes) = &chunk.body else {
                return Err(chunk.fail(Problem::BitStringChunk));
            };
            if !chunk.tag.is(Tag::BIT_STRING) {
                return Err(chunk.fail(Problem::BitStringChunk));
            }
            let (&chunk_unused, bits) = bytes
                .split_first()
                .ok_or(chunk.fail(Problem::MissingUnusedBits))?;
            if unused != 0 || chunk_unused > 7 {
                return Err(chunk.fail(Problem::MisplacedUnusedBits));
            }
            unused = chunk_unused;
            joined.extend_from_slice(bits);
        }
        joined[0] = unused;
        self.body = Body::Primitive(Cow::Owned(joined));
        Ok(())
    }

    fn fail(&self, problem: Problem) -> BerError {
        BerError {
            problem,
            at: self.at,
        }
    }

    /// The first identifier octet to write, with the constructed bit as the body says.
    fn identifier_first_octet(&self) -> u8 {
        let first = self.tag.0[0] & !0x20;
        match self.body {
            Body::Primitive(_) => first,
            Body::Constructed(_) => first | 0x20,
        }
    }

    fn value_len(&self) -> usize {
        match &self.body {
            Body::Primitive(bytes) => bytes.len(),
            Body::Constructed(children) => children.iter().map(Node::encoded_len).sum(),
        }
    }

    fn encoded_len(&self) -> usize {
        let value = self.value_len();
        self.tag.0.len() + length_octets(Some(value as u64)).len() + value
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(self.identifier_first_octet());
        out.extend_from_slice(&self.tag.0[1..]);
        out.extend(length_octets(Some(self.value_len() as u64)));
        match &self.body {
            Body::Primitive(bytes) => out.extend_from_slice(bytes),
            Body::Constructed(children) => children.iter().for_each(|child| child.write(out)),
        }
    }

    fn children(&self) -> &[Self] {
        match &self.body {
            Body::Constructed(children) => children,
            Body::Primitive(_) => &[],
        }
    }

    fn children_mut(&mut self) -> &mut [Self] {
        match &mut self.body {
            Body::Constructed(children) => children,
            Body::Primitive(_) => &mut [],
        }
    }
}

/// Joins `encryptedContent [0] IMPLICIT OCTET STRING` when it arrives in chunks.
///
/// Only the schema says that this `[0]` is an implicitly tagged string rather than an
/// explicit tag around a value, so the element is found by position: ContentInfo's content
/// (RFC 5652 §3), when it is EnvelopedData (§6.1) or AuthEnvelopedData (RFC 5083 §2.1), whose
/// first SEQUENCE is the (auth)EncryptedContentInfo, whose `[0]` is the encrypted content.
/// Anything shaped otherwise is left for the DER decoder to refuse.
fn join_encrypted_content(root: &mut Node<'_>) -> Result<(), BerError> {
    let is_envelope = match root.children().first() {
        Some(oid) if oid.tag.is(Tag::OBJECT_IDENTIFIER) => [
            rfc5911::ID_ENVELOPED_DATA,
            rfc5911::ID_CT_AUTH_ENVELOPED_DATA,
        ]
        .iter()
        .any(|known| oid_value_is(oid, known)),
        _ => false,
    };
    if !is_envelope {
        return Ok(());
    }
    let encrypted_content = root
        .children_mut()
        .get_mut(1)
        .filter(|explicit| explicit.tag.is(Tag::CONTEXT_0))
        .and_then(|explicit| explicit.children_mut().first_mut())
        .filter(|envelope| envelope.tag.is(Tag::SEQUENCE))
        .and_then(|envelope| {
            envelope
                .children_mut()
                .iter_mut()
                .find(|child| child.tag.is(Tag::SEQUENCE))
        })
        .and_then(|info| {
            info.children_mut()
                .iter_mut()
                .find(|child| child.tag.is(Tag::CONTEXT_0))
        });
    match encrypted_content {
        Some(node) => node.join_chunks(),
        None => Ok(()),
    }
}

/// Whether a primitive OBJECT IDENTIFIER node holds `oid`.
fn oid_value_is(node: &Node<'_>, oid: &ObjectIdentifier) -> bool {
    match (&node.body, oid.to_der()) {
        // The DER of an OID is tag, one length octet (OIDs here are short), then the value.
        (Body::Primitive(value), Ok(der)) => der.get(2..) == Some(value.as_ref()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: [Profile; 2] = [Profile::SIGNED_DATA, Profile::ENVELOPED_DATA];

    fn hex(text: &str) -> Vec<u8> {
        hex::decode(text.replace(' ', "")).unwrap()
    }

    fn normalized(hex_in: &str, profile: Profile) -> Result<String, BerError> {
        to_der(&hex(hex_in), profile).map(hex::encode)
    }

    #[test]
    fn der_passes_through_unchanged() {
        for profile in BOTH {
            // SEQUENCE { SET { INTEGER 2, INTEGER 1 } } keeps its unsorted SET.
            assert_eq!(
                normalized("30083106020102020101", profile).unwrap(),
                "30083106020102020101"
            );
            // [0] with a high tag number, and a long-form length.
            let long = format!("04820100{}", "ab".repeat(256));
            assert_eq!(normalized(&long, profile).unwrap(), long);
            assert_eq!(normalized("9f2a0101", profile).unwrap(), "9f2a0101");
            let der = hex("30 0a 06 03 2a 03 04 a0 03 04 01 ff");
            assert_eq!(to_der(&der, profile).unwrap(), der);
        }
    }

    #[test]
    fn indefinite_lengths_become_definite() {
        for profile in BOTH {
            // SEQUENCE (indefinite) { [0] (indefinite) { INTEGER 5 } }
            assert_eq!(
                normalized("3080a08002010500000000", profile).unwrap(),
                "3005a003020105"
            );
            let ber = hex("30 80 06 03 2a 03 04 a0 80 04 01 ff 00 00 00 00");
            assert_eq!(
                to_der(&ber, profile).unwrap(),
                hex("30 0a 06 03 2a 03 04 a0 03 04 01 ff")
            );
        }
    }

    #[test]
    fn non_minimal_lengths_become_minimal() {
        for profile in BOTH {
            assert_eq!(normalized("308103020105", profile).unwrap(), "3003020105");
            let ber = hex("30 82 00 04 04 81 01 ff");
            assert_eq!(to_der(&ber, profile).unwrap(), hex("30 03 04 01 ff"));
        }
    }

    #[test]
    fn constructed_strings_become_primitive() {
        for profile in BOTH {
            // OCTET STRING (indefinite) { "ab", OCTET STRING (definite) { "c" } }, as openssl
            // -stream and Outlook chunk content.
            assert_eq!(
                normalized("24800402616224030401630000", profile).unwrap(),
                "0403616263"
            );
            // A constructed IA5String with OCTET STRING segments (X.690 §8.23.6).
            assert_eq!(
                normalized("36080402616204026364", profile).unwrap(),
                "160461626364"
            );
        }
    }

    #[test]
    fn constructed_octet_strings_are_joined_at_any_depth() {
        for profile in BOTH {
            // Definite outer chunking, indefinite inner chunking.
            let ber = hex("30 80 24 0d 04 01 aa 24 80 04 01 bb 04 01 cc 00 00 00 00");
            assert_eq!(to_der(&ber, profile).unwrap(), hex("30 05 04 03 aa bb cc"));
        }
    }

    #[test]
    fn bit_strings_are_joined_for_verification_and_refused_for_decryption() {
        let signed = Profile::SIGNED_DATA;
        // BIT STRING segments: only the last may leave bits unused.
        assert_eq!(
            normalized("2308030200ff030204f0", signed).unwrap(),
            "030304fff0"
        );
        assert!(normalized("2308030204ff030204f0", signed).is_err());
        assert_eq!(
            normalized("23 80 03 02 00 ff 00 00", signed).unwrap(),
            "030200ff"
        );
        assert_eq!(
            normalized("23 80 03 02 00 ff 00 00", Profile::ENVELOPED_DATA)
                .unwrap_err()
                .problem,
            Problem::ConstructedBitString
        );
    }

    #[test]
    fn time_strings_are_joined_only_for_verification() {
        // UTCTime (indefinite) { "12", "34" }
        let ber = "37 80 04 02 31 32 04 02 33 34 00 00";
        assert_eq!(
            normalized(ber, Profile::SIGNED_DATA).unwrap(),
            "170431323334"
        );
        assert_eq!(
            normalized(ber, Profile::ENVELOPED_DATA).unwrap(),
            "37080402313204023334"
        );
    }

    #[test]
    fn long_values_get_long_lengths() {
        for profile in BOTH {
            let mut ber = hex("24 80 04 81 80");
            ber.extend([7u8; 128]);
            ber.extend(hex("04 01 07 00 00"));
            let der = to_der(&ber, profile).unwrap();
            assert_eq!(der[..3], hex("04 81 81")[..]);
            assert_eq!(der.len(), 3 + 129);
        }
    }

    #[test]
    fn implicit_encrypted_content_chunks_are_joined_only_in_envelopes() {
        // ContentInfo { envelopedData, [0] { SEQUENCE { INTEGER 0, SET {}, SEQUENCE {
        //     OID id-data, SEQUENCE { OID }, [0] IMPLICIT constructed { 04 01 aa, 04 01 bb } } } } }
        let enveloped = hex(
            "30 80 06 09 2a 86 48 86 f7 0d 01 07 03 a0 80 30 80 02 01 00 31 00 \
             30 80 06 09 2a 86 48 86 f7 0d 01 07 01 30 03 06 01 2a \
             a0 80 04 01 aa 04 01 bb 00 00 00 00 00 00 00 00 00 00",
        );
        let der = to_der(&enveloped, Profile::ENVELOPED_DATA).unwrap();
        assert!(der.ends_with(&hex("80 02 aa bb")), "{}", hex::encode(&der));
        // The same shape under another content type keeps its `[0]` constructed.
        let mut signed = enveloped.clone();
        signed[12] = 0x02;
        let der = to_der(&signed, Profile::ENVELOPED_DATA).unwrap();
        assert!(
            der.ends_with(&hex("a0 06 04 01 aa 04 01 bb")),
            "{}",
            hex::encode(&der)
        );
        // Verification never joins it, whatever the content type.
        let der = to_der(&enveloped, Profile::SIGNED_DATA).unwrap();
        assert!(
            der.ends_with(&hex("a0 06 04 01 aa 04 01 bb")),
            "{}",
            hex::encode(&der)
        );
    }

    #[test]
    fn malformed_input_is_an_error_never_a_panic() {
        for profile in BOTH {
            for bad in [
                "",                                 // nothing
                "30",                               // no length
                "3005020105",                       // content shorter than length
                "0480",                             // primitive indefinite
                "30800201050000ff",                 // trailing data
                "308002010500",                     // EOC cut short
                "3003020105ff",                     // trailing data after definite
                "3085ffffffffff",                   // length too long
                "2404300100",                       // segment that is not an OCTET STRING
                "30030201",                         // child overruns parent
                "30 05 04 01",                      // child overruns input
                "30 80 04 01 ff",                   // no end-of-contents
                "04 80 00 00",                      // primitive indefinite, with EOC
                "30 84 ff ff ff ff",                // length beyond the input
                "30 89 01 02 03 04 05 06 07 08 09", // length in too many octets
                "30 03 04 01 ff 00",                // trailing data after definite
                "00 00",                            // EOC at the top
                "3f",                               // high tag number cut short
                "3f 81 81 81 81 81 01 00",          // high tag number too long
                "24 03 30 01 00",                   // chunk that is not an OCTET STRING
            ] {
                assert!(normalized(bad, profile).is_err(), "{bad} accepted");
                assert!(to_der(&hex(bad), profile).is_err(), "{bad}");
            }
        }
        // The BIT STRING only decryption refuses.
        assert!(to_der(&hex("23 80 03 02 00 ff 00 00"), Profile::ENVELOPED_DATA).is_err());
    }

    #[test]
    fn headers_are_read_without_taking_more() {
        for (bytes, high, tag_octets, len, octets) in [
            ("30 03", false, 1, Some(3), 2),
            ("30 80", false, 1, None, 2),
            ("04 80", false, 1, None, 2),
            ("30 82 01 00", false, 1, Some(256), 4),
            ("3088ffffffffffffffff", false, 1, Some(u64::MAX), 10),
            ("9f 2a 01", true, 2, Some(1), 3),
            ("bf 81 81 81 81 01 80", true, 6, None, 7),
        ] {
            let input = [hex(bytes), vec![0xee]].concat();
            let mut rest = input.iter().copied();
            let header = decode_header(&mut rest, high).unwrap();
            let read = (header.tag, header.tag_octets, header.len, header.octets);
            assert_eq!(read, (input[0], tag_octets, len, octets), "{bytes}");
            assert_eq!(rest.next(), Some(0xee), "{bytes}");
        }
    }

    #[test]
    fn header_faults_say_where() {
        for (bytes, high, problem, at) in [
            ("", true, Problem::TruncatedTag, 0),
            ("30", true, Problem::Truncated, 1),
            ("30 ff", true, Problem::ReservedLength, 1),
            ("30 89", true, Problem::LengthTooLarge, 1),
            ("30 84 01", true, Problem::Truncated, 2),
            ("3f", true, Problem::BadTagNumber, 0),
            ("3f 81 81 81 81 81 01 00", true, Problem::BadTagNumber, 0),
            ("9f 2a ff", true, Problem::ReservedLength, 2),
            ("9f 2a 01", false, Problem::HighTagNumber, 0),
        ] {
            let fault = decode_header(hex(bytes), high).unwrap_err();
            assert_eq!((fault.problem, fault.at), (problem, at), "{bytes}");
        }
        // In the rewriting, offsets count from the start of the input.
        for (bytes, problem, at) in [
            ("30 80 30 84 01", Problem::Truncated, 4),
            ("30 80 30 ff", Problem::ReservedLength, 3),
            ("30 80 9f 2a 89", Problem::LengthTooLarge, 4),
            ("30 80 3f 81", Problem::BadTagNumber, 2),
            ("30 80 04", Problem::Truncated, 3),
            ("30 80 04 80", Problem::IndefinitePrimitive, 2),
            ("30 80 00 80", Problem::BadEndOfContents, 2),
        ] {
            let error = to_der(&hex(bytes), Profile::SIGNED_DATA).unwrap_err();
            assert_eq!((error.problem, error.at), (problem, at), "{bytes}");
        }
    }

    #[test]
    fn nesting_is_limited_by_profile() {
        for (profile, max_depth) in [(Profile::SIGNED_DATA, 48), (Profile::ENVELOPED_DATA, 64)] {
            let deep = "3080".repeat(max_depth + 2) + &"0000".repeat(max_depth + 2);
            let error = to_der(&hex(&deep), profile).unwrap_err();
            assert_eq!(error.problem, Problem::TooDeep);
            assert_eq!(der::Error::from(error).kind(), ErrorKind::NestingDepth);
            // As deep as allowed: the outermost at depth 0, the innermost at `max_depth`.
            let deepest = "3080".repeat(max_depth) + "0500" + &"0000".repeat(max_depth);
            assert!(to_der(&hex(&deepest), profile).is_ok(), "{max_depth}");
        }
    }
}
