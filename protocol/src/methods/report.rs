//! Verification reports: every check a signature went through, and a verdict that can only be
//! `valid` when every check passed.

use super::CertificateInfo;
use serde::{Deserialize, Serialize};

/// One check a signature must pass (RFC 5652 §5.6, RFC 5280 §6, RFC 8550 §3, RFC 8551 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

impl CheckName {
    /// The wire name, e.g. `validity_now`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::Digest => "digest",
            Self::Chain => "chain",
            Self::ValidityAtSigning => "validity_at_signing",
            Self::ValidityNow => "validity_now",
            Self::KeyUsage => "key_usage",
            Self::ExtendedKeyUsage => "extended_key_usage",
            Self::Address => "address",
            Self::Algorithms => "algorithms",
            Self::Revocation => "revocation",
        }
    }
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It passed.
    Pass,
    /// It failed.
    Fail,
    /// It could not be decided; never counts as a pass.
    Unknown,
    /// Deliberately not checked, by the company's policy: only the `revocation` check may be
    /// `not_checked` (revocation `off`, or `soft-fail` when no CRL or OCSP answer could be had),
    /// and then the verdict may still be `valid`, as with S/MIME clients that soft-fail. The
    /// reason says why (e.g. "responder 127.0.0.1:8080 timed out"). On any other check it
    /// counts as `unknown`, so that no other check can be skipped into a `valid` verdict.
    NotChecked,
}

impl Check {
    /// Whether this check allows a `valid` verdict: it passed, or it is the revocation
    /// check that the policy let go unchecked.
    pub fn allows_valid(&self) -> bool {
        match self.outcome {
            Outcome::Pass => true,
            Outcome::NotChecked => self.name == CheckName::Revocation,
            Outcome::Fail | Outcome::Unknown => false,
        }
    }
}

/// A check with its outcome and the reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Which check.
    pub name: CheckName,
    /// How it came out.
    pub outcome: Outcome,
    /// Why, for the user: "signed by alice@example.com", "certificate expired on …".
    pub reason: String,
}

/// The verdict on one signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed.
    Valid,
    /// At least one check failed.
    Invalid,
    /// No check failed, but at least one could not be decided.
    Unknown,
}

/// Everything known about one signature.
///
/// The verdict is computed from the checks when the report is made and checked again when a
/// report is read, so a report saying `valid` with a failed check cannot exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SignatureReportFields")]
pub struct SignatureReport {
    verdict: Verdict,
    signer: Option<CertificateInfo>,
    signing_time: Option<String>,
    checks: Vec<Check>,
}

#[derive(Deserialize)]
struct SignatureReportFields {
    verdict: Verdict,
    signer: Option<CertificateInfo>,
    signing_time: Option<String>,
    checks: Vec<Check>,
}

impl TryFrom<SignatureReportFields> for SignatureReport {
    type Error = String;

    fn try_from(fields: SignatureReportFields) -> Result<Self, Self::Error> {
        let report = Self::new(fields.signer, fields.signing_time, fields.checks);
        if report.verdict != fields.verdict {
            return Err(format!(
                "report says {:?} but its checks say {:?}",
                fields.verdict, report.verdict
            ));
        }
        Ok(report)
    }
}

impl SignatureReport {
    /// A report over `checks`; its verdict is `valid` only if there is at least one check and
    /// each passed (or is a revocation check the policy let go unchecked, see
    /// [`Outcome::NotChecked`]).
    pub fn new(
        signer: Option<CertificateInfo>,
        signing_time: Option<String>,
        checks: Vec<Check>,
    ) -> Self {
        let verdict = if checks.iter().any(|c| c.outcome == Outcome::Fail) || checks.is_empty() {
            Verdict::Invalid
        } else if !checks.iter().all(Check::allows_valid) {
            Verdict::Unknown
        } else {
            Verdict::Valid
        };
        Self {
            verdict,
            signer,
            signing_time,
            checks,
        }
    }

    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// The signer's certificate, when it was found.
    pub fn signer(&self) -> Option<&CertificateInfo> {
        self.signer.as_ref()
    }

    /// The signingTime attribute, RFC 3339, when present.
    pub fn signing_time(&self) -> Option<&str> {
        self.signing_time.as_deref()
    }

    /// Every check, in the order made.
    pub fn checks(&self) -> &[Check] {
        &self.checks
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
    fn valid_only_when_every_check_passes() {
        let pass = check(CheckName::Signature, Outcome::Pass);
        assert_eq!(
            SignatureReport::new(None, None, vec![pass.clone()]).verdict(),
            Verdict::Valid
        );
        assert_eq!(
            SignatureReport::new(None, None, vec![]).verdict(),
            Verdict::Invalid
        );
        let unknown = check(CheckName::Revocation, Outcome::Unknown);
        assert_eq!(
            SignatureReport::new(None, None, vec![pass.clone(), unknown.clone()]).verdict(),
            Verdict::Unknown
        );
        let fail = check(CheckName::Address, Outcome::Fail);
        let report = SignatureReport::new(None, None, vec![pass, unknown, fail]);
        assert_eq!(report.verdict(), Verdict::Invalid);
        assert_eq!(report.first_failure().unwrap().name, CheckName::Address);
    }

    #[test]
    fn a_forged_valid_verdict_does_not_deserialize() {
        let report =
            SignatureReport::new(None, None, vec![check(CheckName::Digest, Outcome::Fail)]);
        let mut json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["verdict"], "invalid");
        assert_eq!(json["checks"][0]["name"], "digest");
        assert_eq!(
            serde_json::from_value::<SignatureReport>(json.clone()).unwrap(),
            report
        );
        json["verdict"] = "valid".into();
        assert!(serde_json::from_value::<SignatureReport>(json).is_err());
    }

    #[test]
    fn only_revocation_may_go_unchecked_into_a_valid_verdict() {
        let pass = check(CheckName::Signature, Outcome::Pass);
        let soft = check(CheckName::Revocation, Outcome::NotChecked);
        let report = SignatureReport::new(None, None, vec![pass.clone(), soft.clone()]);
        assert_eq!(report.verdict(), Verdict::Valid);
        assert_eq!(
            serde_json::to_value(&report).unwrap()["checks"][1]["outcome"],
            "not_checked"
        );
        let skipped = check(CheckName::Chain, Outcome::NotChecked);
        assert_eq!(
            SignatureReport::new(None, None, vec![pass.clone(), skipped]).verdict(),
            Verdict::Unknown
        );
        let revoked = check(CheckName::Revocation, Outcome::Fail);
        assert_eq!(
            SignatureReport::new(None, None, vec![pass, revoked]).verdict(),
            Verdict::Invalid
        );
    }
}
