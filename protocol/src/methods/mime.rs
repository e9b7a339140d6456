//! `mime.*`: turning a message the daemon has opened into what a mail client can show.
//!
//! A mail client cannot display a message whose protection it does not understand (an
//! encrypted message looks like one `smime.p7m` attachment); the add-on shows the daemon's
//! decrypted message instead, and needs its text, HTML and attachments already decoded.

use super::Method;
use crate::Base64Bytes;
use serde::{Deserialize, Serialize};

/// `mime.display`: the readable parts of a MIME message — the first text/plain and text/html
/// bodies (decoded to UTF-8 from their transfer encoding and charset) and every other leaf part
/// as an attachment.
///
/// ```text
/// → {"jsonrpc":"2.0","id":31,"method":"mime.display","params":{"message":"Q29udGVudC1UeXBlOiB0ZXh0L3BsYWlu…"}}
/// ← {"jsonrpc":"2.0","id":31,"result":{"subject":"plan","text":"Grüße\r\n","html":null,
///    "attachments":[{"filename":"plan.pdf","content_type":"application/pdf","size":1234,"data":"JVBERi0…"}]}}
/// ```
#[derive(Debug)]
pub struct Display;

/// Parameters of [`Display`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplayParams {
    /// The message (typically the `message` of an `smime.open` result).
    pub message: Base64Bytes,
}

/// One attachment of a displayed message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The file name the sender gave, or `part-N` with an extension-less name when none.
    pub filename: String,
    /// The MIME type, lower case, without parameters.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: u64,
    /// The decoded content.
    pub data: Base64Bytes,
}

/// Result of [`Display`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayResult {
    /// The Subject, decoded (RFC 2047), if the message has one.
    pub subject: Option<String>,
    /// The text/plain body, if any.
    pub text: Option<String>,
    /// The text/html body, if any; to be shown only in a sandbox without scripts or remote
    /// content.
    pub html: Option<String>,
    /// Every other part.
    pub attachments: Vec<Attachment>,
}

impl Method for Display {
    const NAME: &'static str = "mime.display";
    type Params = DisplayParams;
    type Result = DisplayResult;
}
