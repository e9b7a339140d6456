//! The error table: every way a request can fail, with a stable code and a machine-readable kind.
//!
//! Clients branch on `data.kind` (and the fields beside it), never on the human message, so the
//! message can be improved without breaking scripts. Codes from -32700 to -32600 are JSON-RPC
//! 2.0's own; -32000 to -32099 are transport-level errors of this protocol; positive codes are
//! application errors.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a request failed, in a form a program can act on.
///
/// Serialized as the `data` member of a JSON-RPC error object, tagged by `kind`:
/// `{"kind": "bad_input", "field": "params.password"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The line was not valid JSON (or not UTF-8).
    ParseError,
    /// Valid JSON, but not a JSON-RPC 2.0 request object.
    InvalidRequest,
    /// The method name is not one this daemon knows; `daemon.hello` lists the known ones.
    UnknownMethod {
        /// The name the client sent.
        method: String,
    },
    /// A parameter is missing, has the wrong type or a value the method cannot use.
    BadInput {
        /// Path of the offending field, e.g. `params.data`.
        field: String,
    },
    /// A bug or an unexpected local failure (disk full, …); the message says what, never a secret.
    Internal,
    /// A line exceeded the daemon's frame limit; the daemon closes the connection after this.
    FrameTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The daemon is not running or not reachable; sent by bridges (the native-messaging host)
    /// that relay to it, so an add-on can tell the user to start it.
    DaemonUnavailable,
    /// `daemon.hello` offered no protocol version this daemon speaks.
    UnsupportedVersion {
        /// The versions the daemon speaks.
        supported: Vec<u32>,
    },
    /// The key exists but is locked: retry after `key.unlock` with its passphrase.
    KeyLocked {
        /// The key that needs unlocking.
        key_id: String,
    },
    /// A smart card needs its PIN: retry after `token.login`.
    PinRequired {
        /// The token's label.
        token: String,
    },
    /// A password, passphrase or PIN was wrong; nothing was changed.
    WrongPassword,
    /// No key with this id is known.
    KeyNotFound {
        /// The id that was asked for.
        key_id: String,
    },
    /// No certificate matched.
    CertNotFound {
        /// What was looked up: a fingerprint or an address.
        query: String,
    },
    /// A signature or certificate check failed.
    VerificationFailed {
        /// The name of the first check that failed (see the verification report).
        check: String,
    },
    /// An encrypted message is not addressed to any of the user's keys.
    NotARecipient {
        /// The recipients the message names, as issuer and serial or key identifier.
        recipients: Vec<String>,
    },
    /// The message uses an algorithm this daemon does not implement (e.g. ChaCha20-Poly1305).
    UnsupportedAlgorithm {
        /// The algorithm's OID.
        oid: String,
    },
    /// Decryption failed: the message was damaged or tampered with, or the key is not the one
    /// it was encrypted to. Deliberately says no more (RFC 3218).
    DecryptionFailed,
    /// A wrong PIN was given; the token's PIN state says how many tries are left.
    WrongPin {
        /// The token's label.
        token: String,
        /// A wrong PIN was entered before.
        count_low: bool,
        /// One more wrong PIN locks the card.
        final_try: bool,
    },
    /// The card's PIN is locked; the security officer (IT) must unlock it.
    PinLocked {
        /// The token's label.
        token: String,
    },
    /// The card was removed (or the token is gone).
    TokenNotPresent {
        /// The token's label or the name asked for.
        token: String,
    },
    /// A file path given for a message cannot be used: it does not exist, is not a regular file,
    /// cannot be read or written. Codes from 1020 on belong to moving large messages.
    BadPath {
        /// The parameter holding the path, e.g. `params.message.path`.
        field: String,
    },
    /// The stream is not open on this connection: never opened, already closed, or opened by
    /// another connection (streams belong to the connection that opened them).
    UnknownStream {
        /// The id the client sent.
        stream: String,
    },
    /// A limit of the daemon or of a bridge was reached (too many open streams, too many stream
    /// bytes, no descriptors to spare, too many wrong passphrases in a row); nothing was done.
    /// Closing streams, or waiting, helps; protocol/README.md ("Limits") lists every limit.
    LimitExceeded {
        /// Which limit: its config key (e.g. `max_streams_per_connection`) or, for a bridge's
        /// fixed limits, its name there.
        limit: String,
        /// When a retry can succeed, for a back-off; absent when that depends on other work
        /// finishing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u64>,
    },
    /// A kind this client does not know yet, sent by a newer daemon; the code and message still
    /// say what happened.
    #[serde(other)]
    Unknown,
}

impl ErrorKind {
    /// The stable JSON-RPC error code of this kind.
    pub fn code(&self) -> i64 {
        match self {
            Self::ParseError => -32700,
            Self::InvalidRequest => -32600,
            Self::UnknownMethod { .. } => -32601,
            Self::BadInput { .. } => -32602,
            Self::Internal | Self::Unknown => -32603,
            Self::FrameTooLarge { .. } => -32001,
            Self::UnsupportedVersion { .. } => -32002,
            Self::DaemonUnavailable => -32003,
            Self::LimitExceeded { .. } => -32004,
            Self::KeyLocked { .. } => 1001,
            Self::PinRequired { .. } => 1002,
            Self::WrongPassword => 1003,
            Self::KeyNotFound { .. } => 1004,
            Self::CertNotFound { .. } => 1005,
            Self::VerificationFailed { .. } => 1006,
            Self::NotARecipient { .. } => 1007,
            Self::UnsupportedAlgorithm { .. } => 1008,
            Self::DecryptionFailed => 1009,
            Self::WrongPin { .. } => 1010,
            Self::PinLocked { .. } => 1011,
            Self::TokenNotPresent { .. } => 1012,
            Self::BadPath { .. } => 1020,
            Self::UnknownStream { .. } => 1021,
        }
    }

    /// Shorthand for [`ErrorKind::BadInput`] naming a field.
    pub fn bad_input(field: impl Into<String>) -> Self {
        Self::BadInput {
            field: field.into(),
        }
    }
}

/// A JSON-RPC error object: `{"code": …, "message": …, "data": {"kind": …}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// The numeric code; equals `kind.code()` except for kinds this build does not know.
    pub code: i64,
    /// One sentence for a human; never contains a secret or a message body.
    pub message: String,
    /// What a program should look at.
    pub kind: ErrorKind,
}

impl RpcError {
    /// An error of `kind` with a human message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            code: kind.code(),
            message: message.into(),
            kind,
        }
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RpcError {}

#[derive(Serialize)]
struct WireError<'a> {
    code: i64,
    message: &'a str,
    data: &'a ErrorKind,
}

impl Serialize for RpcError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireError {
            code: self.code,
            message: &self.message,
            data: &self.kind,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RpcError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Incoming {
            code: i64,
            message: String,
            #[serde(default)]
            data: Option<serde_json::Value>,
        }
        let incoming = Incoming::deserialize(deserializer)?;
        // An error from another JSON-RPC peer may carry no data or data of another shape: keep
        // the code and message and call the kind unknown rather than failing the whole reply.
        let kind = incoming
            .data
            .and_then(|data| serde_json::from_value(data).ok())
            .unwrap_or(ErrorKind::Unknown);
        Ok(Self {
            code: incoming.code,
            message: incoming.message,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_with_code_message_and_tagged_data() {
        let err = RpcError::new(ErrorKind::bad_input("params.data"), "data is not base64");
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            json!({"code": -32602, "message": "data is not base64",
                   "data": {"kind": "bad_input", "field": "params.data"}})
        );
    }

    #[test]
    fn every_kind_round_trips_with_its_code() {
        let kinds = [
            ErrorKind::ParseError,
            ErrorKind::InvalidRequest,
            ErrorKind::UnknownMethod {
                method: "x.y".into(),
            },
            ErrorKind::bad_input("params"),
            ErrorKind::Internal,
            ErrorKind::FrameTooLarge { limit: 10 },
            ErrorKind::UnsupportedVersion { supported: vec![1] },
            ErrorKind::KeyLocked { key_id: "k".into() },
            ErrorKind::PinRequired { token: "t".into() },
            ErrorKind::WrongPassword,
            ErrorKind::KeyNotFound { key_id: "k".into() },
            ErrorKind::CertNotFound { query: "q".into() },
            ErrorKind::VerificationFailed {
                check: "chain".into(),
            },
            ErrorKind::NotARecipient {
                recipients: vec!["r".into()],
            },
            ErrorKind::UnsupportedAlgorithm {
                oid: "1.2.3".into(),
            },
            ErrorKind::DecryptionFailed,
            ErrorKind::WrongPin {
                token: "t".into(),
                count_low: true,
                final_try: false,
            },
            ErrorKind::PinLocked { token: "t".into() },
            ErrorKind::DaemonUnavailable,
            ErrorKind::TokenNotPresent { token: "t".into() },
            ErrorKind::BadPath {
                field: "params.message.path".into(),
            },
            ErrorKind::UnknownStream { stream: "s".into() },
            ErrorKind::LimitExceeded {
                limit: "max_streams_per_connection".into(),
                retry_after_seconds: None,
            },
            ErrorKind::LimitExceeded {
                limit: "unlock_backoff".into(),
                retry_after_seconds: Some(4),
            },
        ];
        let mut codes: Vec<i64> = kinds.iter().map(ErrorKind::code).collect();
        for kind in kinds {
            let err = RpcError::new(kind, "m");
            let back: RpcError =
                serde_json::from_str(&serde_json::to_string(&err).unwrap()).unwrap();
            assert_eq!(back, err);
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 23, "every kind has its own code");
    }

    #[test]
    fn unknown_kind_from_a_newer_daemon_keeps_code_and_message() {
        let err: RpcError = serde_json::from_value(json!({
            "code": 1999, "message": "card melted", "data": {"kind": "card_melted", "temp": 900}
        }))
        .unwrap();
        assert_eq!(err.code, 1999);
        assert_eq!(err.message, "card melted");
        assert_eq!(err.kind, ErrorKind::Unknown);
    }
}
