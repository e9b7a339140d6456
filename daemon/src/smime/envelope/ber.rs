//! BER to DER re-encoding of an incoming CMS message, so that the DER decoders of `cms` read
//! what Outlook and `openssl cms -stream` send.
//!
//! `der` 0.8 reads indefinite lengths only in part and rejects constructed strings of definite
//! length (RustCrypto/formats#779), but both occur in real mail: indefinite lengths throughout
//! and the encrypted content split into OCTET STRING chunks (X.690 §8.7.3). This module parses
//! the whole BER tree and writes it back with definite, minimal lengths and every universal
//! string primitive; the one implicitly tagged string that is large enough to be chunked in
//! practice, `encryptedContent [0] IMPLICIT OCTET STRING` (RFC 5652 §6.1), is joined too. SETs
//! need no reordering here: `der` sorts SET OF elements while decoding.

use super::EnvelopeError;
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911;
use der::Encode;
use std::borrow::Cow;

/// Deeper nesting than this is refused: a CMS envelope with a certificate in its
/// originatorInfo stays far below, and the limit keeps the recursion's stack small.
const MAX_DEPTH: usize = 64;

/// Re-encodes one BER element, with nothing after it, as DER.
pub(super) fn to_der(input: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let mut rest = input;
    let mut root = parse(&mut rest, 0)?.ok_or(malformed("an end-of-contents marker at the top"))?;
    if !rest.is_empty() {
        return Err(malformed("trailing data after the ContentInfo"));
    }
    join_encrypted_content(&mut root)?;
    let mut out = Vec::with_capacity(root.encoded_len());
    root.write(&mut out);
    Ok(out)
}

fn malformed(what: &'static str) -> EnvelopeError {
    EnvelopeError::Malformed { what, source: None }
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
    const SEQUENCE: u8 = 0x10;
    const CONTEXT_0: u8 = 0x80;

    /// Whether this is the one-octet tag `first` (class and number; the constructed bit is
    /// ignored).
    fn is(self, first: u8) -> bool {
        matches!(self.0, [octet] if octet & !0x20 == first)
    }

    /// Universal string types, which BER may split into OCTET STRING chunks (X.690 §8.7.3,
    /// §8.23.5). BIT STRING, whose chunks each carry an unused-bits octet, is refused instead.
    fn is_chunkable_string(self) -> bool {
        matches!(self.0, [octet] if matches!(octet & !0x20, 4 | 12 | 18..=22 | 25..=28 | 30))
    }
}

/// One element of the tree.
struct Node<'a> {
    tag: Tag<'a>,
    body: Body<'a>,
}

enum Body<'a> {
    Primitive(Cow<'a, [u8]>),
    Constructed(Vec<Node<'a>>),
}

/// Parses one element from the front of `input`; `None` for an end-of-contents marker.
fn parse<'a>(input: &mut &'a [u8], depth: usize) -> Result<Option<Node<'a>>, EnvelopeError> {
    if depth > MAX_DEPTH {
        return Err(malformed("nesting too deep"));
    }
    let (tag, constructed) = read_tag(input)?;
    let length = read_length(input)?;
    if tag.is(Tag::END_OF_CONTENTS) {
        return match (constructed, length) {
            (false, Some(0)) => Ok(None),
            _ => Err(malformed("a bad end-of-contents marker")),
        };
    }
    let body = match (constructed, length) {
        (false, Some(len)) => Body::Primitive(Cow::Borrowed(take(input, len)?)),
        (false, None) => return Err(malformed("an indefinite length on a primitive element")),
        (true, Some(len)) => {
            let mut inner = take(input, len)?;
            let mut children = Vec::new();
            while !inner.is_empty() {
                let child = parse(&mut inner, depth + 1)?
                    .ok_or(malformed("an end-of-contents marker in a definite length"))?;
                children.push(child);
            }
            Body::Constructed(children)
        }
        (true, None) => {
            let mut children = Vec::new();
            while let Some(child) = parse(input, depth + 1)? {
                children.push(child);
            }
            Body::Constructed(children)
        }
    };
    let mut node = Node { tag, body };
    if constructed && tag.is_chunkable_string() {
        node.join_chunks()?;
    } else if constructed && tag.is(Tag::BIT_STRING) {
        return Err(malformed("a constructed BIT STRING"));
    }
    Ok(Some(node))
}

fn read_tag<'a>(input: &mut &'a [u8]) -> Result<(Tag<'a>, bool), EnvelopeError> {
    let first = *input.first().ok_or(malformed("truncated tag"))?;
    // High tag numbers continue in octets with bit 8 set (X.690 §8.1.2.4); four are plenty.
    let len = if first & 0x1f == 0x1f {
        1 + input
            .iter()
            .skip(1)
            .take(4)
            .position(|b| b & 0x80 == 0)
            .ok_or(malformed("a bad high tag number"))?
            + 1
    } else {
        1
    };
    Ok((Tag(take(input, len)?), first & 0x20 != 0))
}

/// Reads a length: `None` for the indefinite form (X.690 §8.1.3).
fn read_length(input: &mut &[u8]) -> Result<Option<usize>, EnvelopeError> {
    let first = take(input, 1)?[0];
    match first {
        0x00..=0x7f => Ok(Some(usize::from(first))),
        0x80 => Ok(None),
        0xff => Err(malformed("a reserved length octet")),
        _ => {
            let count = usize::from(first & 0x7f);
            if count > std::mem::size_of::<usize>() {
                return Err(malformed("a length too large"));
            }
            let len = take(input, count)?
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            Ok(Some(len))
        }
    }
}

fn take<'a>(input: &mut &'a [u8], len: usize) -> Result<&'a [u8], EnvelopeError> {
    if input.len() < len {
        return Err(malformed("truncated"));
    }
    let (head, tail) = input.split_at(len);
    *input = tail;
    Ok(head)
}

impl Node<'_> {
    /// Joins the chunks of a constructed string into one primitive value (X.690 §8.7.3.2:
    /// the value is the concatenation of the chunks', which may themselves be constructed).
    fn join_chunks(&mut self) -> Result<(), EnvelopeError> {
        let Body::Constructed(children) = &self.body else {
            return Ok(());
        };
        let mut joined = Vec::new();
        for child in children {
            // Chunks are OCTET STRINGs whatever the string type; nested chunks were joined
            // when the child was parsed, so each is primitive by now.
            match &child.body {
                Body::Primitive(bytes) if child.tag.is(Tag::OCTET_STRING) => {
                    joined.extend_from_slice(bytes)
                }
                _ => return Err(malformed("a string chunk that is not an OCTET STRING")),
            }
        }
        self.body = Body::Primitive(Cow::Owned(joined));
        Ok(())
    }

    /// The identifier octets to write: the first with the constructed bit as the body says.
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
        self.tag.0.len() + length_octets(value).len() + value
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(self.identifier_first_octet());
        out.extend_from_slice(&self.tag.0[1..]);
        out.extend_from_slice(&length_octets(self.value_len()));
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

/// DER length octets: short form below 128, else the minimal long form (X.690 §10.1).
fn length_octets(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let mut out = vec![0x80 | (bytes.len() - skip) as u8];
    out.extend_from_slice(&bytes[skip..]);
    out
}

/// Joins `encryptedContent [0] IMPLICIT OCTET STRING` when it arrives in chunks.
///
/// Only the schema says that this `[0]` is an implicitly tagged string rather than an
/// explicit tag around a value, so the element is found by position: ContentInfo's content
/// (RFC 5652 §3), when it is EnvelopedData (§6.1) or AuthEnvelopedData (RFC 5083 §2.1), whose
/// first SEQUENCE is the (auth)EncryptedContentInfo, whose `[0]` is the encrypted content.
/// Anything shaped otherwise is left for the DER decoder to refuse.
fn join_encrypted_content(root: &mut Node<'_>) -> Result<(), EnvelopeError> {
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

    fn hex(text: &str) -> Vec<u8> {
        hex::decode(text.replace(' ', "")).unwrap()
    }

    #[test]
    fn der_passes_through_unchanged() {
        let der = hex("30 0a 06 03 2a 03 04 a0 03 04 01 ff");
        assert_eq!(to_der(&der).unwrap(), der);
    }

    #[test]
    fn indefinite_lengths_become_definite() {
        let ber = hex("30 80 06 03 2a 03 04 a0 80 04 01 ff 00 00 00 00");
        assert_eq!(
            to_der(&ber).unwrap(),
            hex("30 0a 06 03 2a 03 04 a0 03 04 01 ff")
        );
    }

    #[test]
    fn non_minimal_lengths_become_minimal() {
        let ber = hex("30 82 00 04 04 81 01 ff");
        assert_eq!(to_der(&ber).unwrap(), hex("30 03 04 01 ff"));
    }

    #[test]
    fn constructed_octet_strings_are_joined_at_any_depth() {
        // Definite outer chunking, indefinite inner chunking.
        let ber = hex("30 80 24 0d 04 01 aa 24 80 04 01 bb 04 01 cc 00 00 00 00");
        assert_eq!(to_der(&ber).unwrap(), hex("30 05 04 03 aa bb cc"));
    }

    #[test]
    fn long_values_get_long_lengths() {
        let mut ber = hex("24 80 04 81 80");
        ber.extend([7u8; 128]);
        ber.extend(hex("04 01 07 00 00"));
        let der = to_der(&ber).unwrap();
        assert_eq!(der[..3], hex("04 81 81")[..]);
        assert_eq!(der.len(), 3 + 129);
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
        let der = to_der(&enveloped).unwrap();
        assert!(der.ends_with(&hex("80 02 aa bb")), "{}", hex::encode(&der));
        // The same shape under another content type keeps its `[0]` constructed.
        let mut signed = enveloped.clone();
        signed[12] = 0x02;
        let der = to_der(&signed).unwrap();
        assert!(
            der.ends_with(&hex("a0 06 04 01 aa 04 01 bb")),
            "{}",
            hex::encode(&der)
        );
    }

    #[test]
    fn bad_input_is_malformed_never_a_panic() {
        for bad in [
            "",
            "30",
            "30 05 04 01",
            "30 80 04 01 ff",
            "04 80 00 00",
            "23 80 03 02 00 ff 00 00",
            "30 84 ff ff ff ff",
            "30 89 01 02 03 04 05 06 07 08 09",
            "30 03 04 01 ff 00",
            "00 00",
            "3f",
            "3f 81 81 81 81 81 01 00",
            "24 03 30 01 00",
        ] {
            assert!(
                matches!(to_der(&hex(bad)), Err(EnvelopeError::Malformed { .. })),
                "{bad}"
            );
        }
        let mut deep = [0x30, 0x80].repeat(MAX_DEPTH + 2);
        deep.extend([0u8; 2].repeat(MAX_DEPTH + 2));
        assert!(matches!(
            to_der(&deep),
            Err(EnvelopeError::Malformed { .. })
        ));
    }
}
