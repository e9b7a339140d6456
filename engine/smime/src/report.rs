//! What the engine says about a message it opened: the layers taken off, and for each
//! signature a report of every check it went through, whose verdict can only be `Valid` when
//! every check passed.
//!
//! These are the engine's own types; the daemon turns them into its wire types in one place.

pub use crate::encryption::ContentEncryption;
use mailseal_keys::KeyId;
pub use mailseal_pkix::Outcome;
use std::time::SystemTime;
use x509_cert::Certificate;

/// How a signed message is shaped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SignatureMode {
    /// `multipart/signed` (RFC 8551 §3.5.3): readable by clients without S/MIME.
    #[default]
    Detached,
    /// `application/pkcs7-mime; smime-type=signed-data` (RFC 8551 §3.5.2): survives gateways
    /// that rewrite MIME, but is unreadable without S/MIME.
    Opaque,
}

/// One layer of protection taken off a message, outermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// The message was encrypted and has been decrypted.
    Encrypted {
        /// The content encryption algorithm.
        algorithm: ContentEncryption,
        /// The user's key that decrypted it.
        key_id: KeyId,
    },
    /// The message was signed; one report per signature.
    Signed {
        /// Detached or opaque.
        mode: SignatureMode,
        /// The signatures' reports.
        signatures: Vec<SignatureReport>,
    },
}

/// One check a signature must pass (RFC 5652 §5.6, RFC 5280 §6, RFC 8550 §3, RFC 8551 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckName {
    /// The signature value verifies with the signer's public key.
    Signature,
    /// The messageDigest attribute equals the digest of the content.
    Digest,
    /// The signer's certificate chains to a trust anchor.
    Chain,
    /// The signer's certificate was valid when the message says it was signed.
    ValidityAtSigning,
    /// The signer's certificate is valid now.
    ValidityNow,
    /// keyUsage allows signing (digitalSignature or nonRepudiation).
    KeyUsage,
    /// extendedKeyUsage allows email (emailProtection or anyExtendedKeyUsage), or is absent.
    ExtendedKeyUsage,
    /// The certificate names the message's From address.
    Address,
    /// No weak algorithm (e.g. SHA-1, RSA under 2048 bits) was used.
    Algorithms,
    /// The certificate has not been revoked.
    Revocation,
}

/// A check with its outcome and the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Which check.
    pub name: CheckName,
    /// How it came out.
    pub outcome: Outcome,
    /// Why, for the user: "signed by alice@example.com", "certificate expired on …".
    pub reason: String,
}

impl Check {
    /// Whether this check allows a `Valid` verdict: it passed, or it is the revocation check
    /// that the policy let go unchecked (see [`Outcome::NotChecked`]).
    pub fn allows_valid(&self) -> bool {
        match self.outcome {
            Outcome::Pass => true,
            Outcome::NotChecked => self.name == CheckName::Revocation,
            Outcome::Fail | Outcome::Unknown => false,
        }
    }
}

/// The verdict on one signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every check passed.
    Valid,
    /// At least one check failed.
    Invalid,
    /// No check failed, but at least one could not be decided.
    Unknown,
}

impl Verdict {
    /// The verdict `checks` allow: `Valid` only if there is at least one check and each
    /// allows it; `Invalid` if any failed (or there are none); else `Unknown`.
    pub fn of(checks: &[Check]) -> Self {
        if checks.is_empty() || checks.iter().any(|c| c.outcome == Outcome::Fail) {
            Self::Invalid
        } else if !checks.iter().all(Check::allows_valid) {
            Self::Unknown
        } else {
            Self::Valid
        }
    }
}

/// Everything known about one signature.
///
/// The fields are private and the verdict is computed from the checks when the report is
/// made, so a report saying `Valid` with a failed check cannot exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureReport {
    verdict: Verdict,
    signer: Option<Box<Certificate>>,
    signing_time: Option<String>,
    checks: Vec<Check>,
    judged_at: SystemTime,
}

impl SignatureReport {
    /// A report over `checks`, judged at `judged_at`.
    pub fn new(
        signer: Option<Certificate>,
        signing_time: Option<String>,
        checks: Vec<Check>,
        judged_at: SystemTime,
    ) -> Self {
        Self {
            verdict: Verdict::of(&checks),
            signer: signer.map(Box::new),
            signing_time,
            checks,
            judged_at,
        }
    }

    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// The signer's certificate, when it was found.
    pub fn signer(&self) -> Option<&Certificate> {
        self.signer.as_deref()
    }

    /// The signingTime attribute, RFC 3339, when present.
    pub fn signing_time(&self) -> Option<&str> {
        self.signing_time.as_deref()
    }

    /// Every check, in the order made.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// The moment the checks were made against (validity "now", revocation).
    pub fn judged_at(&self) -> SystemTime {
        self.judged_at
    }

    /// The first failed check, which names why the signature is not valid.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.outcome == Outcome::Fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: CheckName, outcome: Outcome) -> Check {
        Check {
            name,
            outcome,
            reason: String::new(),
        }
    }

    #[test]
    fn only_a_clean_set_of_checks_is_valid() {
        let report = |checks| SignatureReport::new(None, None, checks, SystemTime::now());
        assert_eq!(report(vec![]).verdict(), Verdict::Invalid);
        let pass = check(CheckName::Signature, Outcome::Pass);
        assert_eq!(report(vec![pass.clone()]).verdict(), Verdict::Valid);
        let unknown = check(CheckName::Chain, Outcome::Unknown);
        assert_eq!(
            report(vec![pass.clone(), unknown.clone()]).verdict(),
            Verdict::Unknown
        );
        let failed = check(CheckName::Digest, Outcome::Fail);
        assert_eq!(report(vec![unknown, failed]).verdict(), Verdict::Invalid);
        // Only the revocation check may be skipped by policy into a valid verdict.
        let unrevoked = check(CheckName::Revocation, Outcome::NotChecked);
        assert_eq!(
            report(vec![pass.clone(), unrevoked]).verdict(),
            Verdict::Valid
        );
        let skipped_chain = check(CheckName::Chain, Outcome::NotChecked);
        assert_eq!(
            report(vec![pass, skipped_chain]).verdict(),
            Verdict::Unknown
        );
    }
}
