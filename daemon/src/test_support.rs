//! Helpers for unit tests: certificates made by the real `openssl` and the shared corpus.

use std::path::{Path, PathBuf};
use std::process::Command;
use x509_cert::Certificate;

/// A folder of `../shared/corpora/rfc9216/`, or `None` (with a printed reason) when this
/// checkout has no `../shared` beside it, as in a user's own clone.
pub fn rfc9216(sub: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpora/rfc9216")
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
        crate::certs::describe::parse_certificates(&pem)
            .unwrap()
            .remove(0)
    }
}
