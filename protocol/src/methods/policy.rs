//! `policy.*`: what the company's policy asks of a message, so that every mail client offers the
//! same defaults and refuses the same things, decided once in the daemon.

use super::Method;
use serde::{Deserialize, Serialize};

/// `policy.compose`: the Sign and Encrypt defaults for a message about to be written, and
/// whether the user may turn them off.
///
/// Encryption is offered by default when the policy says so, or (`when-possible`, the default)
/// when every recipient has a usable certificate; it is required when the policy requires it or
/// a recipient is in one of the policy's `encrypt_required_domains`. A client must not send a
/// message without a toggle that is `required`.
///
/// ```text
/// → {"jsonrpc":"2.0","id":30,"method":"policy.compose","params":{"from":"ann@example.com","recipients":["bob@example.com"]}}
/// ← {"jsonrpc":"2.0","id":30,"result":{"sign":{"default":true,"required":false,"reason":"signing is on by default"},
///    "encrypt":{"default":true,"required":true,"reason":"company policy requires encryption to example.com"}}}
/// ```
#[derive(Debug)]
pub struct Compose;

/// Parameters of [`Compose`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeParams {
    /// The sender's address, bare or as `Name <address>`; signing is only suggested when the
    /// user has an identity for it.
    #[serde(default)]
    pub from: Option<String>,
    /// Every To, Cc and Bcc address.
    #[serde(default)]
    pub recipients: Vec<String>,
}

/// What the policy says of one toggle (Sign or Encrypt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toggle {
    /// Whether the toggle starts switched on.
    pub default: bool,
    /// Whether the message may not be sent with the toggle off.
    pub required: bool,
    /// Why, in words for the user.
    pub reason: String,
}

/// Result of [`Compose`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComposeResult {
    /// Signing.
    pub sign: Toggle,
    /// Encryption.
    pub encrypt: Toggle,
}

impl Method for Compose {
    const NAME: &'static str = "policy.compose";
    type Params = ComposeParams;
    type Result = ComposeResult;
}
