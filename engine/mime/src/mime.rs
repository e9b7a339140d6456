//! Just enough MIME (RFC 2045–2047, RFC 5322) for S/MIME: split headers from body, read
//! Content-Type parameters and addresses, cut multipart bodies at their boundaries without
//! touching the bytes in between, and canonicalize an entity before signing (RFC 8551 §3.1).

use crate::encoders::{Base64Lines, Crlf};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::io::Write;

/// A parsed header field: its name as written and its unfolded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The field name, e.g. `Content-Type`.
    pub name: String,
    /// The value with folding removed and outer whitespace trimmed.
    pub value: String,
    /// The field exactly as it appeared, folding and line ends included.
    pub raw: Vec<u8>,
}

impl Header {
    /// Whether this is a content header (`Content-*`), which belongs to the MIME entity and is
    /// signed or encrypted with it; every other header stays on the outer message.
    pub fn is_content_header(&self) -> bool {
        // By bytes: a name from the wire may hold any UTF-8, and byte 8 need not start a
        // character (slicing the `str` there panicked; found by the `open` fuzz target).
        let name = self.name.as_bytes();
        name.len() > 8 && name[..8].eq_ignore_ascii_case(b"content-")
    }
}

/// A message or body part: its headers and its body.
#[derive(Debug, Clone)]
pub struct Entity<'a> {
    /// The header fields in order.
    pub headers: Vec<Header>,
    /// The body, exactly as given.
    pub body: &'a [u8],
}

/// Where the line starting at `start` ends: just past its LF, or at the end of `data`; both
/// header and multipart parsing take CRLF and bare LF alike.
fn line_end(data: &[u8], start: usize) -> usize {
    data[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(data.len(), |i| start + i + 1)
}

/// What one line of a header block is, by the one rule that [`parse`],
/// [`crate::canonical::read_head`] and the daemon's look ahead at an inner message all split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadLine {
    /// The empty line that ends the header block.
    End,
    /// Whitespace first, after a field: more of that field.
    Continuation,
    /// A new field (`name: value`), its colon at `colon`.
    Field {
        /// Where the first colon is.
        colon: usize,
    },
    /// Not a header line: the body starts here.
    Body,
}

impl HeadLine {
    /// Classifies `line` (its CRLF or LF included or not), `after_field` when a field came
    /// before it in the block.
    pub fn of(line: &[u8], after_field: bool) -> Self {
        let content = trim_line_end(line);
        match (content.first(), memchr::memchr(b':', content)) {
            (None, _) => Self::End,
            (Some(b' ' | b'\t'), _) if after_field => Self::Continuation,
            (_, Some(colon)) => Self::Field { colon },
            (_, None) => Self::Body,
        }
    }
}

/// Splits `raw` at the first empty line (CRLF or LF). A message with no empty line is all
/// headers if every line looks like a header, else all body.
pub fn parse(raw: &[u8]) -> Entity<'_> {
    let mut headers: Vec<Header> = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        let line_end = line_end(raw, pos);
        let line = &raw[pos..line_end];
        let content = trim_line_end(line);
        match HeadLine::of(line, !headers.is_empty()) {
            HeadLine::End => {
                return Entity {
                    headers,
                    body: &raw[line_end..],
                };
            }
            HeadLine::Body => {
                return Entity {
                    headers,
                    body: &raw[pos..],
                };
            }
            HeadLine::Continuation => {
                // A continuation comes after a field, so there is a last one.
                if let Some(last) = headers.last_mut() {
                    last.raw.extend_from_slice(line);
                    unfold(&mut last.value, &String::from_utf8_lossy(content));
                }
            }
            HeadLine::Field { colon } => headers.push(Header {
                name: String::from_utf8_lossy(&content[..colon]).trim().to_owned(),
                value: String::from_utf8_lossy(&content[colon + 1..])
                    .trim()
                    .to_owned(),
                raw: line.to_vec(),
            }),
        }
        pos = line_end;
    }
    Entity {
        headers,
        body: &raw[raw.len()..],
    }
}

/// Appends a continuation line to a header's unfolded value (RFC 5322 §2.2.3): the folding
/// and the whitespace around it become one space, and the value stays trimmed. It touches only
/// the new line, never what the value holds already, so a header folded over n lines unfolds
/// in time linear in its length (re-trimming the whole value per line made it quadratic: a
/// sender's 800,000-line Subject held a core for 48 s).
fn unfold(value: &mut String, continuation: &str) {
    let more = continuation.trim();
    if more.is_empty() {
        return;
    }
    if !value.is_empty() {
        value.push(' ');
    }
    value.push_str(more);
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

impl Entity<'_> {
    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The Content-Type, defaulting to `text/plain` as RFC 2045 §5.2 says.
    pub fn content_type(&self) -> ContentType {
        self.header("Content-Type").map_or_else(
            || ContentType::parse("text/plain; charset=us-ascii"),
            ContentType::parse,
        )
    }

    /// The body with its Content-Transfer-Encoding undone (base64 and quoted-printable;
    /// 7bit/8bit/binary as is).
    pub fn decoded_body(&self) -> Result<Vec<u8>, MimeError> {
        match self
            .header("Content-Transfer-Encoding")
            .map(|v| v.to_ascii_lowercase())
        {
            Some(cte) if cte == "base64" => decode_base64(self.body),
            Some(cte) if cte == "quoted-printable" => Ok(decode_quoted_printable(self.body)),
            _ => Ok(self.body.to_vec()),
        }
    }

    /// All addresses in the named headers (e.g. To, Cc, Bcc), lowercased, in order.
    pub fn addresses(&self, names: &[&str]) -> Vec<String> {
        self.headers
            .iter()
            .filter(|h| names.iter().any(|n| h.name.eq_ignore_ascii_case(n)))
            .flat_map(|h| addresses(&h.value))
            .collect()
    }

    /// The raw header fields that are not content headers: the outer message's own.
    pub fn outer_headers(&self) -> Vec<u8> {
        self.headers
            .iter()
            .filter(|h| !h.is_content_header() && !h.name.eq_ignore_ascii_case("MIME-Version"))
            .flat_map(|h| crlf(&h.raw))
            .collect()
    }
}

/// Why a MIME structure could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MimeError {
    /// A multipart body has no boundary parameter or not the parts it must have.
    #[error("malformed multipart body: {0}")]
    Multipart(&'static str),
    /// A base64 body does not decode.
    #[error("the base64 body does not decode")]
    Base64,
    /// The header block is larger than the daemon holds in memory.
    #[error("the header block is longer than {} bytes", super::canonical::MAX_HEAD)]
    HeadTooLong,
    /// Multiparts are nested more than [`MAX_DEPTH`] levels deep.
    #[error("the MIME structure is nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
}

/// The most levels of multiparts inside one another that are walked: the message is level 0,
/// the parts of its multipart body level 1, and so on. Postfix refuses mail nested deeper than
/// 100 (`mime_nesting_limit`), so no mail that reached a mailbox through it is refused here;
/// each level is one frame of recursion and one more pass over its part, so the bound keeps
/// both the stack and the work (at most this many passes over the message) small.
pub const MAX_DEPTH: usize = 100;

/// A Content-Type value: `type/subtype` lowercased, and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// `type/subtype`, lowercase.
    pub mime_type: String,
    /// Parameters in order, names lowercase, values unquoted.
    pub params: Vec<(String, String)>,
}

impl ContentType {
    /// Parses a header value such as `multipart/signed; protocol="application/pkcs7-signature"`.
    pub fn parse(value: &str) -> Self {
        let mut parts = split_unquoted(value, ';').into_iter();
        let mime_type = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let params = parts
            .filter_map(|p| {
                let (name, value) = p.split_once('=')?;
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                Some((
                    name.trim().to_ascii_lowercase(),
                    value.replace("\\\"", "\""),
                ))
            })
            .collect();
        Self { mime_type, params }
    }

    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits at `separator` outside double quotes, angle brackets and parentheses.
fn split_unquoted(text: &str, separator: char) -> Vec<String> {
    let (mut parts, mut current) = (Vec::new(), String::new());
    let (mut quoted, mut angle, mut comment, mut escaped) = (false, false, 0u32, false);
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' if comment == 0 => quoted = !quoted,
            '<' if !quoted && comment == 0 => angle = true,
            '>' if !quoted && comment == 0 => angle = false,
            '(' if !quoted => comment += 1,
            ')' if !quoted && comment > 0 => comment -= 1,
            c if c == separator && !quoted && !angle && comment == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
}

/// The addr-specs of an address-list header value (RFC 5322 §3.4), lowercased: `Ann <a@x>`,
/// bare `a@x`, groups `team: a@x, b@x;`, comments and quoted display names.
pub fn addresses(value: &str) -> Vec<String> {
    split_unquoted(value, ',')
        .iter()
        .filter_map(|mailbox| {
            // A group's name ends at an unquoted colon: `team: a@x` (the last member ends with ';').
            let mailbox = match split_unquoted(mailbox, ':').as_slice() {
                [_, rest @ ..] if !rest.is_empty() && !mailbox.contains('<') => rest.join(":"),
                _ => mailbox.clone(),
            };
            let mailbox = mailbox.trim().trim_end_matches(';').trim();
            let addr = match (mailbox.rfind('<'), mailbox.rfind('>')) {
                (Some(open), Some(close)) if open < close => &mailbox[open + 1..close],
                _ => strip_comments(mailbox),
            };
            let addr = addr.trim();
            addr.contains('@').then(|| addr.to_ascii_lowercase())
        })
        .collect()
}

fn strip_comments(text: &str) -> &str {
    text.split('(').next().unwrap_or(text)
}

/// Converts every line end to CRLF (lone LF and lone CR alike).
fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Crlf::new(Vec::with_capacity(data.len() + data.len() / 32));
    out.write_all(data).expect("writing to a Vec never fails");
    out.into_inner()
}

/// Decodes base64 that may be split over lines.
pub fn decode_base64(data: &[u8]) -> Result<Vec<u8>, MimeError> {
    let compact: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    STANDARD.decode(compact).map_err(|_| MimeError::Base64)
}

/// Encodes as base64 in lines of 76 characters with CRLF (RFC 2045 §6.8).
pub fn encode_base64(data: &[u8]) -> Vec<u8> {
    let mut out = Base64Lines::new(Vec::with_capacity(data.len() / 3 * 4 + data.len() / 28 + 8));
    out.write_all(data).expect("writing to a Vec never fails");
    out.finish().expect("writing to a Vec never fails")
}

fn decode_quoted_printable(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'=' {
            let rest = &data[i + 1..];
            if rest.starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if rest.starts_with(b"\n") {
                i += 2;
                continue;
            }
            if let (Some(h), Some(l)) = (
                rest.first().and_then(hex_value),
                rest.get(1).and_then(hex_value),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(data[i]);
        i += 1;
    }
    out
}

fn hex_value(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}

/// A boundary that cannot occur in base64 or quoted-printable content (RFC 2046 §5.1.1 allows
/// `=` and `_`, which those encodings never produce in this combination).
pub fn new_boundary() -> String {
    let mut random = [0u8; 12];
    aws_lc_rs::rand::fill(&mut random).expect("the system RNG works");
    format!("----=_mailseal_{}", hex::encode(random))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_test_support::hostile::{folded_subject, unfolded_subject};

    #[test]
    fn a_header_name_with_a_character_across_byte_8_is_no_content_header() {
        // "Content" is 7 bytes; the é spans bytes 7 and 8. Found by the `open` fuzz target.
        for name in [
            "Content\u{e9}-Type",
            "MIME-Ve\u{30c}ion",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
        ] {
            let header = Header {
                name: name.into(),
                value: String::new(),
                raw: Vec::new(),
            };
            assert!(!header.is_content_header(), "{name}");
        }
        let message = "Contenté-Type: x\r\nContent-Type: text/plain\r\n\r\nbody\r\n";
        let entity = crate::canonical::canonical_entity(message.as_bytes()).unwrap();
        assert!(entity.starts_with(b"Content-Type: text/plain\r\n"));
    }

    #[test]
    fn splits_headers_and_unfolds() {
        let raw = b"From: Ann <ann@example.com>\nSubject: a\n long subject\nContent-Type: text/plain;\n\tcharset=utf-8\n\nbody\n";
        let entity = parse(raw);
        assert_eq!(entity.header("subject"), Some("a long subject"));
        assert_eq!(entity.content_type().param("charset"), Some("utf-8"));
        assert_eq!(entity.body, b"body\n");
        assert_eq!(
            entity.outer_headers(),
            b"From: Ann <ann@example.com>\r\nSubject: a\r\n long subject\r\n"
        );
    }

    #[test]
    fn unfolding_joins_with_one_space_and_keeps_the_value_trimmed() {
        // What unfolding did before it was made linear: join with a space, trim it all.
        let by_retrimming =
            |value: &str, more: &str| format!("{value} {}", more.trim()).trim().to_owned();
        for value in ["", "a", "a b"] {
            for more in ["", " ", "\t", "c", "  c  ", "\tc d\t", "\u{a0}c\u{3000}"] {
                let mut unfolded = value.to_owned();
                unfold(&mut unfolded, more);
                assert_eq!(unfolded, by_retrimming(value, more), "{value:?} + {more:?}");
            }
        }
    }

    #[test]
    fn a_header_folded_over_a_million_lines_unfolds() {
        // Quadratic unfolding would take hours here; linear, well under a second.
        let lines = 1_000_000;
        let raw = folded_subject(lines);
        let entity = parse(&raw);
        assert_eq!(
            entity.header("Subject"),
            Some(unfolded_subject(lines).as_str())
        );
        assert_eq!(entity.content_type().mime_type, "text/plain");
        assert_eq!(entity.body, b"body\r\n");
    }

    #[test]
    fn reads_addresses_in_every_form() {
        assert_eq!(
            addresses(
                r#""Doe, John" <John@Example.com>, bob@example.com (Bob), team: c@x.org, d@x.org;, <e@x.org>"#
            ),
            vec![
                "john@example.com",
                "bob@example.com",
                "c@x.org",
                "d@x.org",
                "e@x.org"
            ]
        );
        assert!(addresses("undisclosed-recipients:;").is_empty());
    }

    #[test]
    fn content_type_parameters_unquote() {
        let ct = ContentType::parse(
            r#"Multipart/Signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="a;b""#,
        );
        assert_eq!(ct.mime_type, "multipart/signed");
        assert_eq!(ct.param("boundary"), Some("a;b"));
        assert_eq!(ct.param("micalg"), Some("sha-256"));
    }

    #[test]
    fn every_line_end_becomes_crlf() {
        assert_eq!(
            crlf(b"a\nb\r\nc\rd\r\r\ne\n\n"),
            b"a\r\nb\r\nc\r\nd\r\n\r\ne\r\n\r\n"
        );
        assert_eq!(crlf(b"no line end"), b"no line end");
        assert_eq!(crlf(b"\r"), b"\r\n");
        assert_eq!(crlf(b""), b"");
    }

    #[test]
    fn quoted_printable_wraps_long_lines_and_round_trips() {
        let long = "x".repeat(200) + "=é";
        let mut qp = crate::encoders::QuotedPrintable::new(Vec::new());
        qp.write_all(long.as_bytes()).unwrap();
        let encoded = qp.finish().unwrap();
        assert!(encoded.split(|&b| b == b'\n').all(|line| line.len() <= 77));
        assert_eq!(decode_quoted_printable(&encoded), long.as_bytes());
    }

    #[test]
    fn base64_round_trips_over_lines() {
        let data: Vec<u8> = (0..=255).collect();
        let encoded = encode_base64(&data);
        assert!(encoded.split(|&b| b == b'\n').all(|line| line.len() <= 77));
        assert_eq!(decode_base64(&encoded).unwrap(), data);
        assert_eq!(decode_base64(b"!!"), Err(MimeError::Base64));
    }
}
