//! BER to DER normalization (X.690 §8, §10), so that SignedData from Outlook and
//! `openssl cms -stream` decodes with the DER-oriented `der`/`cms` types.
//!
//! `der`'s own BER support covers indefinite lengths and indefinite constructed strings, but
//! not constructed strings with definite lengths (which X.690 allows and some encoders emit)
//! nor strings nested inside `Any`. Rewriting the whole encoding once, before decoding, keeps
//! every later step on plain DER TLVs. What it does:
//!
//! - indefinite lengths become definite, and every length is written in its shortest form;
//! - constructed OCTET STRINGs, BIT STRINGs and restricted character/time strings become
//!   primitive, their segments concatenated (X.690 §8.6.4, §8.7.3, §8.23.6);
//! - nothing else changes: elements of a SET OF keep their order, because signatures cover
//!   the bytes as the signer sent them (RFC 5652 §5.4) and re-sorting would break them.
//!
//! Input that is already DER comes out byte for byte the same.

use der::{Error, ErrorKind, Length, Tag};

/// How deep elements may nest; CMS needs about a dozen levels, so this only stops abuse.
const MAX_DEPTH: usize = 48;

/// Rewrites a single BER element (with nothing after it) as DER.
pub fn normalize(ber: &[u8]) -> Result<Vec<u8>, Error> {
    let mut reader = Reader {
        input: ber,
        position: 0,
    };
    let mut out = Vec::with_capacity(ber.len());
    reader.element(&mut out, 0)?;
    if reader.position != ber.len() {
        return Err(ErrorKind::TrailingData {
            decoded: reader.length(reader.position)?,
            remaining: reader.length(ber.len() - reader.position)?,
        }
        .at(reader.length(reader.position)?));
    }
    Ok(out)
}

/// The class and constructed bits of an identifier octet (X.690 §8.1.2).
const CLASS_MASK: u8 = 0xC0;
const CONSTRUCTED: u8 = 0x20;
/// Low five bits of 31 mean the tag number follows in further octets.
const HIGH_TAG_NUMBER: u8 = 0x1F;
const INDEFINITE: u8 = 0x80;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;

/// Universal string types that BER may send in constructed form: BIT STRING, OCTET STRING,
/// and the restricted character and time strings (X.690 §8.23, §8.25, §8.26).
fn is_string_type(identifier: u8) -> bool {
    identifier & CLASS_MASK == 0
        && matches!(identifier & HIGH_TAG_NUMBER, 3 | 4 | 12 | 18..=28 | 30)
}

/// One element's header.
struct Header {
    /// The identifier octets, as read.
    identifier: Vec<u8>,
    /// `None` for the indefinite form.
    length: Option<usize>,
}

impl Header {
    fn constructed(&self) -> bool {
        self.identifier[0] & CONSTRUCTED != 0
    }
}

/// A cursor over the input that knows its position, for error reports.
struct Reader<'a> {
    input: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn length(&self, n: usize) -> Result<Length, Error> {
        Length::try_from(n)
    }

    fn error(&self, kind: ErrorKind) -> Error {
        kind.at(Length::try_from(self.position).unwrap_or(Length::MAX))
    }

    fn byte(&mut self) -> Result<u8, Error> {
        let byte = *self.input.get(self.position).ok_or_else(|| {
            let at = self.length(self.position).unwrap_or(Length::MAX);
            Error::incomplete(at)
        })?;
        self.position += 1;
        Ok(byte)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .position
            .checked_add(n)
            .filter(|end| *end <= self.input.len())
            .ok_or_else(|| {
                Error::incomplete(self.length(self.input.len()).unwrap_or(Length::MAX))
            })?;
        let slice = &self.input[self.position..end];
        self.position = end;
        Ok(slice)
    }

    fn at_end_of_contents(&self) -> bool {
        self.input.get(self.position..self.position + 2) == Some(&[0, 0])
    }

    fn header(&mut self) -> Result<Header, Error> {
        let first = self.byte()?;
        let mut identifier = vec![first];
        if first & HIGH_TAG_NUMBER == HIGH_TAG_NUMBER {
            loop {
                let next = self.byte()?;
                identifier.push(next);
                if next & 0x80 == 0 {
                    break;
                }
                if identifier.len() > 5 {
                    return Err(self.error(ErrorKind::TagNumberInvalid));
                }
            }
        }
        let length = match self.byte()? {
            short if short < INDEFINITE => Some(usize::from(short)),
            INDEFINITE if first & CONSTRUCTED != 0 => None,
            INDEFINITE => return Err(self.error(ErrorKind::IndefiniteLength)),
            long => {
                let count = usize::from(long & 0x7F);
                if count > 4 {
                    return Err(self.error(ErrorKind::Overlength));
                }
                let mut value = 0usize;
                for _ in 0..count {
                    value = (value << 8) | usize::from(self.byte()?);
                }
                Some(value)
            }
        };
        Ok(Header { identifier, length })
    }

    /// Reads one element and writes it as DER.
    fn element(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(self.error(ErrorKind::NestingDepth));
        }
        let header = self.header()?;
        if !header.constructed() {
            let content = self.take(header.length.unwrap_or_default())?;
            write_element(out, &header.identifier, content);
            return Ok(());
        }
        let mut content = Vec::new();
        if is_string_type(header.identifier[0]) {
            let mut unused_bits = None;
            self.children(&header, depth, |reader, depth| {
                reader.segment(header.identifier[0], &mut content, &mut unused_bits, depth)
            })?;
            let mut identifier = header.identifier;
            identifier[0] &= !CONSTRUCTED;
            if identifier[0] == BIT_STRING {
                content.insert(0, unused_bits.unwrap_or(0));
            }
            write_element(out, &identifier, &content);
        } else {
            self.children(&header, depth, |reader, depth| {
                reader.element(&mut content, depth)
            })?;
            write_element(out, &header.identifier, &content);
        }
        Ok(())
    }

    /// Calls `each` for every child of a constructed element, up to its end or its
    /// end-of-contents octets.
    fn children(
        &mut self,
        header: &Header,
        depth: usize,
        mut each: impl FnMut(&mut Self, usize) -> Result<(), Error>,
    ) -> Result<(), Error> {
        match header.length {
            Some(len) => {
                let end = self.position.saturating_add(len);
                if end > self.input.len() {
                    return Err(Error::incomplete(self.length(self.input.len())?));
                }
                while self.position < end {
                    each(self, depth + 1)?;
                }
                if self.position != end {
                    return Err(self.error(ErrorKind::Length { tag: Tag::Sequence }));
                }
            }
            None => {
                while !self.at_end_of_contents() {
                    if self.position >= self.input.len() {
                        return Err(self.error(ErrorKind::IndefiniteLength));
                    }
                    each(self, depth + 1)?;
                }
                self.position += 2;
            }
        }
        Ok(())
    }

    /// Reads one segment of a constructed string of type `outer` and appends its bytes.
    ///
    /// Segments are OCTET STRINGs (for character strings too, X.690 §8.23.6) or BIT STRINGs
    /// for a BIT STRING; each BIT STRING segment starts with its count of unused bits, which
    /// only the last may have non-zero (X.690 §8.6.4).
    fn segment(
        &mut self,
        outer: u8,
        content: &mut Vec<u8>,
        unused_bits: &mut Option<u8>,
        depth: usize,
    ) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(self.error(ErrorKind::NestingDepth));
        }
        let start = self.position;
        let header = self.header()?;
        let segment_type = header.identifier[0] & !CONSTRUCTED;
        let expected = if outer & !CONSTRUCTED == BIT_STRING {
            BIT_STRING
        } else {
            OCTET_STRING
        };
        if header.identifier.len() != 1 || segment_type != expected {
            self.position = start;
            return Err(self.error(ErrorKind::Noncanonical {
                tag: Tag::OctetString,
            }));
        }
        if header.constructed() {
            return self.children(&header, depth, |reader, depth| {
                reader.segment(outer, content, unused_bits, depth)
            });
        }
        let bytes = self.take(header.length.unwrap_or_default())?;
        if expected == BIT_STRING {
            let (&unused, bits) = bytes.split_first().ok_or_else(|| {
                self.error(ErrorKind::Length {
                    tag: Tag::BitString,
                })
            })?;
            if unused_bits.is_some_and(|previous| previous != 0) || unused > 7 {
                return Err(self.error(ErrorKind::Noncanonical {
                    tag: Tag::BitString,
                }));
            }
            *unused_bits = Some(unused);
            content.extend_from_slice(bits);
        } else {
            content.extend_from_slice(bytes);
        }
        Ok(())
    }
}

/// Writes identifier, shortest definite length and content.
fn write_element(out: &mut Vec<u8>, identifier: &[u8], content: &[u8]) {
    out.extend_from_slice(identifier);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(hex_in: &str) -> Result<String, Error> {
        normalize(&hex::decode(hex_in).unwrap()).map(hex::encode)
    }

    #[test]
    fn der_passes_through_unchanged() {
        // SEQUENCE { SET { INTEGER 2, INTEGER 1 } } keeps its unsorted SET.
        assert_eq!(
            normalized("30083106020102020101").unwrap(),
            "30083106020102020101"
        );
        // [0] with a high tag number, and a long-form length.
        let long = format!("04820100{}", "ab".repeat(256));
        assert_eq!(normalized(&long).unwrap(), long);
        assert_eq!(normalized("9f2a0101").unwrap(), "9f2a0101");
    }

    #[test]
    fn indefinite_lengths_become_definite() {
        // SEQUENCE (indefinite) { [0] (indefinite) { INTEGER 5 } }
        assert_eq!(
            normalized("3080a08002010500000000").unwrap(),
            "3005a003020105"
        );
        // Non-minimal long-form length.
        assert_eq!(normalized("308103020105").unwrap(), "3003020105");
    }

    #[test]
    fn constructed_strings_become_primitive() {
        // OCTET STRING (indefinite) { "ab", OCTET STRING (definite) { "c" } }, as openssl -stream
        // and Outlook chunk content.
        assert_eq!(
            normalized("24800402616224030401630000").unwrap(),
            "0403616263"
        );
        // A constructed IA5String with OCTET STRING segments (X.690 §8.23.6).
        assert_eq!(normalized("36080402616204026364").unwrap(), "160461626364");
        // BIT STRING segments: only the last may leave bits unused.
        assert_eq!(normalized("2308030200ff030204f0").unwrap(), "030304fff0");
        assert!(normalized("2308030204ff030204f0").is_err());
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in [
            "",                 // nothing
            "30",               // no length
            "3005020105",       // content shorter than length
            "0480",             // primitive indefinite
            "30800201050000ff", // trailing data
            "308002010500",     // EOC cut short
            "3003020105ff",     // trailing data after definite
            "3085ffffffffff",   // length too long
            "2404300100",       // segment that is not an OCTET STRING
            "30030201",         // child overruns parent
        ] {
            assert!(normalized(bad).is_err(), "{bad} accepted");
        }
        let deep = "3080".repeat(MAX_DEPTH + 2) + &"0000".repeat(MAX_DEPTH + 2);
        assert_eq!(
            normalize(&hex::decode(deep).unwrap()).unwrap_err().kind(),
            ErrorKind::NestingDepth
        );
    }
}
