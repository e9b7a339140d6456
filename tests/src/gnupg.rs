//! A GnuPG home for tests against the real `gpgsm`: trust for one CA, loopback passphrases,
//! status lines, and the agent killed at the end. Shared by the gpgsm interoperability tests
//! and the company CA's PKCS#12 test.

use crate::{P12_PASSWORD as PASSWORD, mime};
use mailseal_test_support::ca::Ca;
use mailseal_test_support::run;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Whether the GnuPG tools these tests need are installed; the reason if not.
pub fn gnupg_missing() -> Option<String> {
    for tool in ["gpgsm", "gpg-agent", "gpgconf", "gpg-connect-agent"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!("{tool} not installed"));
        }
    }
    None
}

/// Returns from the test, saying why, when the GnuPG tools are missing.
#[macro_export]
macro_rules! require_gnupg {
    () => {
        if let Some(reason) = $crate::gnupg::gnupg_missing() {
            println!("skipped: {reason}");
            return;
        }
    };
}

/// A GNUPGHOME of its own for one test, trusting one CA; its agent is killed when dropped.
pub struct Gnupg {
    home: tempfile::TempDir,
}

impl Gnupg {
    /// A home trusting the test CA of `pki`.
    pub fn new(pki: &Ca) -> Self {
        Self::trusting(&pki.dir().join("ca.pem"))
    }

    /// A home trusting the CA certificate `ca_pem` (`S relax`), checking no CRLs, and letting
    /// the agent take passphrases over the loopback.
    pub fn trusting(ca_pem: &Path) -> Self {
        let home = tempfile::Builder::new()
            .prefix("gh")
            .tempdir()
            .expect("temp dir");
        std::fs::set_permissions(
            home.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        std::fs::write(
            home.path().join("gpgsm.conf"),
            "disable-crl-checks\ndisable-trusted-cert-crl-check\n",
        )
        .unwrap();
        std::fs::write(
            home.path().join("gpg-agent.conf"),
            "allow-loopback-pinentry\n",
        )
        .unwrap();
        std::fs::write(
            home.path().join("trustlist.txt"),
            format!("{} S relax\n", sha1_fingerprint(ca_pem)),
        )
        .unwrap();
        let gnupg = Self { home };
        gnupg.import(ca_pem);
        gnupg
    }

    /// The home directory.
    pub fn dir(&self) -> &Path {
        self.home.path()
    }

    /// Runs `tool` with this home; returns its output whatever the exit code.
    pub fn run(&self, tool: &str, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(tool)
            .arg("--homedir")
            .arg(self.dir())
            .args(args)
            .env("GNUPGHOME", self.dir())
            .env("LC_ALL", "C")
            .env("LANGUAGE", "")
            .current_dir(self.dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{tool} runs: {e}"));
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs `gpgsm --batch` with loopback passphrases from stdin and status lines on stdout;
    /// returns its output whatever the exit code.
    pub fn gpgsm_unchecked(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut all = vec![
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase-fd",
            "0",
            "--status-fd",
            "1",
        ];
        all.extend_from_slice(args);
        self.run("gpgsm", &all, stdin)
    }

    /// [`Self::gpgsm_unchecked`], panicking with gpgsm's messages unless it exits 0.
    pub fn gpgsm(&self, args: &[&str], stdin: &[u8]) -> Output {
        let out = self.gpgsm_unchecked(args, stdin);
        assert!(
            out.status.success(),
            "gpgsm {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Imports certificates (PEM or DER) without keys.
    pub fn import(&self, file: &Path) {
        self.gpgsm(&["--import", &path_str(file)], b"");
    }

    /// Imports a user's legacy PKCS#12 (key, certificate, CA) that `make` writes; the key ends
    /// up protected in the agent under the same password.
    ///
    /// gpgsm 2.2 now and then refuses a good file as if the password were wrong (status
    /// `ERROR import.parsep12 11`, seen now and then in CI with files made by `openssl pkcs12`,
    /// whose salts are random): such a file is made again, three attempts in all, so that this
    /// setup step does not decide the outcome of the tests that use it.
    pub fn import_p12(&self, make: impl Fn() -> PathBuf) {
        let mut attempts = 1;
        loop {
            let out = self.gpgsm_unchecked(
                &["--import", &path_str(&make())],
                format!("{PASSWORD}\n").as_bytes(),
            );
            let refused = String::from_utf8_lossy(&out.stdout).contains("ERROR import.parsep12");
            if !refused || attempts == 3 {
                return one_secret_key_imported(&out);
            }
            attempts += 1;
        }
    }

    /// Imports a PKCS#12 file protected by `password`, expecting one secret key.
    pub fn import_p12_with(&self, p12: &Path, password: &str) {
        let out = self.gpgsm_unchecked(
            &["--import", &path_str(p12)],
            format!("{password}\n").as_bytes(),
        );
        one_secret_key_imported(&out);
    }

    /// Makes a NIST P-256 key inside gpg-agent (unprotected) and returns its public point
    /// (uncompressed, 65 bytes) as a PEM SubjectPublicKeyInfo file in this home.
    pub fn agent_p256_key(&self) -> PathBuf {
        let param = self.dir().join("keyparam");
        std::fs::write(&param, "(genkey(ecc(curve \"NIST P-256\")(flags nocomp)))").unwrap();
        let out = self.run(
            "gpg-connect-agent",
            &[
                &format!("/definqfile KEYPARAM {}", path_str(&param)),
                "GENKEY --no-protection",
                "/bye",
            ],
            b"",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The reply is the canonical S-expression (public-key(ecc(curve …)(q 65:04…))) in
        // Assuan data lines ("D " and the data, with %, CR and LF as %XX); gpg-connect-agent's
        // own --decode mangles data holding a line feed, so decode them here.
        let mut sexp = Vec::new();
        for line in out.stdout.split(|&b| b == b'\n') {
            let Some(data) = line.strip_prefix(b"D ") else {
                continue;
            };
            let mut i = 0;
            while i < data.len() {
                if data[i] == b'%' && i + 2 < data.len() {
                    let hex = std::str::from_utf8(&data[i + 1..i + 3]).expect("ASCII escape");
                    sexp.push(u8::from_str_radix(hex, 16).expect("a %XX escape"));
                    i += 3;
                } else {
                    sexp.push(data[i]);
                    i += 1;
                }
            }
        }
        let marker = b"(1:q65:";
        let at = sexp
            .windows(marker.len())
            .position(|w| w == marker)
            .unwrap_or_else(|| {
                panic!(
                    "no public key in {:?}",
                    String::from_utf8_lossy(&out.stdout)
                )
            })
            + marker.len();
        let point = &sexp[at..at + 65];
        assert_eq!(point[0], 4, "an uncompressed point");
        // SubjectPublicKeyInfo for id-ecPublicKey on prime256v1, then the point.
        let mut spki = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        spki.extend_from_slice(point);
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\r\n{}-----END PUBLIC KEY-----\r\n",
            mime::encode_base64_lines(&spki)
        );
        let file = self.dir().join("agent-key.pub.pem");
        std::fs::write(&file, pem).unwrap();
        file
    }

    /// Writes `data` to `name` in the home; its path.
    pub fn write(&self, name: &str, data: &[u8]) -> String {
        let path = self.dir().join(name);
        std::fs::write(&path, data).unwrap();
        path_str(&path)
    }

    /// A mail with `headers` signed by `signer` with gpgsm: its detached signature over
    /// `entity`, wrapped into `multipart/signed` by hand; and gpgsm's output.
    pub fn signed_mail(&self, signer: &str, headers: &str, entity: &[u8]) -> (Vec<u8>, Output) {
        let file = self.write("entity", entity);
        let sig_path = self.dir().join(format!("{signer}.p7s"));
        let out = self.gpgsm(
            &[
                "--local-user",
                signer,
                "--sign",
                "--detach",
                "--output",
                &path_str(&sig_path),
                &file,
            ],
            format!("{PASSWORD}\n").as_bytes(),
        );
        let signature = std::fs::read(&sig_path).unwrap();
        let message = mime::multipart_signed(headers, entity, &signature, "sha-256");
        (message, out)
    }
}

impl Drop for Gnupg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.dir())
            .args(["--kill", "all"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A path as the string a command line takes.
pub fn path_str(path: &Path) -> String {
    path.to_str().expect("UTF-8 temp paths").to_owned()
}

/// gpgsm's `[GNUPG:]` status lines.
pub fn status_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("[GNUPG:] "))
        .map(str::to_owned)
        .collect()
}

/// Whether gpgsm said `keyword`.
pub fn has_status(out: &Output, keyword: &str) -> bool {
    status_lines(out)
        .iter()
        .any(|l| l.split(' ').next() == Some(keyword))
}

/// SHA-1 fingerprint of a PEM certificate as gpgsm prints it (hex, upper case, no colons).
pub fn sha1_fingerprint(cert: &Path) -> String {
    let out = String::from_utf8(run(Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha1", "-in"])
        .arg(cert)))
    .unwrap();
    out.trim().split_once('=').unwrap().1.replace(':', "")
}

/// Checks that a `gpgsm --import` exited 0 and imported one secret key.
fn one_secret_key_imported(out: &Output) {
    assert!(
        out.status.success(),
        "gpgsm --import failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // IMPORT_RES count no_user_id imported … sec_read sec_imported …: one secret key.
    let result = status_lines(out)
        .into_iter()
        .find(|l| l.starts_with("IMPORT_RES "))
        .expect("an IMPORT_RES status");
    let fields: Vec<&str> = result.split(' ').collect();
    assert_eq!(fields.get(11), Some(&"1"), "secret keys imported: {result}");
}
