//! A throwaway CA (`ca.pem`, `ca.key`) and the S/MIME users it issues, made with the real
//! `openssl` in a temporary directory: the correspondents of the end-to-end tests and the
//! identities the bench measures. Every user `NAME` has `NAME.key`, `NAME.pem` and, once
//! exported, `NAME.p12` there.

use crate::{cms, openssl};
use std::path::{Path, PathBuf};

/// How long a certificate issued by [`Ca::issue`] is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity<'a> {
    /// From now on for this many days (`openssl x509 -days`).
    Days(u32),
    /// From the first to the second date (`YYYYMMDDHHMMSSZ`), for certificates that have
    /// expired or are not valid yet; only `openssl ca` takes explicit dates.
    Between(&'a str, &'a str),
}

/// The extensions of an S/MIME user certificate for `email` (subjectAltName, critical keyUsage
/// `key_usage`, extendedKeyUsage emailProtection) for [`Ca::issue`]: the profile the daemon
/// requires (RFC 8550), so a test varies only the key usage it is about.
pub fn email_extensions(email: &str, key_usage: &str) -> String {
    format!(
        "subjectAltName=email:{email}\nkeyUsage=critical,{key_usage}\nextendedKeyUsage=emailProtection\n"
    )
}

/// A CA and its users in a directory of their own.
pub struct Ca {
    dir: tempfile::TempDir,
}

impl Default for Ca {
    fn default() -> Self {
        Self::new()
    }
}

impl Ca {
    /// A new CA (`ca.pem`, `ca.key`) in a fresh temporary directory.
    pub fn new() -> Self {
        Self::create(tempfile::tempdir().expect("temp dir"))
    }

    /// A new CA in a fresh directory inside `parent`: for the bench, which keeps its PKI, its
    /// 1 GiB messages and its daemon's home together in one place it names.
    pub fn new_in(parent: &Path) -> Self {
        Self::create(tempfile::tempdir_in(parent).expect("temp dir"))
    }

    fn create(dir: tempfile::TempDir) -> Self {
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

    /// What OpenSSL, checking the signature against this CA, finds signed in `signed` (an
    /// S/MIME message): the proof that another implementation accepts it.
    pub fn openssl_verify(&self, signed: &[u8]) -> Vec<u8> {
        let file = self.write("openssl-verify.eml", signed);
        openssl(self.dir(), &cms::verify(&file))
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
        let mut args = cms::sign(signer, input);
        args.extend([
            "-from".to_owned(),
            format!("{signer}@example.com"),
            "-to".to_owned(),
            "ann@example.com".to_owned(),
            "-subject".to_owned(),
            subject.to_owned(),
        ]);
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        openssl(self.dir(), &args)
    }

    /// What OpenSSL, as the user `recipient` of this CA (`<recipient>.pem` and `.key`), reads
    /// in the encrypted S/MIME message `encrypted`: the proof that a correspondent with
    /// another implementation can read what was encrypted to them.
    pub fn openssl_decrypt(&self, encrypted: &[u8], recipient: &str) -> Vec<u8> {
        let file = self.write("openssl-decrypt.eml", encrypted);
        openssl(self.dir(), &cms::decrypt(recipient, &file))
    }
}
