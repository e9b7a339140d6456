//! One SignerInfo (RFC 5652 §5.3–5.6): finding the signer's certificate, checking the signature
//! value and the message digest, and reading the signed attributes the report and harvesting
//! need (signingTime, SMIMECapabilities).

use super::checks;
use super::content::{Needs, SignedContent};
use super::{Harvest, VerifyInput};
use crate::report::{Check, CheckName, Outcome, SignatureReport};
use cms::signed_data::{SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911;
use der::asn1::OctetString;
use der::{Any, Encode};
use mailseal_keys::backend::Hash;
use mailseal_pkix::algorithms::oid_name;
use mailseal_pkix::describe::emails;
use mailseal_pkix::signature::{Algorithm, Covered, KeyKind, SignatureError, hash_name};
use std::time::SystemTime;
use x509_cert::Certificate;
use x509_cert::attr::Attributes;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::time::Time;

/// What every SignerInfo of one message is checked against.
pub(super) struct Context<'a> {
    /// The caller's input.
    pub input: &'a VerifyInput<'a>,
    /// What was learned of the content that was signed as it streamed past.
    pub content: &'a SignedContent,
    /// eContentType.
    pub content_type: ObjectIdentifier,
    /// The message's certificates first, then the known ones: where signers and
    /// intermediates are looked for.
    pub certificates: &'a [&'a Certificate],
    /// The CRLs the message carries.
    pub crls: &'a [CertificateList],
}

/// Adds what checking `info` needs computed over the content to `needs`: the digest for the
/// messageDigest attribute, or, without signed attributes, what the signature covers (the
/// content's digest by the signature's hash, or the content itself for pure Ed25519).
pub(super) fn add_needs(info: &SignerInfo, needs: &mut Needs) {
    let mut add = |hash| {
        if !needs.hashes.contains(&hash) {
            needs.hashes.push(hash);
        }
    };
    if let Some(hash) = Hash::from_oid(info.digest_alg.oid) {
        add(hash);
    }
    if info.signed_attrs.is_none() {
        match Algorithm::for_signer(&info.digest_alg, &info.signature_algorithm).map(|a| a.hash()) {
            Ok(Some(hash)) => add(hash),
            Ok(None) => needs.whole = true,
            Err(_) => {}
        }
    }
}

/// Checks one SignerInfo (or reports why it does not decode); the harvest is there when the
/// signer's certificate was found.
pub(super) fn check(
    info: &Result<SignerInfo, der::Error>,
    cx: &Context<'_>,
) -> (SignatureReport, Option<Harvest>) {
    let info = match info {
        Ok(info) => info,
        Err(e) => {
            let reason = format!("malformed SignerInfo: {e}");
            return (unchecked(None, reason, None, cx.input.now), None);
        }
    };
    let attrs = info.signed_attrs.as_ref();
    let signing_time = attrs.map_or(Ok(None), signing_time);
    let shown_time = match &signing_time {
        Ok(Some(time)) => Some(time.to_date_time().to_string()),
        _ => None,
    };

    // The signature covers the DER SET OF, not the [0] IMPLICIT form (RFC 5652 §5.4).
    let attrs_der = match attrs.map(Encode::to_der).transpose() {
        Ok(der) => der,
        Err(e) => {
            let reason = format!("signed attributes do not re-encode: {e}");
            return (unchecked(shown_time, reason, None, cx.input.now), None);
        }
    };
    let algorithm = Algorithm::for_signer(&info.digest_alg, &info.signature_algorithm);
    let covered = match &attrs_der {
        Some(der) => Ok(Covered::Message(der)),
        None => covered_content(&algorithm, cx.content),
    };
    let candidates = candidates(&info.sid, cx.certificates);
    let found = find_signer(&candidates, &algorithm, &covered, info.signature.as_bytes());
    let digest = digest_check(info, cx);

    let mut hashes: Vec<Hash> = Hash::from_oid(info.digest_alg.oid).into_iter().collect();
    hashes.extend(algorithm.as_ref().ok().and_then(Algorithm::hash));

    let Some((cert, verified)) = found else {
        let reason = format!("signer certificate not found ({})", describe_sid(&info.sid));
        let algorithms = checks::algorithms(&hashes, None);
        return (
            unchecked(shown_time, reason, Some((digest, algorithms)), cx.input.now),
            None,
        );
    };

    let signature = match &verified {
        Ok(key) => {
            let how = algorithm
                .as_ref()
                .map(|a| a.describe(*key))
                .unwrap_or_default();
            Check {
                name: CheckName::Signature,
                outcome: Outcome::Pass,
                reason: format!("signed by {} with {how}", signer_name(cert)),
            }
        }
        Err(reason) => fail(CheckName::Signature, reason.clone()),
    };
    let key = KeyKind::of(cert.tbs_certificate().subject_public_key_info()).ok();
    let input = cx.input;
    let (chain, path) = checks::chain(
        input.issuers,
        cert,
        cx.certificates,
        input.anchors,
        input.now,
    );
    let report_checks = vec![
        signature,
        digest,
        chain,
        checks::validity_at_signing(cert, signing_time),
        checks::validity_now(cert, cx.input.now),
        checks::key_usage(cert),
        checks::extended_key_usage(cert),
        checks::address(cert, cx.input.from),
        checks::algorithms(&hashes, key),
        checks::revocation(cx.input.revocation, &path, cx.crls, cx.input.now),
    ];
    let harvest = Harvest {
        certificate: cert.clone(),
        capabilities: attrs.map(capabilities).unwrap_or_default(),
        signature_ok: verified.is_ok(),
    };
    let report = SignatureReport::new(Some(cert.clone()), shown_time, report_checks, cx.input.now);
    (report, Some(harvest))
}

/// A report for a signer whose certificate-dependent checks could not run: the Signature
/// check fails with `reason`, the Digest and Algorithms checks are given when they could be
/// made without the certificate, and everything else is Unknown.
fn unchecked(
    signing_time: Option<String>,
    reason: String,
    digest_and_algorithms: Option<(Check, Check)>,
    now: SystemTime,
) -> SignatureReport {
    let not_checked = |name| Check {
        name,
        outcome: Outcome::Unknown,
        reason: format!("not checked: {reason}"),
    };
    let (digest, algorithms) = digest_and_algorithms.unwrap_or_else(|| {
        (
            not_checked(CheckName::Digest),
            not_checked(CheckName::Algorithms),
        )
    });
    let mut list = vec![fail(CheckName::Signature, reason.clone()), digest];
    list.extend(
        [
            CheckName::Chain,
            CheckName::ValidityAtSigning,
            CheckName::ValidityNow,
            CheckName::KeyUsage,
            CheckName::ExtendedKeyUsage,
            CheckName::Address,
        ]
        .map(not_checked),
    );
    list.push(algorithms);
    list.push(not_checked(CheckName::Revocation));
    SignatureReport::new(None, signing_time, list, now)
}

fn fail(name: CheckName, reason: String) -> Check {
    Check {
        name,
        outcome: Outcome::Fail,
        reason,
    }
}

/// Certificates matching the SignerIdentifier (RFC 5652 §5.3), message certificates first.
fn candidates<'a>(
    sid: &SignerIdentifier,
    certificates: &[&'a Certificate],
) -> Vec<&'a Certificate> {
    certificates
        .iter()
        .copied()
        .filter(|cert| {
            let tbs = cert.tbs_certificate();
            match sid {
                SignerIdentifier::IssuerAndSerialNumber(isn) => {
                    tbs.issuer() == &isn.issuer && tbs.serial_number() == &isn.serial_number
                }
                SignerIdentifier::SubjectKeyIdentifier(ski) => {
                    matches!(tbs.get_extension::<SubjectKeyIdentifier>(), Ok(Some((_, own))) if own == *ski)
                }
            }
        })
        .collect()
}

/// The first candidate whose key verifies the signature, or else the first candidate with the
/// reason it failed; `None` when there is no candidate.
fn find_signer<'a>(
    candidates: &[&'a Certificate],
    algorithm: &Result<Algorithm, SignatureError>,
    covered: &Result<Covered<'_>, String>,
    signature: &[u8],
) -> Option<(&'a Certificate, Result<KeyKind, String>)> {
    let attempt = |cert: &Certificate| match (algorithm, covered) {
        (Ok(algorithm), Ok(covered)) => algorithm
            .verify_covered(
                cert.tbs_certificate().subject_public_key_info(),
                *covered,
                signature,
            )
            .map_err(|e| e.to_string()),
        (Err(e), _) => Err(e.to_string()),
        (_, Err(reason)) => Err(reason.clone()),
    };
    let mut first = None;
    for cert in candidates {
        match attempt(cert) {
            Ok(key) => return Some((*cert, Ok(key))),
            Err(reason) => {
                first.get_or_insert((*cert, Err(reason)));
            }
        }
    }
    first
}

/// What a signature without signed attributes covers: the content, as its digest by the
/// signature's hash, or whole for pure Ed25519.
fn covered_content<'a>(
    algorithm: &Result<Algorithm, SignatureError>,
    content: &'a SignedContent,
) -> Result<Covered<'a>, String> {
    match algorithm.as_ref().ok().map(Algorithm::hash) {
        Some(Some(hash)) => content
            .digest(hash)
            .map(Covered::Digest)
            .ok_or_else(|| "the content's digest was not computed".to_owned()),
        Some(None) => content.whole().map(Covered::Message),
        // find_signer reports the algorithm's error.
        None => Ok(Covered::Message(&[])),
    }
}

/// The Digest check (RFC 5652 §5.4, §11.1, §11.2).
fn digest_check(info: &SignerInfo, cx: &Context<'_>) -> Check {
    let Some(hash) = Hash::from_oid(info.digest_alg.oid) else {
        let reason = format!(
            "unsupported digest algorithm {}",
            oid_name(info.digest_alg.oid)
        );
        return fail(CheckName::Digest, reason);
    };
    let Some(attrs) = &info.signed_attrs else {
        // Without signed attributes the content type must be id-data (RFC 5652 §5.3).
        if cx.content_type != rfc5911::ID_DATA {
            let reason = format!(
                "content of type {} must carry signed attributes",
                oid_name(cx.content_type)
            );
            return fail(CheckName::Digest, reason);
        }
        return Check {
            name: CheckName::Digest,
            outcome: Outcome::Pass,
            reason: "no signed attributes; signature covers the content".into(),
        };
    };
    let digest_of = |attrs: &Attributes| -> Result<Vec<u8>, String> {
        let value = single_value(attrs, rfc5911::ID_MESSAGE_DIGEST)?
            .ok_or("the signed attributes lack messageDigest")?;
        let digest = value
            .decode_as::<OctetString>()
            .map_err(|e| format!("malformed messageDigest: {e}"))?;
        Ok(digest.into_bytes().into_vec())
    };
    let type_of = |attrs: &Attributes| -> Result<ObjectIdentifier, String> {
        let value = single_value(attrs, rfc5911::ID_CONTENT_TYPE)?
            .ok_or("the signed attributes lack contentType")?;
        value
            .decode_as::<ObjectIdentifier>()
            .map_err(|e| format!("malformed contentType: {e}"))
    };
    let outcome = type_of(attrs).and_then(|signed_type| {
        if signed_type != cx.content_type {
            return Err(format!(
                "contentType attribute {} does not match the content's type {}",
                oid_name(signed_type),
                oid_name(cx.content_type)
            ));
        }
        let computed = cx
            .content
            .digest(hash)
            .ok_or("the content's digest was not computed")?;
        if digest_of(attrs)? != computed {
            return Err(
                "message digest does not match the content: the message was changed after signing"
                    .into(),
            );
        }
        Ok(format!("{} digest of the content matches", hash_name(hash)))
    });
    match outcome {
        Ok(reason) => Check {
            name: CheckName::Digest,
            outcome: Outcome::Pass,
            reason,
        },
        Err(reason) => fail(CheckName::Digest, reason),
    }
}

/// The signingTime attribute (RFC 5652 §11.3), if any, or why it cannot be read.
fn signing_time(attrs: &Attributes) -> Result<Option<Time>, String> {
    let Some(value) = single_value(attrs, rfc5911::ID_SIGNING_TIME)? else {
        return Ok(None);
    };
    value
        .decode_as::<Time>()
        .map(Some)
        .map_err(|e| format!("malformed signingTime: {e}"))
}

/// The value of an attribute that must occur at most once with exactly one value (RFC 5652
/// §11.1–11.3); `None` when absent.
fn single_value(attrs: &Attributes, oid: ObjectIdentifier) -> Result<Option<&Any>, String> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let Some(attr) = found.next() else {
        return Ok(None);
    };
    let name = const_oid::db::DB.by_oid(&oid).unwrap_or("attribute");
    if found.next().is_some() {
        return Err(format!("the signed attributes hold {name} twice"));
    }
    match attr.values.as_slice() {
        [value] => Ok(Some(value)),
        _ => Err(format!("{name} must have exactly one value")),
    }
}

/// The capability OIDs of an SMIMECapabilities attribute (RFC 8551 §2.5.2), in preference
/// order; empty when absent or malformed.
fn capabilities(attrs: &Attributes) -> Vec<ObjectIdentifier> {
    /// `SMIMECapability ::= SEQUENCE { capabilityID OBJECT IDENTIFIER, parameters ANY OPTIONAL }`
    #[derive(der::Sequence)]
    struct SmimeCapability {
        capability_id: ObjectIdentifier,
        parameters: Option<Any>,
    }
    let Ok(Some(value)) = single_value(attrs, rfc5911::SMIME_CAPABILITIES) else {
        return Vec::new();
    };
    value
        .decode_as::<Vec<SmimeCapability>>()
        .map(|caps| caps.into_iter().map(|c| c.capability_id).collect())
        .unwrap_or_default()
}

/// How the SignerIdentifier names the signer, for "not found" reports.
fn describe_sid(sid: &SignerIdentifier) -> String {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => format!(
            "issuer {}, serial {}",
            isn.issuer,
            hex::encode(isn.serial_number.as_bytes())
        ),
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            format!("subject key identifier {}", hex::encode(ski.0.as_bytes()))
        }
    }
}

/// The signer as people know them: the certificate's first mail address, else its subject.
fn signer_name(cert: &Certificate) -> String {
    emails(cert)
        .into_iter()
        .next()
        .unwrap_or_else(|| cert.tbs_certificate().subject().to_string())
}
