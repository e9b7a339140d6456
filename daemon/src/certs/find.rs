//! Choosing the certificate to encrypt to an address: every candidate — the user's own
//! identities, the certificate store, the company directory — gathered and judged in this one
//! place, so that `cert.find` shows exactly what `smime.encrypt` uses and why.
//!
//! A candidate is usable when it names the address (RFC 8550 §3), is valid now, its
//! extendedKeyUsage (if any) allows emailProtection or anyExtendedKeyUsage (RFC 8550 §4.4.4),
//! and its key can receive: RSA by key transport, EC P-256/P-384 and X25519 by key agreement,
//! with keyEncipherment or keyAgreement in keyUsage when keyUsage is present (RFC 8550
//! §4.4.2). Of the usable ones the one valid longest wins (a renewed certificate over the one
//! it replaces); on a tie, own identities before stored certificates before the directory's.
//!
//! Then revocation ([`Gathered::settle`]): each usable candidate's path to a trust anchor is
//! built from the stored certificates and own identities' chains (fetching missing issuers)
//! and checked under the configured policy; a revoked certificate is rejected ("revoked: …"),
//! and so is one whose status cannot be learned under `hard-fail`; under `soft-fail` and `off`
//! the reason says it was not checked and why. A certificate harvested from mail or brought
//! by the directory is only usable with a path to a trust anchor (anyone can sign a message
//! with a self-made certificate for someone else's address); one the user imported or holds
//! need not have one, as people exchange certificates from CAs the company does not know.

use crate::state::Daemon;
use const_oid::db::{rfc5912, rfc8410};
use mailseal_pkix::Outcome;
use mailseal_pkix::describe::{Fingerprint, Period, emails, key_algorithm, named_curve, period};
use mailseal_pkix::revocation::Judgement;
use mailseal_pkix::store::Origin;
use mailseal_protocol::methods::cert::{CertSource, DirectoryStatus};
use std::cmp::Reverse;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage};

/// The verdict on one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Mail can be encrypted to it; the words say how, and until when.
    Usable(String),
    /// It cannot be encrypted to; the words say why.
    Rejected(String),
}

impl Verdict {
    /// Whether mail can be encrypted to the certificate.
    pub fn is_usable(&self) -> bool {
        matches!(self, Self::Usable(_))
    }

    /// The reason, either way.
    pub fn reason(&self) -> &str {
        match self {
            Self::Usable(how) => how,
            Self::Rejected(why) => why,
        }
    }
}

/// A certificate considered for an address, where it came from, and the verdict.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The certificate.
    pub certificate: Certificate,
    /// Where it came from.
    pub source: CertSource,
    /// Whether it can be used, and why.
    pub verdict: Verdict,
}

/// Everything found for an address.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Every candidate, each certificate once: the usable ones first, best first, then the
    /// rejected ones.
    pub candidates: Vec<Candidate>,
    /// What the directory said.
    pub directory: DirectoryStatus,
}

impl Finding {
    /// The certificate to encrypt to, when any is usable.
    pub fn best(&self) -> Option<&Candidate> {
        self.candidates.first().filter(|c| c.verdict.is_usable())
    }

    /// Why no certificate is usable, in one line for an error that names the recipient.
    pub fn why_none(&self) -> String {
        let mut reasons: Vec<String> = self
            .candidates
            .iter()
            .map(|c| {
                let fingerprint = Fingerprint::of(&c.certificate).to_string();
                format!(
                    "{} certificate {}…: {}",
                    c.source,
                    &fingerprint[..16],
                    c.verdict.reason()
                )
            })
            .collect();
        if reasons.is_empty() {
            reasons.push("no certificate is known".into());
        }
        if let DirectoryStatus::Failed { error } = &self.directory {
            reasons.push(format!("the directory could not be asked: {error}"));
        }
        reasons.join("; ")
    }
}

/// Gathers and judges every certificate for `address` (any case) as of `now`.
///
/// The directory, when configured, is asked every time (through its cache); the usable
/// certificates it gives are stored (origin [`Origin::Directory`]), so that they serve when
/// the directory cannot be reached and `cert.list` shows them. A failed lookup is reported in
/// [`Finding::directory`], never as an error: local candidates may still do.
pub async fn find(daemon: &Arc<Daemon>, address: &str, now: SystemTime) -> Finding {
    let gathered = gather(daemon, address, now).await;
    let unsettled = Finding {
        candidates: gathered.candidates.clone(),
        directory: gathered.directory.clone(),
    };
    let worker = Arc::clone(daemon);
    let settled = tokio::task::spawn_blocking(move || {
        gathered.settle(&worker, &PathMaterial::of(&worker).certificates(), now)
    })
    .await;
    settled.unwrap_or_else(|error| {
        tracing::warn!(error = %error, "revocation checking of recipients failed");
        let candidates = unsettled
            .candidates
            .into_iter()
            .map(|mut candidate| {
                if candidate.verdict.is_usable() {
                    let why = format!("revocation could not be checked: {error}");
                    candidate.verdict = Verdict::Rejected(why);
                }
                candidate
            })
            .collect();
        Finding {
            candidates,
            ..unsettled
        }
    })
}

/// The candidates for one address, judged on everything but revocation: what [`find`] has
/// after the directory answered. Settling it ([`Gathered::settle`]) blocks, so that a request
/// for several recipients can settle them all in one piece of blocking work.
#[derive(Debug)]
pub struct Gathered {
    candidates: Vec<Candidate>,
    stored: HashSet<Fingerprint>,
    directory: DirectoryStatus,
}

/// The certificates paths to a trust anchor are built from: the store and the own
/// identities' chains, which hold the company's intermediates. The store's are shared, not
/// copied.
#[derive(Debug)]
pub struct PathMaterial {
    stored: Vec<Arc<Certificate>>,
    chains: Vec<Certificate>,
}

impl PathMaterial {
    /// The store's certificates and the own identities' chains now.
    pub fn of(daemon: &Daemon) -> Self {
        Self {
            stored: daemon.certs.shared(),
            chains: daemon
                .own_identities()
                .into_iter()
                .flat_map(|identity| identity.chain)
                .collect(),
        }
    }

    /// All of them, for path building.
    pub fn certificates(&self) -> Vec<&Certificate> {
        self.stored
            .iter()
            .map(|cert| &**cert)
            .chain(&self.chains)
            .collect()
    }
}

impl Gathered {
    /// Checks the revocation of the usable candidates with paths built from `intermediates`
    /// ([`PathMaterial`]), and stores the usable certificates the directory brought. Blocks:
    /// it may ask OCSP responders and CRL servers and writes to the store.
    pub fn settle(
        self,
        daemon: &Daemon,
        intermediates: &[&Certificate],
        now: SystemTime,
    ) -> Finding {
        let candidates = revoked_or_not(daemon, self.candidates, intermediates, now);
        let new: Vec<Certificate> = candidates
            .iter()
            .filter(|c| c.source == CertSource::Directory && c.verdict.is_usable())
            .map(|c| c.certificate.clone())
            .filter(|cert| !self.stored.contains(&Fingerprint::of(cert)))
            .collect();
        // A failure only costs the copy that would serve when the directory is down.
        if !new.is_empty()
            && let Err(error) = daemon.certs.add(new, Origin::Directory)
        {
            tracing::warn!(error = %error, "cannot store certificates from the directory");
        }
        Finding {
            candidates,
            directory: self.directory,
        }
    }
}

/// Gathers the candidates for `address` (any case) and judges all but their revocation.
pub async fn gather(daemon: &Arc<Daemon>, address: &str, now: SystemTime) -> Gathered {
    let address = address.trim().to_ascii_lowercase();
    let mut gathered = local_certificates(daemon, &address);
    let stored: HashSet<Fingerprint> = gathered
        .iter()
        .map(|(cert, _)| Fingerprint::of(cert))
        .collect();
    let directory = match &daemon.directory {
        None => DirectoryStatus::NotConfigured,
        Some(directory) => match directory.lookup(&address).await {
            Ok(lookup) => {
                let answer = &lookup.answer;
                gathered.extend(
                    answer
                        .certificates
                        .iter()
                        .map(|cert| (cert.clone(), CertSource::Directory)),
                );
                DirectoryStatus::Answered {
                    certificates: answer.certificates.len(),
                    cached: lookup.cached,
                    unreadable: answer.unreadable.clone(),
                }
            }
            Err(error) => DirectoryStatus::Failed {
                error: error.to_string(),
            },
        },
    };
    Gathered {
        candidates: judge_all(gathered, &address, now),
        stored,
        directory,
    }
}

/// The own identities' and stored certificates for `address`, with their sources.
fn local_certificates(daemon: &Daemon, address: &str) -> Vec<(Certificate, CertSource)> {
    let own = daemon
        .own_identities()
        .into_iter()
        .map(|identity| identity.certificate)
        .filter(|cert| emails(cert).iter().any(|e| e == address))
        .map(|cert| (cert, CertSource::Own));
    let stored = daemon.certs.list(Some(address)).into_iter().map(|cert| {
        let source = match daemon.certs.origin(&Fingerprint::of(&cert)) {
            Origin::Imported => CertSource::Store,
            Origin::Harvested => CertSource::Harvested,
            Origin::Directory => CertSource::Directory,
        };
        (cert, source)
    });
    own.chain(stored).collect()
}

/// Judges each certificate once (its first source counts) and orders the verdicts: usable
/// ones first, valid longest first, then by [`rank`]; then the rejected, as gathered.
fn judge_all(
    gathered: Vec<(Certificate, CertSource)>,
    address: &str,
    now: SystemTime,
) -> Vec<Candidate> {
    let mut seen = HashSet::new();
    let (mut usable, rejected): (Vec<Candidate>, Vec<Candidate>) = gathered
        .into_iter()
        .filter(|(cert, _)| seen.insert(Fingerprint::of(cert)))
        .map(|(certificate, source)| Candidate {
            verdict: judge(&certificate, address, now),
            certificate,
            source,
        })
        .partition(|c| c.verdict.is_usable());
    usable.sort_by_key(|c| {
        let not_after = c.certificate.tbs_certificate().validity().not_after;
        (Reverse(not_after.to_system_time()), rank(c.source))
    });
    usable.extend(rejected);
    usable
}

/// Checks the revocation of the usable candidates and turns revoked ones, or under
/// hard-fail ones that cannot be checked, into rejected ones, which then go after the usable
/// ones. Blocks: it may ask OCSP responders and CRL servers.
fn revoked_or_not(
    daemon: &Daemon,
    candidates: Vec<Candidate>,
    intermediates: &[&Certificate],
    now: SystemTime,
) -> Vec<Candidate> {
    let (usable, rejected): (Vec<Candidate>, Vec<Candidate>) = candidates
        .into_iter()
        .map(|mut candidate| {
            if let Verdict::Usable(how) = &candidate.verdict {
                let found =
                    daemon
                        .issuers
                        .validate(&candidate.certificate, intermediates, &daemon.anchors, now);
                let chain = match found.outcome {
                    Outcome::Pass => Ok(found.chain.as_slice()),
                    _ => Err(found.reason.as_str()),
                };
                if let (Err(why), true) = (chain, needs_trusted_path(candidate.source)) {
                    candidate.verdict = Verdict::Rejected(format!(
                        "it does not chain to a trusted CA ({why}); import it yourself to use it anyway"
                    ));
                    return candidate;
                }
                candidate.verdict = match daemon.revocation.judge(chain, &[], now) {
                    Judgement::Good(_) => Verdict::Usable(format!("{how}, not revoked")),
                    Judgement::NotChecked(why) => {
                        Verdict::Usable(format!("{how}; revocation not checked: {why}"))
                    }
                    Judgement::Revoked(why) => Verdict::Rejected(format!("revoked: {why}")),
                    Judgement::Unavailable(why) => Verdict::Rejected(format!(
                        "revocation could not be checked (the policy is hard-fail): {why}"
                    )),
                };
            }
            candidate
        })
        .partition(|c| c.verdict.is_usable());
    usable.into_iter().chain(rejected).collect()
}

/// Whether a candidate is only usable with a path to a trust anchor: what reached the store
/// by itself (from a signed message anyone could have sent, or from the directory over the
/// network) must be vouched for by a trusted CA; what the user holds or imported on purpose
/// need not be, as people exchange certificates from CAs the company does not know.
fn needs_trusted_path(source: CertSource) -> bool {
    matches!(source, CertSource::Harvested | CertSource::Directory)
}

/// Preference among equally good certificates: what the user holds or chose over what a
/// lookup brought.
fn rank(source: CertSource) -> u8 {
    match source {
        CertSource::Own => 0,
        CertSource::Store => 1,
        CertSource::Harvested => 2,
        CertSource::Directory => 3,
    }
}

/// Whether mail to `address` (lowercase) can be encrypted to `cert` at `now`, and why.
pub fn judge(cert: &Certificate, address: &str, now: SystemTime) -> Verdict {
    match check(cert, address, now) {
        Ok(how) => Verdict::Usable(how),
        Err(why) => Verdict::Rejected(why),
    }
}

fn check(cert: &Certificate, address: &str, now: SystemTime) -> Result<String, String> {
    let tbs = cert.tbs_certificate();
    let names = emails(cert);
    if !names.iter().any(|name| name == address) {
        return Err(if names.is_empty() {
            format!("it names no mail address, so not {address}")
        } else {
            format!("it is for {}, not {address}", names.join(", "))
        });
    }
    let valid_until = match period(cert, now) {
        Period::Before(start) => return Err(format!("not valid before {start}")),
        Period::After(end) => return Err(format!("expired on {end}")),
        Period::Within(end) => end,
    };
    match tbs.get_extension::<ExtendedKeyUsage>() {
        Err(e) => return Err(format!("its extendedKeyUsage is malformed: {e}")),
        Ok(Some((_, usage)))
            if !usage.0.iter().any(|oid| {
                *oid == rfc5912::ID_KP_EMAIL_PROTECTION || *oid == rfc5912::ANY_EXTENDED_KEY_USAGE
            }) =>
        {
            return Err("its extendedKeyUsage does not allow emailProtection".into());
        }
        _ => {}
    }
    let spki = tbs.subject_public_key_info();
    let key_agreement = (
        KeyUsage::key_agreement as fn(&KeyUsage) -> bool,
        "keyAgreement",
    );
    let (how, (allows, bit)) = match spki.algorithm.oid {
        rfc5912::RSA_ENCRYPTION => (
            "RSA key transport",
            (
                KeyUsage::key_encipherment as fn(&KeyUsage) -> bool,
                "keyEncipherment",
            ),
        ),
        rfc5912::ID_EC_PUBLIC_KEY => match named_curve(spki) {
            Some(rfc5912::SECP_256_R_1) => ("ECDH key agreement (P-256)", key_agreement),
            Some(rfc5912::SECP_384_R_1) => ("ECDH key agreement (P-384)", key_agreement),
            _ => {
                return Err(format!(
                    "its elliptic curve ({}) is not supported for encryption",
                    key_algorithm(cert)
                ));
            }
        },
        rfc8410::ID_X_25519 => ("X25519 key agreement", key_agreement),
        rfc8410::ID_ED_25519 => return Err("an Ed25519 key can only sign".into()),
        _ => {
            return Err(format!(
                "its key type ({}) cannot be encrypted to",
                key_algorithm(cert)
            ));
        }
    };
    match tbs.get_extension::<KeyUsage>() {
        Err(e) => Err(format!("its keyUsage is malformed: {e}")),
        Ok(Some((_, usage))) if !allows(&usage) => Err(format!(
            "wrong key usage: keyUsage lacks {bit}, which {how} needs"
        )),
        _ => Ok(format!("{how}, valid until {valid_until}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_test_support::pki::{Key, Pki};
    use std::time::Duration;

    /// A certificate for `email` with `key` and the extension lines `ext`, valid 30 days.
    fn cert(pki: &Pki, name: &str, key: Key, email: &str, ext: &str) -> Certificate {
        let ext = format!("subjectAltName=email:{email}\n{ext}");
        let subject = format!("/CN={name}");
        pki.certify(name, Some("root"), key, &subject, 30, &ext)
    }

    fn rejected(verdict: Verdict) -> String {
        match verdict {
            Verdict::Rejected(why) => why,
            Verdict::Usable(how) => panic!("usable: {how}"),
        }
    }

    #[test]
    fn the_judge_gives_a_reason_for_everything() {
        let pki = Pki::new();
        pki.root("root", "/CN=Root");
        let bob = "bob@example.com";
        let rsa = cert(
            &pki,
            "rsa",
            Key::Rsa(2048),
            bob,
            "keyUsage=keyEncipherment\n",
        );
        // Certificates start at the second they are made: judge a moment later.
        let now = SystemTime::now() + Duration::from_secs(60);
        let verdict = judge(&rsa, bob, now);
        assert!(
            verdict
                .reason()
                .starts_with("RSA key transport, valid until "),
            "{verdict:?}"
        );
        let ec = cert(&pki, "ec", Key::P384, bob, "keyUsage=keyAgreement\n");
        assert_eq!(
            judge(&ec, bob, now).reason().split(',').next(),
            Some("ECDH key agreement (P-384)")
        );
        let no_usage = cert(&pki, "plain", Key::P256, bob, "");
        assert!(judge(&no_usage, bob, now).is_usable());

        let not_after = rsa.tbs_certificate().validity().not_after.to_system_time();
        let later = not_after + Duration::from_secs(86_400);
        assert!(rejected(judge(&rsa, bob, later)).starts_with("expired on "));
        let earlier =
            rsa.tbs_certificate().validity().not_before.to_system_time() - Duration::from_secs(1);
        assert!(rejected(judge(&rsa, bob, earlier)).starts_with("not valid before "));
        assert_eq!(
            rejected(judge(&rsa, "carol@example.com", now)),
            "it is for bob@example.com, not carol@example.com"
        );

        let signing = cert(
            &pki,
            "sig",
            Key::Rsa(2048),
            bob,
            "keyUsage=digitalSignature\n",
        );
        assert_eq!(
            rejected(judge(&signing, bob, now)),
            "wrong key usage: keyUsage lacks keyEncipherment, which RSA key transport needs"
        );
        let ec_sig = cert(&pki, "ecsig", Key::P256, bob, "keyUsage=digitalSignature\n");
        assert!(rejected(judge(&ec_sig, bob, now)).contains("lacks keyAgreement"));
        let ed = cert(&pki, "ed", Key::Ed25519, bob, "");
        assert_eq!(
            rejected(judge(&ed, bob, now)),
            "an Ed25519 key can only sign"
        );
        let server = cert(&pki, "srv", Key::P256, bob, "extendedKeyUsage=serverAuth\n");
        assert!(rejected(judge(&server, bob, now)).contains("emailProtection"));
        let any = cert(
            &pki,
            "any",
            Key::P256,
            bob,
            "extendedKeyUsage=anyExtendedKeyUsage\n",
        );
        assert!(judge(&any, bob, now).is_usable());
    }

    #[test]
    fn the_certificate_valid_longest_wins_and_each_is_judged_once() {
        let pki = Pki::new();
        pki.root("root", "/CN=Root");
        let bob = "bob@example.com";
        let ext = format!("subjectAltName=email:{bob}\n");
        let short = pki.certify("short", Some("root"), Key::P256, "/CN=S", 30, &ext);
        let long = pki.certify("long", Some("root"), Key::P256, "/CN=L", 90, &ext);
        let ed = pki.certify("ed", Some("root"), Key::Ed25519, "/CN=E", 365, &ext);
        let now = SystemTime::now() + Duration::from_secs(60);
        let gathered = vec![
            (ed.clone(), CertSource::Store),
            (short.clone(), CertSource::Own),
            (long.clone(), CertSource::Directory),
            (short.clone(), CertSource::Directory),
        ];
        let judged = judge_all(gathered, bob, now);
        let order: Vec<_> = judged
            .iter()
            .map(|c| (c.certificate.clone(), c.source, c.verdict.is_usable()))
            .collect();
        assert_eq!(
            order,
            vec![
                (long, CertSource::Directory, true),
                (short, CertSource::Own, true),
                (ed, CertSource::Store, false),
            ]
        );
        let finding = Finding {
            candidates: judged,
            directory: DirectoryStatus::NotConfigured,
        };
        assert_eq!(finding.best().unwrap().source, CertSource::Directory);
    }

    #[test]
    fn without_any_candidate_the_reason_says_so() {
        let finding = Finding {
            candidates: Vec::new(),
            directory: DirectoryStatus::Failed {
                error: "cannot connect".into(),
            },
        };
        assert!(finding.best().is_none());
        assert_eq!(
            finding.why_none(),
            "no certificate is known; the directory could not be asked: cannot connect"
        );
    }
}
