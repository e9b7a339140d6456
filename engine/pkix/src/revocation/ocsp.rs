//! OCSP (RFC 6960): asking the responder a certificate names in its authorityInfoAccess
//! whether the certificate is revoked, and believing the answer only when it is about that
//! certificate, signed by its issuer or by a responder the issuer authorized
//! (id-kp-OCSPSigning, §4.2.2.2), current (thisUpdate/nextUpdate) and, when it echoes our
//! nonce (RFC 8954), echoes it unchanged.
//!
//! The CertID uses SHA-1, as every responder accepts (RFC 5019 §2.1.1); it only names the
//! certificate, and the answer's signature is what is trusted. An answer without a nonce is
//! accepted (responders that pre-produce answers send none); its freshness then rests on its
//! thisUpdate and nextUpdate.

use super::Status;
use super::crl::reason_name;
use crate::describe::{Period, period};
use crate::path::{check_signature, name};
use aws_lc_rs::digest;
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5912, rfc6960};
use der::asn1::{BitString, GeneralizedTime, OctetString};
use der::{Any, Decode, Encode, Sequence, Tag, TagNumber, Tagged};
use spki::AlgorithmIdentifierOwned;
use std::time::{Duration, SystemTime};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{CrlReason, ExtendedKeyUsage};
use x509_cert::ext::{Extension, Extensions};
use x509_cert::serial_number::SerialNumber;

/// How far clocks may disagree.
const SKEW: Duration = Duration::from_secs(300);

/// How old an answer that carries neither our nonce nor a nextUpdate may be.
const MAX_AGE_UNBOUNDED: Duration = Duration::from_secs(24 * 3600);

/// `CertID` (RFC 6960 §4.1.1).
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
struct CertId {
    hash_algorithm: AlgorithmIdentifierOwned,
    issuer_name_hash: OctetString,
    issuer_key_hash: OctetString,
    serial_number: SerialNumber,
}

/// `OCSPRequest` without the optional signature.
#[derive(Sequence)]
struct OcspRequest {
    tbs_request: TbsRequest,
}

/// `TBSRequest`: version v1 (the default, so absent) and no requestorName.
#[derive(Sequence)]
struct TbsRequest {
    request_list: Vec<SingleRequest>,
    #[asn1(context_specific = "2", optional = "true", tag_mode = "EXPLICIT")]
    request_extensions: Option<Extensions>,
}

/// `Request`.
#[derive(Sequence)]
struct SingleRequest {
    req_cert: CertId,
}

/// `OCSPResponse`; responseStatus is read as a raw ENUMERATED.
#[derive(Sequence)]
struct OcspResponse {
    response_status: Any,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    response_bytes: Option<ResponseBytes>,
}

/// `ResponseBytes`.
#[derive(Sequence)]
struct ResponseBytes {
    response_type: ObjectIdentifier,
    response: OctetString,
}

/// `BasicOCSPResponse`; tbsResponseData kept raw, since the signature covers its bytes.
#[derive(Sequence)]
struct BasicOcspResponse {
    tbs_response_data: Any,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    certs: Option<Vec<Certificate>>,
}

/// `ResponseData`; responderID is not needed (the signer is found by its signature).
#[derive(Sequence)]
struct ResponseData {
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    version: Option<u8>,
    responder_id: Any,
    produced_at: GeneralizedTime,
    responses: Vec<SingleResponse>,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    response_extensions: Option<Extensions>,
}

/// `SingleResponse`; certStatus is a CHOICE of IMPLICIT tags, read raw.
#[derive(Sequence)]
struct SingleResponse {
    cert_id: CertId,
    cert_status: Any,
    this_update: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    next_update: Option<GeneralizedTime>,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    single_extensions: Option<Extensions>,
}

/// `RevokedInfo`, the body of certStatus `revoked [1] IMPLICIT`.
#[derive(Sequence)]
struct RevokedInfo {
    revocation_time: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    revocation_reason: Option<CrlReason>,
}

/// A request ready to send, with what its answer must match.
#[derive(Debug, Clone)]
pub struct Query {
    /// The DER OCSPRequest, to POST as `application/ocsp-request`.
    pub der: Vec<u8>,
    cert_id: CertId,
    /// The nonce extension as sent.
    nonce: Extension,
}

/// The request for `cert`, issued by `issuer`, with a fresh nonce.
pub fn request(cert: &Certificate, issuer: &Certificate) -> Result<Query, String> {
    let sha1 = |data: &[u8]| digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    let issuer_name = issuer
        .tbs_certificate()
        .subject()
        .to_der()
        .map_err(|e| format!("the issuer name does not encode: {e}"))?;
    let key = issuer
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes();
    let octets = |data: &[u8]| OctetString::new(data).map_err(|e| e.to_string());
    let cert_id = CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: rfc5912::ID_SHA_1,
            parameters: Some(Any::null()),
        },
        issuer_name_hash: octets(sha1(&issuer_name).as_ref())?,
        issuer_key_hash: octets(sha1(key).as_ref())?,
        serial_number: cert.tbs_certificate().serial_number().clone(),
    };
    let mut random = [0u8; 16];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| "the system RNG failed".to_owned())?;
    let nonce = Extension {
        extn_id: rfc6960::ID_PKIX_OCSP_NONCE,
        critical: false,
        extn_value: octets(&octets(&random)?.to_der().map_err(|e| e.to_string())?)?,
    };
    let request = OcspRequest {
        tbs_request: TbsRequest {
            request_list: vec![SingleRequest {
                req_cert: cert_id.clone(),
            }],
            request_extensions: Some(vec![nonce.clone()]),
        },
    };
    let der = request
        .to_der()
        .map_err(|e| format!("the OCSP request does not encode: {e}"))?;
    Ok(Query {
        der,
        cert_id,
        nonce,
    })
}

/// What the responder at `url` said in `response` about the certificate of `query` (issued
/// by `issuer`) at `now`, and until when the answer may be reused (its nextUpdate).
pub fn answer(
    query: &Query,
    response: &[u8],
    url: &str,
    issuer: &Certificate,
    now: SystemTime,
) -> Result<(Status, Option<SystemTime>), String> {
    let who = format!("the OCSP responder {url}");
    let malformed = |e: der::Error| format!("{who} sent a malformed answer: {e}");
    let outer = OcspResponse::from_der(response).map_err(malformed)?;
    let status = match (outer.response_status.tag(), outer.response_status.value()) {
        (Tag::Enumerated, [status]) => *status,
        _ => return Err(format!("{who} sent a malformed response status")),
    };
    if status != 0 {
        let meaning = match status {
            1 => "malformedRequest",
            2 => "internalError",
            3 => "tryLater",
            5 => "sigRequired",
            6 => "unauthorized",
            _ => "an unknown status",
        };
        return Err(format!("{who} answered {meaning}"));
    }
    let bytes = outer
        .response_bytes
        .ok_or_else(|| format!("{who} sent no response"))?;
    if bytes.response_type != rfc6960::ID_PKIX_OCSP_BASIC {
        return Err(format!("{who} sent a response of an unknown type"));
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).map_err(malformed)?;
    let signed = basic.tbs_response_data.to_der().map_err(malformed)?;
    let data: ResponseData = basic.tbs_response_data.decode_as().map_err(malformed)?;
    let signature = basic
        .signature
        .as_bytes()
        .ok_or_else(|| format!("{who} sent a malformed signature"))?;
    let what = format!("the answer of {who}");
    let signer_ok = |signer: &Certificate| {
        check_signature(
            &what,
            &basic.signature_algorithm,
            &signed,
            signature,
            signer,
        )
    };
    if let Err(by_issuer) = signer_ok(issuer) {
        let delegated = basic
            .certs
            .iter()
            .flatten()
            .find(|c| authorized_responder(c, issuer, now).is_ok() && signer_ok(c).is_ok());
        if delegated.is_none() {
            let why = basic
                .certs
                .iter()
                .flatten()
                .map(|c| authorized_responder(c, issuer, now).and_then(|()| signer_ok(c)))
                .find_map(Result::err)
                .unwrap_or(by_issuer);
            return Err(why);
        }
    }
    let echoed = data
        .response_extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == rfc6960::ID_PKIX_OCSP_NONCE);
    if let Some(sent) = echoed
        && sent.extn_value != query.nonce.extn_value
    {
        return Err(format!("{who} answered with another nonce than ours"));
    }
    let single = data
        .responses
        .iter()
        .find(|r| same_certificate(&r.cert_id, &query.cert_id))
        .ok_or_else(|| format!("{who} answered about another certificate"))?;
    let this_update = single.this_update.to_system_time();
    if this_update > now + SKEW {
        return Err(format!(
            "{who} answered with a thisUpdate in the future ({})",
            single.this_update.to_date_time()
        ));
    }
    let next_update = single.next_update.map(|t| t.to_system_time());
    if next_update.is_some_and(|next| next + SKEW < now) {
        return Err(format!("{who} sent an out-of-date answer"));
    }
    // Without our nonce and without a nextUpdate nothing says the answer is not an old one
    // replayed (a "good" from before the revocation): then it must be recent (RFC 5019 §4).
    if echoed.is_none() && next_update.is_none() && this_update + MAX_AGE_UNBOUNDED < now {
        return Err(format!(
            "{who} sent an answer without nonce or nextUpdate that is older than a day ({})",
            single.this_update.to_date_time()
        ));
    }
    let status = match (single.cert_status.tag(), single.cert_status.value()) {
        (tag, []) if tag == TagNumber(0).context_specific(false) => Status::Good(format!(
            "{who} says good (as of {})",
            single.this_update.to_date_time()
        )),
        (tag, body) if tag == TagNumber(1).context_specific(true) => {
            let info: RevokedInfo = Any::new(Tag::Sequence, body)
                .and_then(|any| any.decode_as())
                .map_err(malformed)?;
            Status::Revoked(format!(
                "revoked on {}{} ({who})",
                info.revocation_time.to_date_time(),
                info.revocation_reason
                    .map_or_else(String::new, |r| format!(", reason: {}", reason_name(r)))
            ))
        }
        (tag, _) if tag == TagNumber(2).context_specific(false) => {
            return Err(format!("{who} does not know the certificate"));
        }
        _ => return Err(format!("{who} sent a malformed certificate status")),
    };
    Ok((status, next_update))
}

/// The CertIDs name the same certificate (same hash algorithm, issuer hashes and serial;
/// parameters of the hash algorithm may be NULL or absent).
fn same_certificate(a: &CertId, b: &CertId) -> bool {
    a.hash_algorithm.oid == b.hash_algorithm.oid
        && a.issuer_name_hash == b.issuer_name_hash
        && a.issuer_key_hash == b.issuer_key_hash
        && a.serial_number == b.serial_number
}

/// A responder certificate that `issuer` authorized to answer for it (RFC 6960 §4.2.2.2):
/// issued and signed by it, with id-kp-OCSPSigning, valid now.
fn authorized_responder(
    responder: &Certificate,
    issuer: &Certificate,
    now: SystemTime,
) -> Result<(), String> {
    let tbs = responder.tbs_certificate();
    let who = name(responder);
    if tbs.issuer() != issuer.tbs_certificate().subject() {
        return Err(format!(
            "OCSP responder {who} is not issued by {}",
            name(issuer)
        ));
    }
    let signed = tbs
        .to_der()
        .map_err(|e| format!("{who} does not re-encode: {e}"))?;
    let signature = responder
        .signature()
        .as_bytes()
        .ok_or_else(|| format!("{who} has a malformed signature"))?;
    check_signature(
        &format!("OCSP responder {who}"),
        responder.signature_algorithm(),
        &signed,
        signature,
        issuer,
    )?;
    match tbs.get_extension::<ExtendedKeyUsage>() {
        Ok(Some((_, usage))) if usage.0.contains(&rfc5912::ID_KP_OCSP_SIGNING) => {}
        _ => {
            return Err(format!(
                "{who} is not authorized to answer OCSP requests (no id-kp-OCSPSigning)"
            ));
        }
    }
    match period(responder, now) {
        Period::Within(_) => Ok(()),
        Period::Before(start) => Err(format!("OCSP responder {who} is not valid before {start}")),
        Period::After(end) => Err(format!("OCSP responder {who} expired on {end}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_test_support::pki::{Key, Pki};

    const URL: &str = "http://ocsp.test/";

    /// A moment from now: certificates made by the tests start at the second they are made.
    fn soon() -> SystemTime {
        SystemTime::now() + Duration::from_secs(60)
    }

    /// Root, its user `u`, a delegated responder with id-kp-OCSPSigning and a "rogue" one
    /// without, and an index in which `u` is valid or revoked.
    fn setup(revoked: bool) -> (Pki, Certificate, Certificate) {
        let pki = Pki::new();
        let root = pki.root("root", "/CN=Root");
        let user = pki.user("u", "root", Key::P256, "u@example.com");
        let signing = "keyUsage=critical,digitalSignature\n";
        let ocsp = format!("{signing}extendedKeyUsage=OCSPSigning\n");
        pki.certify("resp", Some("root"), Key::P256, "/CN=Responder", 30, &ocsp);
        pki.certify("rogue", Some("root"), Key::P256, "/CN=Rogue", 30, signing);
        let serial = hex::encode_upper(user.tbs_certificate().serial_number().as_bytes());
        let line = if revoked {
            format!("R\t300101000000Z\t250101000000Z,keyCompromise\t{serial}\tunknown\t/CN=u\n")
        } else {
            format!("V\t300101000000Z\t\t{serial}\tunknown\t/CN=u\n")
        };
        pki.write("index.txt", line.as_bytes());
        (pki, user, root)
    }

    /// What `openssl ocsp`, as responder signing with `signer`'s key, answers to `query`
    /// (with a nextUpdate 5 minutes on).
    fn respond(pki: &Pki, query: &Query, signer: &str) -> Vec<u8> {
        pki.write("req.der", &query.der);
        respond_to_file(pki, signer, &["-nmin", "5"])
    }

    /// What `openssl ocsp`, as responder signing with `signer`'s key and `extra` options,
    /// answers to the request in `req.der`.
    fn respond_to_file(pki: &Pki, signer: &str, extra: &[&str]) -> Vec<u8> {
        let (cert, key) = (format!("{signer}.pem"), format!("{signer}.key"));
        let mut args = vec![
            "ocsp",
            "-index",
            "index.txt",
            "-CA",
            "root.pem",
            "-rsigner",
            &cert,
            "-rkey",
            &key,
            "-reqin",
            "req.der",
            "-respout",
            "resp.der",
        ];
        args.extend_from_slice(extra);
        pki.openssl(&args);
        pki.read("resp.der")
    }

    #[test]
    fn answers_by_the_issuer_or_its_delegate_count() {
        let (pki, user, root) = setup(false);
        let query = request(&user, &root).unwrap();
        let response = respond(&pki, &query, "root");
        let (status, next_update) = answer(&query, &response, URL, &root, soon()).unwrap();
        assert!(
            matches!(&status, Status::Good(how) if how.starts_with("the OCSP responder http://ocsp.test/ says good (as of ")),
            "{status:?}"
        );
        let next_update = next_update.expect("-nmin gives a nextUpdate");
        let stale = next_update + Duration::from_secs(3600);
        let err = answer(&query, &response, URL, &root, stale).unwrap_err();
        assert_eq!(
            err,
            "the OCSP responder http://ocsp.test/ sent an out-of-date answer"
        );

        let (pki, user, root) = setup(true);
        let query = request(&user, &root).unwrap();
        let response = respond(&pki, &query, "resp");
        let (status, _) = answer(&query, &response, URL, &root, soon()).unwrap();
        assert_eq!(
            status,
            Status::Revoked(
                "revoked on 2025-01-01T00:00:00Z, reason: keyCompromise \
                 (the OCSP responder http://ocsp.test/)"
                    .into()
            )
        );
    }

    #[test]
    fn other_signers_and_replayed_answers_are_refused() {
        let (pki, user, root) = setup(true);
        let query = request(&user, &root).unwrap();
        let rogue = respond(&pki, &query, "rogue");
        let err = answer(&query, &rogue, URL, &root, soon()).unwrap_err();
        assert_eq!(
            err,
            "'CN=Rogue' is not authorized to answer OCSP requests (no id-kp-OCSPSigning)"
        );
        // An answer to an earlier request carries that request's nonce.
        let earlier = respond(&pki, &request(&user, &root).unwrap(), "root");
        let err = answer(&query, &earlier, URL, &root, soon()).unwrap_err();
        assert_eq!(
            err,
            "the OCSP responder http://ocsp.test/ answered with another nonce than ours"
        );
        // An answer without our nonce and without nextUpdate (to a request without a nonce)
        // is only believed while it is recent: it could be a "good" from before a revocation.
        let (pki, user, root) = setup(false);
        let query = request(&user, &root).unwrap();
        pki.openssl(&[
            "ocsp",
            "-issuer",
            "root.pem",
            "-cert",
            "u.pem",
            "-no_nonce",
            "-reqout",
            "req.der",
        ]);
        let bare = respond_to_file(&pki, "root", &[]);
        let (status, next_update) = answer(&query, &bare, URL, &root, soon()).unwrap();
        assert!(matches!(status, Status::Good(_)) && next_update.is_none());
        let two_days = soon() + Duration::from_secs(2 * 86_400);
        let err = answer(&query, &bare, URL, &root, two_days).unwrap_err();
        assert!(
            err.starts_with("the OCSP responder http://ocsp.test/ sent an answer without nonce or nextUpdate that is older than a day"),
            "{err}"
        );
        let err = answer(&query, b"\x30\x03\x0a\x01\x06", URL, &root, soon()).unwrap_err();
        assert_eq!(
            err,
            "the OCSP responder http://ocsp.test/ answered unauthorized"
        );
    }
}
