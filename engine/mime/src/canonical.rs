//! The MIME entity to sign or encrypt, canonicalized (RFC 8551 §3.1.1) and streamed: read from
//! any seekable source (a file, or a slice through a `Cursor`) in bounded memory and written to
//! any writer.
//!
//! From a whole message it keeps the content headers (adding a Content-Type when missing) and
//! the body with CRLF line ends; 8-bit or binary leaf bodies are re-encoded in 7-bit
//! (quoted-printable for text, base64 otherwise) so that no relay can alter them; multiparts
//! are canonicalized part by part, at most [`MAX_DEPTH`] levels down. Bodies are read in passes over the source (find the parts,
//! decide the encoding, encode), never held whole.

use crate::encoders::{Base64Lines, Crlf, QuotedPrintable};
use crate::mime::{self, Entity, HeadLine, Header, MAX_DEPTH, MimeError};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

/// A byte range of the source: `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The first byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl Span {
    /// The first `len` bytes.
    pub fn whole(len: u64) -> Self {
        Self { start: 0, end: len }
    }

    fn len(self) -> u64 {
        self.end - self.start
    }
}

/// Why an entity could not be canonicalized.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalError {
    /// The MIME structure is broken.
    #[error(transparent)]
    Mime(#[from] MimeError),
    /// Reading the message or writing the entity failed.
    #[error("cannot read or write the message: {0}")]
    Io(#[from] io::Error),
}

/// The most bytes a header block may have; beyond this the message is refused rather than
/// held in memory.
pub const MAX_HEAD: usize = 8 << 20;

const BUFFER: usize = 64 * 1024;

/// A reader over `span` of `src`, buffered.
fn span_reader<R: Read + Seek>(src: &mut R, span: Span) -> io::Result<BufReader<io::Take<&mut R>>> {
    src.seek(SeekFrom::Start(span.start))?;
    Ok(BufReader::with_capacity(
        BUFFER,
        Read::by_ref(src).take(span.len()),
    ))
}

/// Calls `line` for every line of `span` (ending just past its LF, or at the end) with its
/// start, its end and its first `peek` bytes, until `line` returns false.
fn scan_lines<R: Read + Seek>(
    src: &mut R,
    span: Span,
    peek: usize,
    mut line: impl FnMut(u64, u64, &[u8]) -> bool,
) -> io::Result<()> {
    let mut reader = span_reader(src, span)?;
    let (mut pos, mut line_start) = (span.start, span.start);
    let mut prefix = Vec::new();
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            if line_start < pos {
                line(line_start, pos, &prefix);
            }
            return Ok(());
        }
        let (used, ends_line) = match memchr::memchr(b'\n', buf) {
            Some(at) => (at + 1, true),
            None => (buf.len(), false),
        };
        if prefix.len() < peek {
            let take = (peek - prefix.len()).min(used);
            prefix.extend_from_slice(&buf[..take]);
        }
        reader.consume(used);
        pos += used as u64;
        if ends_line {
            if !line(line_start, pos, &prefix) {
                return Ok(());
            }
            line_start = pos;
            prefix.clear();
        }
    }
}

/// Copies `span` of `src` into `out`.
pub fn copy_span<R: Read + Seek>(src: &mut R, span: Span, out: &mut impl Write) -> io::Result<()> {
    io::copy(&mut span_reader(src, span)?, out).map(drop)
}

/// The header block at the start of `span` (its lines, through the empty line that ends it)
/// and where the body starts: the same split as [`mime::parse`], which the caller runs on the
/// block, found without reading the body.
pub fn read_head<R: Read + Seek>(
    src: &mut R,
    span: Span,
) -> Result<(Vec<u8>, u64), CanonicalError> {
    let mut head = Vec::new();
    let mut body_start = span.end;
    let mut seen_header = false;
    let mut too_long = false;
    scan_lines(src, span, MAX_HEAD + 1, |start, end, line| {
        // `line` is the whole line unless it is over MAX_HEAD; then only its start is known.
        let whole = (end - start) as usize == line.len();
        match HeadLine::of(line, seen_header) {
            HeadLine::End => {
                head.extend_from_slice(line);
                body_start = end;
                false
            }
            HeadLine::Body => {
                body_start = start;
                false
            }
            HeadLine::Continuation | HeadLine::Field { .. }
                if !whole || head.len() + line.len() > MAX_HEAD =>
            {
                too_long = true;
                false
            }
            HeadLine::Continuation | HeadLine::Field { .. } => {
                seen_header = true;
                head.extend_from_slice(line);
                true
            }
        }
    })?;
    if too_long {
        return Err(MimeError::HeadTooLong.into());
    }
    Ok((head, body_start))
}

/// Writes the canonical entity of the message or part in `span` of `src` to `out`, buffered:
/// headers and line ends come in small pieces, and `out` may be a file.
pub fn canonicalize<R: Read + Seek, W: Write>(
    src: &mut R,
    span: Span,
    out: &mut W,
) -> Result<(), CanonicalError> {
    let mut buffered = BufWriter::with_capacity(BUFFER, out);
    canonicalize_into(src, span, 0, &mut buffered)?;
    buffered.flush()?;
    Ok(())
}

/// The length of what [`canonicalize`] writes for `span` of `src`, found by running it into a
/// counter: an encryption writes its DER lengths before its content, and a second pass over
/// the source costs less than keeping the canonical entity in a spool file.
pub fn canonical_len<R: Read + Seek>(src: &mut R, span: Span) -> Result<u64, CanonicalError> {
    let mut counter = Counter(0);
    canonicalize_into(src, span, 0, &mut counter)?;
    Ok(counter.0)
}

/// A writer that only counts.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Canonicalizes the entity in `span`, `depth` multiparts down from the message: recursive,
/// one level per multipart, so refused below [`MAX_DEPTH`] before the stack runs out.
fn canonicalize_into<R: Read + Seek, W: Write>(
    src: &mut R,
    span: Span,
    depth: usize,
    out: &mut W,
) -> Result<(), CanonicalError> {
    let (head, body_start) = read_head(src, span)?;
    let entity = mime::parse(&head);
    let body = Span {
        start: body_start,
        end: span.end,
    };
    let content_type = entity.content_type();
    let mut headers: Vec<Header> = entity
        .headers
        .iter()
        .filter(|h| h.is_content_header())
        .cloned()
        .collect();
    if entity.header("Content-Type").is_none() {
        headers.insert(0, header("Content-Type", "text/plain; charset=us-ascii"));
    }
    let write_headers = |headers: &[Header], out: &mut W| -> io::Result<()> {
        let mut crlf = Crlf::new(out);
        for h in headers {
            crlf.write_all(&h.raw)?;
        }
        crlf.into_inner().write_all(b"\r\n")
    };
    if content_type.mime_type.starts_with("multipart/") {
        if depth == MAX_DEPTH {
            return Err(MimeError::TooDeep.into());
        }
        let boundary = content_type
            .param("boundary")
            .ok_or(MimeError::Multipart("no boundary parameter"))?;
        let parts = multipart_parts(src, body, boundary)?;
        write_headers(&headers, out)?;
        canonical_multipart(src, &parts, boundary, depth + 1, out)
    } else if needs_transfer_encoding(src, body, &entity)? {
        headers.retain(|h| !h.name.eq_ignore_ascii_case("Content-Transfer-Encoding"));
        if content_type.mime_type.starts_with("text/") {
            headers.push(header("Content-Transfer-Encoding", "quoted-printable"));
            write_headers(&headers, out)?;
            let mut qp = Crlf::new(QuotedPrintable::new(&mut *out));
            copy_span(src, body, &mut qp)?;
            qp.into_inner().finish()?;
        } else {
            headers.push(header("Content-Transfer-Encoding", "base64"));
            write_headers(&headers, out)?;
            let mut base64 = Base64Lines::new(&mut *out);
            copy_span(src, body, &mut base64)?;
            base64.finish()?;
        }
        Ok(())
    } else {
        write_headers(&headers, out)?;
        copy_span(src, body, &mut Crlf::new(&mut *out))?;
        Ok(())
    }
}

fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.into(),
        value: value.into(),
        raw: format!("{name}: {value}\r\n").into_bytes(),
    }
}

/// Whether a leaf body must be re-encoded: 8-bit bytes, NUL, or lines over 998 octets, in a
/// body that is not already base64 or quoted-printable.
fn needs_transfer_encoding<R: Read + Seek>(
    src: &mut R,
    body: Span,
    entity: &Entity<'_>,
) -> io::Result<bool> {
    let encoded = entity.header("Content-Transfer-Encoding").is_some_and(|v| {
        v.eq_ignore_ascii_case("base64") || v.eq_ignore_ascii_case("quoted-printable")
    });
    if encoded {
        return Ok(false);
    }
    let mut reader = span_reader(src, body)?;
    // Bytes of the current line before the buffer; the CR before an LF counts, as it always
    // has here.
    let mut line_len = 0usize;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(line_len > MAX_LINE);
        }
        // A fold without early exit, which the compiler turns into wide loads: this runs over
        // every byte of every message.
        let eight_bit = buf
            .iter()
            .fold(false, |seen, &b| seen | (b >= 0x80) | (b == 0));
        if eight_bit {
            return Ok(true);
        }
        // Rather than find every line end, find the last LF within reach of the current
        // line's start: it vouches for every line before it.
        let mut start = 0;
        loop {
            let end = (start + (MAX_LINE + 1).saturating_sub(line_len)).min(buf.len());
            match memchr::memrchr(b'\n', &buf[start..end]) {
                Some(at) => {
                    start += at + 1;
                    line_len = 0;
                }
                None if end == buf.len() => {
                    line_len += end - start;
                    break;
                }
                None => return Ok(true),
            }
        }
        let used = buf.len();
        reader.consume(used);
    }
}

/// The longest line a 7-bit body may have, in octets without its line end (RFC 5322 §2.1.1).
const MAX_LINE: usize = 998;

/// A multipart body's layout: the preamble and the parts, each exactly as it stands between
/// its delimiters (the CRLF before a delimiter belongs to the delimiter, RFC 2046 §5.1.1).
pub struct Parts {
    /// Text before the first delimiter.
    pub preamble: Span,
    /// The parts.
    pub parts: Vec<Span>,
}

/// Finds the parts of the multipart body in `body` by its `boundary`: the delimiter lines,
/// read without holding the parts.
pub fn multipart_parts<R: Read + Seek>(
    src: &mut R,
    body: Span,
    boundary: &str,
) -> Result<Parts, CanonicalError> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    // Lines that start with the delimiter: (start, end).
    let mut delimiters = Vec::new();
    scan_lines(src, body, delimiter.len() + 2, |start, end, prefix| {
        if !prefix.starts_with(delimiter) {
            return true;
        }
        delimiters.push((start, end));
        !prefix[delimiter.len()..].starts_with(b"--")
    })?;
    if delimiters.len() < 2 {
        return Err(MimeError::Multipart("fewer than one complete part").into());
    }
    let mut parts = Vec::with_capacity(delimiters.len() - 1);
    for pair in delimiters.windows(2) {
        let ((_, content_start), (next_delimiter, _)) = (pair[0], pair[1]);
        let mut end = next_delimiter.max(content_start);
        for strip in [b'\n', b'\r'] {
            if end > content_start && byte_at(src, end - 1)? == strip {
                end -= 1;
            } else {
                break;
            }
        }
        parts.push(Span {
            start: content_start,
            end,
        });
    }
    Ok(Parts {
        preamble: Span {
            start: body.start,
            end: delimiters[0].0,
        },
        parts,
    })
}

fn byte_at<R: Read + Seek>(src: &mut R, offset: u64) -> io::Result<u8> {
    let mut byte = [0];
    src.seek(SeekFrom::Start(offset))?;
    src.read_exact(&mut byte)?;
    Ok(byte[0])
}

/// The preamble (CRLF'd), each part (at `depth`) canonicalized between delimiters, the
/// closing delimiter; the epilogue is dropped.
fn canonical_multipart<R: Read + Seek, W: Write>(
    src: &mut R,
    layout: &Parts,
    boundary: &str,
    depth: usize,
    out: &mut W,
) -> Result<(), CanonicalError> {
    let delimiter = format!("--{boundary}");
    copy_span(src, layout.preamble, &mut Crlf::new(&mut *out))?;
    for part in &layout.parts {
        out.write_all(delimiter.as_bytes())?;
        out.write_all(b"\r\n")?;
        canonicalize_into(src, *part, depth, out)?;
        out.write_all(b"\r\n")?;
    }
    out.write_all(delimiter.as_bytes())?;
    out.write_all(b"--\r\n")?;
    Ok(())
}

/// The canonical entity of a message held in memory.
pub fn canonical_entity(raw: &[u8]) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 16);
    canonicalize(
        &mut io::Cursor::new(raw),
        Span::whole(raw.len() as u64),
        &mut out,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_test_support::hostile::nested_multipart;

    #[test]
    fn canonical_entity_reencodes_8bit_and_uses_crlf() {
        let raw = "From: a@x\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGrüße \nFrom here\n".as_bytes();
        let canonical = canonical_entity(raw).unwrap();
        let text = String::from_utf8(canonical.clone()).unwrap();
        assert!(text.starts_with("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"), "{text}");
        assert!(text.contains("Gr=C3=BC=C3=9Fe=20\r\n=46rom here"), "{text}");
        assert!(!text.contains("From: a@x"));
        assert!(canonical.iter().all(|&b| b < 0x80));
        // Decoding gives the original text back with CRLF.
        let again = mime::parse(&canonical);
        assert_eq!(
            again.decoded_body().unwrap(),
            "Grüße \r\nFrom here\r\n".as_bytes()
        );
    }

    #[test]
    fn canonical_multipart_canonicalizes_each_part() {
        let raw = b"Content-Type: multipart/mixed; boundary=X\n\npreamble\n--X\nContent-Type: application/octet-stream\n\n\x00\x01\xff\n--X\n\nplain\n--X--\nepilogue\n";
        let canonical = canonical_entity(raw).unwrap();
        let text = String::from_utf8(canonical).unwrap();
        assert!(
            text.starts_with(
                "Content-Type: multipart/mixed; boundary=X\r\n\r\npreamble\r\n--X\r\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("Content-Transfer-Encoding: base64\r\n\r\nAAH/\r\n\r\n--X\r\n"),
            "{text}"
        );
        assert!(
            text.ends_with("Content-Type: text/plain; charset=us-ascii\r\n\r\nplain\r\n--X--\r\n"),
            "{text}"
        );
        assert!(matches!(
            canonical_entity(b"Content-Type: multipart/mixed; boundary=X\n\n--X\nno end"),
            Err(CanonicalError::Mime(MimeError::Multipart(_)))
        ));
    }

    #[test]
    fn multipart_parts_exclude_the_crlf_before_delimiters() {
        let parts = |body: &[u8]| {
            let span = Span::whole(body.len() as u64);
            multipart_parts(&mut io::Cursor::new(body), span, "b").map(|layout| {
                let part = |s: Span| body[s.start as usize..s.end as usize].to_vec();
                layout.parts.into_iter().map(part).collect::<Vec<_>>()
            })
        };
        let body = b"preamble\r\n--b\r\nA: 1\r\n\r\none\r\n--b\r\n\r\ntwo\n\n--b--\r\nepilogue";
        assert_eq!(
            parts(body).unwrap(),
            vec![b"A: 1\r\n\r\none".to_vec(), b"\r\ntwo\n".to_vec()]
        );
        assert!(parts(b"--b\r\nno end").is_err());
    }

    #[test]
    fn the_head_is_split_as_parse_splits_it() {
        for raw in [
            &b"A: 1\r\n folded\r\nB: 2\r\n\r\nbody\r\n"[..],
            b"A: 1\nnot a header\nbody",
            b"A: 1\nB: 2",
            b"",
            b"\r\nbody only",
            b" leading space: x\n\nbody",
        ] {
            let (head, body_start) =
                read_head(&mut io::Cursor::new(raw), Span::whole(raw.len() as u64)).unwrap();
            let parsed = mime::parse(raw);
            assert_eq!(mime::parse(&head).headers, parsed.headers, "{raw:?}");
            assert_eq!(&raw[body_start as usize..], parsed.body, "{raw:?}");
        }
    }

    #[test]
    fn only_lines_over_998_octets_need_reencoding() {
        let entity = |line_len: usize| {
            let mut raw = b"Content-Type: text/plain\r\n\r\nshort\r\n".to_vec();
            raw.extend(std::iter::repeat_n(b'a', line_len));
            raw.extend_from_slice(b"\r\nshort\r\n");
            String::from_utf8(canonical_entity(&raw).unwrap()).unwrap()
        };
        // The length counts the CR before the LF, as it always has here.
        assert!(!entity(997).contains("quoted-printable"));
        assert!(entity(998).contains("Content-Transfer-Encoding: quoted-printable"));
    }

    /// Whether a body needs re-encoding, judged a byte and a line at a time: what
    /// [`needs_transfer_encoding`] did before it worked in blocks.
    fn needs_encoding_by_lines(body: &[u8]) -> bool {
        body.iter().any(|&b| b >= 0x80 || b == 0)
            || body
                .split(|&b| b == b'\n')
                .any(|line| line.len() > MAX_LINE)
    }

    #[test]
    fn the_line_length_check_in_blocks_matches_the_one_by_lines() {
        let entity = mime::parse(b"Content-Type: text/plain\r\n\r\n");
        let needs = |body: &[u8]| {
            let span = Span::whole(body.len() as u64);
            needs_transfer_encoding(&mut io::Cursor::new(body), span, &entity).unwrap()
        };
        let line = |len: usize, end: &[u8]| {
            let mut line = vec![b'a'; len];
            line.extend_from_slice(end);
            line
        };
        let mut bodies = vec![
            Vec::new(),
            line(998, b""),
            line(999, b""),
            line(997, b"\r\n"),
            line(998, b"\r\n"),
            line(998, b"\n"),
            line(999, b"\n"),
            [line(10, b"\n"), line(999, b"\n"), line(10, b"\n")].concat(),
            [line(10, b"\n"), b"\x80".to_vec()].concat(),
        ];
        // Lines of 998 and 999 octets across the reader's 64 KiB blocks, at many offsets,
        // among short ones.
        for long in [998, 999] {
            for offset in [0, 1, 2, 500, 997, 998, 999, 1000] {
                let mut body = Vec::new();
                while body.len() + 77 < BUFFER - offset {
                    body.extend(line(74, b"\r\n"));
                }
                body.extend(line(BUFFER - offset - body.len(), b"\n"));
                body.extend(line(long - 1, b"\r\n"));
                body.extend(line(74, b"\r\n"));
                bodies.push(body.clone());
                body.extend(line(long, b""));
                bodies.push(body);
            }
        }
        for body in &bodies {
            assert_eq!(
                needs(body),
                needs_encoding_by_lines(body),
                "{} bytes",
                body.len()
            );
        }
    }

    #[test]
    fn the_counted_length_is_the_length_written() {
        let long_text = format!("Content-Type: text/plain\n\n{}", "line\n".repeat(30_000));
        for raw in [
            &b"From: a@x\nContent-Type: text/plain; charset=utf-8\n\nGr\xc3\xbc\xc3\x9fe \n"[..],
            b"Content-Type: multipart/mixed; boundary=X\n\npre\n--X\nContent-Type: application/octet-stream\n\n\x00\x01\n--X\n\nplain\r\n--X--\n",
            b"",
            b"Subject: no body",
            long_text.as_bytes(),
        ] {
            let span = Span::whole(raw.len() as u64);
            let counted = canonical_len(&mut io::Cursor::new(raw), span).unwrap();
            assert_eq!(counted, canonical_entity(raw).unwrap().len() as u64);
        }
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_not_a_stack_overflow() {
        let canonical = canonical_entity(&nested_multipart(MAX_DEPTH)).unwrap();
        assert!(String::from_utf8(canonical).unwrap().contains("innermost"));
        for levels in [MAX_DEPTH + 1, 5_000] {
            let raw = nested_multipart(levels);
            let span = Span::whole(raw.len() as u64);
            assert!(matches!(
                canonical_entity(&raw),
                Err(CanonicalError::Mime(MimeError::TooDeep))
            ));
            assert!(matches!(
                canonical_len(&mut io::Cursor::new(&raw), span),
                Err(CanonicalError::Mime(MimeError::TooDeep))
            ));
        }
    }

    #[test]
    fn a_long_binary_body_is_base64_in_lines() {
        let mut raw = b"Content-Type: application/octet-stream\r\n\r\n".to_vec();
        raw.extend((0..300_000u32).map(|i| (i % 256) as u8));
        let canonical = canonical_entity(&raw).unwrap();
        let entity = mime::parse(&canonical);
        assert_eq!(entity.header("Content-Transfer-Encoding"), Some("base64"));
        assert_eq!(entity.decoded_body().unwrap(), &raw[42..]);
        assert!(canonical.split(|&b| b == b'\n').all(|l| l.len() <= 77));
    }
}
