//! Tests against real SoftHSM2 tokens through the real cryptoki path, each test in its own
//! process with its own token directory.

mod enrol;
mod keys;
mod tokens;

use super::{Pkcs11, TokenError};
use crate::KeyId;
use crate::pkcs12::PrivateKeyDer;
use crate::software::SoftwareKey;
use mailseal_test_support::softhsm::{self, Slots};
use mailseal_test_support::{openssl, parse_pem};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use x509_cert::Certificate;

/// The user PIN every test token gets.
pub(super) const PIN: &[u8] = softhsm::USER_PIN.as_bytes();
/// Set in a child process to the one test it runs.
const CHILD_TEST: &str = "MAILSEAL_SOFTHSM_TEST";
/// The child's token directory's parent.
const CHILD_DIR: &str = "MAILSEAL_SOFTHSM_DIR";

/// A test's SoftHSM2 tokens and scratch directory, with what these tests do on them that
/// needs this crate's types (loading the module, software keys).
pub(super) struct SoftHsm(softhsm::SoftHsm);

/// Runs `body` against a fresh SoftHSM2 token directory, in a child process of this test
/// binary. SoftHSM2 reads `SOFTHSM2_CONF` once per process and keeps its tokens for the
/// process's life, and changing the environment of a multi-threaded test binary is unsound
/// (`std::env::set_var` is `unsafe`), so each test gets a process with its own environment.
pub(super) fn isolated(body: impl FnOnce(&SoftHsm)) {
    let thread = std::thread::current();
    let name = thread
        .name()
        .expect("libtest names test threads")
        .to_owned();
    assert_ne!(name, "main", "run from a libtest test thread");
    if std::env::var(CHILD_TEST).as_deref() == Ok(name.as_str()) {
        let dir = PathBuf::from(std::env::var_os(CHILD_DIR).expect("the parent sets it"));
        body(&SoftHsm(softhsm::SoftHsm::existing(&dir)));
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(hsm) = softhsm::SoftHsm::new(dir.path(), Slots::Removable) else {
        return;
    };
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_TEST, &name)
        .env(CHILD_DIR, dir.path())
        .envs(hsm.env())
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name} failed in its process");
    assert!(
        stdout.contains("1 passed"),
        "{name} did not run in its process"
    );
}

#[test]
fn pkcs11_is_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Pkcs11>();
    shared::<super::CardKey>();
}

/// Key types to make identities with.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Rsa2048,
    P256,
    P384,
}

/// A key and self-signed certificate made with `openssl` and written to a token.
pub(super) struct Identity {
    pub(super) certificate: Certificate,
    pub(super) software: SoftwareKey,
    /// The public key, PEM, for `openssl` to verify with.
    pub(super) public_pem: PathBuf,
}

impl Identity {
    pub(super) fn key_id(&self) -> KeyId {
        KeyId::of_certificate(&self.certificate)
    }
}

impl SoftHsm {
    pub(super) fn dir(&self) -> &Path {
        self.0.dir()
    }

    /// Initializes a token in the next free slot (user PIN [`PIN`]).
    pub(super) fn init_token(&self, label: &str) {
        self.0.init_token(label);
    }

    /// Deletes the token, as if the card were pulled out.
    pub(super) fn delete_token(&self, label: &str) {
        self.0.delete_token(label);
    }

    /// Runs `pkcs11-tool` on token `token`, logged in; its output.
    pub(super) fn tool(&self, token: &str, args: &[&str]) -> Vec<u8> {
        self.0.tool(token, args)
    }

    /// SoftHSM2 loaded directly.
    pub(super) fn load(&self, pin_cache: Duration) -> Pkcs11 {
        Pkcs11::load(&[PathBuf::from(softhsm::MODULE)], pin_cache)
    }

    /// Makes a key of `kind` and a certificate `CN=name` with `openssl`, and writes the
    /// private key, the public key and the certificate to token `token` with CKA_ID `id`.
    pub(super) fn identity(&self, token: &str, kind: Kind, id: &str, name: &str) -> Identity {
        let curve = match kind {
            Kind::Rsa2048 => None,
            Kind::P256 => Some("P-256"),
            Kind::P384 => Some("P-384"),
        };
        let key = format!("{name}.key.pem");
        let mut genpkey = vec!["genpkey", "-out", &key];
        let curve_option = curve.map(|curve| format!("ec_paramgen_curve:{curve}"));
        match &curve_option {
            None => genpkey.extend(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
            Some(option) => genpkey.extend(["-algorithm", "EC", "-pkeyopt", option]),
        }
        openssl(self.dir(), &genpkey);
        let public_pem = format!("{name}.pub.pem");
        let cert_pem = format!("{name}.crt.pem");
        openssl(
            self.dir(),
            &["pkey", "-in", &key, "-pubout", "-out", &public_pem],
        );
        let subject = format!("/CN={name}");
        let san = format!("subjectAltName=email:{name}@example.org");
        openssl(
            self.dir(),
            &[
                "req", "-x509", "-new", "-key", &key, "-subj", &subject, "-addext", &san, "-days",
                "30", "-out", &cert_pem,
            ],
        );
        let usage: &[&str] = match kind {
            Kind::Rsa2048 => &["--usage-sign", "--usage-decrypt"],
            _ => &["--usage-sign", "--usage-derive"],
        };
        let der = self
            .0
            .write_identity(token, id, name, &key, &cert_pem, usage);
        let pem = std::fs::read(self.dir().join(&cert_pem)).expect("certificate");
        Identity {
            certificate: parse_pem(&pem),
            software: SoftwareKey::from_pkcs8(&PrivateKeyDer::new(der)).expect("software key"),
            public_pem: self.dir().join(public_pem),
        }
    }

    /// Writes `data` to a file in the scratch directory and returns its name.
    pub(super) fn file(&self, name: &str, data: &[u8]) -> String {
        std::fs::write(self.dir().join(name), data).expect("write");
        name.to_owned()
    }

    /// Checks a signature with `openssl dgst -verify` (with `options`, e.g. for PSS).
    pub(super) fn verify(
        &self,
        public_pem: &Path,
        digest: &str,
        message: &[u8],
        signature: &[u8],
        options: &[&str],
    ) {
        let message = self.file("message.bin", message);
        let signature = self.file("signature.bin", signature);
        let public = public_pem.to_str().expect("UTF-8 path");
        let mut args = vec!["dgst", digest, "-verify", public, "-signature", &signature];
        args.extend(options);
        args.push(&message);
        let out = openssl(self.dir(), &args);
        assert_eq!(String::from_utf8_lossy(&out).trim(), "Verified OK");
    }
}

/// The serial number of the token labelled `label`.
pub(super) fn serial(pkcs11: &Pkcs11, label: &str) -> String {
    pkcs11
        .tokens()
        .into_iter()
        .find(|token| token.label == label)
        .map(|token| token.serial)
        .expect("the token is listed")
}

/// A key the test expects to get.
pub(super) fn key(pkcs11: &Pkcs11, key_id: &KeyId) -> Arc<dyn crate::backend::PrivateKeyOps> {
    match pkcs11.key(key_id) {
        Ok(key) => key,
        Err(error) => panic!("key {key_id}: {error}"),
    }
}

/// Asserts `result` failed with `PinRequired`.
pub(super) fn assert_pin_required<T>(result: Result<T, TokenError>) {
    assert!(
        matches!(result, Err(TokenError::PinRequired { .. })),
        "expected PinRequired, got {:?}",
        result.err()
    );
}
