//! `smime.*`: signing, encrypting, verifying and decrypting whole MIME messages (RFC 8551).
//!
//! Every method takes a complete RFC 5322 message as a mail client has it (headers and body)
//! and returns a complete message. The message travels inline as base64, by file path or
//! through a stream (see [`super::transfer`]); `output` says where the result goes, and
//! `progress` asks for `progress` notifications before the reply.

use super::Method;
use super::report::SignatureReport;
use super::transfer::{Delivered, Output, Payload};
use serde::{Deserialize, Serialize};

/// How a signed message is shaped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureMode {
    /// `multipart/signed` (RFC 8551 §3.5.3): readable by clients without S/MIME.
    #[default]
    Detached,
    /// `application/pkcs7-mime; smime-type=signed-data` (RFC 8551 §3.5.2): survives gateways
    /// that rewrite MIME, but is unreadable without S/MIME.
    Opaque,
}

/// Content encryption algorithm (RFC 8551 §2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContentEncryption {
    /// AES-128-GCM AuthEnvelopedData (RFC 5083, RFC 5084).
    Aes128Gcm,
    /// AES-256-GCM AuthEnvelopedData.
    Aes256Gcm,
    /// AES-128-CBC EnvelopedData.
    Aes128Cbc,
    /// AES-256-CBC EnvelopedData.
    Aes256Cbc,
}

/// `smime.sign`: sign a message with one of the user's identities.
///
/// The identity is `key_id` if given, else the one whose certificate names the From address.
/// Headers stay outside the signed part; the signed part is canonicalized (CRLF line ends,
/// 8-bit and binary bodies re-encoded as quoted-printable or base64).
///
/// ```text
/// → {"jsonrpc":"2.0","id":1,"method":"smime.sign","params":{"message":"RnJvbTogYW5uQGV4YW1wbGUuY29tDQo…"}}
/// ← {"jsonrpc":"2.0","id":1,"result":{"message":"RnJvbTogYW5uQGV4YW1wbGUuY29tDQpNSU1FLVZlcnNpb246…","key_id":"5f0c…"}}
/// ```
#[derive(Debug)]
pub struct Sign;

/// Parameters of [`Sign`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignParams {
    /// The message to sign.
    pub message: Payload,
    /// Where the resulting message goes; default: inline in the reply.
    #[serde(default)]
    pub output: Option<Output>,
    /// Send `progress` notifications (bytes done of total) before the reply.
    #[serde(default)]
    pub progress: bool,
    /// The identity to sign with; default: the one for the From address.
    #[serde(default)]
    pub key_id: Option<String>,
    /// Detached (default) or opaque.
    #[serde(default)]
    pub mode: SignatureMode,
    /// Sign with RSASSA-PSS (RFC 4056) instead of PKCS#1 v1.5 when the key is RSA.
    #[serde(default)]
    pub rsa_pss: bool,
}

/// Result of [`Sign`], [`Encrypt`] and [`SignEncrypt`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageResult {
    /// The resulting message, ready to send.
    pub message: Delivered,
}

impl Method for Sign {
    const NAME: &'static str = "smime.sign";
    type Params = SignParams;
    type Result = MessageResult;
}

/// `smime.encrypt`: encrypt a message to its recipients and to the sender.
///
/// Recipients are `recipients` if given, else every address in To, Cc and Bcc; the sender's
/// own certificate (the identity for From) is always added so the sent copy stays readable.
/// Every recipient's certificate must be known, or nothing is encrypted and the error names
/// the recipients missing.
///
/// ```text
/// → {"jsonrpc":"2.0","id":2,"method":"smime.encrypt","params":{"message":"…","content_encryption":"aes256-gcm"}}
/// ← {"jsonrpc":"2.0","id":2,"result":{"message":"…"}}
/// ```
#[derive(Debug)]
pub struct Encrypt;

/// Parameters of [`Encrypt`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptParams {
    /// The message to encrypt.
    pub message: Payload,
    /// Where the resulting message goes; default: inline in the reply.
    #[serde(default)]
    pub output: Option<Output>,
    /// Send `progress` notifications (bytes done of total) before the reply.
    #[serde(default)]
    pub progress: bool,
    /// Recipient addresses; default: To, Cc and Bcc of the message.
    #[serde(default)]
    pub recipients: Option<Vec<String>>,
    /// The algorithm; default: the best one every recipient announced (AES-256-GCM first),
    /// else AES-256-CBC.
    #[serde(default)]
    pub content_encryption: Option<ContentEncryption>,
    /// Use RSAES-OAEP (SHA-256) instead of PKCS#1 v1.5 for RSA recipients (RFC 8551 §2.3).
    #[serde(default)]
    pub rsa_oaep: bool,
}

impl Method for Encrypt {
    const NAME: &'static str = "smime.encrypt";
    type Params = EncryptParams;
    type Result = MessageResult;
}

/// `smime.sign_encrypt`: sign, then encrypt the signed message (RFC 8551 §3.7), and with
/// `triple_wrap` sign the encrypted message again (RFC 2634 §1.1) so that a mailing list can
/// check the outer signature without decrypting.
///
/// ```text
/// → {"jsonrpc":"2.0","id":6,"method":"smime.sign_encrypt","params":{"message":"…","triple_wrap":false}}
/// ← {"jsonrpc":"2.0","id":6,"result":{"message":"…"}}
/// ```
#[derive(Debug)]
pub struct SignEncrypt;

/// Parameters of [`SignEncrypt`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignEncryptParams {
    /// The message.
    pub message: Payload,
    /// Where the resulting message goes; default: inline in the reply.
    #[serde(default)]
    pub output: Option<Output>,
    /// Send `progress` notifications (bytes done of total) before the reply.
    #[serde(default)]
    pub progress: bool,
    /// The identity to sign with; default: the one for the From address.
    #[serde(default)]
    pub key_id: Option<String>,
    /// Recipient addresses; default: To, Cc and Bcc.
    #[serde(default)]
    pub recipients: Option<Vec<String>>,
    /// The content encryption algorithm; default as for [`Encrypt`].
    #[serde(default)]
    pub content_encryption: Option<ContentEncryption>,
    /// Sign the encrypted message once more.
    #[serde(default)]
    pub triple_wrap: bool,
    /// Sign with RSASSA-PSS when the key is RSA.
    #[serde(default)]
    pub rsa_pss: bool,
    /// Use RSAES-OAEP (SHA-256) for RSA recipients.
    #[serde(default)]
    pub rsa_oaep: bool,
}

impl Method for SignEncrypt {
    const NAME: &'static str = "smime.sign_encrypt";
    type Params = SignEncryptParams;
    type Result = MessageResult;
}

/// `smime.decrypt`: decrypt an `application/pkcs7-mime; smime-type=enveloped-data` or
/// `authEnveloped-data` message with one of the user's keys.
///
/// ```text
/// → {"jsonrpc":"2.0","id":3,"method":"smime.decrypt","params":{"message":"…"}}
/// ← {"jsonrpc":"2.0","id":3,"result":{"message":"…","layers":[{"kind":"encrypted","algorithm":"aes256-gcm","key_id":"5f0c…"}]}}
/// ```
#[derive(Debug)]
pub struct Decrypt;

/// Parameters of [`Decrypt`], [`Verify`] and [`Open`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncomingParams {
    /// The message as received.
    pub message: Payload,
    /// Where the resulting message goes; default: inline in the reply.
    #[serde(default)]
    pub output: Option<Output>,
    /// Send `progress` notifications (bytes done of total) before the reply.
    #[serde(default)]
    pub progress: bool,
}

/// One layer of protection taken off a message, outermost first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Layer {
    /// The message was encrypted and has been decrypted.
    Encrypted {
        /// The content encryption algorithm.
        algorithm: ContentEncryption,
        /// The user's key that decrypted it.
        key_id: String,
    },
    /// The message was signed; one report per signature.
    Signed {
        /// Detached or opaque.
        mode: SignatureMode,
        /// The signatures' reports.
        signatures: Vec<SignatureReport>,
    },
}

/// Result of [`Decrypt`], [`Verify`] and [`Open`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenedResult {
    /// The innermost message, as the user should see it (outer headers kept).
    pub message: Delivered,
    /// The layers taken off, outermost first.
    pub layers: Vec<Layer>,
}

impl Method for Decrypt {
    const NAME: &'static str = "smime.decrypt";
    type Params = IncomingParams;
    type Result = OpenedResult;
}

/// `smime.verify`: check the signature of a `multipart/signed` or opaque signed message.
///
/// A bad signature is not an error: the reply's report says which check failed. Errors are for
/// messages that are not signed or cannot be parsed.
///
/// ```text
/// → {"jsonrpc":"2.0","id":4,"method":"smime.verify","params":{"message":"…"}}
/// ← {"jsonrpc":"2.0","id":4,"result":{"message":"…","layers":[{"kind":"signed","mode":"detached","signatures":[
///     {"verdict":"valid","signer":{…},"signing_time":"2026-11-23T19:00:00Z","checks":[{"name":"signature","outcome":"pass","reason":"…"},…]}]}]}}
/// ```
#[derive(Debug)]
pub struct Verify;

impl Method for Verify {
    const NAME: &'static str = "smime.verify";
    type Params = IncomingParams;
    type Result = OpenedResult;
}

/// `smime.open`: take any incoming message apart, layer by layer (encrypted, signed, nested,
/// up to 10 deep), and return the inner message with a report of every layer. A message
/// without S/MIME comes back unchanged with no layers.
///
/// ```text
/// → {"jsonrpc":"2.0","id":5,"method":"smime.open","params":{"message":"…"}}
/// ← {"jsonrpc":"2.0","id":5,"result":{"message":"…","layers":[{"kind":"encrypted",…},{"kind":"signed",…}]}}
/// ```
#[derive(Debug)]
pub struct Open;

impl Method for Open {
    const NAME: &'static str = "smime.open";
    type Params = IncomingParams;
    type Result = OpenedResult;
}
