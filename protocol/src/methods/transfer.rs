//! How message bytes travel: inline as base64 (small messages), by a local file path (the CLI
//! and other local clients, no size limit), or through a stream of `stream.*` chunks (clients
//! that can neither share files nor send frames of any size, like the browser add-ons).
//!
//! A byte input of an `smime.*` method is a [`Payload`]; the optional `output` parameter is an
//! [`Output`]; the result's `message` is a [`Delivered`].

use crate::Base64Bytes;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// The largest chunk `stream.write` takes and `stream.read` returns, in bytes.
///
/// 720 KiB is a multiple of 3, so base64 of consecutive chunks concatenates into the base64 of
/// the whole, and its base64 (960 KiB) with the JSON around it stays under the 1 MiB that
/// Thunderbird's native messaging allows a message to an add-on.
pub const MAX_CHUNK_BYTES: usize = 720 * 1024;

/// An absolute file path; the daemon is not in the client's working directory, so a relative
/// path would name some other file.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct AbsolutePath(PathBuf);

impl AbsolutePath {
    /// `path` if it is absolute.
    pub fn new(path: impl Into<PathBuf>) -> Option<Self> {
        let path = path.into();
        path.is_absolute().then_some(Self(path))
    }

    /// The path.
    pub fn as_path(&self) -> &Path {
        &self.0
    }
}

impl fmt::Debug for AbsolutePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for AbsolutePath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let path = PathBuf::deserialize(deserializer)?;
        Self::new(path).ok_or_else(|| de::Error::custom("the path must be absolute"))
    }
}

/// The daemon's name for a stream opened with `stream.open`: 32 hex digits, meaningful only on
/// the connection that opened it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(String);

impl StreamId {
    /// Wraps an id the daemon chose.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a method reads its bytes from.
///
/// On the wire: a base64 string, `{"path": "/abs/file"}` or `{"stream": "<id>"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// The bytes themselves; limited by the frame size.
    Inline(Base64Bytes),
    /// A regular file of the user's, read by the daemon (which runs as the same user).
    Path(AbsolutePath),
    /// A stream this connection filled with `stream.write`.
    Stream(StreamId),
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Inline(bytes.into())
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Inline(bytes) => bytes.serialize(serializer),
            Self::Path(path) => PathRef { path: path.clone() }.serialize(serializer),
            Self::Stream(stream) => StreamRef {
                stream: stream.clone(),
            }
            .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const EXPECTED: &str =
            "expected a base64 string, {\"path\": \"/absolute/file\"} or {\"stream\": \"<id>\"}";
        match Value::deserialize(deserializer)? {
            Value::String(text) => Base64Bytes::deserialize(Value::String(text))
                .map(Self::Inline)
                .map_err(de::Error::custom),
            Value::Object(object) if object.contains_key("path") => {
                PathRef::deserialize(Value::Object(object))
                    .map(|r| Self::Path(r.path))
                    .map_err(de::Error::custom)
            }
            Value::Object(object) if object.contains_key("stream") => {
                StreamRef::deserialize(Value::Object(object))
                    .map(|r| Self::Stream(r.stream))
                    .map_err(de::Error::custom)
            }
            _ => Err(de::Error::custom(EXPECTED)),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PathRef {
    path: AbsolutePath,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamRef {
    stream: StreamId,
}

/// Where a method puts its resulting message instead of inline base64.
///
/// On the wire: `{"path": "/abs/file"}` or `{"stream": true}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write the file (atomically: a temporary file beside it, renamed only on success).
    Path(AbsolutePath),
    /// Put the result in a new stream of this connection, to be read with `stream.read`.
    Stream,
}

impl Serialize for Output {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Path(path) => PathRef { path: path.clone() }.serialize(serializer),
            Self::Stream => serde_json::json!({"stream": true}).serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Output {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const EXPECTED: &str = "expected {\"path\": \"/absolute/file\"} or {\"stream\": true}";
        match Value::deserialize(deserializer)? {
            Value::Object(object) if object.contains_key("path") => {
                PathRef::deserialize(Value::Object(object))
                    .map(|r| Self::Path(r.path))
                    .map_err(de::Error::custom)
            }
            Value::Object(object)
                if object.len() == 1 && object.get("stream") == Some(&Value::Bool(true)) =>
            {
                Ok(Self::Stream)
            }
            _ => Err(de::Error::custom(EXPECTED)),
        }
    }
}

/// A method's resulting message, where the request's `output` asked for it.
///
/// On the wire: a base64 string, `{"path": "/abs/file", "bytes": N}` or
/// `{"stream": "<id>", "bytes": N}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Delivered {
    /// The bytes, in the reply.
    Inline(Base64Bytes),
    /// Written to the file asked for.
    Path {
        /// The file.
        path: AbsolutePath,
        /// Its length.
        bytes: u64,
    },
    /// In a new stream of this connection.
    Stream {
        /// The stream to read it from and then close.
        stream: StreamId,
        /// Its length.
        bytes: u64,
    },
}

impl Delivered {
    /// The bytes when they came in the reply: what a caller that sent no `output` gets.
    pub fn inline(&self) -> Option<&[u8]> {
        match self {
            Self::Inline(bytes) => Some(bytes.as_slice()),
            _ => None,
        }
    }

    /// Takes the bytes out when they came in the reply.
    pub fn into_inline(self) -> Option<Vec<u8>> {
        match self {
            Self::Inline(bytes) => Some(bytes.into_inner()),
            _ => None,
        }
    }
}

impl From<Vec<u8>> for Delivered {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Inline(bytes.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_take_three_shapes() {
        let inline: Payload = serde_json::from_value(json!("aGk=")).unwrap();
        assert_eq!(inline, Payload::from(b"hi".to_vec()));
        let path: Payload = serde_json::from_value(json!({"path": "/tmp/m.eml"})).unwrap();
        assert_eq!(
            path,
            Payload::Path(AbsolutePath::new("/tmp/m.eml").unwrap())
        );
        let stream: Payload = serde_json::from_value(json!({"stream": "ab12"})).unwrap();
        assert_eq!(stream, Payload::Stream(StreamId::new("ab12")));
        for payload in [inline, path, stream] {
            let text = serde_json::to_value(&payload).unwrap();
            assert_eq!(serde_json::from_value::<Payload>(text).unwrap(), payload);
        }
    }

    #[test]
    fn bad_payloads_are_refused() {
        for bad in [
            json!({"path": "relative/m.eml"}),
            json!({"path": "/a", "stream": "b"}),
            json!({"file": "/a"}),
            json!(7),
            json!("not base64!"),
        ] {
            assert!(
                serde_json::from_value::<Payload>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn outputs_are_a_path_or_a_stream() {
        let path: Output = serde_json::from_value(json!({"path": "/tmp/o.eml"})).unwrap();
        assert_eq!(path, Output::Path(AbsolutePath::new("/tmp/o.eml").unwrap()));
        let stream: Output = serde_json::from_value(json!({"stream": true})).unwrap();
        assert_eq!(stream, Output::Stream);
        assert_eq!(
            serde_json::to_value(&stream).unwrap(),
            json!({"stream": true})
        );
        for bad in [
            json!({"stream": false}),
            json!({"path": "o.eml"}),
            json!("x"),
        ] {
            assert!(
                serde_json::from_value::<Output>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn delivered_messages_say_where_they_are() {
        let file = Delivered::Path {
            path: AbsolutePath::new("/tmp/o.eml").unwrap(),
            bytes: 5,
        };
        let text = serde_json::to_value(&file).unwrap();
        assert_eq!(text, json!({"path": "/tmp/o.eml", "bytes": 5}));
        assert_eq!(serde_json::from_value::<Delivered>(text).unwrap(), file);
        let inline = Delivered::from(b"hi".to_vec());
        assert_eq!(serde_json::to_value(&inline).unwrap(), json!("aGk="));
        assert_eq!(inline.inline(), Some(&b"hi"[..]));
        assert_eq!(file.inline(), None);
    }
}
