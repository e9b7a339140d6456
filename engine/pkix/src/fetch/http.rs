//! The product's [`Fetch`]: `ureq` (blocking, rustls on aws-lc-rs) with what a fetch for a
//! certificate needs. Plain `http://` is what CRL, OCSP and caIssuers URLs use by convention
//! (RFC 5280 §4.2.1.13, RFC 6960 App. A: what they serve is signed); `https://` works too,
//! trusting the operating system's roots, where IT installs a company CA. Each request has one
//! deadline over the whole exchange (ureq's global timeout: lookup, connect, send, receive),
//! a cap on the answer (a larger body is an error, never cut short), no redirects, no proxy
//! from the environment and one request per connection (`openssl ocsp` serves one connection
//! at a time). Blocking: it runs in a request's blocking work, never among other
//! connections' tasks.
//!
//! Names are looked up on a thread of our own, given up at the deadline ([`Lookup`]).
//! ureq's own resolver is bounded the same way; ours is plugged in so that the failure says
//! the lookup was slow, an IP address needs no thread, and a lookup that never answers can be
//! tested. The resolver trait and the crypto-provider setting are in ureq's `unversioned` API,
//! which may change in a minor release: Cargo.lock pins the version, and such a change shows
//! as a build error on update, never as a silent difference.

use super::{Fetch, FetchError};
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::Duration;
use ureq::Agent;
use ureq::config::Config;
use ureq::http::{StatusCode, Uri};
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// The most a header block may take.
const MAX_HEADER: usize = 16 * 1024;

/// A name lookup: the addresses of a host name at a port.
type LookupFn = fn(&str, u16) -> io::Result<Vec<SocketAddr>>;

/// HTTP and HTTPS fetches, each within `timeout`.
#[derive(Debug)]
pub struct HttpFetch {
    timeout: Duration,
    lookup: LookupFn,
    /// The roots https:// trusts; `None` for the system's.
    roots: Option<RootCerts>,
    /// Built at the first fetch: most checkers never fetch, and the TLS roots are read from
    /// the system then.
    agent: OnceLock<Agent>,
}

impl HttpFetch {
    /// Fetches giving each request `timeout`, names looked up by the system's resolver.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            lookup: system_lookup,
            roots: None,
            agent: OnceLock::new(),
        }
    }

    /// The same, https:// trusting only `roots` (a company CA for its own servers, as the
    /// directory's `ca_file` does) instead of the system's.
    pub fn trusting(timeout: Duration, roots: &[x509_cert::Certificate]) -> Self {
        use der::Encode;
        let roots = roots
            .iter()
            .filter_map(|root| root.to_der().ok())
            .map(|der| Certificate::from_der(&der).to_owned());
        Self {
            roots: Some(roots.into()),
            ..Self::new(timeout)
        }
    }

    fn agent(&self) -> &Agent {
        self.agent.get_or_init(|| {
            let tls = TlsConfig::builder()
                .provider(TlsProvider::Rustls)
                .root_certs(self.roots.clone().unwrap_or_else(system_roots))
                .unversioned_rustls_crypto_provider(Arc::new(
                    rustls::crypto::aws_lc_rs::default_provider(),
                ))
                .build();
            let config = Config::builder()
                .timeout_global(Some(self.timeout))
                .max_redirects(0)
                .http_status_as_error(false)
                .proxy(None)
                .user_agent("mailseal")
                .max_response_header_size(MAX_HEADER)
                .max_idle_connections(0)
                .max_idle_connections_per_host(0)
                .tls_config(tls)
                .build();
            Agent::with_parts(
                config,
                DefaultConnector::default(),
                Lookup {
                    lookup: self.lookup,
                },
            )
        })
    }

    /// Sends the request `send` makes for `url` and reads a `200` answer of at most `max`
    /// bytes.
    fn exchange(
        &self,
        url: &str,
        max: usize,
        send: impl FnOnce(&Agent) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Vec<u8>, FetchError> {
        let server = server(url)?;
        let failed = |error| describe(&server, url, max, error);
        let mut response = send(self.agent()).map_err(failed)?;
        let status = response.status();
        if status != StatusCode::OK {
            return Err(FetchError::Status {
                status_line: format!("{:?} {status}", response.version()),
                code: status.as_u16(),
                server,
            });
        }
        let body = response.body_mut();
        if body
            .content_length()
            .is_some_and(|length| length > max as u64)
        {
            return Err(FetchError::TooLarge { server, max });
        }
        body.with_config()
            .limit(max as u64)
            .read_to_vec()
            .map_err(failed)
    }
}

impl Fetch for HttpFetch {
    fn get(&self, url: &str, max: usize) -> Result<Vec<u8>, FetchError> {
        self.exchange(url, max, |agent| {
            agent.get(url).header("Connection", "close").call()
        })
    }

    fn post(
        &self,
        url: &str,
        content_type: &str,
        body: &[u8],
        max: usize,
    ) -> Result<Vec<u8>, FetchError> {
        self.exchange(url, max, |agent| {
            agent
                .post(url)
                .header("Connection", "close")
                .header("Content-Type", content_type)
                .send(body)
        })
    }
}

/// `host:port` of an http:// or https:// URL, as failures name it; other URLs are refused.
fn server(url: &str) -> Result<String, FetchError> {
    let bad = || FetchError::BadUrl {
        url: url.to_owned(),
    };
    let uri: Uri = url.parse().map_err(|_| bad())?;
    let default_port = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("http") => 80,
        Some("https") => 443,
        _ => {
            return Err(FetchError::UnsupportedScheme {
                url: url.to_owned(),
            });
        }
    };
    let host = uri.host().filter(|host| !host.is_empty()).ok_or_else(bad)?;
    Ok(format!("{host}:{}", uri.port_u16().unwrap_or(default_port)))
}

/// ureq's error in our words.
fn describe(server: &str, url: &str, max: usize, error: ureq::Error) -> FetchError {
    let server = server.to_owned();
    match error {
        ureq::Error::Timeout(_) => FetchError::TimedOut { server },
        // rustls reports a failed handshake through the socket's error.
        ureq::Error::Io(e) if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => {
            FetchError::Tls {
                server,
                source: Arc::new(e),
            }
        }
        ureq::Error::Io(e) => match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => FetchError::TimedOut { server },
            io::ErrorKind::ConnectionRefused => FetchError::Refused { server },
            _ => FetchError::Connection {
                server,
                source: Arc::new(e),
            },
        },
        ureq::Error::BodyExceedsLimit(_) => FetchError::TooLarge { server, max },
        ureq::Error::LargeResponseHeader(..) => FetchError::HeaderTooLarge {
            server,
            max: MAX_HEADER,
        },
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => FetchError::BadUrl {
            url: url.to_owned(),
        },
        // What our resolver said, carried through ureq.
        ureq::Error::Other(e) => match e.downcast::<FetchError>() {
            Ok(ours) => *ours,
            Err(e) => FetchError::Protocol {
                server,
                source: Arc::from(e),
            },
        },
        e @ (ureq::Error::Rustls(_) | ureq::Error::Tls(_) | ureq::Error::TlsRequired) => {
            FetchError::Tls {
                server,
                source: Arc::new(e),
            }
        }
        e => FetchError::Protocol {
            server,
            source: Arc::new(e),
        },
    }
}

/// The operating system's trusted roots for https:// (rustls-native-certs: the Linux bundle,
/// the macOS keychain, the Windows store). Unreadable ones are logged; with none, https://
/// fails with an untrusted certificate and http:// still works.
fn system_roots() -> RootCerts {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "cannot read some of the system's TLS roots");
    }
    found
        .certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .into()
}

/// ureq's name resolver: [`resolve`] with the lookup given, within the request's deadline.
#[derive(Debug)]
struct Lookup {
    lookup: LookupFn,
}

impl Resolver for Lookup {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or_default();
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let found = resolve(host, port, *timeout.after, self.lookup)
            .map_err(|e| ureq::Error::Other(Box::new(e)))?;
        let mut addresses = self.empty();
        // ureq keeps at most 16; the first ones are the resolver's preference.
        for address in found {
            if addresses.try_push(address).is_err() {
                break;
            }
        }
        if addresses.is_empty() {
            return Err(ureq::Error::Other(Box::new(FetchError::Unresolved {
                host: host.to_owned(),
                source: Arc::new(io::Error::new(io::ErrorKind::NotFound, "no address")),
            })));
        }
        Ok(addresses)
    }
}

/// The addresses of `host` from `lookup`, which runs on a thread of its own: the system's
/// resolver has timeouts of its own (up to half a minute with several name servers), and a
/// fetch must not outlast its deadline waiting for it. A lookup that answers too late is left
/// to finish and its answer dropped. An IP address needs no lookup.
fn resolve(
    host: &str,
    port: u16,
    wait: Duration,
    lookup: impl FnOnce(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + 'static,
) -> Result<Vec<SocketAddr>, FetchError> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let unresolved = |source| FetchError::Unresolved {
        host: host.to_owned(),
        source: Arc::new(source),
    };
    let (answer, answered) = mpsc::channel();
    let name = host.to_owned();
    std::thread::Builder::new()
        .name("resolve".into())
        .spawn(move || {
            let _ = answer.send(lookup(&name, port));
        })
        .map_err(unresolved)?;
    match answered.recv_timeout(wait) {
        Ok(Ok(addresses)) => Ok(addresses),
        Ok(Err(e)) => Err(unresolved(e)),
        Err(_) => Err(FetchError::LookupTimedOut {
            host: host.to_owned(),
        }),
    }
}

/// The system resolver's addresses for `name`.
fn system_lookup(name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    (name, port).to_socket_addrs().map(Iterator::collect)
}

#[cfg(test)]
mod tests {
    use super::super::test_server::serve_once;
    use super::*;
    use mailseal_test_support::pki::{Key, Pki};
    use std::net::TcpListener;
    use std::time::Instant;

    const SECOND: Duration = Duration::from_secs(5);

    fn fetch(url: &str, timeout: Duration, max: usize) -> Result<Vec<u8>, FetchError> {
        HttpFetch::new(timeout).get(url, max)
    }

    #[test]
    fn a_resolver_that_does_not_answer_costs_only_the_deadline() {
        // The system's resolver cannot be made slow here: a lookup that answers after a
        // minute stands in for one whose name servers do not answer.
        let err = resolve("crl.example", 80, Duration::from_millis(200), |_, _| {
            std::thread::sleep(Duration::from_secs(60));
            Ok(Vec::new())
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "crl.example did not resolve in time");
        // The same through ureq: the lookup is ours, and the whole request is bounded.
        let started = Instant::now();
        let slow = HttpFetch {
            lookup: |_, _| {
                std::thread::sleep(Duration::from_secs(60));
                Ok(Vec::new())
            },
            ..HttpFetch::new(Duration::from_millis(200))
        };
        let err = slow.get("http://crl.example/root.crl", 5).unwrap_err();
        assert_eq!(err.to_string(), "crl.example did not resolve in time");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn names_are_looked_up_and_addresses_taken_as_they_are() {
        let looked_up = resolve("localhost", 8080, SECOND, system_lookup).unwrap();
        assert!(
            looked_up
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 8080)
        );
        assert!(!looked_up.is_empty());
        let taken = resolve("192.0.2.7", 80, SECOND, |_, _| {
            panic!("looked up an address")
        });
        assert_eq!(taken.unwrap(), vec!["192.0.2.7:80".parse().unwrap()]);
        let taken = resolve("[::1]", 80, SECOND, |_, _| panic!("looked up an address"));
        assert_eq!(taken.unwrap(), vec!["[::1]:80".parse().unwrap()]);
        let failed = resolve("crl.example", 80, SECOND, |_, _| {
            Err(io::Error::other("no such name"))
        })
        .unwrap_err();
        assert_eq!(
            failed.to_string(),
            "crl.example cannot be resolved: no such name"
        );
    }

    #[test]
    fn bodies_by_length_chunks_or_end_of_connection() {
        let serve_once = |answer: &[u8]| serve_once(answer.to_vec());
        let url = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef");
        assert_eq!(fetch(&url, SECOND, 100).unwrap(), b"abc");
        let url = serve_once(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\n",
        );
        assert_eq!(fetch(&url, SECOND, 100).unwrap(), b"abcde");
        let url = serve_once(b"HTTP/1.0 200 OK\r\n\r\nall of it");
        assert_eq!(fetch(&url, SECOND, 100).unwrap(), b"all of it");
        // Exactly the cap is not over it.
        let url = serve_once(b"HTTP/1.0 200 OK\r\n\r\n01234");
        assert_eq!(fetch(&url, SECOND, 5).unwrap(), b"01234");
    }

    #[test]
    fn a_post_carries_its_body_and_type() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !request.ends_with(b"query") {
                let n = stream.read(&mut buffer).unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buffer[..n]);
            }
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
            String::from_utf8(request).unwrap().to_ascii_lowercase()
        });
        let url = format!("http://127.0.0.1:{port}/");
        let answer = HttpFetch::new(SECOND).post(&url, "application/ocsp-request", b"query", 10);
        assert_eq!(answer.unwrap(), b"ok");
        let request = server.join().unwrap();
        assert!(request.starts_with("post / http/1.1\r\n"), "{request}");
        for header in [
            "content-type: application/ocsp-request\r\n",
            "content-length: 5\r\n",
            "connection: close\r\n",
        ] {
            assert!(request.contains(header), "{header} missing: {request}");
        }
    }

    #[test]
    fn errors_name_the_server() {
        let serve_once = |answer: &[u8]| serve_once(answer.to_vec());
        let url = serve_once(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        let err = fetch(&url, SECOND, 100).unwrap_err().to_string();
        assert!(err.ends_with("answered 'HTTP/1.1 404 Not Found'"), "{err}");
        let url = serve_once(b"HTTP/1.1 200 OK\r\n\r\n0123456789");
        let err = fetch(&url, SECOND, 5).unwrap_err().to_string();
        assert!(err.ends_with("sent more than 5 bytes"), "{err}");
        // Announced too long: refused before reading.
        let url = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
        let err = fetch(&url, SECOND, 5).unwrap_err().to_string();
        assert!(err.ends_with("sent more than 5 bytes"), "{err}");
        // Redirects are not followed.
        let url =
            serve_once(b"HTTP/1.1 302 Found\r\nLocation: /y.crl\r\nContent-Length: 0\r\n\r\n");
        let err = fetch(&url, SECOND, 5).unwrap_err().to_string();
        assert!(err.ends_with("answered 'HTTP/1.1 302 Found'"), "{err}");
        // A port nobody listens on.
        let free = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let err = fetch(&format!("http://127.0.0.1:{port}/"), SECOND, 5);
        assert_eq!(
            err.unwrap_err().to_string(),
            format!("127.0.0.1:{port} refused the connection")
        );
        assert!(fetch("ldap://x/", SECOND, 5).is_err());
        assert_eq!(
            fetch("http://x/a b", SECOND, 5).unwrap_err().to_string(),
            "http://x/a b is not a usable URL"
        );
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/");
        let err = fetch(&url, Duration::from_millis(200), 5).unwrap_err();
        assert_eq!(err.to_string(), format!("127.0.0.1:{port} timed out"));
        drop(listener);
    }

    /// Serves `answer` over TLS to one request on a free local port, as `name` of `pki`
    /// (a certificate for 127.0.0.1); returns an https:// URL there.
    fn serve_tls_once(pki: &Pki, name: &str, answer: &'static [u8]) -> String {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use std::io::{Read, Write};
        let chain =
            vec![CertificateDer::from_pem_slice(&pki.read(&format!("{name}.pem"))).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(&pki.read(&format!("{name}.key"))).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let connection = rustls::ServerConnection::new(Arc::new(config)).unwrap();
            let mut tls = rustls::StreamOwned::new(connection, stream);
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buffer) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let _ = tls.write_all(answer);
            tls.conn.send_close_notify();
            let _ = tls.flush();
        });
        format!("https://127.0.0.1:{port}/x.crl")
    }

    #[test]
    fn https_works_with_a_trusted_certificate_and_fails_without() {
        let pki = Pki::new();
        let root = pki.root("root", "/CN=Root");
        pki.certify(
            "server",
            Some("root"),
            Key::P256,
            "/CN=127.0.0.1",
            30,
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
        let url = serve_tls_once(&pki, "server", answer);
        let trusting = HttpFetch::trusting(SECOND, std::slice::from_ref(&root));
        assert_eq!(trusting.get(&url, 100).unwrap(), b"abc");
        // The system's roots do not include this test CA.
        let url = serve_tls_once(&pki, "server", answer);
        let err = fetch(&url, SECOND, 100).unwrap_err();
        assert!(
            matches!(&err, FetchError::Tls { .. }) && err.to_string().contains("UnknownIssuer"),
            "{err:?}"
        );
        // A plain-HTTP server behind an https:// URL: the handshake fails, named as TLS.
        let url = serve_once(answer.to_vec()).replace("http://", "https://");
        let err = fetch(&url, SECOND, 5).unwrap_err();
        assert!(matches!(err, FetchError::Tls { .. }), "{err:?}");
    }
}
