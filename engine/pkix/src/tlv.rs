//! Reading incoming CMS (DER or BER) by position from a seekable source, for the structures
//! whose bulk must never be held: the small fields are read into memory (and normalized through
//! `ber`), the large content is remembered by position and streamed later, chunk by chunk,
//! however the sender split it (X.690 §8.7.3). Headers are read with `ber`'s one header reader,
//! so both agree on what a header is. Decryption (`envelope::layout`) and verification
//! (`verify::layout`) walk their structures with these pieces.

use crate::ber::{self, BerError, Problem, Profile};
pub use crate::ber::{Header, header};
use std::io::{self, BufReader, Read, Seek, SeekFrom};

/// The most bytes of one small field held in memory (recipientInfos with many recipients,
/// certificate sets, signerInfos): far above real mail, far below a memory problem.
const MAX_FIELD: u64 = 16 << 20;
/// The read buffer under the byte-by-byte header reads.
pub const BUFFER: usize = 64 * 1024;
/// How deep constructed elements may nest inside a field or the content.
const MAX_DEPTH: usize = 16;

/// Why an element could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TlvError {
    /// The structure is broken, in words.
    #[error("{0}")]
    Malformed(&'static str),
    /// A small field's BER does not normalize.
    #[error(transparent)]
    Ber(#[from] BerError),
    /// Reading the source failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn malformed(what: &'static str) -> TlvError {
    TlvError::Malformed(what)
}

/// Reads a tag and a length with [`ber::decode_header`], a byte at a time. High tag numbers do
/// not occur in these structures.
pub fn read_header<R: Read>(src: &mut R) -> Result<Header, TlvError> {
    let octets = std::iter::from_fn(|| {
        let mut byte = [0];
        src.read_exact(&mut byte).ok().map(|()| byte[0])
    });
    let header = ber::decode_header(octets, false).map_err(|fault| {
        malformed(match fault.problem {
            Problem::TruncatedTag | Problem::Truncated => "the CMS message is truncated",
            problem => problem.what(),
        })
    })?;
    if header.len.is_none() && !header.constructed() {
        return Err(malformed(Problem::IndefinitePrimitive.what()));
    }
    Ok(header)
}

/// Reads a header that must have `tag`; `what` names the fault otherwise.
pub fn expect<R: Read>(src: &mut R, tag: u8, what: &'static str) -> Result<Header, TlvError> {
    let header = read_header(src)?;
    if header.tag == tag {
        Ok(header)
    } else {
        Err(malformed(what))
    }
}

/// Whether the next two bytes are end-of-contents (consumed if so).
fn at_end_of_contents<R: Read + Seek>(src: &mut R) -> Result<bool, TlvError> {
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

/// The rest of an element whose header was read, appended to `out` as raw BER.
fn read_body<R: Read + Seek>(
    src: &mut R,
    head: Header,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), TlvError> {
    if depth > MAX_DEPTH {
        return Err(malformed("nesting too deep"));
    }
    out.extend(header(head.tag, head.len));
    match head.len {
        Some(len) => {
            if out.len() as u64 + len > MAX_FIELD {
                return Err(malformed("a field of the CMS message is too large"));
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
                return Err(malformed("a field of the CMS message is too large"));
            }
        },
    }
    Ok(())
}

/// One whole small element, as sent (BER).
pub fn read_raw<R: Read + Seek>(src: &mut R, head: Header) -> Result<Vec<u8>, TlvError> {
    let mut raw = Vec::new();
    read_body(src, head, &mut raw, 0)?;
    Ok(raw)
}

/// One whole small element as DER, normalized by `profile`.
pub fn read_field<R: Read + Seek>(
    src: &mut R,
    head: Header,
    profile: Profile,
) -> Result<Vec<u8>, TlvError> {
    Ok(ber::to_der(&read_raw(src, head)?, profile)?)
}

/// Moves past an element whose header was read.
pub fn skip_body<R: Read + Seek>(src: &mut R, head: Header, depth: usize) -> Result<(), TlvError> {
    if depth > MAX_DEPTH {
        return Err(malformed("nesting too deep"));
    }
    match head.len {
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

/// Where a constructed element with `head` ends: its end offset, or `None` when it ends with
/// end-of-contents.
pub fn end_of<R: Seek>(src: &mut R, head: Header) -> Result<Option<u64>, TlvError> {
    Ok(match head.len {
        Some(len) => Some(src.stream_position()? + len),
        None => None,
    })
}

/// Whether the constructed element ending at `end` has more children.
pub fn has_more<R: Read + Seek>(src: &mut R, end: Option<u64>) -> Result<bool, TlvError> {
    match end {
        Some(end) => Ok(src.stream_position()? < end),
        None => Ok(!at_end_of_contents(src)?),
    }
}

/// Checks that the constructed elements ending at `ends` (innermost first) all end here:
/// nothing inside an outer element after the inner one.
pub fn expect_end_within<R: Read + Seek>(
    src: &mut R,
    ends: &[Option<u64>],
) -> Result<(), TlvError> {
    for end in ends {
        if has_more(src, *end)? {
            return Err(malformed("data after the content inside the ContentInfo"));
        }
    }
    Ok(())
}

/// Checks that the source, `total` bytes long, ends here.
pub fn expect_end<R: Read + Seek>(src: &mut R, total: u64) -> Result<(), TlvError> {
    let position = src.stream_position()?;
    if position != total {
        return Err(malformed(if position > total {
            "the CMS message is truncated"
        } else {
            "trailing data after the ContentInfo"
        }));
    }
    Ok(())
}

/// Streams the OCTET STRING whose header starts at `at` to `chunk`, in pieces of at most
/// `buffer` bytes, whether it was sent as one primitive string or split into many (X.690
/// §8.7.3); the tag itself may be implicit, only its constructed bit counts.
pub fn for_each_chunk<R: Read + Seek, E: From<TlvError>>(
    src: &mut R,
    at: u64,
    buffer: usize,
    mut chunk: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut src = BufReader::with_capacity(BUFFER, src);
    src.seek(SeekFrom::Start(at)).map_err(TlvError::from)?;
    let head = read_header(&mut src)?;
    let mut piece = vec![0u8; buffer];
    walk(&mut src, head, 0, &mut piece, &mut chunk)
}

fn walk<R: Read + Seek, E: From<TlvError>>(
    src: &mut R,
    head: Header,
    depth: usize,
    piece: &mut [u8],
    chunk: &mut impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    if depth > MAX_DEPTH {
        return Err(malformed("nesting too deep").into());
    }
    if !head.constructed() {
        let mut left = head.len.unwrap_or(0);
        while left > 0 {
            let n = piece.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            src.read_exact(&mut piece[..n])
                .map_err(|_| malformed("the CMS message is truncated"))?;
            chunk(&piece[..n])?;
            left -= n as u64;
        }
        return Ok(());
    }
    let end = end_of(src, head)?;
    while has_more(src, end)? {
        let child = read_header(src)?;
        if child.tag & !0x20 != 0x04 {
            return Err(malformed("a chunk of the content is not an OCTET STRING").into());
        }
        walk(src, child, depth + 1, piece, chunk)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{header, read_header};
    use std::io::Cursor;

    #[test]
    fn headers_are_read_to_their_end_and_refused_in_words() {
        let mut src = Cursor::new([0x30, 0x82, 0x01, 0x00, 0x02]);
        let head = read_header(&mut src).unwrap();
        assert_eq!((head.tag, head.len, src.position()), (0x30, Some(256), 4));
        let truncated = "the CMS message is truncated";
        for (bytes, what) in [
            (&[][..], truncated),
            (&[0x30], truncated),
            (&[0x30, 0x84, 0x01], truncated),
            (&[0x1f, 0x01, 0x00], "an unexpected high tag number"),
            (&[0x1f], "an unexpected high tag number"),
            (&[0x04, 0x80], "an indefinite length on a primitive element"),
            (&[0x30, 0xff], "a reserved length octet"),
            (&[0x30, 0x89], "a length too large"),
        ] {
            let error = read_header(&mut Cursor::new(bytes)).unwrap_err();
            assert_eq!(error.to_string(), what, "{bytes:02x?}");
        }
    }

    #[test]
    fn der_lengths_take_the_fewest_octets() {
        assert_eq!(header(0x04, Some(0)), [0x04, 0x00]);
        assert_eq!(header(0x04, Some(127)), [0x04, 0x7f]);
        assert_eq!(header(0x04, Some(128)), [0x04, 0x81, 0x80]);
        assert_eq!(header(0x30, Some(0x1_0000)), [0x30, 0x83, 0x01, 0x00, 0x00]);
        assert_eq!(
            header(0x80, Some(5 << 32)),
            [0x80, 0x85, 0x05, 0x00, 0x00, 0x00, 0x00]
        );
        assert_eq!(header(0x30, None), [0x30, 0x80]);
    }
}
