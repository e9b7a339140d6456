//! Revocation (RFC 5280 §6.3, RFC 6960): whether a CA has withdrawn a certificate on a path,
//! learned in this order: from a current CRL of its issuer that the message carries or that
//! IT placed in `crl_dir` (no network needed), from the OCSP responders the certificate names (one small signed answer
//! about exactly this certificate), then from its CRL distribution points (a whole list, but
//! one that serves every certificate of that CA until its nextUpdate). Answers are cached until
//! their nextUpdate; requests go through a [`Fetcher`] over any [`Fetch`] (the product's
//! [`HttpFetch`] by default: deadline, size cap), which remembers failures for 30 seconds.
//!
//! What an unanswerable question means is the company's policy (`revocation` in the
//! configuration, [`RevocationPolicy`]): under `soft-fail` (the default) the report says "not
//! checked" and why, under `hard-fail` the certificate is not trusted, under `off` nothing is
//! asked. A revoked certificate is refused under every policy but `off`. Nothing is fetched
//! unless a certificate names a URL, so a default start needs no network.
//!
//! Fetched CRLs are also kept on disk ([`disk`]); OCSP answers only in memory.
//!
//! Not done: delta and indirect CRLs, the revocation of a delegated OCSP responder's own
//! certificate.

pub mod crl;
mod disk;
pub mod ocsp;

use super::describe::Fingerprint;
use super::fetch::{Cache, Fetch, Fetcher, HttpFetch, Request, access_urls};
use super::path::name;
use const_oid::db::rfc5912;
use disk::CrlDir;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;

/// How revocation is checked (RFC 5280 §6.3, RFC 6960), set by `revocation` in the
/// daemon's configuration (with the `serde` feature, it reads as `soft-fail`, `hard-fail`, `off`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum RevocationPolicy {
    /// Checked; when no answer can be had (no CRL distribution point or OCSP responder, a
    /// responder down) the report says "not checked" and why, and the signature may still be
    /// valid. The default, as in most S/MIME clients: a company CA without OCSP must not make
    /// every signature invalid.
    #[default]
    SoftFail,
    /// Checked, and a certificate whose status cannot be learned counts as failed: no
    /// signature is valid and no recipient usable without a fresh "good".
    HardFail,
    /// Not checked at all (no network access for it); reported as not checked.
    Off,
}

/// The largest CRL fetched (a big CA's CRL runs to a few MB).
const MAX_CRL: usize = 16 * 1024 * 1024;
/// The largest OCSP answer accepted (a few KB in practice).
const MAX_OCSP: usize = 64 * 1024;

/// What a CA says about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not revoked; the words say who said so and as of when.
    Good(String),
    /// Revoked; the words say when, why and who said so.
    Revoked(String),
}

/// The verdict on a whole path under the policy, for the report and the recipient check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Every certificate on the path is known not to be revoked.
    Good(String),
    /// A certificate on the path is revoked.
    Revoked(String),
    /// Not checked, and the policy (soft-fail, off) lets that pass; the words say why.
    NotChecked(String),
    /// Could not be checked, and the policy (hard-fail) counts that as a failure.
    Unavailable(String),
}

/// The revocation checker: the policy, the timeout, and the caches.
#[derive(Debug)]
pub struct Revocation {
    policy: RevocationPolicy,
    fetcher: Fetcher,
    /// OCSP answers by (certificate, issuer).
    ocsp: Cache<(Fingerprint, Fingerprint), Status>,
    /// CRLs by URL.
    crls: Cache<String, Arc<CertificateList>>,
    /// CRLs kept across restarts, when a directory is given.
    disk: Option<CrlDir>,
    /// CRLs an administrator placed in `crl_dir`, with the file each came from.
    local: Vec<(String, CertificateList)>,
}

impl Revocation {
    /// A checker applying `policy`, fetching over HTTP with `timeout` per request.
    pub fn new(policy: RevocationPolicy, timeout: Duration) -> Self {
        Self::with_fetch(policy, Arc::new(HttpFetch::new(timeout)))
    }

    /// A checker applying `policy`, fetching CRLs and OCSP answers with `fetch` (a gateway's
    /// own client, a local one in tests).
    pub fn with_fetch(policy: RevocationPolicy, fetch: Arc<dyn Fetch>) -> Self {
        Self {
            policy,
            fetcher: Fetcher::new(fetch),
            ocsp: Cache::new(),
            crls: Cache::new(),
            disk: None,
            local: Vec::new(),
        }
    }

    /// The same checker also using the CRLs (DER or PEM) of the files in `dir`, read now; a
    /// file that is not a CRL is logged and skipped.
    pub fn with_local_crls(mut self, dir: &Path) -> Self {
        let files = match std::fs::read_dir(dir) {
            Ok(files) => files,
            Err(error) => {
                tracing::warn!(dir = %dir.display(), error = %error, "cannot read crl_dir");
                return self;
            }
        };
        for path in files.flatten().map(|entry| entry.path()) {
            let source = path.display().to_string();
            match std::fs::read(&path)
                .map_err(|e| format!("cannot read {source}: {e}"))
                .and_then(|data| crl::parse_file(&data, &source))
            {
                Ok(list) => self.local.push((source, list)),
                Err(error) => tracing::warn!(error, "skipping a file of crl_dir"),
            }
        }
        self
    }

    /// The same checker keeping fetched CRLs in `dir` across restarts.
    pub fn keeping_crls_in(self, dir: PathBuf) -> Self {
        Self {
            disk: Some(CrlDir::new(dir)),
            ..self
        }
    }

    /// Judges a path (leaf first, trust anchor last) at `now`, with the CRLs a message
    /// `carried`; `path` is `Err` with the reason when no valid path was found, and then
    /// nothing can be asked.
    pub fn judge(
        &self,
        path: Result<&[Certificate], &str>,
        carried: &[CertificateList],
        now: SystemTime,
    ) -> Judgement {
        if self.policy == RevocationPolicy::Off {
            return Judgement::NotChecked("revocation checking is off".into());
        }
        let status = path
            .map_err(|why| format!("no valid path to a trust anchor ({why})"))
            .and_then(|chain| self.check_path(chain, carried, now));
        match (status, self.policy) {
            (Ok(Status::Good(how)), _) => Judgement::Good(how),
            (Ok(Status::Revoked(why)), _) => Judgement::Revoked(why),
            (Err(why), RevocationPolicy::HardFail) => Judgement::Unavailable(why),
            (Err(why), _) => Judgement::NotChecked(why),
        }
    }

    /// The status of every certificate on `chain` but the trust anchor, each asked of its
    /// issuer's responders; the first revoked one wins, then the first that cannot be told.
    fn check_path(
        &self,
        chain: &[Certificate],
        carried: &[CertificateList],
        now: SystemTime,
    ) -> Result<Status, String> {
        if chain.len() < 2 {
            return Ok(Status::Good(
                "the certificate is itself a trust anchor".into(),
            ));
        }
        let mut good = Vec::new();
        let mut unknown = None;
        for (depth, pair) in chain.windows(2).enumerate() {
            let [cert, issuer] = pair else { continue };
            let whose = if depth == 0 {
                String::new()
            } else {
                format!("CA certificate {}: ", name(cert))
            };
            match self.status(cert, issuer, carried, now) {
                Ok(Status::Revoked(why)) => return Ok(Status::Revoked(format!("{whose}{why}"))),
                Ok(Status::Good(how)) => good.push(format!("{whose}{how}")),
                Err(why) => {
                    unknown.get_or_insert(format!("{whose}{why}"));
                }
            }
        }
        match unknown {
            Some(why) => Err(why),
            None => Ok(Status::Good(good.join("; "))),
        }
    }

    /// The status of `cert` from a CRL the message carries or an administrator placed in
    /// `crl_dir`, else OCSP, else its CRL distribution points.
    fn status(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        carried: &[CertificateList],
        now: SystemTime,
    ) -> Result<Status, String> {
        let mut errors = Vec::new();
        let from_message = carried.iter().map(|list| ("the message", list, false));
        let from_dir = self
            .local
            .iter()
            .map(|(file, list)| (file.as_str(), list, true));
        let by_issuer = from_message
            .chain(from_dir)
            .filter(|(_, list, _)| &list.tbs_cert_list.issuer == cert.tbs_certificate().issuer());
        for (source, list, local) in by_issuer {
            match crl::status(list, source, cert, issuer, now) {
                Ok(status) => return Ok(status),
                // A carried CRL that does not check out (stale, forged) is passed over
                // silently: the sender chose it, so it only ever saves a request.
                Err(why) if local => errors.push(why),
                Err(_) => {}
            }
        }
        for url in access_urls(cert, rfc5912::ID_AD_OCSP) {
            match self.ocsp_status(cert, issuer, &url, now) {
                Ok(status) => return Ok(status),
                Err(why) => errors.push(why),
            }
        }
        for url in crl::distribution_points(cert) {
            match self.crl_status(cert, issuer, &url, now) {
                Ok(status) => return Ok(status),
                Err(why) => errors.push(why),
            }
        }
        if errors.is_empty() {
            Err(format!(
                "{} names no CRL distribution point or OCSP responder",
                name(cert)
            ))
        } else {
            Err(errors.join("; "))
        }
    }

    fn ocsp_status(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        url: &str,
        now: SystemTime,
    ) -> Result<Status, String> {
        let key = (Fingerprint::of(cert), Fingerprint::of(issuer));
        if let Some(status) = self.ocsp.get(&key, now) {
            return Ok(status);
        }
        let query = ocsp::request(cert, issuer)?;
        let request = Request::Post {
            content_type: "application/ocsp-request",
            body: &query.der,
        };
        let response = self
            .fetcher
            .fetch("OCSP responder", url, request, MAX_OCSP, now)
            .map_err(|failed| failed.to_string())?;
        let (status, next_update) = ocsp::answer(&query, &response, url, issuer, now)?;
        if let Some(until) = next_update {
            self.ocsp.put(key, status.clone(), until, now);
        }
        Ok(status)
    }

    fn crl_status(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        url: &str,
        now: SystemTime,
    ) -> Result<Status, String> {
        let kept = || self.disk.as_ref().and_then(|disk| disk.load(url, now));
        let list = match self.crls.get(&url.to_owned(), now) {
            Some(list) => list,
            None => {
                // Only a CRL this issuer signed is kept or reused: one that fails the check
                // (forged, or another CA's at the same URL) is fetched again next time.
                let kept = kept().filter(|list| crl::verified(list, url, issuer, now).is_ok());
                let list = match kept {
                    Some(list) => list,
                    None => {
                        let der = self
                            .fetcher
                            .fetch("CRL server", url, Request::Get, MAX_CRL, now)
                            .map_err(|failed| failed.to_string())?;
                        let list = crl::parse(&der, url)?;
                        crl::verified(&list, url, issuer, now)?;
                        if let Some(disk) = &self.disk {
                            disk.store(url, &der);
                        }
                        list
                    }
                };
                let list = Arc::new(list);
                if let Some(until) = crl::fresh_until(&list) {
                    self.crls.put(url.to_owned(), Arc::clone(&list), until, now);
                }
                list
            }
        };
        crl::status(&list, url, cert, issuer, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_test_support::pki::{Key, Pki};

    /// Root → user, neither naming a CRL or responder: nothing can be asked.
    fn unpublished() -> (Pki, Vec<Certificate>) {
        let pki = Pki::new();
        let root = pki.root("root", "/CN=Root");
        let user = pki.user("user", "root", Key::P256, "u@example.com");
        (pki, vec![user, root])
    }

    fn checker(policy: RevocationPolicy) -> Revocation {
        Revocation::new(policy, Duration::from_secs(1))
    }

    #[test]
    fn what_cannot_be_asked_is_up_to_the_policy() {
        let (_pki, chain) = unpublished();
        let now = SystemTime::now();
        let why = "'CN=user' names no CRL distribution point or OCSP responder";
        assert_eq!(
            checker(RevocationPolicy::SoftFail).judge(Ok(&chain), &[], now),
            Judgement::NotChecked(why.into())
        );
        assert_eq!(
            checker(RevocationPolicy::HardFail).judge(Ok(&chain), &[], now),
            Judgement::Unavailable(why.into())
        );
        assert_eq!(
            checker(RevocationPolicy::Off).judge(Ok(&chain), &[], now),
            Judgement::NotChecked("revocation checking is off".into())
        );
        assert_eq!(
            checker(RevocationPolicy::HardFail).judge(Err("issuer unknown"), &[], now),
            Judgement::Unavailable("no valid path to a trust anchor (issuer unknown)".into())
        );
        let anchor = &chain[1..];
        assert_eq!(
            checker(RevocationPolicy::HardFail).judge(Ok(anchor), &[], now),
            Judgement::Good("the certificate is itself a trust anchor".into())
        );
    }

    #[test]
    fn a_dead_server_costs_one_timeout_per_half_minute() {
        let (pki, _) = unpublished();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let ext = format!(
            "subjectAltName=email:d@example.com\n\
             crlDistributionPoints=URI:http://127.0.0.1:{port}/root.crl\n"
        );
        let user = pki.certify("dp", Some("root"), Key::P256, "/CN=dp", 30, &ext);
        let chain = [user, pki.cert("root")];
        let revocation = checker(RevocationPolicy::SoftFail);
        let now = SystemTime::now();
        let refused = format!("CRL server 127.0.0.1:{port} refused the connection");
        assert_eq!(
            revocation.judge(Ok(&chain), &[], now),
            Judgement::NotChecked(refused.clone())
        );
        // Remembered: a server listening now is not asked again within the half minute.
        let _listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        assert_eq!(
            revocation.judge(Ok(&chain), &[], now + Duration::from_secs(10)),
            Judgement::NotChecked(refused)
        );
    }

    /// A user `name` of `root` whose CRL distribution point is a server on 127.0.0.1 that
    /// answers once with the CRL `signer` makes; the user's chain.
    fn chain_with_served_crl(pki: &Pki, signer: &str, name: &str) -> [Certificate; 2] {
        crl::tests::crl_of(pki, signer, "");
        let mut answer = format!(
            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n",
            pki.read("crl.der").len()
        )
        .into_bytes();
        answer.extend(pki.read("crl.der"));
        let url = crate::fetch::test_server::serve_once(answer);
        let ext =
            format!("subjectAltName=email:{name}@example.com\ncrlDistributionPoints=URI:{url}\n");
        let user = pki.certify(
            name,
            Some("root"),
            Key::P256,
            &format!("/CN={name}"),
            30,
            &ext,
        );
        [user, pki.cert("root")]
    }

    #[test]
    fn a_forged_crl_is_neither_kept_nor_reused() {
        let (pki, _) = unpublished();
        // Another CA with the same name signs a "CRL" for the real one's certificates.
        pki.root("forger", "/CN=Root");
        let chain = chain_with_served_crl(&pki, "forger", "fd");
        let kept = tempfile::tempdir().unwrap();
        let now = SystemTime::now() + Duration::from_secs(60);
        let checker = checker(RevocationPolicy::HardFail).keeping_crls_in(kept.path().join("crls"));
        let judged = checker.judge(Ok(&chain), &[], now);
        assert!(
            matches!(&judged, Judgement::Unavailable(why) if why.contains("signature")),
            "{judged:?}"
        );
        let on_disk = std::fs::read_dir(kept.path().join("crls")).map_or(0, |d| d.count());
        assert_eq!(on_disk, 0, "a CRL that fails its check is not kept");
        // Asked again (past the memory of the failure), it is fetched again, not reused: the
        // server answered once and is gone.
        let later = now + Duration::from_secs(60);
        let judged = checker.judge(Ok(&chain), &[], later);
        assert!(
            matches!(&judged, Judgement::Unavailable(why) if !why.contains("signature")),
            "{judged:?}"
        );
    }

    #[test]
    fn fetched_crls_are_kept_on_disk_until_their_next_update() {
        let (pki, _) = unpublished();
        let chain = chain_with_served_crl(&pki, "root", "dp");
        let kept = tempfile::tempdir().unwrap();
        let now = SystemTime::now() + Duration::from_secs(60);
        let first = checker(RevocationPolicy::HardFail).keeping_crls_in(kept.path().join("crls"));
        assert!(matches!(
            first.judge(Ok(&chain), &[], now),
            Judgement::Good(_)
        ));
        // A restarted daemon: nothing in memory, the server gone (it answered once); what a
        // write interrupted by a crash left is removed.
        let leftover = kept.path().join("crls").join(".ab12.crl.4242.0.tmp");
        std::fs::write(&leftover, b"half a CRL").unwrap();
        let second = checker(RevocationPolicy::HardFail).keeping_crls_in(kept.path().join("crls"));
        assert!(!leftover.exists());
        let judged = second.judge(Ok(&chain), &[], now);
        assert!(
            matches!(&judged, Judgement::Good(how) if how.starts_with("not on the CRL")),
            "{judged:?}"
        );
        let after = now + Duration::from_secs(3 * 86_400);
        assert!(matches!(
            second.judge(Ok(&chain), &[], after),
            Judgement::Unavailable(_)
        ));
    }
}
