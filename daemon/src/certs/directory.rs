//! The company directory: people's certificates looked up over LDAP by mail address, cached,
//! with a bounded time for every lookup.
//!
//! A lookup connects (`ldap://`, `ldaps://`, or `ldap://` with StartTLS; TLS checked against
//! `ca_file` or the system's roots), binds as `bind_dn` or anonymously, searches the
//! subtree under `base_dn` for `(mail=ADDRESS)` — the address escaped per RFC 4515 §3, so that
//! `*`, `(`, `)`, `\` and NUL in it match literally and cannot change the filter — and reads
//! two attributes of the entries found:
//!
//! - `userCertificate;binary` (RFC 4523 §2.1): DER certificates;
//! - `userSMIMECertificate` (RFC 2798 §2.8): a PKCS #7 SignedData, usually certs-only
//!   (RFC 8551 §3.8), whose end-entity certificates are taken (CA certificates are chain).
//!
//! The whole lookup (connect, bind, search) gets `timeout_seconds`, so a dead or stalled
//! directory costs at most that. Answers are reused for `cache_seconds`; a failure is
//! remembered for at most [`FAILURE_MEMORY`] of that, during which lookups of every address
//! fail at once instead of each waiting for the timeout again.

use crate::config::DirectoryConfig;
use der::{Decode, Encode};
use ldap3::{
    Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry, SearchOptions,
    ldap_escape,
};
use mailseal_pkix::describe::{Fingerprint, signed_data_certificates};
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use x509_cert::Certificate;
use x509_cert::ext::pkix::BasicConstraints;

/// What is read from each entry.
const ATTRIBUTES: [&str; 2] = ["userCertificate;binary", "userSMIMECertificate"];
/// Entries read for one address: a few at most are real (a person and an alias, a role
/// account); more means the directory is odd, and reading them all would only slow the lookup.
const MAX_ENTRIES: i32 = 16;
/// How long a failed lookup is remembered at most (and never longer than `cache_seconds`).
pub const FAILURE_MEMORY: Duration = Duration::from_secs(30);
/// Addresses whose answers are kept; beyond it, expired and then the oldest answers go.
const CACHE_LIMIT: usize = 4096;
/// The LDAP result code sizeLimitExceeded (RFC 4511 §4.1.9): the entries sent are still good.
const SIZE_LIMIT_EXCEEDED: u32 = 4;

/// The configured directory and what it answered lately.
pub struct Directory {
    config: DirectoryConfig,
    /// TLS with `ca_file` as roots; `None`: ldap3's default, the system's roots.
    tls: Option<Arc<ClientConfig>>,
    timeout: Duration,
    cache_for: Duration,
    cache: Mutex<Cache>,
}

/// Only the URL: the configuration holds a password, and the cache people's certificates.
impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory")
            .field("url", &self.config.url)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Cache {
    /// By lowercase address: when the answer came, and the answer.
    answers: HashMap<String, (Instant, Arc<Answer>)>,
    /// The last failure, while it is remembered.
    failed: Option<(Instant, DirectoryError)>,
}

/// What the directory holds for one address.
#[derive(Debug, Default)]
pub struct Answer {
    /// The certificates of the entries found, each once, whichever address they name.
    pub certificates: Vec<Certificate>,
    /// Values that are not certificates, and other oddities, each with the entry and why.
    pub unreadable: Vec<String>,
}

/// An answer and whether it came from the cache.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The answer.
    pub answer: Arc<Answer>,
    /// Whether it was remembered rather than asked for now.
    pub cached: bool,
}

/// Why the directory could not be asked. Clone, so that a remembered failure can be reported
/// again; the LDAP errors are shared for that.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// No connection: refused, unresolvable, TLS failed, …
    #[error("cannot connect to the directory {url}: {source}")]
    Connect {
        /// The configured URL.
        url: String,
        /// What ldap3 said.
        #[source]
        source: Arc<LdapError>,
    },
    /// The lookup did not finish in `timeout_seconds`.
    #[error("the directory {url} did not answer within {seconds} s")]
    Timeout {
        /// The configured URL.
        url: String,
        /// The configured timeout.
        seconds: u64,
    },
    /// The bind was refused (wrong DN or password, account locked, …).
    #[error("the directory {url} refused the bind as {bind_dn}: {source}")]
    Bind {
        /// The configured URL.
        url: String,
        /// Whom the daemon tried to bind as (never the password).
        bind_dn: String,
        /// The server's result.
        #[source]
        source: Arc<LdapError>,
    },
    /// The search failed (no such base DN, insufficient access, connection lost, …).
    #[error("the directory {url} failed the search under {base_dn}: {source}")]
    Search {
        /// The configured URL.
        url: String,
        /// The configured base DN.
        base_dn: String,
        /// The server's result.
        #[source]
        source: Arc<LdapError>,
    },
    /// A failure moments ago, not retried yet.
    #[error("{source} ({seconds_ago} s ago; asked again in {retry_in} s)")]
    Remembered {
        /// How long ago it failed.
        seconds_ago: u64,
        /// When the directory will be asked again.
        retry_in: u64,
        /// The failure.
        #[source]
        source: Box<DirectoryError>,
    },
}

impl Directory {
    /// A directory as configured, its TLS trusting `tls_roots` (the certificates of
    /// `ca_file`) or, when there are none, the system's roots. Nothing is contacted before the
    /// first lookup.
    pub fn new(config: DirectoryConfig, tls_roots: &[Certificate]) -> Self {
        if config.bind_password.is_some() && !config.uses_tls() {
            tracing::warn!(url = %config.url, "the directory bind password travels unencrypted; use ldaps:// or starttls");
        }
        Self {
            tls: tls_config(tls_roots),
            timeout: Duration::from_secs(config.timeout_seconds),
            cache_for: Duration::from_secs(config.cache_seconds),
            config,
            cache: Mutex::default(),
        }
    }

    /// The certificates the directory holds for `address` (lowercase), from the cache while
    /// it is fresh.
    pub async fn lookup(&self, address: &str) -> Result<Lookup, DirectoryError> {
        if let Some(known) = self.remembered(address)? {
            return Ok(known);
        }
        let outcome = tokio::time::timeout(self.timeout, self.search(address))
            .await
            .unwrap_or_else(|_| {
                Err(DirectoryError::Timeout {
                    url: self.config.url.clone(),
                    seconds: self.config.timeout_seconds,
                })
            });
        let mut cache = self.lock();
        match outcome {
            Ok(answer) => {
                tracing::debug!(
                    certificates = answer.certificates.len(),
                    unreadable = answer.unreadable.len(),
                    "directory answered"
                );
                let answer = Arc::new(answer);
                cache.failed = None;
                if !self.cache_for.is_zero() {
                    self.make_room(&mut cache);
                    cache
                        .answers
                        .insert(address.to_owned(), (Instant::now(), Arc::clone(&answer)));
                }
                Ok(Lookup {
                    answer,
                    cached: false,
                })
            }
            Err(error) => {
                tracing::warn!(error = %error, "directory lookup failed");
                if !self.failure_memory().is_zero() {
                    cache.failed = Some((Instant::now(), error.clone()));
                }
                Err(error)
            }
        }
    }

    /// A fresh answer for `address`, or the failure still remembered; `None`: ask.
    fn remembered(&self, address: &str) -> Result<Option<Lookup>, DirectoryError> {
        let cache = self.lock();
        if let Some((at, answer)) = cache.answers.get(address)
            && at.elapsed() < self.cache_for
        {
            return Ok(Some(Lookup {
                answer: Arc::clone(answer),
                cached: true,
            }));
        }
        match &cache.failed {
            Some((at, error)) if at.elapsed() < self.failure_memory() => {
                let age = at.elapsed();
                Err(DirectoryError::Remembered {
                    seconds_ago: age.as_secs(),
                    retry_in: self.failure_memory().saturating_sub(age).as_secs() + 1,
                    source: Box::new(error.clone()),
                })
            }
            _ => Ok(None),
        }
    }

    fn failure_memory(&self) -> Duration {
        self.cache_for.min(FAILURE_MEMORY)
    }

    /// Keeps the cache under [`CACHE_LIMIT`]: expired answers go first, then the oldest.
    fn make_room(&self, cache: &mut Cache) {
        if cache.answers.len() < CACHE_LIMIT {
            return;
        }
        cache
            .answers
            .retain(|_, (at, _)| at.elapsed() < self.cache_for);
        while cache.answers.len() >= CACHE_LIMIT {
            let Some(oldest) = cache
                .answers
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(address, _)| address.clone())
            else {
                break;
            };
            cache.answers.remove(&oldest);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().expect("directory cache lock")
    }

    /// The settings the directory was made with.
    pub fn config(&self) -> &DirectoryConfig {
        &self.config
    }

    /// A new connection, TLS checked against `ca_file` (or the system's roots) and bound as
    /// `bind_dn` when one is configured: for a lookup, and for IT's writes (`ca publish`).
    pub async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let config = &self.config;
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout)
            .set_starttls(config.starttls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(Arc::clone(tls));
        }
        let (connection, mut ldap) = LdapConnAsync::with_settings(settings, &config.url)
            .await
            .map_err(|e| DirectoryError::Connect {
                url: config.url.clone(),
                source: Arc::new(e),
            })?;
        // The connection runs in a task of its own until `ldap` is dropped.
        ldap3::drive!(connection);
        if let (Some(bind_dn), Some(password)) = (&config.bind_dn, &config.bind_password) {
            ldap.simple_bind(bind_dn, password.expose())
                .await
                .and_then(|result| result.success())
                .map_err(|e| DirectoryError::Bind {
                    url: config.url.clone(),
                    bind_dn: bind_dn.clone(),
                    source: Arc::new(e),
                })?;
        }
        Ok(ldap)
    }

    /// One lookup on a connection of its own: connect, bind, search, unbind.
    async fn search(&self, address: &str) -> Result<Answer, DirectoryError> {
        let config = &self.config;
        let mut ldap = self.connect().await?;
        let search_failed = |e| DirectoryError::Search {
            url: config.url.clone(),
            base_dn: config.base_dn.clone(),
            source: Arc::new(e),
        };
        let filter = format!("(mail={})", ldap_escape(address));
        let time_limit = i32::try_from(config.timeout_seconds).unwrap_or(i32::MAX);
        let options = SearchOptions::new()
            .sizelimit(MAX_ENTRIES)
            .timelimit(time_limit);
        let ldap3::SearchResult(entries, status) = ldap
            .with_search_options(options)
            .search(&config.base_dn, Scope::Subtree, &filter, ATTRIBUTES)
            .await
            .map_err(search_failed)?;
        let mut answer = Answer::default();
        if status.rc == SIZE_LIMIT_EXCEEDED {
            answer.unreadable.push(format!(
                "more than {MAX_ENTRIES} entries have this address; only {} were read",
                entries.len()
            ));
        } else if status.rc != 0 {
            return Err(search_failed(LdapError::LdapResult { result: status }));
        }
        // Politeness only: the answer is complete, and dropping `ldap` closes the connection.
        let _ = ldap.unbind().await;
        let mut seen = HashSet::new();
        for entry in entries {
            // ldap3 panics on an entry that is not shaped as RFC 4511 §4.5.2 says; a broken
            // directory must cost that entry, not the request.
            match std::panic::catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(entry))) {
                Ok(entry) => read_entry(entry, &mut answer, &mut seen),
                Err(_) => answer
                    .unreadable
                    .push("the directory sent a malformed entry".to_owned()),
            }
        }
        Ok(answer)
    }
}

/// A TLS client configuration trusting `roots` only; `None` without roots.
fn tls_config(roots: &[Certificate]) -> Option<Arc<ClientConfig>> {
    if roots.is_empty() {
        return None;
    }
    let mut store = RootCertStore::empty();
    let ders = roots
        .iter()
        .filter_map(|cert| cert.to_der().ok())
        .map(CertificateDer::from);
    let (_, ignored) = store.add_parsable_certificates(ders);
    if ignored > 0 {
        tracing::warn!(
            ignored,
            "directory.ca_file: certificates TLS cannot use are ignored"
        );
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs provides TLS 1.2 and 1.3")
        .with_root_certificates(store)
        .with_no_client_auth();
    Some(Arc::new(config))
}

/// Adds the certificates of one entry to `answer`, each once.
fn read_entry(entry: SearchEntry, answer: &mut Answer, seen: &mut HashSet<Fingerprint>) {
    // Values that happen to be UTF-8 land in `attrs`, the others in `bin_attrs`.
    let text = entry
        .attrs
        .into_iter()
        .map(|(name, values)| (name, values.into_iter().map(String::into_bytes).collect()));
    let all: Vec<(String, Vec<Vec<u8>>)> = entry.bin_attrs.into_iter().chain(text).collect();
    for (name, values) in all {
        // Attribute options (`;binary`) and case vary between servers.
        let kind = name.split(';').next().unwrap_or_default();
        let read: fn(&[u8]) -> Result<Vec<Certificate>, String> =
            if kind.eq_ignore_ascii_case("userCertificate") {
                |value| {
                    Certificate::from_der(value)
                        .map(|cert| vec![cert])
                        .map_err(|e| format!("a userCertificate value is not a certificate: {e}"))
                }
            } else if kind.eq_ignore_ascii_case("userSMIMECertificate") {
                |value| {
                    end_entity_certificates(value).map_err(|e| {
                        format!("a userSMIMECertificate value is not a PKCS #7 SignedData: {e}")
                    })
                }
            } else {
                continue;
            };
        for value in values {
            match read(&value) {
                Ok(certs) => answer.certificates.extend(
                    certs
                        .into_iter()
                        .filter(|cert| seen.insert(Fingerprint::of(cert))),
                ),
                Err(why) => answer.unreadable.push(format!("{}: {why}", entry.dn)),
            }
        }
    }
}

/// The end-entity certificates of a PKCS #7 SignedData (RFC 5652 §5.1), BER or DER: a
/// certs-only bag, or a whole signed message as some clients publish. CA certificates
/// (basicConstraints cA) are the chain, not the person's, and are left out.
fn end_entity_certificates(value: &[u8]) -> der::Result<Vec<Certificate>> {
    Ok(signed_data_certificates(value)?
        .into_iter()
        .filter(|cert| {
            !matches!(
                cert.tbs_certificate().get_extension::<BasicConstraints>(),
                Ok(Some((_, constraints))) if constraints.ca
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_test_support::pki::{CA, Key, Pki};

    fn config(url: String, timeout_seconds: u64, cache_seconds: u64) -> DirectoryConfig {
        DirectoryConfig {
            url,
            base_dn: "dc=example,dc=com".into(),
            bind_dn: None,
            bind_password: None,
            ca_file: None,
            starttls: false,
            timeout_seconds,
            cache_seconds,
        }
    }

    #[test]
    fn certs_only_bags_give_their_end_entity_certificates() {
        let pki = Pki::new();
        pki.root("root", "/CN=Root");
        let ext = format!("{CA}authorityKeyIdentifier=keyid\n");
        let inter = pki.certify("inter", Some("root"), Key::P256, "/CN=Inter", 30, &ext);
        let bob = pki.user("bob", "inter", Key::P256, "bob@example.com");
        pki.openssl(&[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            "bob.pem",
            "-certfile",
            "inter.pem",
            "-certfile",
            "root.pem",
            "-outform",
            "DER",
            "-out",
            "bag.p7",
        ]);
        let bag = pki.read("bag.p7");
        assert_eq!(end_entity_certificates(&bag).unwrap(), vec![bob.clone()]);
        assert!(end_entity_certificates(b"\x30\x03\x02\x01\x01").is_err());
        // A certificate where a SignedData belongs: refused, not misread.
        assert!(end_entity_certificates(&inter.to_der().unwrap()).is_err());
    }

    #[tokio::test]
    async fn a_stalled_directory_times_out_and_the_failure_is_remembered() {
        // Accepts connections (the kernel does, into the backlog) but never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ldap://{}", silent.local_addr().unwrap());
        let directory = Directory::new(config(url, 1, 60), &[]);
        let started = Instant::now();
        let error = directory.lookup("bob@example.com").await.unwrap_err();
        assert!(
            matches!(error, DirectoryError::Timeout { seconds: 1, .. }),
            "{error}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        // Another address fails at once, naming the failure.
        let again = Instant::now();
        let error = directory.lookup("carol@example.com").await.unwrap_err();
        assert!(again.elapsed() < Duration::from_millis(500));
        assert!(
            error.to_string().contains("did not answer within 1 s")
                && error.to_string().contains("asked again in"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_clear_error_and_forgotten_without_a_cache() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("ldap://127.0.0.1:{port}");
        let directory = Directory::new(config(url.clone(), 2, 0), &[]);
        for _ in 0..2 {
            let error = directory.lookup("bob@example.com").await.unwrap_err();
            assert!(matches!(error, DirectoryError::Connect { .. }), "{error}");
            assert!(error.to_string().contains(&url), "{error}");
        }
    }
}
