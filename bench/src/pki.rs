//! A throwaway CA, the identities measured and three recipients, made with the real `openssl`.

use crate::{IDENTITIES, KeyKind, RECIPIENTS};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The password of every PKCS#12 file, and the passphrase the daemon stores the keys under.
pub const PASSWORD: &str = "bench";

/// Runs `openssl` in `dir`; its standard output, or its standard error as the error.
pub fn openssl(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run openssl: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The directory with `ca.pem`/`ca.key`, and for every identity and recipient `NAME.key`,
/// `NAME.pem` (issued by the CA), plus `NAME.p12` for the identities.
pub struct Pki {
    /// Where the files are; also the working directory of every `openssl cms` run.
    pub dir: PathBuf,
}

impl Pki {
    /// Makes the CA, the identities (with PKCS#12 files) and the recipients in `dir`.
    pub fn create(dir: PathBuf) -> Result<Self, String> {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let pki = Self { dir };
        openssl(
            &pki.dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "30",
                "-subj",
                "/CN=Bench CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        )?;
        for identity in &IDENTITIES {
            pki.user(identity.name, identity.key)?;
            openssl(
                &pki.dir,
                &[
                    "pkcs12",
                    "-export",
                    "-inkey",
                    &format!("{}.key", identity.name),
                    "-in",
                    &format!("{}.pem", identity.name),
                    "-certfile",
                    "ca.pem",
                    "-name",
                    identity.name,
                    "-passout",
                    &format!("pass:{PASSWORD}"),
                    "-out",
                    &format!("{}.p12", identity.name),
                ],
            )?;
        }
        for recipient in RECIPIENTS {
            pki.user(recipient, KeyKind::Rsa(2048))?;
        }
        Ok(pki)
    }

    /// A key `NAME.key` and a certificate `NAME.pem` for `NAME@example.com`, issued by the CA.
    fn user(&self, name: &str, key: KeyKind) -> Result<(), String> {
        let (key_file, csr, cert, ext_file) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        let subject = format!("/CN={name}");
        let mut args = vec![
            "req", "-new", "-nodes", "-subj", &subject, "-keyout", &key_file, "-out", &csr,
        ];
        let rsa;
        match key {
            KeyKind::Rsa(bits) => {
                rsa = format!("rsa:{bits}");
                args.extend(["-newkey", &rsa]);
            }
            KeyKind::P256 => args.extend(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        }
        openssl(&self.dir, &args)?;
        // RSA keys are encrypted to by key transport, EC keys by key agreement (RFC 8550 §4.4.2).
        let usage = match key {
            KeyKind::Rsa(_) => "keyEncipherment",
            KeyKind::P256 => "keyAgreement",
        };
        let ext = format!(
            "subjectAltName=email:{name}@example.com\nkeyUsage=critical,digitalSignature,{usage}\nextendedKeyUsage=emailProtection\n"
        );
        std::fs::write(self.dir.join(&ext_file), ext).map_err(|e| e.to_string())?;
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "30",
                "-extfile",
                &ext_file,
                "-out",
                &cert,
            ],
        )?;
        Ok(())
    }

    /// The path of a file in the PKI directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}
