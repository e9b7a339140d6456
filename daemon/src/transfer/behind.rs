//! Writing on a second thread: a large output file is written (and sent to the disk as it
//! grows) by a thread of its own while the request's thread goes on encrypting, encoding or
//! decrypting, so that the two overlap on two cores instead of taking turns. (Moving the
//! base64 encoding of an encryption there too was measured slower: the request's thread then
//! waits on the handing over more than it gains.)
//!
//! Small outputs never start the thread: the bytes are gathered and written at the end, as
//! a buffered writer would, so a small request pays nothing for it.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;

/// How many bytes are handed to the writing thread at a time; also what a small output
/// stays under to never start it.
const PIECE: usize = 256 * 1024;

/// Pieces waiting for the writing thread at most: what bounds the memory (1 MiB), and how far
/// the request's thread may run ahead of the disk.
const IN_FLIGHT: usize = 4;

/// A writer that hands its bytes, a piece at a time, to a thread writing them to `W`.
/// [`WriteBehind::finish`] waits for the thread and returns `W`; dropped unfinished, it waits
/// for the thread too, so that `W` is gone (a temporary file deleted) when it is.
pub struct WriteBehind<W: Write + Send + 'static> {
    /// Bytes gathered for the next piece.
    buffer: Vec<u8>,
    state: State<W>,
}

enum State<W> {
    /// Nothing handed over yet: the writer itself.
    Here(W),
    /// The thread writes: pieces go to it, written pieces come back to be reused.
    Behind {
        full: SyncSender<Vec<u8>>,
        empty: Receiver<Vec<u8>>,
        thread: JoinHandle<io::Result<W>>,
    },
    /// Finished or failed.
    Gone,
}

impl<W: Write + Send + 'static> WriteBehind<W> {
    /// Writes to `out` (on another thread once more than a piece comes).
    pub fn new(out: W) -> Self {
        Self {
            buffer: Vec::new(),
            state: State::Here(out),
        }
    }

    /// Hands the buffer to the writing thread, starting it the first time.
    fn hand_over(&mut self) -> io::Result<()> {
        if let State::Here(_) = self.state {
            let State::Here(mut out) = std::mem::replace(&mut self.state, State::Gone) else {
                unreachable!("matched above");
            };
            let (full, pieces) = sync_channel::<Vec<u8>>(IN_FLIGHT);
            let (written, empty) = channel();
            let thread = std::thread::Builder::new()
                .name("mailseal-write".into())
                .spawn(move || {
                    for piece in pieces {
                        out.write_all(&piece)?;
                        // The request's thread may be gone; the piece is then simply freed.
                        let _ = written.send(piece);
                    }
                    out.flush()?;
                    Ok(out)
                })?;
            self.state = State::Behind {
                full,
                empty,
                thread,
            };
        }
        let State::Behind { full, empty, .. } = &self.state else {
            return Err(stopped());
        };
        let mut next = empty.try_recv().unwrap_or_default();
        next.clear();
        let piece = std::mem::replace(&mut self.buffer, next);
        if full.send(piece).is_err() {
            // The thread stopped on an error: that error is the one to report.
            return Err(self.join().err().unwrap_or_else(stopped));
        }
        Ok(())
    }

    /// Waits for the writing thread to write everything handed over, and returns the writer.
    fn join(&mut self) -> io::Result<W> {
        match std::mem::replace(&mut self.state, State::Gone) {
            State::Here(out) => Ok(out),
            State::Behind { full, thread, .. } => {
                drop(full);
                thread.join().unwrap_or_else(|_| Err(stopped()))
            }
            State::Gone => Err(stopped()),
        }
    }

    /// Writes what is left and returns the writer once everything is written.
    pub fn finish(mut self) -> io::Result<W> {
        let rest = std::mem::take(&mut self.buffer);
        let mut out = self.join()?;
        out.write_all(&rest)?;
        out.flush()?;
        Ok(out)
    }
}

fn stopped() -> io::Error {
    io::Error::other("the thread writing the output stopped")
}

impl<W: Write + Send + 'static> Write for WriteBehind<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.buffer.capacity() == 0 {
            self.buffer.reserve(PIECE);
        }
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= PIECE {
            self.hand_over()?;
        }
        Ok(buf.len())
    }

    /// Hands nothing over: the bytes reach `W` when the buffer fills or at
    /// [`WriteBehind::finish`].
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write + Send + 'static> Drop for WriteBehind<W> {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that fails after `limit` bytes.
    struct Failing {
        written: Vec<u8>,
        limit: usize,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.written.len() + buf.len() > self.limit {
                return Err(io::Error::other("disk full"));
            }
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn everything_arrives_in_order_in_any_pieces() {
        let data: Vec<u8> = (0..3 * PIECE + 12_345).map(|i| (i % 251) as u8).collect();
        for piece in [1, 1000, PIECE - 1, PIECE, 2 * PIECE + 1, data.len()] {
            let mut behind = WriteBehind::new(Vec::new());
            for chunk in data.chunks(piece) {
                behind.write_all(chunk).unwrap();
            }
            assert_eq!(behind.finish().unwrap(), data, "pieces of {piece}");
        }
        let mut small = WriteBehind::new(Vec::new());
        small.write_all(b"small").unwrap();
        assert!(
            matches!(small.state, State::Here(_)),
            "no thread for a small output"
        );
        assert_eq!(small.finish().unwrap(), b"small");
    }

    #[test]
    fn the_writers_error_is_reported() {
        let mut behind = WriteBehind::new(Failing {
            written: Vec::new(),
            limit: PIECE + 10,
        });
        let piece = vec![7u8; PIECE];
        let failed = (0..20).find_map(|_| behind.write_all(&piece).err());
        let error = failed
            .or_else(|| behind.finish().err())
            .expect("the write fails");
        assert_eq!(error.to_string(), "disk full");
    }
}
