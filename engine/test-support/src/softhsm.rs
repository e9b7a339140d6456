//! SoftHSM2 token directories: real PKCS#11 cards for tests, each test with tokens of its own,
//! set up and filled with the real `softhsm2-util`, `pkcs11-tool` and `openssl`.
//!
//! SoftHSM2 finds its tokens through the file named by `SOFTHSM2_CONF`, so every command here
//! is given it, and whatever loads the module (a daemon, a test process) needs [`SoftHsm::env`].

use crate::{openssl, run};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The SoftHSM2 PKCS#11 module as Debian installs it.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The user PIN of every token made here.
pub const USER_PIN: &str = "5678";

/// The security officer's PIN of every token made here: no test is about it.
const SO_PIN: &str = "1234";

/// Whether SoftHSM2 calls its slots removable (`slots.removable`, CKF_REMOVABLE_DEVICE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slots {
    /// Fixed slots, as the end-to-end tests have always had them.
    Fixed,
    /// Removable slots, for the unit tests of card removal.
    Removable,
}

/// A SoftHSM2 configuration `softhsm2.conf` and its token directory `tokens` in a directory,
/// which is also where the files written to tokens are made.
pub struct SoftHsm {
    dir: PathBuf,
    conf: PathBuf,
}

impl SoftHsm {
    /// A new, empty token directory in `dir`; `None`, saying "skipped", when SoftHSM2 (the
    /// module or `softhsm2-util`) is not installed, so a test without it passes vacuously
    /// rather than fails on a machine that cannot run it.
    pub fn new(dir: &Path, slots: Slots) -> Option<Self> {
        let tool = Command::new("softhsm2-util").arg("--version").output();
        if !Path::new(MODULE).exists() || tool.is_err() {
            println!(
                "skipped: SoftHSM2 ({MODULE}, softhsm2-util) is not installed \
                 (CI installs softhsm2)"
            );
            return None;
        }
        let tokens = dir.join("tokens");
        std::fs::create_dir(&tokens).expect("token dir");
        let removable = slots == Slots::Removable;
        let hsm = Self::existing(dir);
        std::fs::write(
            &hsm.conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n\
                 slots.removable = {removable}\n",
                tokens.display()
            ),
        )
        .expect("config");
        Some(hsm)
    }

    /// The token directory [`Self::new`] made in `dir` earlier, e.g. in another process.
    pub fn existing(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            conf: dir.join("softhsm2.conf"),
        }
    }

    /// The directory holding the configuration, the tokens and the files made here.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The environment a process loading the module needs to see these tokens.
    pub fn env(&self) -> [(&str, &str); 1] {
        [("SOFTHSM2_CONF", self.conf.to_str().expect("UTF-8 path"))]
    }

    /// Runs `softhsm2-util` on these tokens.
    fn util(&self, args: &[&str]) {
        run(Command::new("softhsm2-util").args(args).envs(self.env()));
    }

    /// Initializes a token `label` (user PIN [`USER_PIN`]) in the next free slot.
    pub fn init_token(&self, label: &str) {
        self.util(&[
            "--init-token",
            "--free",
            "--label",
            label,
            "--so-pin",
            SO_PIN,
            "--pin",
            USER_PIN,
        ]);
    }

    /// Deletes the token `label`, as if the card were pulled out.
    pub fn delete_token(&self, label: &str) {
        self.util(&["--delete-token", "--token", label]);
    }

    /// Runs `pkcs11-tool` in [`Self::dir`] on the token `token`, logged in; its output.
    pub fn tool(&self, token: &str, args: &[&str]) -> Vec<u8> {
        run(Command::new("pkcs11-tool")
            .current_dir(&self.dir)
            .args([
                "--module",
                MODULE,
                "--token-label",
                token,
                "--login",
                "--pin",
                USER_PIN,
            ])
            .args(args)
            .envs(self.env()))
    }

    /// Writes the private key in the PEM file `key`, its public key and the certificate in the
    /// PEM file `cert` (both in [`Self::dir`]) to the token `token` as three
    /// objects with CKA_ID `id` (hex) and CKA_LABEL `label`, the private key with the usage
    /// flags `usage` (`--usage-sign`, …): an identity on a card as a card issuer writes it.
    /// Returns the private key's PKCS#8 DER, for comparing with a software key.
    pub fn write_identity(
        &self,
        token: &str,
        id: &str,
        label: &str,
        key: &str,
        cert: &str,
        usage: &[&str],
    ) -> Vec<u8> {
        let (pkcs8, public, cert_der) = (
            format!("{label}.p8.der"),
            format!("{label}.pub.der"),
            format!("{label}.crt.der"),
        );
        let dir = self.dir();
        openssl(
            dir,
            &[
                "pkcs8", "-topk8", "-nocrypt", "-in", key, "-outform", "DER", "-out", &pkcs8,
            ],
        );
        openssl(
            dir,
            &[
                "pkey", "-in", key, "-pubout", "-outform", "DER", "-out", &public,
            ],
        );
        openssl(
            dir,
            &["x509", "-in", cert, "-outform", "DER", "-out", &cert_der],
        );
        for (file, kind, flags) in [
            (&pkcs8, "privkey", usage),
            (&public, "pubkey", &[][..]),
            (&cert_der, "cert", &[][..]),
        ] {
            let object = [
                "--write-object",
                file,
                "--type",
                kind,
                "--id",
                id,
                "--label",
                label,
            ];
            self.tool(token, &[&object[..], flags].concat());
        }
        std::fs::read(dir.join(pkcs8)).expect("PKCS#8 key")
    }
}
