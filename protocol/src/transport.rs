//! The byte stream between a client and the daemon, as both sides hold it.
//!
//! On Unix it is a [`QuietStream`]: a socket registered with the runtime for reading only.
//! Tokio registers a socket for both directions, edge-triggered, and the kernel signals
//! "writable" to a side each time the other reads what it wrote (its send buffer drains). A
//! client waiting for its reply was thus woken for nothing as soon as the daemon read the
//! request, and the daemon as soon as the client read the reply. On a virtual machine, where
//! waking a sleeping core is an exit to the hypervisor, the benchmark's client spent a fifth
//! of its CPU per small request on that (0.029 against 0.023 ms per 1 KiB P-256 signature).
//! A quiet stream wakes only for bytes to read; a write that finds the send buffer full
//! registers a duplicate of the socket for writing until the frame is written.
//!
//! On Windows the named pipe from `interprocess` is used as it is (completion ports report
//! only the operations asked for).

use interprocess::local_socket::tokio::Stream as LocalSocketStream;
use std::io;

/// A connection between a client and the daemon, registered with the runtime it is used on.
#[cfg(unix)]
pub type Connection = unix::QuietStream;
/// A connection between a client and the daemon, registered with the runtime it is used on.
#[cfg(windows)]
pub type Connection = LocalSocketStream;

/// A connection taken off the runtime that accepted or opened it, to be used on another
/// thread's runtime (the daemon serves each connection on a thread of its own).
#[derive(Debug)]
pub struct Detached(
    #[cfg(unix)] std::os::fd::OwnedFd,
    // A named pipe stays with the completion port it was first registered with, and its
    // readiness keeps coming through the runtime that opened it.
    #[cfg(windows)] LocalSocketStream,
);

impl Detached {
    /// Takes `stream` off its runtime.
    pub fn new(stream: LocalSocketStream) -> io::Result<Self> {
        #[cfg(unix)]
        {
            let LocalSocketStream::UdSocket(stream) = stream;
            std::os::fd::OwnedFd::try_from(stream).map(Self)
        }
        #[cfg(windows)]
        {
            Ok(Self(stream))
        }
    }

    /// Registers the connection with the calling thread's runtime, so that its readiness
    /// wakes that thread and no other. Must be called inside that runtime.
    pub fn attach(self) -> io::Result<Connection> {
        #[cfg(unix)]
        {
            unix::QuietStream::new(std::os::unix::net::UnixStream::from(self.0))
        }
        #[cfg(windows)]
        {
            Ok(self.0)
        }
    }
}

#[cfg(unix)]
mod unix {
    use std::io::{self, Read, Write};
    use std::os::unix::net::UnixStream;
    use std::pin::Pin;
    use std::task::{Context, Poll, ready};
    use tokio::io::unix::AsyncFd;
    use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

    /// A Unix socket that wakes its task for bytes to read, and for room to write only while a
    /// write is waiting for it (see the module's documentation).
    #[derive(Debug)]
    pub struct QuietStream {
        socket: AsyncFd<UnixStream>,
        /// A duplicate of the socket registered for writing, while a frame waits for room in
        /// the send buffer; dropped (and unregistered) when the frame is flushed.
        room: Option<AsyncFd<UnixStream>>,
        /// How many frames had to wait for room, for tests to know they tested that.
        #[cfg(test)]
        waits: usize,
    }

    impl QuietStream {
        /// Registers `socket` with the current runtime for reading.
        pub fn new(socket: UnixStream) -> io::Result<Self> {
            socket.set_nonblocking(true)?;
            Ok(Self {
                socket: register(socket, Interest::READABLE)?,
                room: None,
                #[cfg(test)]
                waits: 0,
            })
        }

        /// Whether a duplicate is registered for writing: only while a write waits for room.
        #[cfg(test)]
        pub fn waits_for_room(&self) -> bool {
            self.room.is_some()
        }

        /// How many frames had to wait for room.
        #[cfg(test)]
        pub fn waits(&self) -> usize {
            self.waits
        }
    }

    /// Registers `socket` with the current runtime for `interest` only.
    ///
    /// Tokio deprecated this safe constructor for its successor `register_with_interest`,
    /// which is `unsafe` because a type could hand out a descriptor it does not own; a
    /// `UnixStream` owns its descriptor for as long as the `AsyncFd` holds it, so the safe one
    /// is sound here and keeps the workspace free of `unsafe`.
    #[allow(deprecated)]
    fn register(socket: UnixStream, interest: Interest) -> io::Result<AsyncFd<UnixStream>> {
        AsyncFd::with_interest(socket, interest)
    }

    impl AsyncRead for QuietStream {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            loop {
                let mut ready = ready!(self.socket.poll_read_ready(cx))?;
                let unfilled = buf.initialize_unfilled();
                match ready.try_io(|socket| socket.get_ref().read(unfilled)) {
                    Ok(read) => {
                        buf.advance(read?);
                        return Poll::Ready(Ok(()));
                    }
                    // Nothing to read after all: readiness was cleared, wait for the next.
                    Err(_would_block) => {}
                }
            }
        }
    }

    impl AsyncWrite for QuietStream {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.get_mut()
                .poll_with_room(cx, |socket| socket.write(buf))
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.get_mut()
                .poll_with_room(cx, |socket| socket.write_vectored(bufs))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            // The frame is written: stop hearing about room until a write needs it again.
            self.get_mut().room = None;
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            this.room = None;
            Poll::Ready(this.socket.get_ref().shutdown(std::net::Shutdown::Write))
        }
    }

    impl QuietStream {
        /// Writes with `write` at once if the send buffer has room, else waits for room through
        /// a duplicate of the socket registered for writing.
        fn poll_with_room(
            &mut self,
            cx: &mut Context<'_>,
            mut write: impl FnMut(&mut &UnixStream) -> io::Result<usize>,
        ) -> Poll<io::Result<usize>> {
            match write(&mut self.socket.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                done => return Poll::Ready(done),
            }
            loop {
                if self.room.is_none() {
                    let duplicate = self.socket.get_ref().try_clone()?;
                    self.room = Some(register(duplicate, Interest::WRITABLE)?);
                    #[cfg(test)]
                    {
                        self.waits += 1;
                    }
                }
                let room = self.room.as_ref().expect("registered just above");
                let mut ready = ready!(room.poll_write_ready(cx))?;
                match ready.try_io(|_| write(&mut self.socket.get_ref())) {
                    Ok(done) => return Poll::Ready(done),
                    // Still full: readiness was cleared, wait for the next.
                    Err(_would_block) => {}
                }
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::unix::QuietStream;
    use crate::framing::{FrameReader, write_frame};
    use std::os::unix::net::UnixStream;
    use tokio::io::BufReader;

    /// A frame far larger than a socket's send buffer gets through whole while the reader is
    /// slow: the writer waits for room, then stops listening for it once the frame is flushed.
    #[tokio::test]
    async fn a_frame_larger_than_the_send_buffer_is_written_whole() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut writer = QuietStream::new(a).unwrap();
        let reader = QuietStream::new(b).unwrap();
        let frame: Vec<u8> = (0..8 << 20).map(|i| b'a' + (i % 26) as u8).collect();
        // On this one thread the reader runs only while the writer waits: 8 MiB fill a Unix
        // socket's send buffer (some hundred KiB) many times over, so the writer waits for
        // room again and again. A lost wake-up would hang, hence the time limit.
        let reading = tokio::spawn(async move {
            let mut frames = FrameReader::new(BufReader::with_capacity(4096, reader), 16 << 20);
            let mut got = Vec::new();
            assert!(frames.read_frame(&mut got).await.unwrap());
            got
        });
        let written = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            write_frame(&mut writer, &frame),
        );
        written.await.expect("the writer never got room").unwrap();
        assert!(writer.waits() > 0, "the writer never had to wait for room");
        assert!(
            !writer.waits_for_room(),
            "the registration for writing outlived the frame"
        );
        assert_eq!(reading.await.unwrap(), frame);
    }

    /// The point of the quiet stream: a thread waiting for its reply is not woken when the
    /// other side reads its request. Counts the waiting thread's voluntary context switches
    /// (each wake-up from its sleep in epoll is one).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_waiting_side_is_not_woken_when_the_other_reads_its_request() {
        use std::io::{Read, Write};
        use std::sync::mpsc;
        use std::time::Duration;
        use tokio::io::AsyncReadExt;

        let (mine, theirs) = UnixStream::pair().unwrap();
        let (tid_tx, tid_rx) = mpsc::channel();
        let waiting = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut stream = QuietStream::new(mine).unwrap();
                write_frame(&mut stream, b"{\"request\":1}").await.unwrap();
                let me = std::fs::read_link("/proc/thread-self").unwrap();
                tid_tx.send(me.file_name().unwrap().to_owned()).unwrap();
                let mut reply = [0u8; 6];
                stream.read_exact(&mut reply).await.unwrap();
                reply
            })
        });
        let tid = tid_rx.recv().unwrap();
        let status = || {
            std::fs::read_to_string(
                std::path::Path::new("/proc/self/task")
                    .join(&tid)
                    .join("status"),
            )
            .unwrap()
        };
        let field = |name: &str| {
            status()
                .lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
                .unwrap()
        };
        let switches = || field("voluntary_ctxt_switches:").parse::<u64>().unwrap();
        let mut theirs = theirs;
        // Once the waiting thread sleeps (in epoll, for its reply), read its request.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !field("State:").starts_with('S') {
            assert!(std::time::Instant::now() < deadline, "never fell asleep");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(50));
        let asleep = switches();
        let mut request = [0u8; 14];
        theirs.read_exact(&mut request).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            switches(),
            asleep,
            "the waiting thread woke up when its request was read"
        );
        theirs.write_all(b"reply\n").unwrap();
        assert_eq!(&waiting.join().unwrap(), b"reply\n");
        assert_eq!(&request, b"{\"request\":1}\n");
    }
}
