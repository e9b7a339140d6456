//! Test helpers shared by every Mailseal crate's tests and by the benchmark: keys,
//! certificates and signed messages made by the real `openssl` in temporary directories,
//! SoftHSM2 tokens as real PKCS#11 cards, and the shared RFC 9216 corpus.
//!
//! It depends on no Mailseal crate and hands out only `x509-cert` types, bytes and paths, so
//! the engine crates can use it in their own unit tests without a dependency cycle. What
//! needs a Mailseal type (a daemon, a protocol client, an engine key) stays with its user.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ca;
pub mod cms;
pub mod hostile;
pub mod pki;
pub mod softhsm;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use x509_cert::Certificate;

/// A folder of `../shared/corpora/rfc9216/`, or `None` (with a printed reason) when this
/// checkout has no `../shared` beside it, as in a user's own clone.
pub fn rfc9216(sub: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/rfc9216")
        .join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: {} is absent (no ../shared beside this checkout)",
            dir.display()
        );
        None
    }
}

/// Runs `command` to its end and returns its standard output, panicking with the command and
/// its output unless it exits 0: when a tool refuses, its own words are the diagnosis (some,
/// like `pkcs11-tool`, say them on standard output).
pub fn run(command: &mut Command) -> Vec<u8> {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} does not run: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stderr),
        if out.stderr.is_empty() {
            String::from_utf8_lossy(&out.stdout)
        } else {
            Default::default()
        }
    );
    out.stdout
}

/// Runs `openssl` with `args` in `dir` (see [`run`]); `args` may be borrowed or owned, as
/// the command lines of [`cms`] are owned.
pub fn openssl<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Vec<u8> {
    run(Command::new("openssl").args(args).current_dir(dir))
}

/// A temporary directory to make keys and certificates in with `openssl`.
pub struct TempPki(tempfile::TempDir);

impl Default for TempPki {
    fn default() -> Self {
        Self::new()
    }
}

impl TempPki {
    /// A fresh, empty directory.
    pub fn new() -> Self {
        Self(tempfile::tempdir().expect("temp dir"))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        self.0.path()
    }

    /// A self-signed certificate (`cert.pem`, key `key.pem`) with a new `rsa` (2048) or `ec`
    /// (P-256) key, and an optional SAN address.
    pub fn self_signed(&self, kind: &str, subject: &str, san: Option<&str>) -> Certificate {
        let newkey = match kind {
            "rsa" => vec!["-newkey", "rsa:2048"],
            "ec" => vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            other => panic!("unknown key kind {other}"),
        };
        let san = san.map(|addr| format!("subjectAltName=email:{addr}"));
        let mut args = vec!["req", "-x509", "-nodes", "-days", "30", "-subj", subject];
        args.extend(newkey);
        args.extend(["-keyout", "key.pem", "-out", "cert.pem"]);
        if let Some(san) = &san {
            args.extend(["-addext", san]);
        }
        openssl(self.dir(), &args);
        let pem = std::fs::read(self.dir().join("cert.pem")).unwrap();
        parse_pem(&pem)
    }
}

/// The first certificate of a PEM file.
pub fn parse_pem(pem: &[u8]) -> Certificate {
    use der::DecodePem;
    Certificate::from_pem(pem).expect("a PEM certificate")
}
