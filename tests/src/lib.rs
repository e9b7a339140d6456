//! Test support for the end-to-end tests: build and start the real binaries, talk to them raw
//! or through the protocol client, and give them the keys and certificates that
//! `mailseal-test-support` makes with the real `openssl`.
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

pub mod gnupg;
pub mod slapd;

pub use mailseal_protocol::Client;
use mailseal_protocol::methods::{cert, key};
use mailseal_protocol::{ClientError, RpcError, Secret};
use mailseal_test_support::ca::Ca;

/// Path of a workspace binary (`mailseald`, `mailseal`), built fresh on first use so the tests
/// never run against a stale build.
pub fn binary(name: &str) -> PathBuf {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "mailseal-daemon",
                "-p",
                "mailseal-cli",
                "--bins",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the binaries failed");
    });
    // Test executables live in target/<profile>/deps; the binaries one level up.
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = dir.join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// What the daemon logs once it listens.
const READY: &str = " ready ";

/// A daemon started from the real `mailseald` binary in a temporary home of its own.
pub struct TestDaemon {
    /// The temporary directory holding socket, data, config and log.
    pub home: tempfile::TempDir,
    /// The daemon process, while it runs.
    pub child: Option<Child>,
    /// Extra environment for the daemon (e.g. `SOFTHSM2_CONF`).
    env: Vec<(String, String)>,
}

impl TestDaemon {
    /// Starts a daemon with the given extra `config.toml` lines and waits until it answers.
    pub fn start(config: &str) -> Self {
        Self::start_with_env(config, &[])
    }

    /// Starts a daemon with extra environment variables.
    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Self {
        let home = tempfile::tempdir().expect("temp dir");
        std::fs::write(home.path().join("config.toml"), config).expect("write config");
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut daemon = Self {
            home,
            child: None,
            env,
        };
        daemon.restart();
        daemon
    }

    /// The socket path.
    pub fn socket(&self) -> PathBuf {
        self.home.path().join("run").join("mailseal.sock")
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.home.path().join("data")
    }

    /// The daemon's log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("daemon.log")).unwrap_or_default()
    }

    /// The log once it contains `text`: for what the daemon logs from its background tasks,
    /// which may come after it already answers. Panics with the log after 20 seconds.
    pub fn wait_for_log(&self, text: &str) -> String {
        for _ in 0..200 {
            let log = self.log();
            if log.contains(text) {
                return log;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the daemon never logged {text:?}:\n{}", self.log());
    }

    /// A `mailseald serve` command for this home, not yet started.
    pub fn command(&self) -> Command {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.path().join("daemon.log"))
            .expect("open log");
        let mut cmd = Command::new(binary("mailseald"));
        cmd.arg("--config")
            .arg(self.home.path().join("config.toml"))
            .arg("serve")
            .arg("--socket")
            .arg(self.socket())
            .arg("--data-dir")
            .arg(self.data_dir())
            .env("RUST_LOG", "debug")
            // Hermetic: no company policy of the machine running the tests, unless a test sets one.
            .env("MAILSEAL_POLICY", self.home.path().join("policy.toml"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        cmd
    }

    /// Starts the daemon (again) and waits until it answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "daemon already running");
        let ready_before = self.log().matches(READY).count();
        self.child = Some(self.command().spawn().expect("start mailseald"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.log().matches(READY).count() == ready_before {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "mailseald exited with {status} during start:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "mailseald not ready:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal to the daemon (`TERM`, `KILL`, …).
    pub fn signal(&self, signal: &str) {
        let pid = self
            .child
            .as_ref()
            .expect("daemon running")
            .id()
            .to_string();
        let status = Command::new("kill")
            .args(["-s", signal, &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (at most 20 s) for the daemon to exit and returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let mut child = self.child.take().expect("daemon running");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "mailseald did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's process id, while it runs.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon running").id()
    }

    /// Whether this process may count the daemon's open files: the daemon makes itself not
    /// dumpable, which gives its `/proc/<pid>/fd` to root, so only root may (as in CI). Tests
    /// that count them say "skipped" otherwise.
    pub fn open_files_countable(&self) -> bool {
        let countable = std::fs::read_dir(format!("/proc/{}/fd", self.pid())).is_ok();
        if !countable {
            eprintln!(
                "skipped: the daemon's open files cannot be counted: it is not dumpable, so \
                 /proc/<pid>/fd belongs to root; run the tests as root"
            );
        }
        countable
    }

    /// How many files the daemon has open (Linux: `/proc/<pid>/fd`).
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("/proc/<pid>/fd of the daemon")
            .count()
    }

    /// A memory figure of the daemon in bytes, `VmRSS` (resident now) or `VmHWM` (peak
    /// resident) from `/proc/<pid>/status` (Linux).
    pub fn memory(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("/proc/<pid>/status of the daemon");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/<pid>/status"));
        kib * 1024
    }

    /// A protocol client connected to the daemon.
    pub async fn client(&self) -> Client {
        Client::connect(&self.socket())
            .await
            .expect("connect to the daemon")
    }

    /// Runs the `mailseal` CLI against this daemon.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_stdin(args, b"")
    }

    /// Runs the `mailseal` CLI with `stdin` as its standard input.
    pub fn cli_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(binary("mailseal"))
            .arg("--socket")
            .arg(self.socket())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run mailseal");
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sets this test process's open-file limits (`soft:hard`, either may be empty) with util-linux
/// `prlimit`; the daemons it starts afterwards inherit them.
pub fn limit_open_files(limits: &str) {
    let status = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={limits}"))
        .status()
        .expect("run prlimit (util-linux)");
    assert!(status.success(), "prlimit --nofile={limits} failed");
}

/// The soft and hard open-file limits of process `pid` (`self` for this one), from
/// `/proc/<pid>/limits` (Linux).
pub fn open_file_limits(pid: &str) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("open-file limit listed");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

/// The error the daemon answered `result` with, panicking on success or on any other failure:
/// the tests of refusals check what the daemon said, not that the connection held.
pub fn daemon_error<T: std::fmt::Debug>(result: Result<T, ClientError>) -> RpcError {
    match result {
        Err(ClientError::Daemon(error)) => error,
        other => panic!("expected an error from the daemon, got {other:?}"),
    }
}

/// The password of the PKCS#12 files that [`Pki::import_pkcs12`] and [`Pki::daemon`] import:
/// one for all, since no test is about a particular password there.
pub const P12_PASSWORD: &str = "pw";

/// The [`Ca`] of a test and the daemons of its users. It derefs to the CA, so that a test
/// makes certificates and runs openssl on it directly; what is here needs a daemon.
pub struct Pki(Ca);

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

impl std::ops::Deref for Pki {
    type Target = Ca;

    fn deref(&self) -> &Ca {
        &self.0
    }
}

impl Pki {
    /// A new CA in a fresh directory.
    pub fn new() -> Self {
        Self(Ca::new())
    }

    /// The `config.toml` line that makes a daemon trust this CA, so that certificates it
    /// issued verify.
    pub fn trust_config(&self) -> String {
        format!("trusted_ca_files = [{:?}]\n", self.dir().join("ca.pem"))
    }

    /// Imports `user`'s PKCS#12 (made here under [`P12_PASSWORD`]) into the daemon of
    /// `client`; the result is left to the caller, for tests of what importing does.
    pub async fn import_pkcs12(
        &self,
        client: &mut Client,
        user: &str,
    ) -> Result<key::ImportPkcs12Result, ClientError> {
        let p12 = std::fs::read(self.pkcs12(user, P12_PASSWORD, &[])).unwrap();
        client
            .call::<key::ImportPkcs12>(&key::ImportPkcs12Params {
                data: p12.into(),
                password: Secret::new(P12_PASSWORD.into()),
                passphrase: None,
            })
            .await
    }

    /// A daemon trusting this CA, as most tests of mail need one: see [`Self::daemon_with`].
    pub async fn daemon(&self, users: &[&str], correspondents: &[&str]) -> (TestDaemon, Client) {
        self.daemon_with(&self.trust_config(), users, correspondents)
            .await
    }

    /// A daemon started with `config` that holds the keys of `users` (their PKCS#12 imported)
    /// and knows the certificates of `correspondents` (imported), with a client connected to
    /// it: the daemon of someone who signs and decrypts, and encrypts to those people.
    pub async fn daemon_with(
        &self,
        config: &str,
        users: &[&str],
        correspondents: &[&str],
    ) -> (TestDaemon, Client) {
        let daemon = TestDaemon::start(config);
        let mut client = daemon.client().await;
        self.provision(&mut client, users, correspondents).await;
        (daemon, client)
    }

    /// Imports the keys of `users` (their PKCS#12) and the certificates of `correspondents`
    /// into the daemon of `client`, as [`Self::daemon_with`] does for a daemon it starts.
    pub async fn provision(&self, client: &mut Client, users: &[&str], correspondents: &[&str]) {
        for user in users {
            self.import_pkcs12(client, user).await.unwrap();
        }
        for name in correspondents {
            let pem = std::fs::read(self.dir().join(format!("{name}.pem"))).unwrap();
            client
                .call::<cert::Import>(&cert::ImportParams { data: pem.into() })
                .await
                .unwrap();
        }
    }
}

/// The daemon's S/MIME calls with the parameters most tests want, and readers of the reports
/// they return, so that a test spells out only what it is about.
pub mod rpc {
    use mailseal_protocol::methods::report::{Check, CheckName, SignatureReport};
    use mailseal_protocol::methods::smime::{
        self, ContentEncryption, Layer, OpenedResult, SignatureMode,
    };
    use mailseal_protocol::methods::{Method, daemon, token};
    use mailseal_protocol::{Client, ClientError};

    /// A new P-256 key on the card `token` (logged in) labelled `label`, and a certificate
    /// request for it made on the card for `name` <`email`>: the key's id and the DER request.
    pub async fn card_key_and_request(
        client: &mut Client,
        token: &str,
        label: &str,
        name: &str,
        email: &str,
    ) -> (String, Vec<u8>) {
        let generated = client
            .call::<token::GenerateKey>(&token::GenerateKeyParams {
                token: token.into(),
                algorithm: token::CardKeyAlgorithm::EcP256,
                label: label.into(),
            })
            .await
            .unwrap();
        let csr = client
            .call::<token::Csr>(&token::CsrParams {
                token: token.into(),
                id: generated.id.clone(),
                name: name.into(),
                email: email.into(),
            })
            .await
            .unwrap();
        (generated.id, csr.csr.into_inner())
    }

    /// Signs `message` in `mode` with the identity the daemon picks for its From address
    /// (PKCS #1 v1.5 for RSA); the signed message.
    pub async fn sign(
        client: &mut Client,
        message: &[u8],
        mode: SignatureMode,
    ) -> Result<Vec<u8>, ClientError> {
        client
            .call::<smime::Sign>(&smime::SignParams {
                message: message.to_vec().into(),
                output: None,
                progress: false,
                key_id: None,
                mode,
                rsa_pss: false,
            })
            .await
            .map(|result| result.message.into_inline().expect("an inline reply"))
    }

    /// Encrypts `message` to its addressees and the sender with the algorithm the daemon
    /// chooses (RSA key transport with PKCS #1 v1.5); the encrypted message.
    pub async fn encrypt(client: &mut Client, message: &[u8]) -> Result<Vec<u8>, ClientError> {
        client
            .call::<smime::Encrypt>(&smime::EncryptParams {
                message: message.to_vec().into(),
                output: None,
                progress: false,
                recipients: None,
                content_encryption: None,
                rsa_oaep: false,
            })
            .await
            .map(|result| result.message.into_inline().expect("an inline reply"))
    }

    /// Signs `message` and encrypts the signed message (and, with `triple_wrap`, signs that
    /// again, RFC 2634 §1.1), with the daemon's choice of identity and algorithms.
    pub async fn sign_encrypt(
        client: &mut Client,
        message: &[u8],
        triple_wrap: bool,
    ) -> Result<Vec<u8>, ClientError> {
        client
            .call::<smime::SignEncrypt>(&smime::SignEncryptParams {
                message: message.to_vec().into(),
                output: None,
                progress: false,
                key_id: None,
                recipients: None,
                content_encryption: None,
                triple_wrap,
                rsa_pss: false,
                rsa_oaep: false,
            })
            .await
            .map(|result| result.message.into_inline().expect("an inline reply"))
    }

    async fn incoming<M>(client: &mut Client, message: &[u8]) -> Result<OpenedResult, ClientError>
    where
        M: Method<Params = smime::IncomingParams, Result = OpenedResult>,
    {
        client
            .call::<M>(&smime::IncomingParams {
                message: message.to_vec().into(),
                output: None,
                progress: false,
            })
            .await
    }

    /// `smime.open`: every layer of `message` taken off, as a mail client shows incoming mail.
    pub async fn open(client: &mut Client, message: &[u8]) -> Result<OpenedResult, ClientError> {
        incoming::<smime::Open>(client, message).await
    }

    /// `smime.verify`: the signature of `message` checked, for tests of signatures only.
    pub async fn verify(client: &mut Client, message: &[u8]) -> Result<OpenedResult, ClientError> {
        incoming::<smime::Verify>(client, message).await
    }

    /// `smime.decrypt`: `message` decrypted, for tests of encryption only.
    pub async fn decrypt(client: &mut Client, message: &[u8]) -> Result<OpenedResult, ClientError> {
        incoming::<smime::Decrypt>(client, message).await
    }

    /// Pings over `client`, panicking unless the daemon answers: it is still serving.
    pub async fn ping(client: &mut Client) {
        client
            .call::<daemon::Ping>(&daemon::PingParams::default())
            .await
            .unwrap();
    }

    /// The report of the one signature in `layers`, which must be one signed layer with one
    /// signature and nothing else, so that anything more (or less) fails the test.
    pub fn only_signature(layers: &[Layer]) -> &SignatureReport {
        match layers {
            [Layer::Signed { signatures, .. }] if signatures.len() == 1 => &signatures[0],
            other => panic!("expected one signed layer with one signature: {other:?}"),
        }
    }

    /// The content encryption of `layers`, which must be one encrypted layer and nothing else,
    /// so that anything more (or less) fails the test.
    pub fn only_encryption(layers: &[Layer]) -> ContentEncryption {
        match layers {
            [Layer::Encrypted { algorithm, .. }] => *algorithm,
            other => panic!("expected one encrypted layer: {other:?}"),
        }
    }

    /// The check `name` of `report`, panicking when the report lacks it: a dropped check
    /// fails the test rather than passing unexamined.
    pub fn check(report: &SignatureReport, name: CheckName) -> &Check {
        report
            .checks()
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name:?} check in {report:?}"))
    }
}

/// Taking S/MIME messages apart and putting them together by hand, independently of the
/// daemon's MIME code, so that other tools (gpgsm, openssl) can be given the raw CMS and the
/// exact signed bytes, and their output can be wrapped into mail.
pub mod mime {
    use base64::Engine;

    /// Standard base64 (RFC 4648 §4), as S/MIME bodies use it.
    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

    /// The header block and the body of a message or entity, split at the first empty line
    /// (CRLF or bare LF).
    pub fn split_head(message: &[u8]) -> (&[u8], &[u8]) {
        for i in 0..message.len() {
            if message[i..].starts_with(b"\r\n\r\n") {
                return (&message[..i + 2], &message[i + 4..]);
            }
            if message[i..].starts_with(b"\n\n") {
                return (&message[..i + 1], &message[i + 2..]);
            }
        }
        (message, &[])
    }

    /// The body of `message` as text, for checking what a reader of it sees.
    pub fn body_text(message: &[u8]) -> String {
        String::from_utf8_lossy(split_head(message).1).into_owned()
    }

    /// The value of header `name` (case-insensitive), unfolded, from the header block of
    /// `message`.
    pub fn header(message: &[u8], name: &str) -> Option<String> {
        let (head, _) = split_head(message);
        let head = String::from_utf8_lossy(head).replace("\r\n", "\n");
        let mut found: Option<String> = None;
        for line in head.split('\n') {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = found.as_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((key, value)) = line.split_once(':')
                && key.trim().eq_ignore_ascii_case(name)
            {
                found = Some(value.trim().to_owned());
            }
        }
        found
    }

    /// A parameter of a structured header value such as Content-Type, unquoted.
    pub fn parameter(value: &str, name: &str) -> Option<String> {
        value.split(';').skip(1).find_map(|param| {
            let (key, value) = param.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().trim_matches('"').to_owned())
        })
    }

    fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
        haystack
            .get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|at| at + from)
    }

    /// Decodes a base64 body, ignoring line breaks and other white space.
    pub fn decode_base64(body: &[u8]) -> Vec<u8> {
        let clean: Vec<u8> = body
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        B64.decode(clean).expect("the body is base64")
    }

    /// Base64 in CRLF-terminated lines of 76 characters, as mail carries it.
    pub fn encode_base64_lines(data: &[u8]) -> String {
        let text = B64.encode(data);
        let mut out = String::with_capacity(text.len() + text.len() / 38 + 2);
        for chunk in text.as_bytes().chunks(76) {
            out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
            out.push_str("\r\n");
        }
        out
    }

    /// The two parts of a `multipart/signed` message (RFC 1847, RFC 8551 §3.5.3): the exact
    /// bytes of the signed entity (without the CRLF that belongs to the next boundary) and the
    /// decoded DER of the detached signature.
    pub fn split_multipart_signed(message: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let content_type = header(message, "Content-Type").expect("a Content-Type header");
        assert!(
            content_type
                .to_ascii_lowercase()
                .starts_with("multipart/signed"),
            "not multipart/signed: {content_type}"
        );
        let boundary = parameter(&content_type, "boundary").expect("a boundary");
        let (_, body) = split_head(message);
        let open = format!("--{boundary}\r\n");
        let delimiter = format!("\r\n--{boundary}");
        let start = if body.starts_with(open.as_bytes()) {
            open.len()
        } else {
            find(body, format!("\r\n{open}").as_bytes(), 0).expect("a first boundary")
                + open.len()
                + 2
        };
        let end = find(body, delimiter.as_bytes(), start).expect("a second boundary");
        let entity = body[start..end].to_vec();
        let part_start = end + delimiter.len() + 2;
        let part_end = find(body, delimiter.as_bytes(), part_start).expect("a closing boundary");
        let part = &body[part_start..part_end];
        let part_type = header(part, "Content-Type").expect("the signature part's type");
        assert!(
            part_type.contains("pkcs7-signature"),
            "second part is {part_type}"
        );
        let (_, signature) = split_head(part);
        (entity, decode_base64(signature))
    }

    /// The DER inside an `application/pkcs7-mime` message (base64 body).
    pub fn pkcs7_mime_der(message: &[u8]) -> Vec<u8> {
        let content_type = header(message, "Content-Type").expect("a Content-Type header");
        assert!(
            content_type.contains("pkcs7-mime"),
            "not application/pkcs7-mime: {content_type}"
        );
        decode_base64(split_head(message).1)
    }

    /// A `multipart/signed` message from `headers` (CRLF-terminated lines such as From, To,
    /// Subject), the signed `entity` (canonical, CRLF) and a detached signature (DER).
    pub fn multipart_signed(
        headers: &str,
        entity: &[u8],
        signature: &[u8],
        micalg: &str,
    ) -> Vec<u8> {
        let boundary = "----=_mailseal_test_boundary_7c1f";
        let mut out = format!(
            "{headers}MIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg={micalg}; boundary=\"{boundary}\"\r\n\r\nThis is an S/MIME signed message.\r\n\r\n--{boundary}\r\n"
        )
        .into_bytes();
        out.extend_from_slice(entity);
        out.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n{}\r\n--{boundary}--\r\n",
                encode_base64_lines(signature).trim_end()
            )
            .as_bytes(),
        );
        out
    }

    /// An `application/pkcs7-mime` message of `smime_type` (`enveloped-data`, `signed-data`,
    /// …) carrying `der` in base64, after `headers` (CRLF-terminated lines).
    pub fn pkcs7_mime(headers: &str, smime_type: &str, der: &[u8]) -> Vec<u8> {
        format!(
            "{headers}MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type={smime_type}; name=\"smime.p7m\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n{}",
            encode_base64_lines(der)
        )
        .into_bytes()
    }
}
