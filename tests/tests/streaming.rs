//! Messages larger than a frame, end to end through the real daemon: by file path, through
//! `stream.*` chunks, with progress notifications, and from the CLI; every result checked by
//! the real `openssl cms`.
//!
//! The daemon runs with a 64 KiB frame limit so that "larger than a frame" is quick to test.

use mailseal_protocol::methods::report::Verdict;
use mailseal_protocol::methods::smime::{self, ContentEncryption, SignatureMode};
use mailseal_protocol::methods::stream;
use mailseal_protocol::methods::transfer::{AbsolutePath, Delivered, Output, Payload, StreamId};
use mailseal_protocol::methods::{Empty, Method, daemon};
use mailseal_protocol::{Client, ErrorKind, Progress};
use mailseal_test_support::openssl;
use mailseal_tests::rpc::{only_encryption, only_signature};
use mailseal_tests::{Pki, TestDaemon, daemon_error};
use std::path::{Path, PathBuf};

const FRAME: usize = 64 * 1024;

/// A message of about `size` bytes from Ann to Bob: 7-bit text lines, so that it is sent as it
/// is and every line can be found again.
fn message(size: usize) -> Vec<u8> {
    let mut text = b"From: Ann <ann@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: big\r\nContent-Type: text/plain\r\n\r\n".to_vec();
    let mut line = 0;
    while text.len() < size {
        text.extend_from_slice(format!("line {line:08} of a large message\r\n").as_bytes());
        line += 1;
    }
    text
}

/// Ann owns the daemon (RSA); Bob (P-256) is a correspondent whose key only OpenSSL has.
struct World {
    pki: Pki,
    daemon: TestDaemon,
}

impl World {
    async fn new() -> (Self, Client) {
        let pki = Pki::new();
        pki.user("ann", "ann@example.com", "rsa:2048");
        pki.user("bob", "bob@example.com", "ec");
        let config = format!("{}max_frame_bytes = {FRAME}\n", pki.trust_config());
        let (daemon, client) = pki.daemon_with(&config, &["ann"], &["bob"]).await;
        (Self { pki, daemon }, client)
    }

    /// An absolute path in the PKI's directory (where OpenSSL runs).
    fn path(&self, name: &str) -> PathBuf {
        self.pki.dir().join(name)
    }

    fn openssl(&self, args: &[&str]) -> Vec<u8> {
        openssl(self.pki.dir(), args)
    }

    /// The stream files the daemon holds right now.
    fn stream_files(&self) -> usize {
        std::fs::read_dir(self.daemon.data_dir().join("streams")).map_or(0, |dir| dir.count())
    }
}

fn abs(path: &Path) -> AbsolutePath {
    AbsolutePath::new(path).unwrap()
}

fn by_path(path: &Path) -> Payload {
    Payload::Path(abs(path))
}

fn to_path(path: &Path) -> Option<Output> {
    Some(Output::Path(abs(path)))
}

fn encrypt_params(message: Payload, output: Option<Output>) -> smime::EncryptParams {
    smime::EncryptParams {
        message,
        output,
        progress: false,
        recipients: None,
        content_encryption: Some(ContentEncryption::Aes256Gcm),
        rsa_oaep: false,
    }
}

fn incoming(message: Payload, output: Option<Output>) -> smime::IncomingParams {
    smime::IncomingParams {
        message,
        output,
        progress: false,
    }
}

/// Files in `dir`, to show that a failed request left nothing behind.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn messages_larger_than_a_frame_go_by_path_both_ways_with_openssl() {
    let (world, mut client) = World::new().await;
    let plain = message(4 * FRAME);
    std::fs::write(world.path("plain.eml"), &plain).unwrap();

    // Inline, the message cannot even be sent.
    let too_big = daemon_error(
        client
            .call::<smime::Encrypt>(&encrypt_params(plain.clone().into(), None))
            .await,
    );
    assert_eq!(
        too_big.kind,
        ErrorKind::FrameTooLarge {
            limit: FRAME as u64
        }
    );
    let mut client = world.daemon.client().await;

    // Encrypted by path to a file: Bob reads it with OpenSSL.
    let result = client
        .call::<smime::Encrypt>(&encrypt_params(
            by_path(&world.path("plain.eml")),
            to_path(&world.path("sealed.eml")),
        ))
        .await
        .unwrap();
    let sealed = std::fs::read(world.path("sealed.eml")).unwrap();
    assert_eq!(
        result.message,
        Delivered::Path {
            path: abs(&world.path("sealed.eml")),
            bytes: sealed.len() as u64
        }
    );
    let read_by_bob = world.pki.openssl_decrypt(&sealed, "bob");
    assert!(read_by_bob.ends_with(b"of a large message\r\n"));
    assert!(read_by_bob.len() > 4 * FRAME - 200, "{}", read_by_bob.len());

    // And we decrypt it by path again.
    let opened = client
        .call::<smime::Decrypt>(&incoming(
            by_path(&world.path("sealed.eml")),
            to_path(&world.path("opened.eml")),
        ))
        .await
        .unwrap();
    assert_eq!(
        only_encryption(&opened.layers),
        ContentEncryption::Aes256Gcm
    );
    let text = std::fs::read(world.path("opened.eml")).unwrap();
    assert!(text.starts_with(b"From: Ann <ann@example.com>\r\n"));
    assert!(text.ends_with(&plain[plain.len() - 40..]));

    // OpenSSL encrypts a large message to Ann; we decrypt it by path.
    let inner = world.path("inner.txt");
    std::fs::write(&inner, &plain[plain.len() - 3 * FRAME..]).unwrap();
    let from_openssl = world.openssl(&[
        "cms",
        "-encrypt",
        "-aes-256-cbc",
        "-in",
        "inner.txt",
        "-to",
        "ann@example.com",
        "-subject",
        "from bob",
        "ann.pem",
    ]);
    std::fs::write(world.path("from-openssl.eml"), &from_openssl).unwrap();
    let opened = client
        .call::<smime::Decrypt>(&incoming(
            by_path(&world.path("from-openssl.eml")),
            to_path(&world.path("from-openssl-opened.eml")),
        ))
        .await
        .unwrap();
    assert_eq!(
        only_encryption(&opened.layers),
        ContentEncryption::Aes256Cbc
    );
    let text = std::fs::read(world.path("from-openssl-opened.eml")).unwrap();
    assert!(text.ends_with(&plain[plain.len() - 40..]));

    // Signed by path: OpenSSL verifies the large signed message...
    let signed = client
        .call::<smime::Sign>(&smime::SignParams {
            message: by_path(&world.path("plain.eml")),
            output: to_path(&world.path("signed.eml")),
            progress: false,
            key_id: None,
            mode: SignatureMode::Opaque,
            rsa_pss: false,
        })
        .await
        .unwrap();
    assert!(matches!(signed.message, Delivered::Path { .. }));
    let content = world
        .pki
        .openssl_verify(&std::fs::read(world.path("signed.eml")).unwrap());
    assert!(content.ends_with(&plain[plain.len() - 40..]));

    // ...and we verify OpenSSL's large signature by path.
    let from_bob = world
        .pki
        .openssl_sign_to_ann("bob", "inner.txt", "signed by bob", &[]);
    std::fs::write(world.path("from-bob.eml"), &from_bob).unwrap();
    let verified = client
        .call::<smime::Verify>(&incoming(
            by_path(&world.path("from-bob.eml")),
            to_path(&world.path("from-bob-opened.eml")),
        ))
        .await
        .unwrap();
    assert_eq!(only_signature(&verified.layers).verdict(), Verdict::Valid);
}

#[tokio::test]
async fn bad_paths_are_refused_and_a_failure_leaves_no_file() {
    let (world, mut client) = World::new().await;
    std::fs::write(world.path("plain.eml"), message(1000)).unwrap();
    let out_dir = world.path("out");
    std::fs::create_dir(&out_dir).unwrap();

    let cases: [(Payload, Option<Output>, &str); 4] = [
        (
            by_path(&world.path("missing.eml")),
            None,
            "params.message.path",
        ),
        (by_path(&out_dir), None, "params.message.path"),
        (
            by_path(&world.path("plain.eml")),
            to_path(&world.path("no/such/dir/sealed.eml")),
            "params.output.path",
        ),
        (
            by_path(&world.path("plain.eml")),
            to_path(&out_dir),
            "params.output.path",
        ),
    ];
    for (message, output, field) in cases {
        let err = daemon_error(
            client
                .call::<smime::Encrypt>(&encrypt_params(message, output))
                .await,
        );
        assert_eq!(
            err.kind,
            ErrorKind::BadPath {
                field: field.into()
            },
            "{err:?}"
        );
    }

    // A relative path is refused as it is read, before any file is looked at.
    let err = daemon_error(
        client
            .request(
                smime::Encrypt::NAME,
                serde_json::json!({"message": {"path": "plain.eml"}}),
            )
            .await,
    );
    assert_eq!(err.kind, ErrorKind::bad_input("params.message"));

    // Decrypting a message that is not encrypted fails after reading it: no output file, no
    // temporary file in the output's directory.
    let err = daemon_error(
        client
            .call::<smime::Decrypt>(&incoming(
                by_path(&world.path("plain.eml")),
                to_path(&out_dir.join("opened.eml")),
            ))
            .await,
    );
    assert_eq!(err.kind, ErrorKind::bad_input("params.message"));
    assert!(names(&out_dir).is_empty(), "{:?}", names(&out_dir));

    // The daemon keeps serving.
    client
        .call::<daemon::Ping>(&daemon::PingParams { delay_ms: 0 })
        .await
        .unwrap();
}

/// Writes `data` into a new stream in chunks that fit the frame limit.
async fn upload(client: &mut Client, data: &[u8]) -> StreamId {
    let opened = client.call::<stream::Open>(&Empty {}).await.unwrap();
    assert_eq!(opened.max_chunk_bytes, 720 * 1024);
    let mut written = 0;
    for chunk in data.chunks(FRAME / 2) {
        written = client
            .call::<stream::Write>(&stream::WriteParams {
                stream: opened.stream.clone(),
                data: chunk.to_vec().into(),
            })
            .await
            .unwrap()
            .bytes;
    }
    assert_eq!(written, data.len() as u64);
    opened.stream
}

/// Reads a whole stream in chunks that fit the frame limit.
async fn download(client: &mut Client, id: &StreamId) -> Vec<u8> {
    let mut data = Vec::new();
    loop {
        let chunk = client
            .call::<stream::Read>(&stream::ReadParams {
                stream: id.clone(),
                offset: data.len() as u64,
                length: Some((FRAME / 2) as u64),
            })
            .await
            .unwrap();
        data.extend_from_slice(chunk.data.as_slice());
        if chunk.eof {
            return data;
        }
    }
}

#[tokio::test]
async fn streams_carry_large_messages_and_belong_to_their_connection() {
    let (world, mut client) = World::new().await;
    let plain = message(3 * FRAME);
    let input = upload(&mut client, &plain).await;

    let sealed = client
        .call::<smime::Encrypt>(&encrypt_params(
            Payload::Stream(input.clone()),
            Some(Output::Stream),
        ))
        .await
        .unwrap();
    let Delivered::Stream {
        stream: output,
        bytes,
    } = sealed.message
    else {
        panic!("expected a stream, got {:?}", sealed.message);
    };
    let encrypted = download(&mut client, &output).await;
    assert_eq!(encrypted.len() as u64, bytes);
    let read_by_bob = world.pki.openssl_decrypt(&encrypted, "bob");
    assert!(read_by_bob.ends_with(&plain[plain.len() - 40..]));

    // Decrypted from the output stream into another stream.
    let opened = client
        .call::<smime::Decrypt>(&incoming(
            Payload::Stream(output.clone()),
            Some(Output::Stream),
        ))
        .await
        .unwrap();
    let Delivered::Stream {
        stream: decrypted, ..
    } = opened.message
    else {
        panic!("expected a stream");
    };
    let text = download(&mut client, &decrypted).await;
    assert!(text.ends_with(&plain[plain.len() - 40..]));
    assert_eq!(world.stream_files(), 3);

    // A refused request leaves no output stream behind.
    let not_encrypted = upload(&mut client, &message(1000)).await;
    let err = daemon_error(
        client
            .call::<smime::Decrypt>(&incoming(
                Payload::Stream(not_encrypted.clone()),
                Some(Output::Stream),
            ))
            .await,
    );
    assert_eq!(err.kind, ErrorKind::bad_input("params.message"));
    client
        .call::<stream::Close>(&stream::CloseParams {
            stream: not_encrypted,
        })
        .await
        .unwrap();
    assert_eq!(world.stream_files(), 3);

    // Another connection can neither read, write nor close them.
    let mut other = world.daemon.client().await;
    let err = daemon_error(
        other
            .call::<stream::Read>(&stream::ReadParams {
                stream: input.clone(),
                offset: 0,
                length: None,
            })
            .await,
    );
    assert_eq!(
        err.kind,
        ErrorKind::UnknownStream {
            stream: input.to_string()
        }
    );
    let err = daemon_error(
        other
            .call::<stream::Close>(&stream::CloseParams {
                stream: input.clone(),
            })
            .await,
    );
    assert!(matches!(err.kind, ErrorKind::UnknownStream { .. }));
    let err = daemon_error(
        other
            .call::<smime::Decrypt>(&incoming(Payload::Stream(output.clone()), None))
            .await,
    );
    assert!(matches!(err.kind, ErrorKind::UnknownStream { .. }));

    // Closed streams are gone; the rest go when the connection ends.
    let closed = client
        .call::<stream::Close>(&stream::CloseParams {
            stream: input.clone(),
        })
        .await
        .unwrap();
    assert_eq!(closed.bytes, plain.len() as u64);
    let err = daemon_error(
        client
            .call::<stream::Write>(&stream::WriteParams {
                stream: input,
                data: b"more".to_vec().into(),
            })
            .await,
    );
    assert!(matches!(err.kind, ErrorKind::UnknownStream { .. }));
    assert_eq!(world.stream_files(), 2);
    drop(client);
    // The daemon notices the hang-up; the other connection's ping comes back after it.
    for _ in 0..100 {
        if world.stream_files() == 0 {
            break;
        }
        other
            .call::<daemon::Ping>(&daemon::PingParams { delay_ms: 20 })
            .await
            .unwrap();
    }
    assert_eq!(world.stream_files(), 0, "streams outlived their connection");
}

#[tokio::test]
async fn progress_notifications_count_up_to_the_total() {
    let (world, mut client) = World::new().await;
    let plain = message(10 << 20);
    std::fs::write(world.path("plain.eml"), &plain).unwrap();
    let mut params = encrypt_params(
        by_path(&world.path("plain.eml")),
        to_path(&world.path("sealed.eml")),
    );
    params.progress = true;
    let mut seen: Vec<Progress> = Vec::new();
    client
        .call_with_progress::<smime::Encrypt>(&params, |p| seen.push(p.clone()))
        .await
        .unwrap();
    assert!(seen.len() >= 2, "{seen:?}");
    for pair in seen.windows(2) {
        assert!(pair[0].done <= pair[1].done, "{seen:?}");
    }
    for p in &seen {
        assert_eq!(p.total, plain.len() as u64);
        assert!(p.done <= p.total);
    }
    assert_eq!(seen.last().unwrap().done, plain.len() as u64);

    // Without asking, none come.
    params.progress = false;
    let mut none = 0;
    client
        .call_with_progress::<smime::Encrypt>(&params, |_| none += 1)
        .await
        .unwrap();
    assert_eq!(none, 0);
}

#[tokio::test]
async fn the_cli_passes_files_by_path() {
    let (world, _client) = World::new().await;
    let plain = message(2 * FRAME);
    std::fs::write(world.path("plain.eml"), &plain).unwrap();
    let sealed = world.path("sealed.eml");
    let out = world.daemon.cli(&[
        "encrypt",
        world.path("plain.eml").to_str().unwrap(),
        "-o",
        sealed.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let read_by_bob = world
        .pki
        .openssl_decrypt(&std::fs::read(&sealed).unwrap(), "bob");
    assert!(read_by_bob.ends_with(&plain[plain.len() - 40..]));

    let out = world.daemon.cli(&["decrypt", sealed.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.ends_with(&plain[plain.len() - 40..]));
    let layers = String::from_utf8_lossy(&out.stderr);
    assert!(layers.contains("encrypted"), "{layers}");
}

/// The daemon's peak resident memory so far (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    status_bytes(pid, "VmHWM:")
}

/// Forgets the daemon's peak resident memory (Linux `clear_refs` 5) and returns its resident
/// memory now (VmRSS), in bytes: the idle RSS that the next operation's peak is measured from,
/// whatever peaks came before (start-up, earlier operations).
fn reset_peak_rss(pid: u32) -> u64 {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    status_bytes(pid, "VmRSS:")
}

/// A `/proc/<pid>/status` line's value in bytes.
fn status_bytes(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .expect("the key in /proc/<pid>/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib * 1024
}

/// Writes a message of about `size` bytes to `path` without holding it.
fn write_large_message(path: &Path, size: u64) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(b"From: Ann <ann@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: big\r\nContent-Type: text/plain\r\n\r\n").unwrap();
    let line = b"a line of a very large message, to be encrypted in bounded memory\r\n";
    for _ in 0..size / line.len() as u64 {
        out.write_all(line).unwrap();
    }
    out.write_all(b"the end\r\n").unwrap();
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_large_message_is_encrypted_decrypted_and_signed_in_bounded_memory() {
    const SIZE: u64 = 256 << 20;
    const BOUND: u64 = 64 << 20;
    let (world, mut client) = World::new().await;
    let pid = world.daemon.child.as_ref().unwrap().id();
    write_large_message(&world.path("plain.eml"), SIZE);
    let idle = reset_peak_rss(pid);
    client
        .call::<smime::Encrypt>(&encrypt_params(
            by_path(&world.path("plain.eml")),
            to_path(&world.path("sealed.eml")),
        ))
        .await
        .unwrap();
    let after_encrypt = peak_rss(pid);
    let idle_decrypt = reset_peak_rss(pid);
    let opened = client
        .call::<smime::Decrypt>(&incoming(
            by_path(&world.path("sealed.eml")),
            to_path(&world.path("opened.eml")),
        ))
        .await
        .unwrap();
    let after_decrypt = peak_rss(pid);
    let idle_sign = reset_peak_rss(pid);
    client
        .call::<smime::Sign>(&smime::SignParams {
            message: by_path(&world.path("plain.eml")),
            output: to_path(&world.path("signed.eml")),
            progress: false,
            key_id: None,
            mode: SignatureMode::Detached,
            rsa_pss: false,
        })
        .await
        .unwrap();
    let after_sign = peak_rss(pid);
    // OpenSSL checks the large detached signature (and writes what it verified to a file).
    world.openssl(&[
        "cms",
        "-verify",
        "-in",
        "signed.eml",
        "-CAfile",
        "ca.pem",
        "-out",
        "verified.eml",
    ]);
    let verified_len = std::fs::metadata(world.path("verified.eml")).unwrap().len();
    assert!(verified_len > SIZE, "{verified_len}");
    assert_eq!(
        only_encryption(&opened.layers),
        ContentEncryption::Aes256Gcm
    );

    let plain_len = std::fs::metadata(world.path("plain.eml")).unwrap().len();
    let sealed_len = std::fs::metadata(world.path("sealed.eml")).unwrap().len();
    assert!(
        sealed_len > plain_len * 4 / 3,
        "{sealed_len} for {plain_len}"
    );
    let mut tail = vec![0u8; 64];
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut opened = std::fs::File::open(world.path("opened.eml")).unwrap();
        let opened_len = opened.seek(SeekFrom::End(-64)).unwrap() + 64;
        opened.read_exact(&mut tail).unwrap();
        // The outer headers (From, To, Subject) and MIME-Version came back in front; the body
        // is the same bytes.
        assert!(
            opened_len > SIZE && opened_len < plain_len + 100,
            "{opened_len}"
        );
    }
    assert!(tail.ends_with(b"message, to be encrypted in bounded memory\r\nthe end\r\n"));
    let mib = |b: u64| b >> 20;
    assert!(
        [
            (idle, after_encrypt),
            (idle_decrypt, after_decrypt),
            (idle_sign, after_sign)
        ]
        .iter()
        .all(|(idle, peak)| *peak <= idle + BOUND),
        "peak RSS grew from {} MiB to {} MiB (encrypt), from {} to {} MiB (decrypt) and from {} to {} MiB (sign) for a {} MiB message",
        mib(idle),
        mib(after_encrypt),
        mib(idle_decrypt),
        mib(after_decrypt),
        mib(idle_sign),
        mib(after_sign),
        mib(SIZE)
    );
}

/// Signs the `input` file in `mode` to `output`, both by path.
async fn sign_by_path(
    client: &mut Client,
    world: &World,
    input: &str,
    output: &str,
    mode: SignatureMode,
) {
    client
        .call::<smime::Sign>(&smime::SignParams {
            message: by_path(&world.path(input)),
            output: to_path(&world.path(output)),
            progress: false,
            key_id: None,
            mode,
            rsa_pss: false,
        })
        .await
        .unwrap();
}

/// Verifies the `input` file by path into `output` and returns its one signature's verdict
/// and mode.
async fn verify_by_path(
    client: &mut Client,
    world: &World,
    input: &str,
    output: &str,
) -> (Verdict, SignatureMode) {
    let verified = client
        .call::<smime::Verify>(&incoming(
            by_path(&world.path(input)),
            to_path(&world.path(output)),
        ))
        .await
        .unwrap();
    let mode = match verified.layers.as_slice() {
        [smime::Layer::Signed { mode, .. }] => *mode,
        other => panic!("expected one signed layer: {other:?}"),
    };
    (only_signature(&verified.layers).verdict(), mode)
}

/// The last `n` bytes of a file.
fn tail_of(path: &Path, n: usize) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).unwrap();
    file.seek(SeekFrom::End(-(n as i64))).unwrap();
    let mut tail = vec![0u8; n];
    file.read_exact(&mut tail).unwrap();
    tail
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn large_signed_messages_are_verified_in_bounded_memory() {
    const SIZE: u64 = 256 << 20;
    const BOUND: u64 = 64 << 20;
    let the_end = b"message, to be encrypted in bounded memory\r\nthe end\r\n";
    let (world, mut client) = World::new().await;
    let pid = world.daemon.child.as_ref().unwrap().id();
    write_large_message(&world.path("plain.eml"), SIZE);
    // (what, idle RSS before it, peak RSS during it)
    let mut peaks = Vec::new();

    // Our own detached and opaque signatures, verified by us by path.
    for (mode, signed, opened) in [
        (
            SignatureMode::Detached,
            "detached.eml",
            "detached-opened.eml",
        ),
        (SignatureMode::Opaque, "opaque.eml", "opaque-opened.eml"),
    ] {
        let idle = reset_peak_rss(pid);
        sign_by_path(&mut client, &world, "plain.eml", signed, mode).await;
        peaks.push((format!("sign {mode:?}"), idle, peak_rss(pid)));
        let idle = reset_peak_rss(pid);
        let verified = verify_by_path(&mut client, &world, signed, opened).await;
        assert_eq!(verified, (Verdict::Valid, mode), "{signed}");
        peaks.push((format!("verify {mode:?}"), idle, peak_rss(pid)));
        assert_eq!(tail_of(&world.path(opened), the_end.len()), the_end);
        let opened_len = std::fs::metadata(world.path(opened)).unwrap().len();
        assert!(opened_len > SIZE, "{opened_len}");
    }
    // OpenSSL reads our large opaque signature, written as DER with its lengths up front.
    world.openssl(&[
        "cms",
        "-verify",
        "-in",
        "opaque.eml",
        "-CAfile",
        "ca.pem",
        "-out",
        "opaque-by-openssl.eml",
    ]);
    assert_eq!(
        tail_of(&world.path("opaque-by-openssl.eml"), the_end.len()),
        the_end
    );

    // OpenSSL's large signatures, detached and (streamed as BER, in chunks) opaque, verified by
    // us by path.
    for (extra, signed, mode) in [
        (&[][..], "bob-detached.eml", SignatureMode::Detached),
        (
            &["-nodetach", "-stream"][..],
            "bob-opaque.eml",
            SignatureMode::Opaque,
        ),
    ] {
        let options = [&["-out", signed][..], extra].concat();
        world
            .pki
            .openssl_sign_to_ann("bob", "plain.eml", "signed by bob", &options);
        let opened = format!("{signed}.opened");
        let idle = reset_peak_rss(pid);
        let verified = verify_by_path(&mut client, &world, signed, &opened).await;
        assert_eq!(verified, (Verdict::Valid, mode), "{signed}");
        peaks.push((format!("verify OpenSSL's {mode:?}"), idle, peak_rss(pid)));
        assert_eq!(tail_of(&world.path(&opened), the_end.len()), the_end);
    }

    let mib = |b: u64| b >> 20;
    assert!(
        peaks.iter().all(|(_, idle, peak)| *peak <= idle + BOUND),
        "peak RSS above idle RSS for a {} MiB message: {:?}",
        mib(SIZE),
        peaks
            .iter()
            .map(|(what, idle, peak)| format!("{what}: {} MiB to {} MiB", mib(*idle), mib(*peak)))
            .collect::<Vec<_>>()
    );
}

/// Runs the CLI against `world`'s daemon in a terminal (`script` gives it one) and returns
/// what the terminal showed.
fn in_terminal(world: &World, args: &str) -> String {
    let command = format!(
        "{} --socket {} {args}",
        mailseal_tests::binary("mailseal").display(),
        world.daemon.socket().display(),
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(world.pki.dir())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args}: {screen}");
    screen
}

#[tokio::test]
async fn the_cli_draws_a_progress_bar_at_a_terminal_for_large_files_only() {
    let (world, _client) = World::new().await;
    write_large_message(&world.path("large.eml"), 12 << 20);
    std::fs::write(world.path("small.eml"), message(1000)).unwrap();

    let screen = in_terminal(&world, "encrypt large.eml -o large.p7m.eml");
    assert!(screen.contains("] 100% "), "{screen:?}");
    assert!(screen.contains(" MiB"), "{screen:?}");
    // Scripts get no bar: not in --json mode, not for small files.
    let screen = in_terminal(&world, "--json encrypt large.eml -o large2.p7m.eml");
    assert!(!screen.contains('%'), "{screen:?}");
    let screen = in_terminal(&world, "encrypt small.eml -o small.p7m.eml");
    assert!(!screen.contains('%'), "{screen:?}");
}
