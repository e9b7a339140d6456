//! The checks on the signer's certificate and algorithms that follow the signature itself:
//! chain (RFC 5280 §6), validity (RFC 5280 §4.1.2.5), keyUsage and extendedKeyUsage (RFC 8550
//! §4.4.2, §4.4.4), the From address (RFC 8550 §3), algorithm strength (RFC 8551 §2) and
//! revocation (RFC 5280 §6.3, under the configured policy).
//! Each returns one [`Check`] with its reason in words.

use crate::report::{Check, CheckName, Outcome};
use const_oid::db::rfc5912;
use mailseal_keys::backend::Hash;
use mailseal_pkix::describe::{Period, emails, period};
use mailseal_pkix::issuers::Issuers;
use mailseal_pkix::path;
use mailseal_pkix::revocation::{Judgement, Revocation};
use mailseal_pkix::signature::{KeyKind, hash_name, weaknesses};
use std::time::SystemTime;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage};
use x509_cert::time::Time;

fn check(name: CheckName, outcome: Outcome, reason: impl Into<String>) -> Check {
    Check {
        name,
        outcome,
        reason: reason.into(),
    }
}

/// Chain: a path from the signer's certificate to a trust anchor, fetching missing issuers;
/// also the path found, for the revocation check.
pub(super) fn chain(
    issuers: &Issuers,
    cert: &Certificate,
    intermediates: &[&Certificate],
    anchors: &[Certificate],
    now: SystemTime,
) -> (Check, path::PathResult) {
    let result = issuers.validate(cert, intermediates, anchors, now);
    let chain = check(CheckName::Chain, result.outcome, result.reason.clone());
    (chain, result)
}

/// Revocation: no certificate on the path is revoked, as far as the policy asks; a status
/// that cannot be learned is `not_checked` under soft-fail and off, a failure under
/// hard-fail.
pub(super) fn revocation(
    revocation: &Revocation,
    path: &path::PathResult,
    carried: &[CertificateList],
    now: SystemTime,
) -> Check {
    let found = match path.outcome {
        Outcome::Pass => Ok(path.chain.as_slice()),
        _ => Err(path.reason.as_str()),
    };
    let name = CheckName::Revocation;
    match revocation.judge(found, carried, now) {
        Judgement::Good(how) => check(name, Outcome::Pass, how),
        Judgement::Revoked(why) => check(name, Outcome::Fail, why),
        Judgement::NotChecked(why) => check(name, Outcome::NotChecked, why),
        Judgement::Unavailable(why) => check(
            name,
            Outcome::Fail,
            format!("revocation could not be checked (the policy is hard-fail): {why}"),
        ),
    }
}

/// ValidityAtSigning: the signingTime attribute falls within the certificate's validity.
/// `signing_time` is the attribute (or why it could not be read).
pub(super) fn validity_at_signing(
    cert: &Certificate,
    signing_time: Result<Option<Time>, String>,
) -> Check {
    let name = CheckName::ValidityAtSigning;
    let time = match signing_time {
        Err(reason) => return check(name, Outcome::Fail, reason),
        Ok(None) => {
            return check(
                name,
                Outcome::Unknown,
                "no signingTime attribute: when it was signed is not known",
            );
        }
        Ok(Some(time)) => time,
    };
    let shown = time.to_date_time();
    match period(cert, time.to_system_time()) {
        Period::Within(_) => check(
            name,
            Outcome::Pass,
            format!("certificate was valid when signed at {shown}"),
        ),
        Period::Before(start) => check(
            name,
            Outcome::Fail,
            format!("signed at {shown}, before the certificate became valid on {start}"),
        ),
        Period::After(end) => check(
            name,
            Outcome::Fail,
            format!("signed at {shown}, after the certificate expired on {end}"),
        ),
    }
}

/// ValidityNow: the certificate is valid at `now`.
pub(super) fn validity_now(cert: &Certificate, now: SystemTime) -> Check {
    let name = CheckName::ValidityNow;
    match period(cert, now) {
        Period::Within(end) => check(
            name,
            Outcome::Pass,
            format!("certificate valid until {end}"),
        ),
        Period::Before(start) => check(
            name,
            Outcome::Fail,
            format!("certificate is not valid before {start}"),
        ),
        Period::After(end) => check(name, Outcome::Fail, format!("certificate expired on {end}")),
    }
}

/// KeyUsage: when present, it allows digitalSignature or nonRepudiation (RFC 8550 §4.4.2).
pub(super) fn key_usage(cert: &Certificate) -> Check {
    let name = CheckName::KeyUsage;
    let usage = match cert.tbs_certificate().get_extension::<KeyUsage>() {
        Err(e) => return check(name, Outcome::Fail, format!("malformed keyUsage: {e}")),
        Ok(None) => return check(name, Outcome::Pass, "no keyUsage restriction"),
        Ok(Some((_, usage))) => usage,
    };
    let bits = [
        (usage.digital_signature(), "digitalSignature"),
        (usage.non_repudiation(), "nonRepudiation"),
        (usage.key_encipherment(), "keyEncipherment"),
        (usage.data_encipherment(), "dataEncipherment"),
        (usage.key_agreement(), "keyAgreement"),
        (usage.key_cert_sign(), "keyCertSign"),
        (usage.crl_sign(), "cRLSign"),
        (usage.encipher_only(), "encipherOnly"),
        (usage.decipher_only(), "decipherOnly"),
    ];
    let set: Vec<&str> = bits.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect();
    if usage.digital_signature() || usage.non_repudiation() {
        check(
            name,
            Outcome::Pass,
            format!("keyUsage allows signing ({})", set.join(", ")),
        )
    } else {
        let allowed = if set.is_empty() {
            "nothing".to_owned()
        } else {
            set.join(", ")
        };
        check(
            name,
            Outcome::Fail,
            format!(
                "keyUsage allows only {allowed}, not signing (needs digitalSignature or nonRepudiation)"
            ),
        )
    }
}

/// ExtendedKeyUsage: absent, or naming emailProtection or anyExtendedKeyUsage (RFC 8550
/// §4.4.4).
pub(super) fn extended_key_usage(cert: &Certificate) -> Check {
    let name = CheckName::ExtendedKeyUsage;
    let usage = match cert.tbs_certificate().get_extension::<ExtendedKeyUsage>() {
        Err(e) => {
            return check(
                name,
                Outcome::Fail,
                format!("malformed extendedKeyUsage: {e}"),
            );
        }
        Ok(None) => return check(name, Outcome::Pass, "no extendedKeyUsage restriction"),
        Ok(Some((_, usage))) => usage,
    };
    for (oid, label) in [
        (rfc5912::ID_KP_EMAIL_PROTECTION, "emailProtection"),
        (rfc5912::ANY_EXTENDED_KEY_USAGE, "anyExtendedKeyUsage"),
    ] {
        if usage.0.contains(&oid) {
            return check(
                name,
                Outcome::Pass,
                format!("extendedKeyUsage allows {label}"),
            );
        }
    }
    let listed: Vec<String> = usage
        .0
        .iter()
        .map(|oid| {
            const_oid::db::DB
                .by_oid(oid)
                .map_or_else(|| oid.to_string(), str::to_owned)
        })
        .collect();
    check(
        name,
        Outcome::Fail,
        format!(
            "extendedKeyUsage allows only {}, not emailProtection",
            listed.join(", ")
        ),
    )
}

/// Address: every From address is one the certificate names, compared without regard to
/// case over the whole address, as mail systems do in practice (RFC 8550 §3).
pub(super) fn address(cert: &Certificate, from: &[String]) -> Check {
    let name = CheckName::Address;
    if from.is_empty() {
        return check(name, Outcome::Fail, "no From address");
    }
    let named = emails(cert);
    if named.is_empty() {
        return check(name, Outcome::Fail, "the certificate names no mail address");
    }
    let unmatched: Vec<&str> = from
        .iter()
        .map(|addr| addr.trim())
        .filter(|addr| !named.iter().any(|n| n.eq_ignore_ascii_case(addr)))
        .collect();
    if unmatched.is_empty() {
        let from: Vec<&str> = from.iter().map(|a| a.trim()).collect();
        check(
            name,
            Outcome::Pass,
            format!(
                "From address {} is named in the certificate",
                from.join(", ")
            ),
        )
    } else {
        check(
            name,
            Outcome::Fail,
            format!(
                "From address {} is not in the certificate, which is for {}",
                unmatched.join(", "),
                named.join(", ")
            ),
        )
    }
}

/// Algorithms: no SHA-1 digest or signature and no RSA key under 2048 bits (RFC 8551 §2).
pub(super) fn algorithms(hashes: &[Hash], key: Option<KeyKind>) -> Check {
    let name = CheckName::Algorithms;
    let weak = weaknesses(hashes, key);
    if !weak.is_empty() {
        return check(name, Outcome::Fail, format!("weak: {}", weak.join(", ")));
    }
    let mut used: Vec<String> = Vec::new();
    for hash in hashes {
        let hash = hash_name(*hash);
        if !used.contains(&hash) {
            used.push(hash);
        }
    }
    used.extend(key.map(|k| k.to_string()));
    check(name, Outcome::Pass, format!("strong: {}", used.join(", ")))
}
