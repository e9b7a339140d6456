//! What a mail client shows of a message it could not read itself: the text and HTML bodies,
//! decoded, and the other parts as attachments (`mime.display`).
//!
//! The add-ons show a decrypted message in place of the `smime.p7m` attachment Thunderbird
//! displays; decoding MIME (transfer encodings, charsets, RFC 2047/2231 names) is done here once
//! rather than in each add-on's JavaScript.

use mail_parser::{MessageParser, MessagePart, MimeHeaders, PartType};
use mailseal_protocol::methods::mime::{Attachment, DisplayResult};

/// The readable parts of `raw`, or `None` when it is not a MIME message at all.
pub fn display(raw: &[u8]) -> Option<DisplayResult> {
    let message = MessageParser::default().parse(raw)?;
    let text = message.text_bodies().find_map(|part| match &part.body {
        PartType::Text(text) => Some(text.to_string()),
        _ => None,
    });
    let html = message.html_bodies().find_map(|part| match &part.body {
        PartType::Html(html) => Some(html.to_string()),
        _ => None,
    });
    let attachments = message
        .attachments()
        .enumerate()
        .map(|(index, part)| attachment(index, part))
        .collect();
    Some(DisplayResult {
        subject: message.subject().map(str::to_owned),
        text,
        html,
        attachments,
    })
}

fn attachment(index: usize, part: &MessagePart<'_>) -> Attachment {
    let content_type = part.content_type().map_or_else(
        || "application/octet-stream".to_owned(),
        |t| match t.subtype() {
            Some(sub) => format!("{}/{}", t.ctype(), sub).to_ascii_lowercase(),
            None => t.ctype().to_ascii_lowercase(),
        },
    );
    // A nested message is offered as the .eml it is, not as its parsed parts.
    let data = match &part.body {
        PartType::Message(inner) => inner.raw_message().to_vec(),
        _ => part.contents().to_vec(),
    };
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
}
