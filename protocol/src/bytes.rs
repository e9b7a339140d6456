//! Binary payloads (MIME, DER, PKCS#12) carried as base64 strings inside JSON.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::fmt;

/// Bytes that travel as a standard base64 string (RFC 4648 §4, with padding).
///
/// JSON has no binary type; one encoding everywhere keeps every client's job the same. Debug
/// prints only the length, so a message body never lands in a log by accident.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Base64Bytes(pub Vec<u8>);

impl Base64Bytes {
    /// The decoded bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// Takes the decoded bytes out.
    pub fn into_inner(self) -> Vec<u8> {
        self.0
    }
}

impl From<Vec<u8>> for Base64Bytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for Base64Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Base64Bytes({} bytes)", self.0.len())
    }
}

impl Serialize for Base64Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        STANDARD
            .decode(text.as_bytes())
            .map(Self)
            .map_err(|e| de::Error::custom(Base64Problem(e)))
    }
}

/// Why a string is not base64, without the offending character: the string may be a
/// secret sent in the wrong field, and error messages reach logs.
struct Base64Problem(base64::DecodeError);

impl fmt::Display for Base64Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use base64::DecodeError::*;
        f.write_str("expected standard base64 with padding (RFC 4648 §4)")?;
        match self.0 {
            InvalidByte(offset, _) | InvalidLastSymbol(offset, _) => {
                write!(f, "; a wrong character at offset {offset}")
            }
            InvalidLength(length) => write!(f, "; {length} symbols is not a possible length"),
            InvalidPadding => f.write_str("; wrong padding"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_character_is_placed_but_not_quoted() {
        let err = serde_json::from_str::<Base64Bytes>("\"AAAA#pin\"").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("offset 4"), "{message}");
        assert!(
            !message.contains("35") && !message.contains('#'),
            "{message}"
        );
    }

    #[test]
    fn round_trips_through_json() {
        let bytes = Base64Bytes(b"\x00\xffhello".to_vec());
        let json = serde_json::to_string(&bytes).unwrap();
        assert_eq!(json, "\"AP9oZWxsbw==\"");
        assert_eq!(serde_json::from_str::<Base64Bytes>(&json).unwrap(), bytes);
    }

    #[test]
    fn rejects_invalid_base64_and_debug_hides_content() {
        let err = serde_json::from_str::<Base64Bytes>("\"not base64!\"").unwrap_err();
        assert!(
            err.to_string().contains("expected standard base64"),
            "{err}"
        );
        assert_eq!(
            format!("{:?}", Base64Bytes(b"secret".to_vec())),
            "Base64Bytes(6 bytes)"
        );
    }
}
