//! Issuer certificates fetched from where a certificate says its issuer's certificate is
//! published (authorityInfoAccess caIssuers, RFC 5280 §4.2.2.1), for paths whose intermediates
//! neither the message nor the store has: a recipient's certificate from the directory, a
//! sender whose client does not include the chain.
//!
//! Only `http://` URLs are used; the answer may be one certificate (DER or PEM) or a PKCS #7
//! certs-only bag. What is fetched is only a candidate: the path search checks it like any
//! other intermediate. Answers are cached for a day, failures for 30 seconds, and one path
//! search fetches at most four URLs.
//!
//! Off unless `fetch_issuers = true`: the URL comes from a certificate nobody has verified
//! yet, so fetching it when a message is opened would tell whoever made the certificate that
//! the message was read (a web bug), and would let mail make the daemon send requests into
//! the local network. OCSP and CRL URLs are only used once a path to a trust anchor holds,
//! so they come from a trusted CA.

use super::describe::{parse_certificates, signed_data_certificates};
use super::fetch::{Cache, Fetch, Fetcher, HttpFetch, Request, access_urls};
use super::path::{self, PathResult};
use crate::Outcome;
use const_oid::db::rfc5912;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use x509_cert::Certificate;

/// The largest answer accepted: a certificate bag of a few CA certificates.
const MAX_ANSWER: usize = 1024 * 1024;
/// URLs fetched at most per path search.
const MAX_FETCHES: usize = 4;
/// How long fetched issuer certificates are reused.
const KEEP: Duration = Duration::from_secs(24 * 3600);

/// The issuer fetcher with its cache.
#[derive(Debug)]
pub struct Issuers {
    enabled: bool,
    fetcher: Fetcher,
    cache: Cache<String, Vec<Certificate>>,
}

impl Issuers {
    /// Fetching over HTTP with `timeout` per request; when not `enabled`, nothing is fetched.
    pub fn new(timeout: Duration, enabled: bool) -> Self {
        Self::with_fetch(Arc::new(HttpFetch::new(timeout)), enabled)
    }

    /// Fetching with `fetch` (a gateway's own client, a local one in tests); when not
    /// `enabled`, nothing is fetched.
    pub fn with_fetch(fetch: Arc<dyn Fetch>, enabled: bool) -> Self {
        Self {
            enabled,
            fetcher: Fetcher::new(fetch),
            cache: Cache::new(),
        }
    }

    /// [`path::validate`], but when no path is found and the certificate where the furthest
    /// attempt stopped names caIssuers URLs, their certificates are fetched and the search
    /// runs again. A fetch that fails is added to the reason.
    pub fn validate(
        &self,
        leaf: &Certificate,
        intermediates: &[&Certificate],
        anchors: &[Certificate],
        now: SystemTime,
    ) -> PathResult {
        let mut fetched_certs: Vec<Certificate> = Vec::new();
        let mut fetched: Vec<String> = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        loop {
            // Most paths are found without a fetched issuer: then this is `intermediates`.
            let known: Vec<&Certificate> = intermediates
                .iter()
                .copied()
                .chain(&fetched_certs)
                .collect();
            let mut result = path::validate(leaf, &known, anchors, now);
            if result.outcome == Outcome::Pass || !self.enabled {
                return result;
            }
            let urls: Vec<String> = result
                .chain
                .last()
                .map(|stuck| access_urls(stuck, rfc5912::ID_AD_CA_ISSUERS))
                .unwrap_or_default()
                .into_iter()
                .filter(|url| !fetched.contains(url))
                .take(MAX_FETCHES.saturating_sub(fetched.len()))
                .collect();
            let mut new_issuers = Vec::new();
            for url in urls {
                match self.get(&url, now) {
                    Ok(certificates) => {
                        for cert in certificates {
                            if !known.contains(&&cert)
                                && !anchors.contains(&cert)
                                && !new_issuers.contains(&cert)
                            {
                                new_issuers.push(cert);
                            }
                        }
                    }
                    Err(why) => failures.push(why),
                }
                fetched.push(url);
            }
            if new_issuers.is_empty() {
                if !failures.is_empty() {
                    result.reason = format!(
                        "{} (fetching its issuer failed: {})",
                        result.reason,
                        failures.join("; ")
                    );
                }
                return result;
            }
            fetched_certs.extend(new_issuers);
        }
    }

    /// The certificates at `url`, from the cache or fetched.
    fn get(&self, url: &str, now: SystemTime) -> Result<Vec<Certificate>, String> {
        if let Some(certificates) = self.cache.get(&url.to_owned(), now) {
            return Ok(certificates);
        }
        let answer = self
            .fetcher
            .fetch("issuer server", url, Request::Get, MAX_ANSWER, now)
            .map_err(|failed| failed.to_string())?;
        let certificates = parse_certificates(&answer)
            .or_else(|_| signed_data_certificates(&answer))
            .map_err(|e| format!("the issuer certificate from {url} is unreadable: {e}"))?;
        self.cache
            .put(url.to_owned(), certificates.clone(), now + KEEP, now);
        Ok(certificates)
    }
}
