//! Test helpers shared by every Mailseal crate's tests: keys, certificates and signed
//! messages made by the real `openssl` in temporary directories, and the shared RFC 9216
//! corpus.
//!
//! It depends on no Mailseal crate and hands out only `x509-cert` types and bytes, so the
//! engine crates can use it in their own unit tests without a dependency cycle.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod pki;

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

/// Runs `openssl` with `args` in `dir`, panicking with its stderr on failure.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
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
