//! Fetching what certificates point at over plain HTTP — CRLs, OCSP answers, issuer
//! certificates — with a deadline and a size cap per request, and failures remembered for 30
//! seconds so that a dead server costs one timeout, not one per message.

mod cache;
mod http;

pub use cache::Cache;
pub use http::Request;

use const_oid::ObjectIdentifier;
use std::time::{Duration, SystemTime};
use x509_cert::Certificate;
use x509_cert::ext::pkix::AuthorityInfoAccessSyntax;
use x509_cert::ext::pkix::name::GeneralName;

/// How long a failed download or request is remembered.
const FAILURE_MEMORY: Duration = Duration::from_secs(30);

/// An HTTP fetcher with a timeout per request and a memory of recent failures.
#[derive(Debug)]
pub struct Fetcher {
    timeout: Duration,
    /// Recent failures by URL.
    failures: Cache<String, String>,
}

impl Fetcher {
    /// A fetcher giving each request `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            failures: Cache::new(),
        }
    }

    /// Fetches `url` (at most `max` bytes), or repeats the failure it gave within the last 30
    /// seconds; `what` names the server in the failure ("OCSP responder 127.0.0.1:80 timed
    /// out").
    pub fn fetch(
        &self,
        what: &str,
        url: &str,
        request: Request<'_>,
        max: usize,
        now: SystemTime,
    ) -> Result<Vec<u8>, String> {
        if let Some(why) = self.failures.get(&url.to_owned(), now) {
            return Err(why);
        }
        tracing::debug!(url, "fetching for a certificate");
        http::fetch(url, request, self.timeout, max).map_err(|why| {
            let why = format!("{what} {why}");
            self.failures
                .put(url.to_owned(), why.clone(), now + FAILURE_MEMORY, now);
            why
        })
    }
}

/// The http:// URLs of the certificate's authorityInfoAccess (RFC 5280 §4.2.2.1) for
/// `method` (id-ad-ocsp, id-ad-caIssuers); other schemes are not used.
pub fn access_urls(cert: &Certificate, method: ObjectIdentifier) -> Vec<String> {
    let Ok(Some((_, access))) = cert
        .tbs_certificate()
        .get_extension::<AuthorityInfoAccessSyntax>()
    else {
        return Vec::new();
    };
    access
        .0
        .iter()
        .filter(|a| a.access_method == method)
        .filter_map(|a| match &a.access_location {
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.as_str().to_owned()),
            _ => None,
        })
        .filter(|uri| uri.to_ascii_lowercase().starts_with("http://"))
        .collect()
}

/// A one-shot HTTP server for tests of what is fetched.
#[cfg(test)]
pub mod test_server {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// Serves the raw HTTP `answer` to one request on a free local port; returns a URL there.
    pub fn serve_once(answer: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(&answer);
        });
        format!("http://127.0.0.1:{port}/x.crl")
    }
}
