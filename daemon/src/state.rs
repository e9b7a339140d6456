//! Everything a request handler can reach: settings, stores and the key cache.

use crate::certs::directory::Directory;
use crate::config::Config;
use crate::key_cache::KeyCache;
use mailseal_files::StoreError;
use mailseal_keys::backend::PrivateKeyOps;
use mailseal_keys::pkcs11::Pkcs11;
use mailseal_keys::store::IdentityStore;
use mailseal_pkix::describe::parse_certificates;
use mailseal_pkix::fetch::{Fetch, HttpFetch};
use mailseal_pkix::issuers::Issuers;
use mailseal_pkix::revocation::Revocation;
use mailseal_pkix::store::CertStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use x509_cert::Certificate;

/// The daemon's shared state, one per process, shared by every connection.
#[derive(Debug)]
pub struct Daemon {
    /// The configuration in effect.
    pub config: Config,
    /// The socket being served.
    pub socket: PathBuf,
    /// Where the stores live.
    pub data_dir: PathBuf,
    /// The user's own identities.
    pub identities: IdentityStore,
    /// Other people's certificates.
    pub certs: CertStore,
    /// Keys unlocked right now, loaded and ready to use.
    pub keys: KeyCache<Arc<dyn PrivateKeyOps>>,
    /// Smart cards and hardware tokens.
    pub tokens: Pkcs11,
    /// Trust anchors for signatures, from `trusted_ca_files`.
    pub anchors: Vec<Certificate>,
    /// The company directory, when `[directory]` configures one.
    pub directory: Option<Directory>,
    /// Revocation checking for signers and recipients, with its caches.
    pub revocation: Revocation,
    /// Issuer certificates fetched for paths (authorityInfoAccess caIssuers), with a cache.
    pub issuers: Issuers,
    /// When the daemon started, for `daemon.status`.
    pub started: Instant,
    /// The company CA (`ca.*`), opened on first use.
    pub ca: mailseal_ca::authority::CaHandle,
}

impl Daemon {
    /// Opens the stores under the configured data directory and reads the trust anchors.
    pub fn open(config: Config) -> Result<Self, StoreError> {
        let data_dir = config.data_dir();
        let mut anchors = Vec::new();
        for file in &config.trusted_ca_files {
            anchors.extend(read_certificates(file)?);
        }
        if config.system_trust_store {
            match mailseal_pkix::system_store::load() {
                Some((bundle, roots)) => {
                    tracing::info!(bundle = %bundle.display(), roots = roots.len(), "trusting the system's roots");
                    anchors.extend(roots);
                }
                None => tracing::warn!(
                    "system_trust_store is set, but no bundle of system roots was found"
                ),
            }
        }
        let directory = match &config.directory {
            Some(directory) => {
                let roots = match &directory.ca_file {
                    Some(file) => read_certificates(file)?,
                    None => Vec::new(),
                };
                Some(Directory::new(directory.clone(), &roots))
            }
            None => None,
        };
        // One HTTP client for revocation and issuers (each keeps its own failure memory).
        let http: Arc<dyn Fetch> = Arc::new(HttpFetch::new(Duration::from_secs(
            config.revocation_timeout_seconds,
        )));
        let mut revocation = Revocation::with_fetch(config.revocation, Arc::clone(&http))
            .keeping_crls_in(data_dir.join("crls"));
        if let Some(dir) = &config.crl_dir {
            revocation = revocation.with_local_crls(dir);
        }
        mailseal_files::create_private_dir(&data_dir)
            .map_err(StoreError::io("create", &data_dir))?;
        crate::transfer::streams::reset_dir(&data_dir).map_err(StoreError::io(
            "reset",
            &crate::transfer::streams::dir(&data_dir),
        ))?;
        Ok(Self {
            socket: config.socket(),
            identities: IdentityStore::open(&data_dir.join("identities"))?,
            certs: CertStore::open(&data_dir.join("certs"))?,
            keys: KeyCache::new(Duration::from_secs(config.key_cache_seconds)),
            tokens: Pkcs11::load(
                &config
                    .pkcs11_modules
                    .clone()
                    .unwrap_or_else(Pkcs11::default_modules),
                Duration::from_secs(config.pin_cache_seconds),
            ),
            anchors,
            directory,
            revocation,
            issuers: Issuers::with_fetch(http, config.fetch_issuers),
            started: Instant::now(),
            ca: mailseal_ca::authority::CaHandle::open(config.ca_dir(), config.ca.settings())?,
            data_dir,
            config,
        })
    }
}

/// The certificates of a PEM file the configuration names.
fn read_certificates(file: &Path) -> Result<Vec<Certificate>, StoreError> {
    let pem = std::fs::read(file).map_err(StoreError::io("read", file))?;
    parse_certificates(&pem).map_err(|e| StoreError::Io {
        action: "read certificates from",
        path: file.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
    })
}
