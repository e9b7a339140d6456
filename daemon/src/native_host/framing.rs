//! Mozilla native messaging framing: each message is a 32-bit length in native byte order
//! followed by that many bytes of UTF-8 JSON (see Mozilla's "Native messaging" documentation).
//!
//! Thunderbird closes the port when a message to the add-on exceeds 1 MiB, so larger replies
//! are cut into chunks the add-on reassembles: each chunk carries a slice of the reply's bytes
//! in base64, and every slice but the last is a multiple of 3 bytes long, so the chunks' base64
//! texts simply concatenate into the base64 of the whole reply.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mailseal_protocol::Id;
use serde::Serialize;
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest message Thunderbird accepts from a host.
pub const MAX_TO_ADDON: usize = 1024 * 1024;

/// Bytes of the reply per chunk: a multiple of 3 whose base64 (4/3 larger) plus the chunk's
/// JSON envelope stays under [`MAX_TO_ADDON`].
pub const CHUNK_BYTES: usize = 3 * ((MAX_TO_ADDON - 4096) / 4);

/// What came from the add-on.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A whole message.
    Message(Vec<u8>),
    /// A message longer than the limit: its bytes were read and dropped, so the stream is
    /// still in step and the add-on can be told.
    TooLarge {
        /// Its announced length.
        length: usize,
    },
}

/// Reads one message; `None` when the add-on closed the port.
pub async fn read_message<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> io::Result<Option<Incoming>> {
    let mut length = [0u8; 4];
    match reader.read_exact(&mut length).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let length = u32::from_ne_bytes(length) as usize;
    if length > max {
        let skipped =
            tokio::io::copy(&mut reader.take(length as u64), &mut tokio::io::sink()).await?;
        if skipped < length as u64 {
            return Ok(None);
        }
        return Ok(Some(Incoming::TooLarge { length }));
    }
    let mut message = vec![0u8; length];
    reader.read_exact(&mut message).await?;
    Ok(Some(Incoming::Message(message)))
}

/// Writes one message.
pub async fn write_message<W: AsyncWrite + Unpin>(writer: &mut W, json: &[u8]) -> io::Result<()> {
    let length = u32::try_from(json.len()).map_err(|_| io::Error::other("message over 4 GiB"))?;
    writer.write_all(&length.to_ne_bytes()).await?;
    writer.write_all(json).await?;
    writer.flush().await
}

#[derive(Serialize)]
struct Chunk<'a> {
    jsonrpc: &'static str,
    id: &'a Option<Id>,
    chunk: ChunkBody,
}

#[derive(Serialize)]
struct ChunkBody {
    index: usize,
    count: usize,
    data: String,
}

/// The messages that carry `reply` to the add-on: the reply itself when it fits, else chunks
/// `{"jsonrpc":"2.0","id":…,"chunk":{"index":i,"count":n,"data":BASE64}}`.
pub fn frames_for(id: &Option<Id>, reply: Vec<u8>) -> Vec<Vec<u8>> {
    if reply.len() <= MAX_TO_ADDON {
        return vec![reply];
    }
    let count = reply.len().div_ceil(CHUNK_BYTES);
    reply
        .chunks(CHUNK_BYTES)
        .enumerate()
        .map(|(index, slice)| {
            let chunk = Chunk {
                jsonrpc: "2.0",
                id,
                chunk: ChunkBody {
                    index,
                    count,
                    data: STANDARD.encode(slice),
                },
            };
            serde_json::to_vec(&chunk).expect("chunks serialize")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_round_trip_and_an_oversized_one_is_skipped() {
        let (mut near, mut far) = tokio::io::duplex(64 * 1024);
        write_message(&mut near, b"{\"a\":1}").await.unwrap();
        write_message(&mut near, &vec![b' '; 5000]).await.unwrap();
        write_message(&mut near, b"{\"b\":2}").await.unwrap();
        drop(near);
        assert_eq!(
            read_message(&mut far, 1000).await.unwrap(),
            Some(Incoming::Message(b"{\"a\":1}".to_vec()))
        );
        assert_eq!(
            read_message(&mut far, 1000).await.unwrap(),
            Some(Incoming::TooLarge { length: 5000 })
        );
        assert_eq!(
            read_message(&mut far, 1000).await.unwrap(),
            Some(Incoming::Message(b"{\"b\":2}".to_vec()))
        );
        assert_eq!(read_message(&mut far, 1000).await.unwrap(), None);
    }

    #[test]
    fn large_replies_are_chunked_and_reassemble() {
        let reply: Vec<u8> = (0..3 * MAX_TO_ADDON + 17)
            .map(|i| b"{}abc"[i % 5])
            .collect();
        let id = Some(Id::Number(7));
        let frames = frames_for(&id, reply.clone());
        let count = reply.len().div_ceil(CHUNK_BYTES);
        assert!(count > 1);
        assert_eq!(frames.len(), count);
        let mut base64 = String::new();
        for (i, frame) in frames.iter().enumerate() {
            assert!(
                frame.len() <= MAX_TO_ADDON,
                "frame {i} is {} bytes",
                frame.len()
            );
            let value: serde_json::Value = serde_json::from_slice(frame).unwrap();
            assert_eq!(
                (
                    value["id"].as_i64(),
                    value["chunk"]["index"].as_u64(),
                    value["chunk"]["count"].as_u64()
                ),
                (Some(7), Some(i as u64), Some(count as u64))
            );
            base64.push_str(value["chunk"]["data"].as_str().unwrap());
        }
        assert_eq!(STANDARD.decode(base64).unwrap(), reply);
        assert_eq!(frames_for(&id, b"{}".to_vec()), vec![b"{}".to_vec()]);
    }
}
