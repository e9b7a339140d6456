//! Line framing: one JSON object per `\n`-terminated line, with a hard size limit.
//!
//! The limit is what keeps one client from making the daemon allocate without bound: a frame is
//! refused as soon as it grows past the limit, before the rest of it is read.

use std::io;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

/// The default frame limit, 64 MiB: room for a large message in base64, far from exhausting a
/// desktop's memory. Larger messages go through the streaming methods.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024 * 1024;

/// The read buffer both ends put under a [`FrameReader`]: large messages arrive as frames of
/// many MiB, and tokio's default of 8 KiB turns each into thousands of reads.
pub const READ_BUFFER: usize = 256 * 1024;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The line grew past the limit; the rest of the stream is unusable.
    #[error("frame exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The connection failed.
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
}

/// Reads `\n`-terminated frames, never buffering more than the limit.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    max: usize,
}

impl<R: AsyncBufRead + Unpin> FrameReader<R> {
    /// Wraps a buffered reader; frames longer than `max` bytes (newline excluded) are refused.
    pub fn new(inner: R, max: usize) -> Self {
        Self { inner, max }
    }

    /// The underlying stream, e.g. to write replies on the same connection.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Reads the next frame into `frame` (cleared first), without its newline.
    ///
    /// Returns `Ok(false)` at a clean end of stream. Bytes after the last newline at end of stream
    /// count as a final frame, so a truncated request gets a parse error rather than silence.
    pub async fn read_frame(&mut self, frame: &mut Vec<u8>) -> Result<bool, FrameError> {
        frame.clear();
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                return Ok(!frame.is_empty());
            }
            // memchr, not a byte at a time: an inline 10 MiB message is a frame of 14 MB.
            let (chunk, found_newline) = match memchr::memchr(b'\n', available) {
                Some(at) => (&available[..at], true),
                None => (available, false),
            };
            if frame.len() + chunk.len() > self.max {
                return Err(FrameError::TooLarge { limit: self.max });
            }
            frame.extend_from_slice(chunk);
            let consumed = chunk.len() + usize::from(found_newline);
            self.inner.consume(consumed);
            if found_newline {
                if frame.last() == Some(&b'\r') {
                    frame.pop();
                }
                return Ok(true);
            }
        }
    }
}

/// Writes one frame: the JSON text and its newline, then flushes.
pub async fn write_frame<W: AsyncWrite + Unpin>(writer: &mut W, json: &[u8]) -> io::Result<()> {
    debug_assert!(!json.contains(&b'\n'), "JSON frames are single lines");
    // The frame and its newline in one write where the stream can: the reader, who waits for
    // the newline, is then woken once per frame rather than once for each part.
    let mut parts = [io::IoSlice::new(json), io::IoSlice::new(b"\n")];
    let mut unwritten = &mut parts[..];
    while !unwritten.is_empty() {
        let written = writer.write_vectored(unwritten).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        io::IoSlice::advance_slices(&mut unwritten, written);
    }
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn frames(input: &[u8], max: usize) -> Result<Vec<Vec<u8>>, FrameError> {
        // A tiny buffer makes frames span many reads, as they do on a real socket.
        let mut reader = FrameReader::new(BufReader::with_capacity(3, input), max);
        let mut out = Vec::new();
        let mut frame = Vec::new();
        while reader.read_frame(&mut frame).await? {
            out.push(frame.clone());
        }
        Ok(out)
    }

    #[tokio::test]
    async fn splits_lines_across_reads() {
        let got = frames(b"{\"a\":1}\n{\"b\":2}\r\n{\"c\"", 100)
            .await
            .unwrap();
        assert_eq!(
            got,
            vec![
                b"{\"a\":1}".to_vec(),
                b"{\"b\":2}".to_vec(),
                b"{\"c\"".to_vec()
            ]
        );
    }

    #[tokio::test]
    async fn refuses_a_frame_over_the_limit_and_accepts_one_at_it() {
        assert!(frames(b"12345\n", 5).await.is_ok());
        let err = frames(b"123456\n", 5).await.unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { limit: 5 }), "{err}");
    }
}
