//! The physical limit: what one core of this machine does with the bare primitives, measured by
//! `openssl speed`, and a cost model of each S/MIME operation built from them.

use crate::{KeyKind, Op};
use std::collections::BTreeMap;
use std::process::Command;

/// Operations per second (public-key) and bytes per second (symmetric) on one core.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// RSA by modulus bits: (private-key signs/s, public-key verifies/s).
    pub rsa: BTreeMap<u32, (f64, f64)>,
    /// ECDSA P-256: (signs/s, verifies/s).
    pub ecdsa_p256: (f64, f64),
    /// ECDH P-256 key derivations/s.
    pub ecdh_p256: f64,
    /// AES-256-GCM bytes/s on 16384-byte blocks.
    pub aes_256_gcm: f64,
    /// SHA-256 bytes/s on 16384-byte blocks.
    pub sha256: f64,
    /// The commands run, for the report.
    pub commands: Vec<String>,
}

/// Runs `openssl speed` for `seconds` per measurement and parses its machine-readable output.
pub fn measure(seconds: u32) -> Result<Limits, String> {
    let secs = seconds.to_string();
    let mut limits = Limits::default();
    let public_key = [
        "speed",
        "-seconds",
        &secs,
        "-mr",
        "rsa2048",
        "rsa3072",
        "ecdsap256",
        "ecdhp256",
    ];
    let aes = [
        "speed",
        "-seconds",
        &secs,
        "-mr",
        "-bytes",
        "16384",
        "-evp",
        "aes-256-gcm",
    ];
    let sha = [
        "speed", "-seconds", &secs, "-mr", "-bytes", "16384", "-evp", "sha256",
    ];
    for args in [&public_key[..], &aes[..], &sha[..]] {
        limits
            .commands
            .push(format!("openssl {}", args.join(" ").replace(" -mr", "")));
        let out = Command::new("openssl")
            .args(args)
            .output()
            .map_err(|e| format!("cannot run openssl speed: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "openssl {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        parse(&String::from_utf8_lossy(&out.stdout), &mut limits);
    }
    let missing = [
        (limits.rsa.contains_key(&2048), "RSA-2048"),
        (limits.rsa.contains_key(&3072), "RSA-3072"),
        (limits.ecdsa_p256.0 > 0.0, "ECDSA P-256"),
        (limits.ecdh_p256 > 0.0, "ECDH P-256"),
        (limits.aes_256_gcm > 0.0, "AES-256-GCM"),
        (limits.sha256 > 0.0, "SHA-256"),
    ];
    match missing.iter().find(|(found, _)| !found) {
        Some((_, what)) => Err(format!("openssl speed printed no result for {what}")),
        None => Ok(limits),
    }
}

/// Reads the `-mr` lines: `+F2:k:bits:sign/s:verify/s` (RSA), `+F4:k:bits:sign/s:verify/s`
/// (ECDSA), `+F5:k:bits:ops/s` (ECDH), `+F:k:NAME:bytes/s…` (EVP, one column per block size).
fn parse(output: &str, limits: &mut Limits) {
    for line in output.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        let number = |i: usize| fields.get(i).and_then(|f| f.trim().parse::<f64>().ok());
        match fields.first().copied() {
            Some("+F2") => {
                if let (Some(bits), Some(sign), Some(verify)) = (number(2), number(3), number(4)) {
                    limits.rsa.insert(bits as u32, (sign, verify));
                }
            }
            Some("+F4") if number(2) == Some(256.0) => {
                if let (Some(sign), Some(verify)) = (number(3), number(4)) {
                    limits.ecdsa_p256 = (sign, verify);
                }
            }
            Some("+F5") if number(2) == Some(256.0) => {
                if let Some(ops) = number(3) {
                    limits.ecdh_p256 = ops;
                }
            }
            Some("+F") => {
                let name = fields.get(2).map(|n| n.to_ascii_lowercase());
                // With `-bytes 16384` there is one column; otherwise the last is 16384 bytes.
                let rate = fields.last().and_then(|f| f.trim().parse::<f64>().ok());
                match (name.as_deref(), rate) {
                    (Some("aes-256-gcm"), Some(rate)) => limits.aes_256_gcm = rate,
                    (Some("sha256"), Some(rate)) => limits.sha256 = rate,
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

impl Limits {
    fn rsa(&self, bits: u32) -> (f64, f64) {
        self.rsa.get(&bits).copied().unwrap_or((f64::NAN, f64::NAN))
    }

    /// Seconds for one signature with `key`.
    fn sign(&self, key: KeyKind) -> f64 {
        match key {
            KeyKind::Rsa(bits) => 1.0 / self.rsa(bits).0,
            KeyKind::P256 => 1.0 / self.ecdsa_p256.0,
        }
    }

    /// Seconds to check one signature made with `key`.
    fn verify(&self, key: KeyKind) -> f64 {
        match key {
            KeyKind::Rsa(bits) => 1.0 / self.rsa(bits).1,
            KeyKind::P256 => 1.0 / self.ecdsa_p256.1,
        }
    }

    /// Seconds to wrap a content key for one recipient with `key`: an RSA public-key operation
    /// (as fast as a verification), or for P-256 an ephemeral key and one derivation (≈ 2 ECDH).
    fn key_transport(&self, key: KeyKind) -> f64 {
        match key {
            KeyKind::Rsa(bits) => 1.0 / self.rsa(bits).1,
            KeyKind::P256 => 2.0 / self.ecdh_p256,
        }
    }

    /// Seconds to unwrap the content key with `key`: one private-key operation or one ECDH.
    fn key_recovery(&self, key: KeyKind) -> f64 {
        match key {
            KeyKind::Rsa(bits) => 1.0 / self.rsa(bits).0,
            KeyKind::P256 => 1.0 / self.ecdh_p256,
        }
    }

    /// The least CPU time one core needs for `op` on a message of `bytes` with an identity of
    /// `key`, counting only the cryptography: hashing or AES over the message, and the
    /// public-key operations (the 3 recipients are RSA-2048, the signer's CA is RSA-2048).
    pub fn seconds_per_message(&self, op: Op, key: KeyKind, bytes: usize) -> f64 {
        let bytes = bytes as f64;
        let hash = bytes / self.sha256;
        let aes = bytes / self.aes_256_gcm;
        let sign = self.sign(key) + hash;
        let encrypt = 3.0 * self.key_transport(KeyKind::Rsa(2048)) + self.key_transport(key) + aes;
        match op {
            Op::Sign => sign,
            // The signer's certificate is checked against the (RSA-2048) CA too.
            Op::Verify => self.verify(key) + self.verify(KeyKind::Rsa(2048)) + hash,
            Op::Encrypt => encrypt,
            Op::Decrypt => self.key_recovery(key) + aes,
            Op::SignEncrypt => sign + encrypt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_machine_readable_output() {
        let mut limits = Limits::default();
        parse(
            "+DTP:2048:private:rsa:3\n+R2:13011:2048:3.00\n+F2:2:2048:4337.000000:75132.000000\n\
             +F4:3:256:65161.000000:22311.000000\n+F5:3:256:30358.585859:0.000033\n\
             +H:16384\n+F:25:AES-256-GCM:4564334157.58\n+F:25:sha256:1897647838.38\n",
            &mut limits,
        );
        assert_eq!(limits.rsa[&2048], (4337.0, 75132.0));
        assert_eq!(limits.ecdsa_p256, (65161.0, 22311.0));
        assert!((limits.ecdh_p256 - 30358.585859).abs() < 1e-6);
        assert!((limits.aes_256_gcm - 4564334157.58).abs() < 1e-3);
        assert!((limits.sha256 - 1897647838.38).abs() < 1e-3);
    }
}
