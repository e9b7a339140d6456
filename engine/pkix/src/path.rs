//! Certification paths: building a chain from a certificate to a trust anchor and checking
//! each link (RFC 5280 §6.1, basic form).
//!
//! Each link is checked for: issuer name = subject name, matching key identifiers when both
//! are present, the issuer's signature on the certificate (aws-lc-rs; SHA-1 and RSA under
//! 2048 bits refused), the issuer being a CA (basicConstraints cA, keyUsage keyCertSign when
//! keyUsage is present, pathLenConstraint), the issuer's validity at the given time, its name
//! constraints over every certificate below it ([`super::name_constraints`]), and no critical
//! extension we do not process on any certificate of the path. Every candidate issuer is
//! tried (several CAs may share a name, cross-certificates add more), depth first; when no
//! path works, the failure of the attempt that got furthest is reported.
//!
//! Why our own code and not `certval` (RFC 5280 with NIST PKITS): tried as
//! `certval = "=0.2.0-rc.1"` (std + revocation). It resolves against our der/x509-cert/spki
//! versions, but even without its default features it compiles the RustCrypto ECDSA stack
//! (p256/p384/p521, signature 3, sha1) as a second crypto backend beside aws-lc-rs; fetching
//! CRLs and OCSP answers lives behind its `remote` feature (reqwest, async); and its results
//! are status codes, while the report must say in words which link of the best path failed.
//! What S/MIME needs of RFC 5280 is small enough to keep here, tested link by link.
//!
//! Not done: certificate policies (no policy is required, so none is processed; a critical
//! policies extension is accepted). Revocation is checked over the path found, by
//! [`super::revocation`]. The leaf's own validity is left to the caller, which reports it
//! separately (at signing time and now).

use super::describe::{Period, period};
use super::name_constraints;
use crate::Outcome;
use crate::algorithms::oid_name;
use crate::signature::{Algorithm, weaknesses};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912;
use der::Encode;
use std::time::SystemTime;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};

/// Longest chain tried, anchor included; real S/MIME chains have three or four certificates.
const MAX_CHAIN: usize = 8;
/// How many candidate issuers are tried in all before giving up, so that a crafted set of
/// same-named certificates cannot make the search exponential.
const MAX_ATTEMPTS: usize = 64;

/// Extensions whose meaning is applied here or by the report's checks; a critical extension
/// not in this list makes the path fail (RFC 5280 §4.2). Certificate policies are accepted
/// without policy processing, as no policy is required.
const UNDERSTOOD: [ObjectIdentifier; 10] = [
    rfc5912::ID_CE_BASIC_CONSTRAINTS,
    rfc5912::ID_CE_KEY_USAGE,
    rfc5912::ID_CE_EXT_KEY_USAGE,
    rfc5912::ID_CE_SUBJECT_ALT_NAME,
    rfc5912::ID_CE_SUBJECT_KEY_IDENTIFIER,
    rfc5912::ID_CE_AUTHORITY_KEY_IDENTIFIER,
    rfc5912::ID_CE_CERTIFICATE_POLICIES,
    rfc5912::ID_CE_NAME_CONSTRAINTS,
    rfc5912::ID_CE_CRL_DISTRIBUTION_POINTS,
    rfc5912::ID_PE_AUTHORITY_INFO_ACCESS,
];

/// The result of path validation.
#[derive(Debug, Clone)]
pub struct PathResult {
    /// The path found, leaf first and trust anchor last; on failure, the furthest partial
    /// path tried (at least the leaf).
    pub chain: Vec<Certificate>,
    /// Pass when a path to an anchor checked out, else Fail.
    pub outcome: Outcome,
    /// Why, in words, naming the anchor or the link that failed.
    pub reason: String,
}

/// Finds and checks a path from `leaf` to one of `anchors` through `intermediates` at time
/// `at`. The intermediates are borrowed: they are most of the certificate store, which is not
/// copied for each check.
pub fn validate(
    leaf: &Certificate,
    intermediates: &[&Certificate],
    anchors: &[Certificate],
    at: SystemTime,
) -> PathResult {
    let fail = |reason: String| PathResult {
        chain: vec![leaf.clone()],
        outcome: Outcome::Fail,
        reason,
    };
    if anchors.is_empty() {
        return fail("no trust anchor is configured".into());
    }
    if anchors.contains(leaf) {
        return PathResult {
            chain: vec![leaf.clone()],
            outcome: Outcome::Pass,
            reason: format!("the certificate is itself a trust anchor ({})", name(leaf)),
        };
    }
    if let Err(reason) = critical_extensions(leaf) {
        return fail(reason);
    }
    let mut search = Search {
        intermediates,
        anchors,
        at,
        attempts: 0,
        best: None,
    };
    let mut chain = vec![leaf];
    if search.extend(&mut chain) {
        let anchor = chain.last().copied().unwrap_or(leaf);
        let via: Vec<String> = chain[1..chain.len() - 1].iter().map(|c| name(c)).collect();
        let reason = if via.is_empty() {
            format!("issued by trust anchor {}", name(anchor))
        } else {
            format!(
                "chains to trust anchor {} via {}",
                name(anchor),
                via.join(", ")
            )
        };
        return PathResult {
            chain: chain.into_iter().cloned().collect(),
            outcome: Outcome::Pass,
            reason,
        };
    }
    match search.best {
        Some(failure) => PathResult {
            chain: failure.chain,
            outcome: Outcome::Fail,
            reason: failure.reason,
        },
        None => fail("no path to a trust anchor".into()),
    }
}

/// A failed attempt: how far it got and why it stopped.
struct Failure {
    chain: Vec<Certificate>,
    reason: String,
}

/// Depth-first path search state.
struct Search<'a> {
    intermediates: &'a [&'a Certificate],
    anchors: &'a [Certificate],
    at: SystemTime,
    attempts: usize,
    best: Option<Failure>,
}

impl<'a> Search<'a> {
    /// Keeps the failure of the attempt that got furthest (the first of equals).
    fn record(&mut self, chain: &[&Certificate], reason: String) {
        if self
            .best
            .as_ref()
            .is_some_and(|b| b.chain.len() >= chain.len())
        {
            return;
        }
        self.best = Some(Failure {
            chain: chain.iter().map(|c| (*c).clone()).collect(),
            reason,
        });
    }

    /// Tries to extend `chain` up to an anchor; on success `chain` ends with it.
    fn extend(&mut self, chain: &mut Vec<&'a Certificate>) -> bool {
        let Some(&child) = chain.last() else {
            return false;
        };
        let issuer_name = child.tbs_certificate().issuer();
        let anchors = self.anchors.iter().map(|c| (c, true));
        // Self-issued certificates (an untrusted root sent along with a cross-certificate
        // for it) last: through them a path only gets longer.
        let (roots, others): (Vec<&Certificate>, Vec<&Certificate>) = self
            .intermediates
            .iter()
            .copied()
            .partition(|c| self_issued(c));
        let others = others.into_iter().chain(roots).map(|c| (c, false));
        let mut named = false;
        for (candidate, is_anchor) in anchors.chain(others) {
            if candidate.tbs_certificate().subject() != issuer_name
                || chain.contains(&candidate)
                || (!is_anchor && self.anchors.contains(candidate))
            {
                continue;
            }
            named = true;
            if self.attempts >= MAX_ATTEMPTS {
                let reason = format!("gave up after trying {MAX_ATTEMPTS} candidate issuers");
                self.record(chain, reason);
                return false;
            }
            self.attempts += 1;
            if let Err(reason) = self.link(chain, candidate, is_anchor) {
                self.record(chain, reason);
                continue;
            }
            chain.push(candidate);
            if is_anchor {
                return true;
            }
            if chain.len() >= MAX_CHAIN {
                let reason = format!("no trust anchor within {MAX_CHAIN} certificates");
                self.record(chain, reason);
            } else if self.extend(chain) {
                return true;
            }
            chain.pop();
        }
        if !named {
            let reason = if chain.len() > 1 && self_issued(child) {
                format!("{} is a root certificate that is not trusted", name(child))
            } else if chain.len() == 1 {
                format!("issuer {issuer_name} is not a trusted CA, nor known")
            } else {
                format!(
                    "{}, issuer of {}, is not a trusted CA, nor known",
                    issuer_name,
                    name(child)
                )
            };
            self.record(chain, reason);
        }
        false
    }

    /// Checks that `issuer` may have issued the last certificate of `chain`.
    fn link(
        &self,
        chain: &[&Certificate],
        issuer: &Certificate,
        is_anchor: bool,
    ) -> Result<(), String> {
        let child = chain.last().copied().ok_or("empty chain")?;
        let who = name(issuer);
        key_identifiers_match(child, issuer)?;
        signed_by(child, issuer)?;
        let tbs = issuer.tbs_certificate();
        match tbs.get_extension::<BasicConstraints>() {
            Ok(Some((_, bc))) if bc.ca => {
                // Intermediate CAs between the leaf and this one, self-issued ones not counted
                // (RFC 5280 §4.2.1.9).
                let below = chain[1..].iter().filter(|c| !self_issued(c)).count();
                if let Some(limit) = bc.path_len_constraint
                    && below > usize::from(limit)
                {
                    return Err(format!(
                        "{who} allows {limit} intermediate CA(s) below it (pathLenConstraint), \
                         the path has {below}"
                    ));
                }
            }
            // A trust anchor is trusted by configuration; it needs basicConstraints only to
            // not deny being a CA (RFC 5937 §3).
            Ok(None) if is_anchor => {}
            Ok(_) => {
                return Err(format!(
                    "{who} is not a CA (basicConstraints cA is not set)"
                ));
            }
            Err(e) => return Err(format!("{who} has malformed basicConstraints: {e}")),
        }
        match tbs.get_extension::<KeyUsage>() {
            Ok(Some((_, ku))) if !ku.key_cert_sign() => {
                return Err(format!(
                    "{who} may not sign certificates (keyUsage lacks keyCertSign)"
                ));
            }
            Err(e) => return Err(format!("{who} has malformed keyUsage: {e}")),
            _ => {}
        }
        match period(issuer, self.at) {
            Period::Before(start) => {
                return Err(format!("CA certificate {who} is not valid before {start}"));
            }
            Period::After(end) => return Err(format!("CA certificate {who} expired on {end}")),
            Period::Within(_) => {}
        }
        critical_extensions(issuer)?;
        // Its name constraints bind every certificate below it; self-issued CA certificates
        // (key rollover) are exempt except as the leaf (RFC 5280 §6.1.3 (b)).
        for (depth, below) in chain.iter().enumerate() {
            if depth == 0 || !self_issued(below) {
                name_constraints::check(issuer, below)?;
            }
        }
        Ok(())
    }
}

/// When the child names its issuer's key (AKI keyIdentifier) and the issuer states its own
/// (SKI), they must agree (RFC 5280 §4.2.1.1); this tells same-named CAs apart early.
fn key_identifiers_match(child: &Certificate, issuer: &Certificate) -> Result<(), String> {
    let aki = child
        .tbs_certificate()
        .get_extension::<AuthorityKeyIdentifier>();
    let ski = issuer
        .tbs_certificate()
        .get_extension::<SubjectKeyIdentifier>();
    if let (Ok(Some((_, aki))), Ok(Some((_, ski)))) = (aki, ski)
        && let Some(key_id) = aki.key_identifier
        && key_id != ski.0
    {
        return Err(format!(
            "{} names another issuer key than that of {}",
            name(child),
            name(issuer)
        ));
    }
    Ok(())
}

/// The issuer's key verifies the child's signature, with algorithms that are not weak.
fn signed_by(child: &Certificate, issuer: &Certificate) -> Result<(), String> {
    let subject = name(child);
    let outer = child.signature_algorithm();
    if outer != child.tbs_certificate().signature() {
        return Err(format!(
            "{subject} names two different signature algorithms"
        ));
    }
    let tbs = child
        .tbs_certificate()
        .to_der()
        .map_err(|e| format!("{subject} does not re-encode: {e}"))?;
    let signature = child
        .signature()
        .as_bytes()
        .ok_or_else(|| format!("{subject} has a malformed signature"))?;
    check_signature(&subject, outer, &tbs, signature, issuer)
}

/// `signer`'s key verifies `signature` over `signed` with `algorithm`, which is not weak;
/// shared by certificates, CRLs and OCSP responses, whose signatures work alike. `what`
/// names the signed object in the error.
pub(super) fn check_signature(
    what: &str,
    algorithm: &spki::AlgorithmIdentifierOwned,
    signed: &[u8],
    signature: &[u8],
    signer: &Certificate,
) -> Result<(), String> {
    let algorithm = Algorithm::for_certificate(algorithm).map_err(|e| format!("{what}: {e}"))?;
    let spki = signer.tbs_certificate().subject_public_key_info();
    let key = algorithm
        .verify(spki, signed, signature)
        .map_err(|e| format!("{what} is not signed by {}: {e}", name(signer)))?;
    let weak = weaknesses(&algorithm.hash().into_iter().collect::<Vec<_>>(), Some(key));
    if !weak.is_empty() {
        return Err(format!(
            "{what} is signed with weak algorithms: {}",
            weak.join(", ")
        ));
    }
    Ok(())
}

/// No critical extension that nothing here processes (RFC 5280 §4.2).
fn critical_extensions(cert: &Certificate) -> Result<(), String> {
    let extensions = cert
        .tbs_certificate()
        .extensions()
        .map_or(&[][..], |e| e.as_slice());
    match extensions
        .iter()
        .find(|e| e.critical && !UNDERSTOOD.contains(&e.extn_id))
    {
        Some(unknown) => Err(format!(
            "{} has a critical extension that is not supported: {}",
            name(cert),
            oid_name(unknown.extn_id)
        )),
        None => Ok(()),
    }
}

fn self_issued(cert: &Certificate) -> bool {
    let tbs = cert.tbs_certificate();
    tbs.issuer() == tbs.subject()
}

/// A certificate's subject for messages, quoted.
pub(super) fn name(cert: &Certificate) -> String {
    format!("'{}'", cert.tbs_certificate().subject())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_test_support::pki::{CA, Key, Pki, user_extensions};
    use std::slice::from_ref;
    use std::time::Duration;

    fn now() -> SystemTime {
        SystemTime::now()
    }

    /// root → inter (pathlen `inter_ext`) → leaf, returning (leaf, inter, root).
    fn three(inter_ext: &str) -> (Pki, Certificate, Certificate, Certificate) {
        let pki = Pki::new();
        let root = pki.root("root", "/CN=Root");
        let ext = format!("{inter_ext}authorityKeyIdentifier=keyid\n");
        let inter = pki.certify("inter", Some("root"), Key::P256, "/CN=Inter", 365, &ext);
        let leaf = pki.user("leaf", "inter", Key::P256, "leaf@example.com");
        (pki, leaf, inter, root)
    }

    fn assert_fails(result: &PathResult, reason: &str) {
        assert_eq!(result.outcome, Outcome::Fail, "{}", result.reason);
        assert!(result.reason.contains(reason), "{}", result.reason);
    }

    #[test]
    fn a_chain_through_an_intermediate_validates() {
        let (_pki, leaf, inter, root) = three(CA);
        let result = validate(&leaf, &[&inter], from_ref(&root), now());
        assert_eq!(result.outcome, Outcome::Pass, "{}", result.reason);
        assert_eq!(result.chain, [leaf.clone(), inter.clone(), root.clone()]);
        assert_eq!(
            result.reason,
            "chains to trust anchor 'CN=Root' via 'CN=Inter'"
        );
        // Without the intermediate there is no path; the intermediate as anchor is enough.
        assert_fails(
            &validate(&leaf, &[], &[root], now()),
            "CN=Inter is not a trusted CA",
        );
        let direct = validate(&leaf, &[], &[inter], now());
        assert_eq!(direct.reason, "issued by trust anchor 'CN=Inter'");
        assert_fails(&validate(&leaf, &[], &[], now()), "no trust anchor");
    }

    #[test]
    fn another_anchor_does_not_do() {
        let (pki, leaf, inter, _root) = three(CA);
        let other = pki.root("other", "/CN=Other");
        let result = validate(&leaf, &[&inter], &[other], now());
        assert_fails(
            &result,
            "CN=Root, issuer of 'CN=Inter', is not a trusted CA",
        );
        assert_eq!(result.chain.len(), 2);
    }

    #[test]
    fn an_intermediate_must_be_a_ca() {
        let (_pki, leaf, inter, root) = three("basicConstraints=critical,CA:FALSE\n");
        assert_fails(
            &validate(&leaf, &[&inter], &[root], now()),
            "'CN=Inter' is not a CA",
        );
        let (_pki, leaf, inter, root) =
            three("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n");
        assert_fails(
            &validate(&leaf, &[&inter], &[root], now()),
            "lacks keyCertSign",
        );
    }

    #[test]
    fn path_length_constraints_hold() {
        let (pki, _leaf, inter, root) = three("basicConstraints=critical,CA:TRUE,pathlen:0\n");
        let ext = format!("{CA}authorityKeyIdentifier=keyid\n");
        let sub = pki.certify("sub", Some("inter"), Key::P256, "/CN=Sub", 365, &ext);
        let leaf = pki.user("deep", "sub", Key::Ed25519, "deep@example.com");
        let result = validate(&leaf, &[&inter, &sub], from_ref(&root), now());
        assert_fails(&result, "'CN=Inter' allows 0 intermediate CA(s) below it");
        // The same CA may sign end-entity certificates directly.
        let direct = pki.user("direct", "inter", Key::P256, "d@example.com");
        let result = validate(&direct, &[&inter], &[root], now());
        assert_eq!(result.outcome, Outcome::Pass, "{}", result.reason);
    }

    #[test]
    fn an_expired_intermediate_fails() {
        let pki = Pki::new();
        let root = pki.root("root", "/CN=Root");
        let inter = pki.certify("inter", Some("root"), Key::P256, "/CN=Inter", 1, CA);
        let leaf = pki.certify("leaf", Some("inter"), Key::P256, "/CN=L", 1, "");
        let later = now() + Duration::from_secs(3 * 86_400);
        let result = validate(&leaf, &[&inter], &[root], later);
        assert_fails(&result, "CA certificate 'CN=Inter' expired on");
    }

    #[test]
    fn every_issuer_of_the_same_name_is_tried() {
        let pki = Pki::new();
        let twin = pki.root("twin", "/CN=Root");
        let root = pki.root("root", "/CN=Root");
        // No authorityKeyIdentifier: only the signature tells the two roots apart.
        let leaf = pki.certify(
            "leaf",
            Some("root"),
            Key::P256,
            "/CN=L",
            30,
            "keyUsage=digitalSignature\nauthorityKeyIdentifier=none\n",
        );
        let result = validate(&leaf, &[], &[twin.clone(), root.clone()], now());
        assert_eq!(result.outcome, Outcome::Pass, "{}", result.reason);
        assert_eq!(result.chain[1], root);
        assert_fails(
            &validate(&leaf, &[], &[twin], now()),
            "is not signed by 'CN=Root'",
        );
    }

    #[test]
    fn unknown_critical_extensions_fail() {
        let pki = Pki::new();
        let root = pki.root("root", "/CN=Root");
        let ext = format!(
            "{}1.2.3.4=critical,ASN1:NULL\n",
            user_extensions("x@example.com")
        );
        let leaf = pki.certify("leaf", Some("root"), Key::P256, "/CN=L", 30, &ext);
        let result = validate(&leaf, &[], &[root], now());
        assert_fails(&result, "critical extension that is not supported: 1.2.3.4");
    }

    #[test]
    fn cross_certificates_lead_to_the_other_anchor() {
        let Some(dir) = mailseal_test_support::rfc9216("certs") else {
            return;
        };
        let load = |file: &str| {
            let pem = std::fs::read(dir.join(file)).unwrap();
            crate::describe::parse_certificates(&pem).unwrap().remove(0)
        };
        let alice = load("alice@smime.example.sig.pem");
        let rsa_ca = load("Sample_LAMPS_RSA_Certification_Authority.selfsigned.pem");
        let rsa_cross = load("Sample_LAMPS_RSA_Certification_Authority.crosssigned.pem");
        let ed_ca = load("Sample_LAMPS_Ed25519_Certification_Authority.selfsigned.pem");
        let result = validate(&alice, &[&rsa_ca, &rsa_cross], from_ref(&ed_ca), now());
        assert_eq!(result.outcome, Outcome::Pass, "{}", result.reason);
        assert_eq!(result.chain.last(), Some(&ed_ca));
    }

    #[test]
    fn name_constraints_of_any_ca_above_bind_the_leaf() {
        let pki = Pki::new();
        let ext = format!("{CA}nameConstraints=critical,permitted;email:example.com\n");
        let root = pki.certify("root", None, Key::P256, "/CN=Root", 30, &ext);
        let inter = pki.certify("inter", Some("root"), Key::P256, "/CN=Inter", 30, CA);
        let ann = pki.user("ann", "inter", Key::P256, "ann@example.com");
        let eve = pki.user("eve", "inter", Key::P256, "eve@evil.test");
        let ok = validate(&ann, &[&inter], from_ref(&root), now());
        assert_eq!(ok.outcome, Outcome::Pass, "{}", ok.reason);
        assert_fails(
            &validate(&eve, &[&inter], &[root], now()),
            "'CN=eve' violates the name constraints of 'CN=Root': \
             mail address eve@evil.test is not permitted",
        );
    }

    #[test]
    fn a_trust_anchor_validates_itself() {
        let pki = Pki::new();
        let root = pki.root("root", "/CN=Root");
        let result = validate(&root, &[], from_ref(&root), now());
        assert_eq!(result.outcome, Outcome::Pass);
    }
}
