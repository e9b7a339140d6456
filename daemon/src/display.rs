//! What a mail client shows of a message it could not read itself: the text and HTML bodies,
//! decoded, and the other parts as attachments (`mime.display`).
//!
//! The add-ons show a decrypted message in place of the `smime.p7m` attachment Thunderbird
//! displays; decoding MIME (transfer encodings, charsets, RFC 2047/2231 names) is done here once
//! rather than in each add-on's JavaScript.
//!
//! The message comes from anyone, so what it may cost is bounded: before `mail-parser` sees it,
//! a linear count of what could start a part; after, the parts, their nesting and the bytes
//! they decode to, all before the reply is built; the parsed tree is taken apart level by
//! level, never by recursion.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};
use mailseal_mime::mime::MAX_DEPTH;
use mailseal_protocol::methods::mime::{Attachment, DisplayResult};

/// The most parts a message shown may have, nested messages' parts included. Mail from
/// people has a handful, a long thread with every attachment forwarded some hundreds; each
/// part costs the parser about 200 bytes and the reply its own entry, and 900,000 tiny parts
/// took 1.3 GiB. A message with more is refused rather than shown in part: what is left out
/// could be the part that matters, with thousands of decoys shown in its place.
pub const MAX_PARTS: usize = 10_000;

/// The most bytes the bodies and attachments shown may decode to together: the default frame
/// limit (`max_frame_bytes`), which bounds the message sent in; decoding makes bodies smaller
/// (base64, quoted-printable), only a charset conversion larger.
pub const MAX_DECODED_BYTES: usize = 64 << 20;

/// The most places in the raw message where `mail-parser` could start a part (every `--`,
/// since it finds a boundary anywhere in a line, and twice every `Content-Type`, for a nested
/// message and a digest's parts), counted before it allocates for them: ten times
/// [`MAX_PARTS`], so that dashes in text or HTML comments never refuse a message that has few
/// parts, while the parser's allocations stay within some tens of MiB.
pub const MAX_PART_STARTS: usize = 10 * MAX_PARTS;

/// Why a message is not shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DisplayError {
    /// No header block: not a MIME message.
    #[error("the message is not a MIME message (no header block)")]
    NotMime,
    /// More parts than [`MAX_PARTS`] (or places where one could start than
    /// [`MAX_PART_STARTS`]).
    #[error("the message is too complex to display: more than {MAX_PARTS} parts")]
    TooManyParts,
    /// Parts nested more than [`MAX_DEPTH`] levels deep.
    #[error(
        "the message is too complex to display: parts nested more than {MAX_DEPTH} levels deep"
    )]
    TooDeep,
    /// Bodies and attachments decoding to more than [`MAX_DECODED_BYTES`].
    #[error("the message is too large to display: its parts decode to more than {} MiB", MAX_DECODED_BYTES >> 20)]
    TooLarge,
}

/// The readable parts of `raw`.
pub fn display(raw: &[u8]) -> Result<DisplayResult, DisplayError> {
    if part_starts(raw) > MAX_PART_STARTS {
        return Err(DisplayError::TooManyParts);
    }
    let message = Parsed(
        MessageParser::default()
            .parse(raw)
            .ok_or(DisplayError::NotMime)?,
    );
    check_structure(&message.0)?;
    let message = &message.0;
    let text = message.text_bodies().find_map(|part| match &part.body {
        PartType::Text(text) => Some(text),
        _ => None,
    });
    let html = message.html_bodies().find_map(|part| match &part.body {
        PartType::Html(html) => Some(html),
        _ => None,
    });
    let decoded = message
        .attachments()
        .map(|part| attachment_data(part).len())
        .chain(text.iter().chain(&html).map(|body| body.len()))
        .try_fold(0usize, |sum, len| {
            sum.checked_add(len).filter(|&sum| sum <= MAX_DECODED_BYTES)
        });
    if decoded.is_none() {
        return Err(DisplayError::TooLarge);
    }
    let attachments = message
        .attachments()
        .enumerate()
        .map(|(index, part)| attachment(index, part))
        .collect();
    Ok(DisplayResult {
        subject: message.subject().map(str::to_owned),
        text: text.map(|text| text.to_string()),
        html: html.map(|html| html.to_string()),
        attachments,
    })
}

/// How many places in `raw` could start a part for `mail-parser`: an upper bound on its parts,
/// found in one pass without allocating.
fn part_starts(raw: &[u8]) -> usize {
    const NAME: &[u8] = b"content-type";
    let dashes = memchr::memchr_iter(b'-', raw)
        .filter(|&at| raw.get(at + 1) == Some(&b'-'))
        .count();
    let content_types = memchr::memchr2_iter(b'c', b'C', raw)
        .filter(|&at| {
            raw[at..]
                .get(..NAME.len())
                .is_some_and(|name| name.eq_ignore_ascii_case(NAME))
        })
        .count();
    1 + dashes + 2 * content_types
}

/// Checks the parsed message against [`MAX_PARTS`] and [`MAX_DEPTH`], walking it with a list
/// of its own rather than the stack: each nested message is a level, and each multipart.
fn check_structure(message: &Message<'_>) -> Result<(), DisplayError> {
    let mut parts = 0usize;
    // A message and the depth of its first part.
    let mut messages = vec![(message, 0usize)];
    while let Some((message, depth)) = messages.pop() {
        // A part of this message and its depth; the first is the root.
        let mut walk = vec![(0, depth)];
        while let Some((id, depth)) = walk.pop() {
            let Some(part) = message.parts.get(id) else {
                continue;
            };
            parts += 1;
            if parts > MAX_PARTS {
                return Err(DisplayError::TooManyParts);
            }
            match &part.body {
                PartType::Multipart(children) => {
                    if depth == MAX_DEPTH {
                        return Err(DisplayError::TooDeep);
                    }
                    // Parts are numbered in order, so a child always comes after its parent.
                    walk.extend(
                        children
                            .iter()
                            .map(|&child| child as usize)
                            .filter(|&child| child > id)
                            .map(|child| (child, depth + 1)),
                    );
                }
                PartType::Message(inner) => {
                    if depth == MAX_DEPTH {
                        return Err(DisplayError::TooDeep);
                    }
                    messages.push((inner, depth + 1));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// A parsed message, taken apart level by level when dropped: each nested message holds the
/// next, and the compiler's drop would recurse once per level (10,000 nested
/// `message/rfc822` parts overflowed the stack).
struct Parsed<'x>(Message<'x>);

impl Drop for Parsed<'_> {
    fn drop(&mut self) {
        let mut nested = vec![std::mem::take(&mut self.0.parts)];
        while let Some(mut parts) = nested.pop() {
            for part in &mut parts {
                if let PartType::Message(inner) = std::mem::take(&mut part.body) {
                    nested.push(inner.parts);
                }
            }
        }
    }
}

/// What an attachment holds: a nested message as the .eml it is, not as its parsed parts.
fn attachment_data<'a>(part: &'a MessagePart<'_>) -> &'a [u8] {
    match &part.body {
        PartType::Message(inner) => inner.raw_message(),
        _ => part.contents(),
    }
}

fn attachment(index: usize, part: &MessagePart<'_>) -> Attachment {
    let content_type = part.content_type().map_or_else(
        || "application/octet-stream".to_owned(),
        |t| match t.subtype() {
            Some(sub) => format!("{}/{}", t.ctype(), sub).to_ascii_lowercase(),
            None => t.ctype().to_ascii_lowercase(),
        },
    );
    let data = attachment_data(part).to_vec();
    Attachment {
        filename: part
            .attachment_name()
            .map(safe_filename)
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| format!("part-{}", index + 1)),
        content_type,
        size: data.len() as u64,
        data: data.into(),
    }
}

/// A sender-chosen name as a plain file name: no directories, no control characters, and no
/// invisible formatting characters (bidi overrides make `invoice\u{202e}fdp.exe` read as
/// "invoiceexe.pdf").
fn safe_filename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    last.chars()
        .filter(|c| !c.is_control() && !is_invisible_format(*c))
        .collect::<String>()
        .trim_matches(|c: char| c == '.' || c.is_whitespace())
        .to_owned()
}

/// Bidirectional controls, zero-width characters and the byte-order mark (Unicode format
/// characters that change how a name reads without being seen).
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc_error::ToRpc;
    use mailseal_test_support::hostile::tiny_parts;

    const MIXED: &[u8] = b"From: Alice <alice@example.com>\r\n\
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: multipart/alternative; boundary=\"b2\"\r\n\
\r\n\
--b2\r\n\
Content-Type: text/plain; charset=ISO-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Gr=FC=DFe aus K=F6ln\r\n\
--b2\r\n\
Content-Type: text/html; charset=UTF-8\r\n\
\r\n\
<p>Gr\xc3\xbc\xc3\x9fe</p>\r\n\
--b2--\r\n\
--b1\r\n\
Content-Type: application/pdf; name=\"plan.pdf\"\r\n\
Content-Disposition: attachment; filename*=UTF-8''..%2F..%2Fpl%C3%A4n.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--b1\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAEC\r\n\
--b1--\r\n";

    #[test]
    fn bodies_are_decoded_and_attachments_named_safely() {
        let shown = display(MIXED).unwrap();
        assert_eq!(shown.subject.as_deref(), Some("Grüße"));
        assert_eq!(
            shown.text.as_deref().map(str::trim_end),
            Some("Grüße aus Köln")
        );
        assert_eq!(
            shown.html.as_deref().map(str::trim_end),
            Some("<p>Grüße</p>")
        );
        assert_eq!(shown.attachments.len(), 2);
        let pdf = &shown.attachments[0];
        assert_eq!(
            pdf.filename, "plän.pdf",
            "directories in a sender's name are dropped"
        );
        assert_eq!(pdf.content_type, "application/pdf");
        assert_eq!(pdf.data.as_slice(), b"%PDF-1.4\n");
        assert_eq!(pdf.size, 9);
        let unnamed = &shown.attachments[1];
        assert_eq!(unnamed.filename, "part-2");
        assert_eq!(unnamed.data.as_slice(), [0, 1, 2]);
    }

    #[test]
    fn names_lose_invisible_formatting() {
        assert_eq!(safe_filename("invoice\u{202e}fdp.exe"), "invoicefdp.exe");
        assert_eq!(safe_filename("a\u{200b}b\u{2066}.txt\u{feff}"), "ab.txt");
        assert_eq!(safe_filename("Grüße.pdf"), "Grüße.pdf");
    }

    #[test]
    fn a_plain_message_has_only_text() {
        let shown = display(b"Subject: hi\r\nContent-Type: text/plain\r\n\r\nhello\r\n").unwrap();
        assert_eq!(shown.text.as_deref().map(str::trim_end), Some("hello"));
        assert_eq!(shown.html, None, "no HTML is made up from the text");
        assert!(shown.attachments.is_empty());
    }

    #[test]
    fn an_html_only_message_has_no_made_up_text() {
        let shown = display(b"Content-Type: text/html\r\n\r\n<b>bold</b>\r\n").unwrap();
        assert_eq!(shown.text, None);
        assert_eq!(
            shown.html.as_deref().map(str::trim_end),
            Some("<b>bold</b>")
        );
    }

    #[test]
    fn a_nested_message_is_one_attachment() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\n";
        let shown = display(raw).unwrap();
        assert_eq!(shown.attachments.len(), 1);
        assert_eq!(shown.attachments[0].content_type, "message/rfc822");
        assert!(
            shown.attachments[0]
                .data
                .as_slice()
                .starts_with(b"Subject: inner")
        );
    }

    #[test]
    fn a_message_of_too_many_parts_is_refused_before_the_reply_is_built() {
        // The message, its text part and the attachments.
        let most = display(&tiny_parts(MAX_PARTS - 2)).unwrap();
        assert_eq!(most.attachments.len(), MAX_PARTS - 2);
        assert_eq!(most.text.as_deref().map(str::trim_end), Some("the text"));
        // Refused after parsing (few enough places to start a part) or before.
        for parts in [MAX_PARTS - 1, 20_000, 900_000] {
            let err = display(&tiny_parts(parts)).unwrap_err();
            assert_eq!(err, DisplayError::TooManyParts, "{parts}");
            assert_eq!(
                err.to_string(),
                "the message is too complex to display: more than 10000 parts"
            );
        }
        assert!(part_starts(&tiny_parts(20_000)) <= MAX_PART_STARTS);
    }

    /// A message holding a message holding … `levels` deep, then a text.
    fn nested_messages(levels: usize) -> Vec<u8> {
        let mut raw = b"Subject: outer\r\n".to_vec();
        for _ in 0..levels {
            raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
        }
        raw.extend_from_slice(b"Subject: innermost\r\n\r\nbody\r\n");
        raw
    }

    #[test]
    fn nested_messages_are_refused_below_the_limit_and_freed_without_recursion() {
        let shown = display(&nested_messages(MAX_DEPTH)).unwrap();
        assert_eq!(shown.attachments.len(), 1);
        // 10,000 levels overflowed the stack when the parsed message was dropped.
        for levels in [MAX_DEPTH + 1, 10_000] {
            assert_eq!(
                display(&nested_messages(levels)),
                Err(DisplayError::TooDeep),
                "{levels}"
            );
        }
        let raw = nested_messages(10_000);
        drop(Parsed(MessageParser::default().parse(&raw[..]).unwrap()));
    }

    #[test]
    fn parts_decoding_to_more_than_the_limit_are_refused() {
        let mut raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
        raw.resize(raw.len() + MAX_DECODED_BYTES / 2, b'a');
        raw.extend_from_slice(b"\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n");
        raw.resize(raw.len() + MAX_DECODED_BYTES / 2 + 1, b'a');
        raw.extend_from_slice(b"\r\n--b--\r\n");
        assert_eq!(display(&raw), Err(DisplayError::TooLarge));
    }

    #[test]
    fn refusals_are_bad_input_on_the_message() {
        for error in [
            DisplayError::NotMime,
            DisplayError::TooManyParts,
            DisplayError::TooDeep,
            DisplayError::TooLarge,
        ] {
            let message = error.to_string();
            let rpc = error.to_rpc();
            assert_eq!(
                rpc.kind,
                mailseal_protocol::ErrorKind::bad_input("params.message")
            );
            assert_eq!(rpc.message, message);
        }
    }
}
