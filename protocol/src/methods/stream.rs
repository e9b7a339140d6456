//! `stream.*`: moving a message larger than one frame in chunks, for clients that cannot hand
//! the daemon a file path (the browser add-ons, whose native messaging caps a message to the
//! add-on at 1 MiB).
//!
//! A stream is a private temporary file of the daemon, owned by the connection that opened it:
//! no other connection can name it, and it is deleted on `stream.close`, when the connection
//! ends, and when the daemon stops. A client writes a message into a stream, passes
//! `{"stream": id}` as an `smime.*` method's `message`, and reads the result from the stream
//! the method's `"output": {"stream": true}` created.

use super::Method;
use super::transfer::StreamId;
use crate::Base64Bytes;
use serde::{Deserialize, Serialize};

/// `stream.open`: a new, empty stream.
///
/// ```text
/// → {"jsonrpc":"2.0","id":1,"method":"stream.open","params":{}}
/// ← {"jsonrpc":"2.0","id":1,"result":{"stream":"9f2c…","max_chunk_bytes":737280}}
/// ```
#[derive(Debug)]
pub struct Open;

/// Result of [`Open`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenResult {
    /// The new stream.
    pub stream: StreamId,
    /// The most bytes one `stream.write` takes and one `stream.read` returns.
    pub max_chunk_bytes: u64,
}

impl Method for Open {
    const NAME: &'static str = "stream.open";
    type Params = super::Empty;
    type Result = OpenResult;
}

/// `stream.write`: append a chunk of at most `max_chunk_bytes` bytes.
///
/// ```text
/// → {"jsonrpc":"2.0","id":2,"method":"stream.write","params":{"stream":"9f2c…","data":"RnJvbTog…"}}
/// ← {"jsonrpc":"2.0","id":2,"result":{"bytes":737280}}
/// ```
#[derive(Debug)]
pub struct Write;

/// Parameters of [`Write`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteParams {
    /// The stream.
    pub stream: StreamId,
    /// The chunk.
    pub data: Base64Bytes,
}

/// Result of [`Write`] and [`Close`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SizeResult {
    /// The stream's length now.
    pub bytes: u64,
}

impl Method for Write {
    const NAME: &'static str = "stream.write";
    type Params = WriteParams;
    type Result = SizeResult;
}

/// `stream.read`: up to `length` bytes (default and most: `max_chunk_bytes`) from `offset`.
///
/// ```text
/// → {"jsonrpc":"2.0","id":3,"method":"stream.read","params":{"stream":"77ab…","offset":0}}
/// ← {"jsonrpc":"2.0","id":3,"result":{"data":"RnJvbTog…","eof":false}}
/// ```
#[derive(Debug)]
pub struct Read;

/// Parameters of [`Read`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadParams {
    /// The stream.
    pub stream: StreamId,
    /// Where to start reading.
    #[serde(default)]
    pub offset: u64,
    /// How many bytes at most; default and limit `max_chunk_bytes`.
    #[serde(default)]
    pub length: Option<u64>,
}

/// Result of [`Read`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadResult {
    /// The bytes read; fewer than asked only at the end of the stream.
    pub data: Base64Bytes,
    /// Whether the stream ends after these bytes.
    pub eof: bool,
}

impl Method for Read {
    const NAME: &'static str = "stream.read";
    type Params = ReadParams;
    type Result = ReadResult;
}

/// `stream.close`: delete the stream and its file.
///
/// ```text
/// → {"jsonrpc":"2.0","id":4,"method":"stream.close","params":{"stream":"77ab…"}}
/// ← {"jsonrpc":"2.0","id":4,"result":{"bytes":1048576}}
/// ```
#[derive(Debug)]
pub struct Close;

/// Parameters of [`Close`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseParams {
    /// The stream.
    pub stream: StreamId,
}

impl Method for Close {
    const NAME: &'static str = "stream.close";
    type Params = CloseParams;
    type Result = SizeResult;
}
