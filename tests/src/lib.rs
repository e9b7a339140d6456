//! Test support for the end-to-end tests: build and start the real binaries, talk to them raw
//! or through the protocol client, and make keys and certificates with the real `openssl`.
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

/// Runs `command` to its end and returns its standard output, panicking with the command and
/// its standard error unless it exits 0: when a peer refuses, its own words are the diagnosis.
pub fn run(command: &mut Command) -> Vec<u8> {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} does not run: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `openssl` in `dir`, panicking with its stderr on failure.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    run(Command::new("openssl").args(args).current_dir(dir))
}

/// The error the daemon answered `result` with, panicking on success or on any other failure:
/// the tests of refusals check what the daemon said, not that the connection held.
pub fn daemon_error<T: std::fmt::Debug>(result: Result<T, ClientError>) -> RpcError {
    match result {
        Err(ClientError::Daemon(error)) => error,
        other => panic!("expected an error from the daemon, got {other:?}"),
    }
}

/// The SoftHSM2 PKCS#11 module as Debian installs it.
pub const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A SoftHSM2 token directory of its own with one empty token: a real PKCS#11 card for tests.
pub struct SoftHsm {
    /// The `SOFTHSM2_CONF` file naming the token directory.
    pub conf: PathBuf,
}

impl SoftHsm {
    /// A token `label` with user PIN `pin` (SO PIN 1234) in `dir/tokens`; `None`, saying
    /// "skipped", when SoftHSM2 is not installed.
    pub fn new(dir: &Path, label: &str, pin: &str) -> Option<Self> {
        if !Path::new(SOFTHSM).exists()
            || Command::new("softhsm2-util")
                .arg("--version")
                .output()
                .is_err()
        {
            println!("skipped: SoftHSM2 is not installed (CI installs softhsm2)");
            return None;
        }
        let tokens = dir.join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let hsm = Self { conf };
        hsm.softhsm(&[
            "--init-token",
            "--free",
            "--label",
            label,
            "--so-pin",
            "1234",
            "--pin",
            pin,
        ]);
        Some(hsm)
    }

    /// The environment a daemon needs to see the token.
    pub fn env(&self) -> [(&str, &str); 1] {
        [("SOFTHSM2_CONF", self.conf.to_str().unwrap())]
    }

    /// Runs `softhsm2-util` on this token directory.
    pub fn softhsm(&self, args: &[&str]) {
        run(Command::new("softhsm2-util")
            .args(args)
            .env("SOFTHSM2_CONF", &self.conf));
    }
}

/// The password of the PKCS#12 files that [`Pki::import_pkcs12`] and [`Pki::daemon`] import:
/// one for all, since no test is about a particular password there.
pub const P12_PASSWORD: &str = "pw";

/// How long a certificate issued by [`Pki::issue`] is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity<'a> {
    /// From now on for this many days (`openssl x509 -days`).
    Days(u32),
    /// From the first to the second date (`YYYYMMDDHHMMSSZ`), for certificates that have
    /// expired or are not valid yet; only `openssl ca` takes explicit dates.
    Between(&'a str, &'a str),
}

/// The extensions of an S/MIME user certificate for `email` (subjectAltName, critical keyUsage
/// `key_usage`, extendedKeyUsage emailProtection) for [`Pki::issue`]: the profile the daemon
/// requires (RFC 8550), so a test varies only the key usage it is about.
pub fn email_extensions(email: &str, key_usage: &str) -> String {
    format!(
        "subjectAltName=email:{email}\nkeyUsage=critical,{key_usage}\nextendedKeyUsage=emailProtection\n"
    )
}

/// A throwaway CA and users made with `openssl` in a temporary directory.
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

impl Pki {
    /// A new CA (`ca.pem`, `ca.key`) in a fresh directory.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "30",
                "-subj",
                "/CN=Test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Self { dir }
    }

    /// The directory with every file made.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `data` to the file `name` in [`Self::dir`] and returns `name`, to hand the file
    /// to a command run there.
    pub fn write(&self, name: &str, data: &[u8]) -> String {
        std::fs::write(self.dir().join(name), data).unwrap();
        name.to_owned()
    }

    /// A new unencrypted key `<name>.key` (`rsa:2048` or `ec` for P-256) and a certificate
    /// request `<name>.csr` for it with `subject` (`/CN=…`): apart from [`Self::issue`], so
    /// that requests made elsewhere (on a card, for a key in gpg-agent) are issued the same way.
    pub fn request(&self, name: &str, subject: &str, key: &str) {
        let (key_file, csr) = (format!("{name}.key"), format!("{name}.csr"));
        let mut args = vec![
            "req", "-new", "-nodes", "-subj", subject, "-keyout", &key_file, "-out", &csr,
        ];
        match key {
            "ec" => args.extend(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
            rsa => args.extend(["-newkey", rsa]),
        }
        openssl(self.dir(), &args);
    }

    /// Issues the certificate `<name>.pem` for the request `<name>.csr` with exactly the
    /// `extensions` (lines of an OpenSSL extension file, e.g. [`email_extensions`]), valid as
    /// `validity` says. `extra` are further options of the signing command (`openssl x509
    /// -req` for [`Validity::Days`], `openssl ca` for [`Validity::Between`]), such as
    /// `-inform DER` or `-force_pubkey`.
    pub fn issue(
        &self,
        name: &str,
        extensions: &str,
        validity: Validity<'_>,
        extra: &[&str],
    ) -> PathBuf {
        let (csr, ext, cert) = (
            format!("{name}.csr"),
            format!("{name}.ext"),
            format!("{name}.pem"),
        );
        self.write(&ext, extensions.as_bytes());
        let days;
        let mut args = match validity {
            Validity::Days(n) => {
                days = n.to_string();
                vec![
                    "x509",
                    "-req",
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    &days,
                ]
            }
            Validity::Between(start, end) => {
                self.ca_database();
                vec![
                    "ca",
                    "-batch",
                    "-notext",
                    "-config",
                    "ca.cnf",
                    "-cert",
                    "ca.pem",
                    "-keyfile",
                    "ca.key",
                    "-startdate",
                    start,
                    "-enddate",
                    end,
                ]
            }
        };
        args.extend(["-in", &csr, "-extfile", &ext, "-out", &cert]);
        args.extend_from_slice(extra);
        openssl(self.dir(), &args);
        self.dir().join(cert)
    }

    /// The configuration, index and serial file `openssl ca` needs, made once.
    fn ca_database(&self) {
        if self.dir().join("ca.cnf").exists() {
            return;
        }
        self.write(
            "ca.cnf",
            b"[ca]\ndefault_ca = CA_default\n[CA_default]\ndir = .\ndatabase = index.txt\n\
              new_certs_dir = .\nserial = serial\npolicy = policy_any\ndefault_md = sha256\n\
              [policy_any]\ncommonName = supplied\n",
        );
        self.write("index.txt", b"");
        self.write("serial", b"1000\n");
    }

    /// A user `name` with key `<name>.key` (`rsa:2048` or `ec` P-256) and certificate
    /// `<name>.pem` for `email`, issued by the CA.
    pub fn user(&self, name: &str, email: &str, key: &str) -> PathBuf {
        // RSA keys encrypt by key transport, EC keys by key agreement (RFC 8550 §4.4.2).
        let usage = if key == "ec" {
            "digitalSignature,keyAgreement"
        } else {
            "digitalSignature,keyEncipherment"
        };
        self.user_with(name, email, key, usage, Validity::Days(30))
    }

    /// A user as [`Self::user`] makes one, but with the key usage bits `key_usage` and
    /// `validity` given: the certificates a daemon has to judge and refuse (signing only,
    /// expired, not yet valid).
    pub fn user_with(
        &self,
        name: &str,
        email: &str,
        key: &str,
        key_usage: &str,
        validity: Validity<'_>,
    ) -> PathBuf {
        self.request(name, &format!("/CN={name}"), key);
        self.issue(name, &email_extensions(email, key_usage), validity, &[])
    }

    /// A PKCS#12 file `<name>.p12` of the user's key, certificate and the CA, under `password`,
    /// with extra `openssl pkcs12 -export` options (e.g. legacy algorithms).
    pub fn pkcs12(&self, name: &str, password: &str, extra: &[&str]) -> PathBuf {
        let (key, cert, out) = (
            format!("{name}.key"),
            format!("{name}.pem"),
            format!("{name}.p12"),
        );
        let pass = format!("pass:{password}");
        let mut args = vec![
            "pkcs12",
            "-export",
            "-inkey",
            &key,
            "-in",
            &cert,
            "-certfile",
            "ca.pem",
            "-name",
            name,
            "-passout",
            &pass,
            "-out",
            &out,
        ];
        args.extend_from_slice(extra);
        openssl(self.dir(), &args);
        self.dir().join(out)
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
        for user in users {
            self.import_pkcs12(&mut client, user).await.unwrap();
        }
        for name in correspondents {
            let pem = std::fs::read(self.dir().join(format!("{name}.pem"))).unwrap();
            client
                .call::<cert::Import>(&cert::ImportParams { data: pem.into() })
                .await
                .unwrap();
        }
        (daemon, client)
    }

    /// What OpenSSL, checking the signature against this CA, finds signed in `signed` (an
    /// S/MIME message): the proof that another implementation accepts it.
    pub fn openssl_verify(&self, signed: &[u8]) -> Vec<u8> {
        let file = self.write("openssl-verify.eml", signed);
        openssl(
            self.dir(),
            &["cms", "-verify", "-in", &file, "-CAfile", "ca.pem"],
        )
    }

    /// A mail OpenSSL signs as the user `signer` of this CA (`<signer>.pem` and `.key`, the CA
    /// in the signature), From `<signer>@example.com` To ann, with the file `input` (in this
    /// directory) as its content and `extra` options (`-out`, `-nodetach`, …): a
    /// correspondent's signed mail made by another implementation.
    pub fn openssl_sign_to_ann(
        &self,
        signer: &str,
        input: &str,
        subject: &str,
        extra: &[&str],
    ) -> Vec<u8> {
        let (cert, key, from) = (
            format!("{signer}.pem"),
            format!("{signer}.key"),
            format!("{signer}@example.com"),
        );
        let mut args = vec![
            "cms",
            "-sign",
            "-in",
            input,
            "-signer",
            &cert,
            "-inkey",
            &key,
            "-certfile",
            "ca.pem",
            "-from",
            &from,
            "-to",
            "ann@example.com",
            "-subject",
            subject,
        ];
        args.extend_from_slice(extra);
        openssl(self.dir(), &args)
    }

    /// What OpenSSL, as the user `recipient` of this CA (`<recipient>.pem` and `.key`), reads
    /// in the encrypted S/MIME message `encrypted`: the proof that a correspondent with
    /// another implementation can read what was encrypted to them.
    pub fn openssl_decrypt(&self, encrypted: &[u8], recipient: &str) -> Vec<u8> {
        let file = self.write("openssl-decrypt.eml", encrypted);
        let (cert, key) = (format!("{recipient}.pem"), format!("{recipient}.key"));
        openssl(
            self.dir(),
            &[
                "cms", "-decrypt", "-in", &file, "-recip", &cert, "-inkey", &key,
            ],
        )
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
