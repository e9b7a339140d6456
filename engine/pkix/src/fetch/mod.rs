//! Fetching what certificates point at — CRLs, OCSP answers, issuer certificates — behind the
//! [`Fetch`] trait, so that revocation and issuer completion take any fetcher: the product's
//! [`HttpFetch`] (a deadline and a size cap per request), a gateway's own, or a local one in
//! tests. [`Fetcher`] wraps one and remembers failures for 30 seconds, so that a dead server
//! costs one timeout, not one per message.

mod cache;
mod http;

pub use cache::Cache;
pub use http::HttpFetch;

use const_oid::ObjectIdentifier;
use std::error::Error;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use x509_cert::Certificate;
use x509_cert::ext::pkix::AuthorityInfoAccessSyntax;
use x509_cert::ext::pkix::name::GeneralName;

/// How long a failed download or request is remembered.
const FAILURE_MEMORY: Duration = Duration::from_secs(30);

/// What fetches URLs for revocation and issuer completion. An implementation bounds each
/// request in time itself (what a message may wait for is its own business) and must refuse
/// an answer over `max` bytes with [`FetchError::TooLarge`] rather than cut it: a cut CRL or
/// OCSP answer would only fail later with a misleading reason.
pub trait Fetch: Send + Sync + std::fmt::Debug {
    /// The body of a `200` answer to a GET of `url`.
    fn get(&self, url: &str, max: usize) -> Result<Vec<u8>, FetchError>;

    /// The body of a `200` answer to a POST of `body` as `content_type` to `url` (OCSP,
    /// RFC 6960 App. A.1).
    fn post(
        &self,
        url: &str,
        content_type: &str,
        body: &[u8],
        max: usize,
    ) -> Result<Vec<u8>, FetchError>;
}

/// Why a fetch failed, in words that name the server (`host:port`), the host or the URL:
/// these reach the signature report ("127.0.0.1:80 timed out"). Cloneable, so that the
/// failure memory can repeat it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The URL's scheme is neither http nor https.
    #[error("{url} is not an http:// or https:// URL")]
    UnsupportedScheme {
        /// The URL.
        url: String,
    },
    /// The URL cannot be taken apart (no host, a bad port, spaces or line breaks).
    #[error("{url} is not a usable URL")]
    BadUrl {
        /// The URL.
        url: String,
    },
    /// The name lookup did not answer within the deadline.
    #[error("{host} did not resolve in time")]
    LookupTimedOut {
        /// The name looked up.
        host: String,
    },
    /// The name lookup failed or found no address.
    #[error("{host} cannot be resolved: {source}")]
    Unresolved {
        /// The name looked up.
        host: String,
        /// The resolver's error.
        source: Arc<io::Error>,
    },
    /// The deadline passed while connecting, sending or receiving.
    #[error("{server} timed out")]
    TimedOut {
        /// `host:port`.
        server: String,
    },
    /// Nothing listens at the server's port.
    #[error("{server} refused the connection")]
    Refused {
        /// `host:port`.
        server: String,
    },
    /// Another network error (unreachable, reset).
    #[error("{server}: {source}")]
    Connection {
        /// `host:port`.
        server: String,
        /// The socket's error.
        source: Arc<io::Error>,
    },
    /// The TLS handshake of an https:// URL failed (an untrusted certificate, no common
    /// protocol).
    #[error("{server}: TLS: {source}")]
    Tls {
        /// `host:port`.
        server: String,
        /// The TLS library's error.
        source: Arc<dyn Error + Send + Sync>,
    },
    /// The answer is not HTTP as RFC 9112 says (a malformed status line, header or chunk).
    #[error("{server} sent a malformed HTTP answer: {source}")]
    Protocol {
        /// `host:port`.
        server: String,
        /// The HTTP client's error.
        source: Arc<dyn Error + Send + Sync>,
    },
    /// The header block is larger than an answer for certificates ever needs.
    #[error("{server} sent more than {max} bytes of header")]
    HeaderTooLarge {
        /// `host:port`.
        server: String,
        /// The cap.
        max: usize,
    },
    /// The body is larger than the cap the caller gave.
    #[error("{server} sent more than {max} bytes")]
    TooLarge {
        /// `host:port`.
        server: String,
        /// The cap.
        max: usize,
    },
    /// The answer's status is not `200` (redirects are not followed).
    #[error("{server} answered '{status_line}'")]
    Status {
        /// `host:port`.
        server: String,
        /// The status code.
        code: u16,
        /// The status line, e.g. `HTTP/1.0 404 Not Found`.
        status_line: String,
    },
}

/// A request: GET, or POST with a body of the given content type.
#[derive(Debug, Clone, Copy)]
pub enum Request<'a> {
    /// GET the URL.
    Get,
    /// POST `body` as `content_type`.
    Post {
        /// The Content-Type header.
        content_type: &'a str,
        /// The body.
        body: &'a [u8],
    },
}

/// A fetch that failed, with what was asked: "OCSP responder 127.0.0.1:80 timed out".
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what} {error}")]
pub struct Failed {
    /// What the server is to us ("CRL server", "OCSP responder", "issuer server").
    pub what: &'static str,
    /// Why it failed.
    pub error: FetchError,
}

/// A [`Fetch`] with a memory of recent failures by URL.
#[derive(Debug)]
pub struct Fetcher {
    fetch: Arc<dyn Fetch>,
    /// Recent failures by URL.
    failures: Cache<String, FetchError>,
}

impl Fetcher {
    /// A fetcher asking `fetch`.
    pub fn new(fetch: Arc<dyn Fetch>) -> Self {
        Self {
            fetch,
            failures: Cache::new(),
        }
    }

    /// Fetches `url` (at most `max` bytes), or repeats the failure it gave within the last 30
    /// seconds; `what` names the server in the failure.
    pub fn fetch(
        &self,
        what: &'static str,
        url: &str,
        request: Request<'_>,
        max: usize,
        now: SystemTime,
    ) -> Result<Vec<u8>, Failed> {
        let failed = |error| Failed { what, error };
        if let Some(error) = self.failures.get(&url.to_owned(), now) {
            return Err(failed(error));
        }
        tracing::debug!(url, "fetching for a certificate");
        let answer = match request {
            Request::Get => self.fetch.get(url, max),
            Request::Post { content_type, body } => self.fetch.post(url, content_type, body, max),
        };
        answer.map_err(|error| {
            self.failures
                .put(url.to_owned(), error.clone(), now + FAILURE_MEMORY, now);
            failed(error)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A fetcher that answers from a list and counts what it was asked.
    #[derive(Debug, Default)]
    struct Local {
        asked: Mutex<Vec<String>>,
    }

    impl Fetch for Local {
        fn get(&self, url: &str, _max: usize) -> Result<Vec<u8>, FetchError> {
            self.asked.lock().unwrap().push(format!("GET {url}"));
            Err(FetchError::TimedOut {
                server: "ocsp.test:80".into(),
            })
        }

        fn post(
            &self,
            url: &str,
            content_type: &str,
            body: &[u8],
            _max: usize,
        ) -> Result<Vec<u8>, FetchError> {
            self.asked
                .lock()
                .unwrap()
                .push(format!("POST {url} {content_type} {}", body.len()));
            Ok(b"answer".to_vec())
        }
    }

    #[test]
    fn any_fetch_serves_and_failures_are_remembered_by_url() {
        let local = Arc::new(Local::default());
        let fetcher = Fetcher::new(local.clone());
        let now = SystemTime::now();
        let post = Request::Post {
            content_type: "application/ocsp-request",
            body: b"query",
        };
        let url = "http://ocsp.test/";
        assert_eq!(
            fetcher.fetch("OCSP responder", url, post, 10, now).unwrap(),
            b"answer"
        );
        let failed = fetcher
            .fetch("CRL server", url, Request::Get, 10, now)
            .unwrap_err();
        assert_eq!(failed.to_string(), "CRL server ocsp.test:80 timed out");
        // Within the half minute the failure is repeated without asking; after it, asked.
        let again = fetcher.fetch("CRL server", url, post, 10, now + Duration::from_secs(29));
        assert_eq!(again.unwrap_err().to_string(), failed.to_string());
        let later = fetcher.fetch("CRL server", url, post, 10, now + FAILURE_MEMORY);
        assert_eq!(later.unwrap(), b"answer");
        assert_eq!(
            *local.asked.lock().unwrap(),
            [
                "POST http://ocsp.test/ application/ocsp-request 5",
                "GET http://ocsp.test/",
                "POST http://ocsp.test/ application/ocsp-request 5",
            ]
        );
    }
}
