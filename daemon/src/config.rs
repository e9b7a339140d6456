//! The user's configuration file (`$XDG_CONFIG_HOME/mailseal/config.toml`) and its defaults.
//!
//! Every key is optional; a missing file means all defaults. An unknown key is an error rather
//! than silently ignored, so a typo in a setting that matters (a cache time, a limit) is noticed.

use mailseal_pkix::revocation::RevocationPolicy;
use mailseal_protocol::{DEFAULT_MAX_FRAME, Secret};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The settings a user or IT can change, as written in `config.toml`.
///
/// ```toml
/// socket = "/run/user/1000/mailseal/mailseal.sock"
/// data_dir = "/home/ann/.local/share/mailseal"
/// log_level = "info"
/// key_cache_seconds = 600
/// max_frame_bytes = 67108864
/// max_connections = 512
/// shutdown_grace_seconds = 10
/// idle_timeout_seconds = 600
/// frame_timeout_seconds = 60
/// max_unsent_reply_bytes = 16777216
/// max_streams_per_connection = 64
/// max_stream_bytes_per_connection = 4294967296
/// max_open_streams = 1024
/// trusted_ca_files = ["/etc/mailseal/company-ca.pem"]
/// system_trust_store = false
/// pkcs11_modules = ["/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"]
/// pin_cache_seconds = 600
/// revocation = "soft-fail"
/// revocation_timeout_seconds = 5
/// crl_dir = "/etc/mailseal/crls"
/// fetch_issuers = false
///
/// [directory]
/// url = "ldaps://ldap.example.com"
/// base_dn = "ou=people,dc=example,dc=com"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The socket to listen on; default [`mailseal_protocol::default_socket_path`].
    pub socket: Option<PathBuf>,
    /// Where keys and certificates are stored; default `$XDG_DATA_HOME/mailseal`.
    pub data_dir: Option<PathBuf>,
    /// A `tracing` filter such as `info` or `mailseal_daemon=debug`; `RUST_LOG` wins over it.
    pub log_level: String,
    /// How long an unlocked key stays usable without its passphrase (gpg-agent's
    /// `default-cache-ttl` is the same idea, also 10 minutes by default).
    pub key_cache_seconds: u64,
    /// The longest request line accepted; longer ones get `frame_too_large`.
    pub max_frame_bytes: usize,
    /// Connections served at once; more wait in the socket's backlog.
    pub max_connections: usize,
    /// How long a stopping daemon waits for requests in flight.
    pub shutdown_grace_seconds: u64,
    /// A connection with nothing in flight that sends no request for this long is closed (and
    /// one whose client reads no reply for this long): each holds one of `max_connections`.
    pub idle_timeout_seconds: u64,
    /// A request must arrive whole within this many seconds of its first byte, so that a
    /// client trickling bytes (slow-loris) cannot hold a connection and its buffer forever.
    pub frame_timeout_seconds: u64,
    /// While the replies waiting for a connection's client to read them exceed this many
    /// bytes, the daemon reads no further request from it (backpressure).
    pub max_unsent_reply_bytes: usize,
    /// Streams (`stream.open`, `output: {"stream": true}`) one connection may have open.
    pub max_streams_per_connection: usize,
    /// Bytes all open streams of one connection may hold together.
    pub max_stream_bytes_per_connection: u64,
    /// Streams open at once over all connections: each holds an open file. Lowered at start to
    /// what the open-file limit leaves after every connection's share (see `server::thread`).
    pub max_open_streams: usize,
    /// PEM files of the certification authorities whose users' signatures are trusted (the
    /// company CA); a signature chaining to none of them fails the `chain` check.
    pub trusted_ca_files: Vec<PathBuf>,
    /// Whether the operating system's trusted roots are trust anchors too, besides
    /// `trusted_ca_files`: for partners with certificates from public CAs. Off by default, so
    /// that only what the company chose is trusted.
    pub system_trust_store: bool,
    /// PKCS#11 modules (smart-card drivers) to load; default: the p11-kit proxy, which loads
    /// every module the system has registered (OpenSC, vendor drivers), as Debian and Fedora
    /// expect. An empty list disables smart cards.
    pub pkcs11_modules: Option<Vec<PathBuf>>,
    /// How long a card login (after `token.login`) is kept; 0 asks for the PIN before every
    /// operation.
    pub pin_cache_seconds: u64,
    /// How many days before an own certificate expires the daemon starts warning (in its log
    /// and in `identity.list`).
    pub expiry_warning_days: u64,
    /// The company directory to look recipients' certificates up in; none by default, so
    /// that a default start needs no network.
    pub directory: Option<DirectoryConfig>,
    /// What to do about revocation (CRLs, OCSP) of signers' and recipients' certificates.
    pub revocation: RevocationPolicy,
    /// How long one CRL download or OCSP request may take before it counts as failed, so
    /// that a dead responder never holds up a request much longer.
    pub revocation_timeout_seconds: u64,
    /// Whether missing intermediate certificates are fetched from the URL a certificate names
    /// (authorityInfoAccess caIssuers). Off by default: the URL is not yet verified, so
    /// fetching it could tell a sender that their message was opened.
    pub fetch_issuers: bool,
    /// A directory of CRLs (DER or PEM) that IT keeps current, read at start: for CAs that
    /// publish no distribution point, or machines that may not fetch them.
    pub crl_dir: Option<PathBuf>,
    /// What mail clients offer when a message is written (`policy.compose`).
    pub compose: ComposeConfig,
    /// The company CA (`ca.*` methods), for IT's own daemon; users never need it.
    pub ca: CaConfig,
}

/// The `[compose]` section: the Sign and Encrypt defaults every add-on offers, and what the
/// user may not turn off. Usually set by IT in the company policy file.
///
/// ```toml
/// [compose]
/// sign = "on"                               # "required" | "on" | "off"
/// encrypt = "when-possible"                 # "required" | "on" | "when-possible" | "off"
/// encrypt_required_domains = ["example.com"] # and its subdomains
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComposeConfig {
    /// The Sign toggle.
    pub sign: SignRule,
    /// The Encrypt toggle.
    pub encrypt: EncryptRule,
    /// Mail to any address at these domains (or their subdomains) must be encrypted, whatever
    /// `encrypt` says: the usual rule for internal mail.
    pub encrypt_required_domains: Vec<String>,
}

/// The company's rule for signing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignRule {
    /// Every message is signed; the user cannot turn it off.
    Required,
    /// Signing starts on (when the user has an identity for the sender); the user may turn it off.
    #[default]
    On,
    /// Signing starts off.
    Off,
}

/// The company's rule for encryption.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncryptRule {
    /// Every message is encrypted; without a certificate for each recipient it cannot be sent.
    Required,
    /// Encryption starts on.
    On,
    /// Encryption starts on when every recipient has a usable certificate.
    #[default]
    WhenPossible,
    /// Encryption starts off.
    Off,
}

/// The `[ca]` section: where the company CA lives and what its certificates point to.
///
/// ```toml
/// [ca]
/// dir = "/var/lib/mailseal/ca"                       # default: <data_dir>/ca
/// aia_url = "http://pki.example.com/issuing-ca.crt"  # caIssuers in every certificate
/// crl_url = "http://pki.example.com/issuing-ca.crl"  # CRL distribution point
/// validity_days = 365                                # at most 825 (S/MIME BR)
/// crl_days = 7                                       # nextUpdate of each CRL
/// pkcs12_iterations = 100000                         # KDF rounds of PKCS#12 files
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaConfig {
    /// The CA directory: CA certificates, sealed CA keys, the database, the CRL.
    pub dir: Option<PathBuf>,
    /// Where the issuing CA certificate is published (authorityInfoAccess caIssuers), so
    /// clients can complete a chain they were not sent.
    pub aia_url: Option<String>,
    /// Where the CRL is published (cRLDistributionPoints); the S/MIME BR require one.
    pub crl_url: Option<String>,
    /// How long user certificates are valid.
    pub validity_days: u32,
    /// How long each CRL is current (nextUpdate − thisUpdate).
    pub crl_days: u32,
    /// PBKDF2 and MAC rounds of the PKCS#12 files handed out. The default suits passwords
    /// people choose; `mailseal ca batch` makes random 100-bit passwords, for which far fewer
    /// rounds lose nothing and a thousand users go faster (and import faster on Windows).
    pub pkcs12_iterations: u32,
}

impl Default for CaConfig {
    fn default() -> Self {
        Self {
            dir: None,
            aia_url: None,
            crl_url: None,
            validity_days: 365,
            crl_days: 7,
            pkcs12_iterations: mailseal_keys::pkcs12::WRITE_ITERATIONS,
        }
    }
}

impl CaConfig {
    /// The longest validity the S/MIME BR allow for a strict-profile certificate (§6.3.2).
    pub const MAX_VALIDITY_DAYS: u32 = mailseal_ca::authority::MAX_VALIDITY_DAYS;

    /// What the CA needs of this section (the directory is the daemon's to choose).
    pub fn settings(&self) -> mailseal_ca::authority::Settings {
        mailseal_ca::authority::Settings {
            aia_url: self.aia_url.clone(),
            crl_url: self.crl_url.clone(),
            validity_days: self.validity_days,
            crl_days: self.crl_days,
            pkcs12_iterations: self.pkcs12_iterations,
        }
    }

    fn validate(&self) -> Result<(), String> {
        if !(1..=Self::MAX_VALIDITY_DAYS).contains(&self.validity_days) {
            return Err(format!(
                "ca.validity_days must be between 1 and {} (S/MIME Baseline Requirements)",
                Self::MAX_VALIDITY_DAYS
            ));
        }
        if !(2048..=1_000_000).contains(&self.pkcs12_iterations) {
            return Err("ca.pkcs12_iterations must be between 2048 and 1000000".into());
        }
        if !(1..=366).contains(&self.crl_days) {
            return Err("ca.crl_days must be between 1 and 366".into());
        }
        for (key, url) in [("aia_url", &self.aia_url), ("crl_url", &self.crl_url)] {
            if let Some(url) = url
                && !(url.starts_with("http://")
                    || url.starts_with("https://")
                    || url.starts_with("ldap://"))
            {
                return Err(format!(
                    "ca.{key} must be an http://, https:// or ldap:// URL"
                ));
            }
        }
        Ok(())
    }
}

/// The `[directory]` section: an LDAP server holding people's certificates under `mail`.
///
/// ```toml
/// [directory]
/// url = "ldaps://ldap.example.com"          # or ldap://host:389
/// base_dn = "ou=people,dc=example,dc=com"
/// bind_dn = "cn=mailseal,dc=example,dc=com"  # optional: anonymous search without it
/// bind_password = "…"                        # with bind_dn; never logged
/// ca_file = "/etc/mailseal/company-ca.pem"   # optional: TLS roots instead of the system's
/// starttls = false                           # true: ldap:// upgraded with StartTLS
/// timeout_seconds = 5
/// cache_seconds = 3600
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// `ldap://host[:port]` or `ldaps://host[:port]` (TLS, the server's certificate checked
    /// against `ca_file` or else the system's trusted roots).
    pub url: String,
    /// Where in the tree people are searched, the whole subtree below.
    pub base_dn: String,
    /// Whom to bind as; anonymous when absent.
    #[serde(default)]
    pub bind_dn: Option<String>,
    /// The bind password; a [`Secret`] so that it never reaches a log.
    #[serde(default)]
    pub bind_password: Option<Secret>,
    /// PEM file of the CA certificate(s) that issued the directory server's certificate,
    /// trusted for its TLS instead of the system's roots: a company directory's certificate
    /// usually comes from the company CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Upgrade an `ldap://` connection to TLS with StartTLS (RFC 4511 §4.14) before binding,
    /// for directories that offer no `ldaps://` port.
    #[serde(default)]
    pub starttls: bool,
    /// How long one lookup (connect, bind, search) may take before it counts as failed, so
    /// that a dead directory never holds up a request longer.
    #[serde(default = "DirectoryConfig::default_timeout")]
    pub timeout_seconds: u64,
    /// How long an answer is reused; a failure is remembered for at most 30 s of it, so that a
    /// dead directory costs one timeout, not one per recipient. 0 asks every time.
    #[serde(default = "DirectoryConfig::default_cache")]
    pub cache_seconds: u64,
}

impl DirectoryConfig {
    fn default_timeout() -> u64 {
        5
    }

    fn default_cache() -> u64 {
        3600
    }

    /// Whether the connection is encrypted: `ldaps://`, or `ldap://` with StartTLS.
    pub fn uses_tls(&self) -> bool {
        self.starttls || self.url.to_ascii_lowercase().starts_with("ldaps://")
    }

    fn validate(&self) -> Result<(), String> {
        let scheme = self
            .url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("ldap") => {}
            Some("ldaps") if self.starttls => {
                return Err(
                    "directory.starttls is for ldap:// URLs; ldaps:// is TLS already".into(),
                );
            }
            Some("ldaps") => {}
            _ => return Err("directory.url must start with ldap:// or ldaps://".into()),
        }
        if self.ca_file.is_some() && !self.uses_tls() {
            return Err("directory.ca_file needs ldaps:// or starttls = true".into());
        }
        if !(1..=300).contains(&self.timeout_seconds) {
            return Err("directory.timeout_seconds must be between 1 and 300".into());
        }
        match (&self.bind_dn, &self.bind_password) {
            (Some(_), None) => Err("directory.bind_dn needs directory.bind_password".into()),
            (None, Some(_)) => Err("directory.bind_password needs directory.bind_dn".into()),
            _ => Ok(()),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            socket: None,
            data_dir: None,
            log_level: "info".into(),
            key_cache_seconds: 600,
            max_frame_bytes: DEFAULT_MAX_FRAME,
            max_connections: 512,
            shutdown_grace_seconds: 10,
            idle_timeout_seconds: 600,
            frame_timeout_seconds: 60,
            max_unsent_reply_bytes: 16 * 1024 * 1024,
            max_streams_per_connection: 64,
            max_stream_bytes_per_connection: 4 * 1024 * 1024 * 1024,
            max_open_streams: 1024,
            trusted_ca_files: Vec::new(),
            system_trust_store: false,
            pkcs11_modules: None,
            pin_cache_seconds: 600,
            expiry_warning_days: 30,
            directory: None,
            revocation: RevocationPolicy::default(),
            revocation_timeout_seconds: 5,
            crl_dir: None,
            fetch_issuers: false,
            compose: ComposeConfig::default(),
            ca: CaConfig::default(),
        }
    }
}

/// A configuration file that could not be used; the message names the file, line and key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a bad key or value.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// toml's description, which gives line, column and key.
        message: String,
    },
}

impl Config {
    /// The default location of the configuration file.
    pub fn default_path() -> Option<PathBuf> {
        dirs::config_dir().map(|dir| dir.join("mailseal").join("config.toml"))
    }

    /// Where IT deploys the company policy file, which the packages install and users cannot
    /// change: `/etc/mailseal/policy.toml` (Linux), `/Library/Application Support/Mailseal/`
    /// (macOS), `%ProgramData%\Mailseal\` (Windows).
    pub fn default_policy_path() -> PathBuf {
        if cfg!(windows) {
            std::env::var_os("ProgramData")
                .map_or_else(|| PathBuf::from(r"C:\ProgramData"), PathBuf::from)
                .join("Mailseal")
                .join("policy.toml")
        } else if cfg!(target_os = "macos") {
            PathBuf::from("/Library/Application Support/Mailseal/policy.toml")
        } else {
            PathBuf::from("/etc/mailseal/policy.toml")
        }
    }

    /// Reads the company policy over the user's configuration: every key the policy sets wins
    /// (a table such as `[directory]` as a whole), so IT decides trust anchors, the directory
    /// and PIN caching for everyone, and users choose the rest. Missing files count as empty.
    /// Each file is checked on its own first, so an error names the file, line and key.
    pub fn load_layered(policy: Option<&Path>, user: Option<&Path>) -> Result<Self, ConfigError> {
        let mut merged = toml::Table::new();
        let mut last = None;
        for path in [user, policy].into_iter().flatten() {
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(ConfigError::Read {
                        path: path.to_owned(),
                        source,
                    });
                }
            };
            Self::parse(path, &text)?;
            let table: toml::Table = toml::from_str(&text).expect("parsed as a Config just above");
            merged.extend(table);
            last = Some(path);
        }
        let Some(last) = last else {
            return Ok(Self::default());
        };
        let merged = toml::to_string(&merged).expect("TOML tables serialize");
        Self::parse(last, &merged)
    }

    fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e
                .to_string()
                .trim_end()
                .replace('\n', " ")
                .replace("  ", " "),
        })?;
        config.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.max_frame_bytes < 1024 {
            return Err("max_frame_bytes must be at least 1024".into());
        }
        if self.max_connections == 0 {
            return Err("max_connections must be at least 1".into());
        }
        if self.idle_timeout_seconds == 0 || self.frame_timeout_seconds == 0 {
            return Err("idle_timeout_seconds and frame_timeout_seconds must be at least 1".into());
        }
        if self.max_streams_per_connection == 0 || self.max_open_streams == 0 {
            return Err(
                "max_streams_per_connection and max_open_streams must be at least 1".into(),
            );
        }
        if !(1..=60).contains(&self.revocation_timeout_seconds) {
            return Err("revocation_timeout_seconds must be between 1 and 60".into());
        }
        if let Some(bad) = self.compose.encrypt_required_domains.iter().find(|d| {
            let d = d.trim_start_matches('.');
            d.is_empty() || d.contains(['@', ' ', '/']) || !d.contains('.')
        }) {
            return Err(format!(
                "compose.encrypt_required_domains: {bad:?} is not a domain such as \"example.com\""
            ));
        }
        self.ca.validate()?;
        self.directory
            .as_ref()
            .map_or(Ok(()), DirectoryConfig::validate)
    }

    /// The company CA's directory in effect.
    pub fn ca_dir(&self) -> PathBuf {
        self.ca
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir().join("ca"))
    }

    /// The data directory in effect.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| {
            dirs::data_dir()
                .unwrap_or_else(std::env::temp_dir)
                .join("mailseal")
        })
    }

    /// The socket path in effect.
    pub fn socket(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(mailseal_protocol::default_socket_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("/etc/x/config.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
        assert_eq!(Config::default().key_cache_seconds, 600);
    }

    #[test]
    fn reads_values() {
        let config = parse("key_cache_seconds = 5\nsocket = \"/tmp/s.sock\"\n").unwrap();
        assert_eq!(config.key_cache_seconds, 5);
        assert_eq!(config.socket(), PathBuf::from("/tmp/s.sock"));
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let err = parse("log_level = \"info\"\nkey_cache_secnds = 5\n").unwrap_err();
        assert!(err.starts_with("/etc/x/config.toml: "), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("key_cache_secnds"), "{err}");
        let err = parse("key_cache_seconds = \"ten\"\n").unwrap_err();
        assert!(
            err.contains("line 1") && err.contains("key_cache_seconds"),
            "{err}"
        );
        let err = parse("max_frame_bytes = 10\n").unwrap_err();
        assert!(err.contains("max_frame_bytes"), "{err}");
    }

    #[test]
    fn the_revocation_policy() {
        assert!(!parse("").unwrap().system_trust_store);
        assert!(!parse("").unwrap().fetch_issuers);
        assert!(
            parse("system_trust_store = true\n")
                .unwrap()
                .system_trust_store
        );
        assert_eq!(parse("").unwrap().revocation, RevocationPolicy::SoftFail);
        let config = parse("revocation = \"hard-fail\"\nrevocation_timeout_seconds = 2\n").unwrap();
        assert_eq!(config.revocation, RevocationPolicy::HardFail);
        assert_eq!(config.revocation_timeout_seconds, 2);
        assert_eq!(
            parse("revocation = \"off\"\n").unwrap().revocation,
            RevocationPolicy::Off
        );
        let err = parse("revocation = \"sometimes\"\n").unwrap_err();
        assert!(
            err.contains("revocation") && err.contains("line 1"),
            "{err}"
        );
        let err = parse("revocation_timeout_seconds = 0\n").unwrap_err();
        assert!(err.contains("revocation_timeout_seconds"), "{err}");
    }

    #[test]
    fn the_ca_section() {
        let config =
            parse("[ca]\ncrl_url = \"http://pki.example.com/ca.crl\"\nvalidity_days = 730\n")
                .unwrap();
        assert_eq!(config.ca.validity_days, 730);
        assert_eq!(config.ca.crl_days, 7);
        let err = parse("[ca]\nvalidity_days = 900\n").unwrap_err();
        assert!(err.contains("ca.validity_days"), "{err}");
        let err = parse("[ca]\naia_url = \"ftp://x\"\n").unwrap_err();
        assert!(err.contains("ca.aia_url"), "{err}");
    }

    #[test]
    fn the_directory_section() {
        assert_eq!(parse("").unwrap().directory, None);
        let config = parse(
            "[directory]\nurl = \"ldaps://ldap.example.com\"\nbase_dn = \"dc=example,dc=com\"\n\
             bind_dn = \"cn=ms\"\nbind_password = \"hunter2\"\n",
        )
        .unwrap();
        let directory = config.directory.unwrap();
        assert_eq!(directory.timeout_seconds, 5);
        assert_eq!(directory.cache_seconds, 3600);
        assert!(!format!("{directory:?}").contains("hunter2"));
        for (text, complaint) in [
            (
                "url = \"http://x\"\nbase_dn = \"dc=x\"",
                "ldap:// or ldaps://",
            ),
            ("url = \"ldap://x\"", "base_dn"),
            (
                "url = \"ldap://x\"\nbase_dn = \"dc=x\"\ntimeout_seconds = 0",
                "timeout",
            ),
            (
                "url = \"ldap://x\"\nbase_dn = \"dc=x\"\nbind_dn = \"cn=a\"",
                "bind_password",
            ),
            ("url = \"ldap://x\"\nbase_dn = \"dc=x\"\nport = 1", "port"),
            (
                "url = \"ldaps://x\"\nbase_dn = \"dc=x\"\nstarttls = true",
                "starttls",
            ),
            (
                "url = \"ldap://x\"\nbase_dn = \"dc=x\"\nca_file = \"/ca\"",
                "ca_file",
            ),
        ] {
            let err = parse(&format!("[directory]\n{text}\n")).unwrap_err();
            assert!(err.contains(complaint), "{text}: {err}");
        }
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;

    #[test]
    fn the_policy_wins_over_the_user_and_missing_files_are_empty() {
        let dir = tempfile::tempdir().unwrap();
        let (policy, user) = (
            dir.path().join("policy.toml"),
            dir.path().join("config.toml"),
        );
        std::fs::write(
            &user,
            "pin_cache_seconds = 900\nkey_cache_seconds = 60\nlog_level = \"debug\"\n",
        )
        .unwrap();
        std::fs::write(
            &policy,
            "pin_cache_seconds = 0\ntrusted_ca_files = [\"/etc/mailseal/ca.pem\"]\n",
        )
        .unwrap();
        let config = Config::load_layered(Some(&policy), Some(&user)).unwrap();
        assert_eq!(config.pin_cache_seconds, 0, "the policy's");
        assert_eq!(
            config.key_cache_seconds, 60,
            "the user's, where the policy says nothing"
        );
        assert_eq!(config.log_level, "debug");
        assert_eq!(
            config.trusted_ca_files,
            vec![PathBuf::from("/etc/mailseal/ca.pem")]
        );

        let only_user =
            Config::load_layered(Some(&dir.path().join("none.toml")), Some(&user)).unwrap();
        assert_eq!(only_user.pin_cache_seconds, 900);
        assert_eq!(Config::load_layered(None, None).unwrap(), Config::default());
    }

    #[test]
    fn the_shipped_policy_template_is_valid() {
        let template =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../installer/policy.toml.example");
        let config = Config::load_layered(Some(&template), None).unwrap();
        assert_eq!(config.pin_cache_seconds, 600);
        assert!(config.directory.is_some());
    }

    #[test]
    fn an_error_in_the_policy_names_the_policy_file() {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("policy.toml");
        std::fs::write(&policy, "pin_cache_seconds = 0\npin_cahce = 1\n").unwrap();
        let error = Config::load_layered(Some(&policy), None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("policy.toml")
                && error.contains("line 2")
                && error.contains("pin_cahce"),
            "{error}"
        );
    }
}
