//! A private OpenLDAP `slapd` for tests, started on free loopback ports with a configuration
//! of its own: shared by the directory lookup tests and the company CA's publishing test.

use mailseal_test_support::ca::{Ca, Validity};
use mailseal_test_support::run;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory's suffix.
pub const SUFFIX: &str = "dc=example,dc=com";
/// Its administrator, who may write everything.
pub const ROOT_DN: &str = "cn=admin,dc=example,dc=com";
/// The administrator's password.
pub const ROOT_PASSWORD: &str = "directory-secret";

/// Where Debian installs the server and its schemas.
pub const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";
const SCHEMAS: &str = "/etc/ldap/schema";

/// A person in the directory: `mail` values and certificate attribute values (DER).
pub struct Entry<'a> {
    /// The entry's uid (and cn, sn).
    pub uid: &'a str,
    /// Its `mail` values.
    pub mail: &'a [&'a str],
    /// `userCertificate;binary` values.
    pub user_certificates: Vec<Vec<u8>>,
    /// `userSMIMECertificate` values.
    pub smime_certificates: Vec<Vec<u8>>,
}

/// A private `slapd` serving `dc=example,dc=com` on 127.0.0.1, never the system's: plain
/// LDAP (with StartTLS) on one port, LDAPS on another.
pub struct Slapd {
    dir: tempfile::TempDir,
    port: u16,
    tls_port: u16,
    child: Option<Child>,
}

impl Slapd {
    /// Loads `entries` and starts the server with the TLS certificate and key `tls`; `None`
    /// (with the reason printed) when slapd is not installed.
    pub fn start(entries: &[Entry<'_>], tls: (&Path, &Path)) -> Option<Self> {
        if !Path::new(SLAPD).exists() || !Path::new(SLAPADD).exists() {
            println!("skipped: slapd not installed (CI installs slapd and ldap-utils)");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("db")).unwrap();
        let config = format!(
            "include {SCHEMAS}/core.schema\ninclude {SCHEMAS}/cosine.schema\n\
             include {SCHEMAS}/inetorgperson.schema\npidfile {pid}\n\
             TLSCertificateFile {cert}\nTLSCertificateKeyFile {key}\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\n\
             database mdb\nsuffix \"{SUFFIX}\"\nrootdn \"{ROOT_DN}\"\nrootpw {ROOT_PASSWORD}\n\
             directory {db}\n",
            pid = dir.path().join("slapd.pid").display(),
            db = dir.path().join("db").display(),
            cert = tls.0.display(),
            key = tls.1.display(),
        );
        std::fs::write(dir.path().join("slapd.conf"), config).unwrap();
        std::fs::write(dir.path().join("data.ldif"), ldif(entries)).unwrap();
        run(Command::new(SLAPADD)
            .arg("-f")
            .arg(dir.path().join("slapd.conf"))
            .arg("-l")
            .arg(dir.path().join("data.ldif")));
        let (port, tls_port) = (free_port(), free_port());
        let log = std::fs::File::create(dir.path().join("slapd.log")).unwrap();
        // `-d 0` keeps slapd in the foreground, a child the test can stop.
        let child = Command::new(SLAPD)
            .arg("-f")
            .arg(dir.path().join("slapd.conf"))
            .arg("-h")
            .arg(format!(
                "ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/"
            ))
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start slapd");
        let mut slapd = Self {
            dir,
            port,
            tls_port,
            child: Some(child),
        };
        slapd.wait_until_listening();
        Some(slapd)
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let listening = |port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        while !listening(self.port) || !listening(self.tls_port) {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("slapd exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "slapd not listening:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The plain (StartTLS-capable) URL.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// The LDAPS URL.
    pub fn tls_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.tls_port)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// Stops the server and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The suffix entry and `entries` as LDIF, binary values base64 (RFC 2849).
fn ldif(entries: &[Entry<'_>]) -> String {
    use base64::Engine;
    let b64 = |der: &[u8]| base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n"
    );
    for entry in entries {
        let uid = entry.uid;
        write!(
            text,
            "\ndn: uid={uid},{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n"
        )
        .unwrap();
        for mail in entry.mail {
            writeln!(text, "mail: {mail}").unwrap();
        }
        for der in &entry.user_certificates {
            writeln!(text, "userCertificate;binary:: {}", b64(der)).unwrap();
        }
        for der in &entry.smime_certificates {
            writeln!(text, "userSMIMECertificate:: {}", b64(der)).unwrap();
        }
    }
    text
}

/// A TLS server certificate for 127.0.0.1 issued by the test CA: (certificate, key) files.
pub fn server_certificate(pki: &Ca) -> (PathBuf, PathBuf) {
    pki.request("server", "/CN=127.0.0.1", "rsa:2048");
    let cert = pki.issue(
        "server",
        "subjectAltName=IP:127.0.0.1\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n",
        Validity::Days(30),
        &[],
    );
    (cert, pki.dir().join("server.key"))
}
