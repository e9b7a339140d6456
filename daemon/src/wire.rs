//! The one place where the engines' types become the protocol's wire types, and back.
//!
//! The engine crates (`mailseal-smime`, `mailseal-ca`, …) know nothing of the protocol, so
//! every value that crosses the socket is translated here: enums variant by variant (a variant
//! added on one side and not the other fails to compile), reports by rebuilding them on the
//! wire side, whose type checks again that `valid` is only said with every check passed.
//! Errors are translated next door, in `rpc_error`.

use mailseal_ca as ca;
use mailseal_pkix::Outcome;
use mailseal_pkix::describe::{Fingerprint, days_to_expiry, emails, key_algorithm};
use mailseal_protocol::methods::CertificateInfo;
use mailseal_protocol::methods::ca as wire_ca;
use mailseal_protocol::methods::report as wire_report;
use mailseal_protocol::methods::smime as wire_smime;
use mailseal_smime::report as engine;
use std::time::SystemTime;
use x509_cert::Certificate;

/// A value the daemon sends: its wire form.
pub trait ToWire {
    /// The protocol's type.
    type Wire;
    /// The wire form.
    fn to_wire(self) -> Self::Wire;
}

/// A value the daemon receives: made from its wire form.
pub trait FromWire<W> {
    /// The engine's value for `wire`.
    fn from_wire(wire: W) -> Self;
}

/// Declares that an engine enum and a wire enum have the same unit variants, both ways.
macro_rules! same_variants {
    ($($engine:ty => $wire:ty { $($variant:ident),+ $(,)? })+) => {$(
        impl ToWire for $engine {
            type Wire = $wire;
            fn to_wire(self) -> $wire {
                match self {
                    $(<$engine>::$variant => <$wire>::$variant,)+
                }
            }
        }

        impl FromWire<$wire> for $engine {
            fn from_wire(wire: $wire) -> Self {
                match wire {
                    $(<$wire>::$variant => <$engine>::$variant,)+
                }
            }
        }
    )+};
}

same_variants! {
    engine::SignatureMode => wire_smime::SignatureMode { Detached, Opaque }
    engine::ContentEncryption => wire_smime::ContentEncryption {
        Aes128Gcm, Aes256Gcm, Aes128Cbc, Aes256Cbc,
    }
    engine::CheckName => wire_report::CheckName {
        Signature, Digest, Chain, ValidityAtSigning, ValidityNow, KeyUsage, ExtendedKeyUsage,
        Address, Algorithms, Revocation,
    }
    Outcome => wire_report::Outcome { Pass, Fail, Unknown, NotChecked }
    ca::CertificateKind => wire_ca::CertificateKind { Mailbox, Individual, Organization }
    ca::KeyAlgorithm => wire_ca::KeyAlgorithm { Rsa2048, Rsa3072, Rsa4096, EcP256, EcP384 }
    ca::Usage => wire_ca::Usage { Both, Signing, Encryption }
    ca::RevocationReason => wire_ca::RevocationReason {
        Unspecified, KeyCompromise, AffiliationChanged, Superseded, CessationOfOperation,
        PrivilegeWithdrawn,
    }
    ca::Pkcs12Format => wire_ca::Pkcs12Format { Modern, Gnupg22 }
    ca::IfActive => wire_ca::IfActive { Fail, Skip, Replace }
}

impl ToWire for ca::batch::Failure {
    type Wire = wire_ca::BatchFailure;
    fn to_wire(self) -> wire_ca::BatchFailure {
        wire_ca::BatchFailure {
            line: self.line,
            email: self.email,
            error: self.error.to_string(),
        }
    }
}

impl ToWire for engine::Check {
    type Wire = wire_report::Check;
    fn to_wire(self) -> wire_report::Check {
        wire_report::Check {
            name: self.name.to_wire(),
            outcome: self.outcome.to_wire(),
            reason: self.reason,
        }
    }
}

impl ToWire for engine::SignatureReport {
    type Wire = wire_report::SignatureReport;
    fn to_wire(self) -> wire_report::SignatureReport {
        let at = self.judged_at();
        wire_report::SignatureReport::new(
            self.signer().map(|cert| describe(cert, at)),
            self.signing_time().map(str::to_owned),
            self.checks().iter().cloned().map(ToWire::to_wire).collect(),
        )
    }
}

impl ToWire for engine::Layer {
    type Wire = wire_smime::Layer;
    fn to_wire(self) -> wire_smime::Layer {
        match self {
            Self::Encrypted { algorithm, key_id } => wire_smime::Layer::Encrypted {
                algorithm: algorithm.to_wire(),
                key_id: key_id.to_string(),
            },
            Self::Signed { mode, signatures } => wire_smime::Layer::Signed {
                mode: mode.to_wire(),
                signatures: signatures.into_iter().map(ToWire::to_wire).collect(),
            },
        }
    }
}

/// Everything the protocol reports about a certificate, as of `now`.
pub fn describe(cert: &Certificate, now: SystemTime) -> CertificateInfo {
    let tbs = cert.tbs_certificate();
    let validity = tbs.validity();
    CertificateInfo {
        fingerprint: Fingerprint::of(cert).to_string(),
        subject: tbs.subject().to_string(),
        issuer: tbs.issuer().to_string(),
        serial: hex::encode(tbs.serial_number().as_bytes()),
        emails: emails(cert),
        not_before: validity.not_before.to_date_time().to_string(),
        not_after: validity.not_after.to_date_time().to_string(),
        days_to_expiry: days_to_expiry(cert, now),
        key_algorithm: key_algorithm(cert),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_test_support::TempPki;

    #[test]
    fn a_certificate_is_described_as_the_protocol_says() {
        let pki = TempPki::new();
        let cert = pki.self_signed("ec", "/CN=Ann Example", Some("ann@example.com"));
        let info = describe(&cert, SystemTime::now());
        assert!(info.subject.contains("CN=Ann Example"), "{}", info.subject);
        assert_eq!(info.emails, vec!["ann@example.com"]);
        assert_eq!(info.key_algorithm, "ec-p256");
        assert_eq!(info.fingerprint, Fingerprint::of(&cert).to_string());
        assert!(info.not_after.ends_with('Z'), "{}", info.not_after);
        assert_eq!(info.days_to_expiry, 29);
    }

    /// The wire report recomputes its verdict; for every mix of outcomes it must say what the
    /// engine said, or a report could change meaning on its way to the user.
    #[test]
    fn the_wire_verdict_is_the_engines_for_every_mix_of_outcomes() {
        let outcomes = [
            Outcome::Pass,
            Outcome::Fail,
            Outcome::Unknown,
            Outcome::NotChecked,
        ];
        let names = [engine::CheckName::Signature, engine::CheckName::Revocation];
        for first in outcomes {
            for second in outcomes {
                let checks = names
                    .iter()
                    .zip([first, second])
                    .map(|(&name, outcome)| engine::Check {
                        name,
                        outcome,
                        reason: format!("{outcome:?}"),
                    })
                    .collect::<Vec<_>>();
                let report = engine::SignatureReport::new(None, None, checks, SystemTime::now());
                let verdict = report.verdict();
                let wire = report.to_wire();
                let expected = match verdict {
                    engine::Verdict::Valid => wire_report::Verdict::Valid,
                    engine::Verdict::Invalid => wire_report::Verdict::Invalid,
                    engine::Verdict::Unknown => wire_report::Verdict::Unknown,
                };
                assert_eq!(wire.verdict(), expected, "{first:?} {second:?}");
                assert_eq!(wire.checks()[1].reason, format!("{second:?}"));
            }
        }
    }

    #[test]
    fn enums_cross_both_ways() {
        for algorithm in ca::KeyAlgorithm::ALL {
            assert_eq!(ca::KeyAlgorithm::from_wire(algorithm.to_wire()), *algorithm);
        }
        // A reason's name in the CA database is its name on the wire.
        for reason in ca::RevocationReason::ALL {
            assert_eq!(
                serde_json::to_value(reason.to_wire()).unwrap(),
                serde_json::json!(reason.as_str())
            );
        }
        for kind in ca::CertificateKind::ALL {
            assert_eq!(kind.to_wire().as_str(), kind.as_str());
        }
        for usage in ca::Usage::ALL {
            assert_eq!(usage.to_wire().as_str(), usage.as_str());
        }
    }
}
