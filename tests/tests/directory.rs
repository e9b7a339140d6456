//! The company directory end to end: a real OpenLDAP `slapd`, started by each test on a free
//! loopback port with a configuration of its own, holds people's certificates; the daemon
//! finds them (`cert.find`), encrypts to them without any `cert.import`, escapes addresses in
//! its LDAP filter, and reports a stopped or stalled directory cleanly within its timeout.

use mailseal_protocol::methods::cert::{self, CertSource, DirectoryStatus, FindResult};
use mailseal_protocol::{Client, ClientError, ErrorKind};
use mailseal_test_support::ca::Validity;
use mailseal_test_support::openssl;
use mailseal_tests::rpc::{self, open, ping};
use mailseal_tests::slapd::{
    Entry, ROOT_DN, ROOT_PASSWORD, SLAPD, SUFFIX, Slapd, server_certificate,
};
use mailseal_tests::{Pki, TestDaemon, daemon_error};
use std::path::Path;
use std::time::{Duration, Instant};

/// Issues `<name>.pem` (and `<name>.key`) for `email` with the keyUsage bits `key_usage` and
/// `validity`, and returns its DER, as the directory holds it.
fn issue(pki: &Pki, name: &str, email: &str, key_usage: &str, validity: Validity) -> Vec<u8> {
    let pem = pki.user_with(name, email, "rsa:2048", key_usage, validity);
    openssl(
        pki.dir(),
        &["x509", "-in", pem.to_str().unwrap(), "-outform", "DER"],
    )
}

const CURRENT: Validity = Validity::Between("20200101000000Z", "20991231000000Z");
const LONG_AGO: Validity = Validity::Between("20200101000000Z", "20210101000000Z");

/// The people of every test: Ann owns the daemon; the directory knows Bob (a good RSA
/// certificate among an expired one, one for signing only and one for another address),
/// Carol (an EC certificate in a PKCS #7 bag, as Outlook publishes them) and O'Brien, whose
/// address is full of LDAP filter characters.
struct World {
    pki: Pki,
    slapd: Slapd,
}

/// O'Brien's address: legal in mail, and full of characters special in an LDAP filter.
const OBRIEN: &str = "o*brien(x)@example.com";

impl World {
    fn new() -> Option<Self> {
        if !Path::new(SLAPD).exists() {
            println!("skipped: slapd not installed (CI installs slapd and ldap-utils)");
            return None;
        }
        let pki = Pki::new();
        pki.user("ann", "ann@example.com", "rsa:2048");
        let bob = issue(
            &pki,
            "bob",
            "bob@example.com",
            "digitalSignature,keyEncipherment",
            CURRENT,
        );
        let expired = issue(
            &pki,
            "bob-old",
            "bob@example.com",
            "digitalSignature,keyEncipherment",
            LONG_AGO,
        );
        let signing = issue(
            &pki,
            "bob-sig",
            "bob@example.com",
            "digitalSignature",
            CURRENT,
        );
        let other = issue(
            &pki,
            "robert",
            "robert@example.org",
            "keyEncipherment",
            CURRENT,
        );
        pki.user("carol", "carol@example.com", "ec");
        openssl(
            pki.dir(),
            &[
                "crl2pkcs7",
                "-nocrl",
                "-certfile",
                "carol.pem",
                "-certfile",
                "ca.pem",
                "-outform",
                "DER",
                "-out",
                "carol.p7c",
            ],
        );
        let carol_bag = std::fs::read(pki.dir().join("carol.p7c")).unwrap();
        let obrien = issue(&pki, "obrien", OBRIEN, "keyEncipherment", CURRENT);
        let server = server_certificate(&pki);
        let slapd = Slapd::start(
            &[
                Entry {
                    uid: "bob",
                    mail: &["bob@example.com"],
                    user_certificates: vec![bob, expired, signing, other],
                    smime_certificates: Vec::new(),
                },
                Entry {
                    uid: "carol",
                    mail: &["carol@example.com"],
                    user_certificates: Vec::new(),
                    smime_certificates: vec![carol_bag],
                },
                Entry {
                    uid: "obrien",
                    mail: &[OBRIEN],
                    user_certificates: vec![obrien],
                    smime_certificates: Vec::new(),
                },
            ],
            (&server.0, &server.1),
        )?;
        Some(Self { pki, slapd })
    }

    /// Ann's daemon with the directory at `url` and the extra `[directory]` lines.
    async fn daemon(&self, url: &str, extra: &str) -> (TestDaemon, Client) {
        let config = format!(
            "{}[directory]\nurl = \"{url}\"\nbase_dn = \"{SUFFIX}\"\nbind_dn = \"{ROOT_DN}\"\n\
             bind_password = \"{ROOT_PASSWORD}\"\n{extra}",
            self.pki.trust_config()
        );
        self.pki.daemon_with(&config, &["ann"], &[]).await
    }
}

async fn find(client: &mut Client, email: &str) -> FindResult {
    client
        .call::<cert::Find>(&cert::FindParams {
            email: email.into(),
        })
        .await
        .unwrap()
}

async fn encrypt_to(client: &mut Client, to: &str) -> Result<Vec<u8>, ClientError> {
    let message = format!(
        "From: Ann <ann@example.com>\r\nTo: {to}\r\nSubject: hi\r\nContent-Type: text/plain\r\n\r\nfor your eyes only\r\n"
    );
    rpc::encrypt(client, message.as_bytes()).await
}

fn reason_of<'a>(result: &'a FindResult, subject: &str) -> &'a cert::Candidate {
    result
        .candidates
        .iter()
        .find(|c| c.certificate.subject == subject)
        .unwrap_or_else(|| panic!("no candidate {subject}: {result:#?}"))
}

#[tokio::test]
async fn directory_certificates_are_found_judged_and_encrypted_to() {
    let Some(world) = World::new() else { return };
    let (daemon, mut client) = world.daemon(&world.slapd.url(), "").await;

    let found = find(&mut client, "Bob@Example.com").await;
    let chosen = found.certificate.as_ref().expect("a usable certificate");
    assert_eq!(chosen.subject, "CN=bob");
    assert_eq!(found.source, Some(CertSource::Directory));
    assert_eq!(
        found.directory,
        DirectoryStatus::Answered {
            certificates: 4,
            cached: false,
            unreadable: Vec::new()
        }
    );
    assert_eq!(found.candidates.len(), 4, "{found:#?}");
    assert!(found.candidates[0].usable);
    let expired = reason_of(&found, "CN=bob-old");
    assert!(!expired.usable);
    assert!(
        expired.reason.starts_with("expired on 2021-01-01"),
        "{}",
        expired.reason
    );
    let signing = reason_of(&found, "CN=bob-sig");
    assert!(!signing.usable);
    assert!(
        signing.reason.contains("wrong key usage"),
        "{}",
        signing.reason
    );
    let other = reason_of(&found, "CN=robert");
    assert_eq!(
        other.reason,
        "it is for robert@example.org, not bob@example.com"
    );
    assert!(
        found
            .candidates
            .iter()
            .all(|c| c.source == CertSource::Directory)
    );

    // The directory's answer is cached, and the usable certificate stored.
    let again = find(&mut client, "bob@example.com").await;
    assert_eq!(again.certificate, found.certificate);
    assert!(matches!(
        again.directory,
        DirectoryStatus::Answered { cached: true, .. }
    ));
    let stored = client
        .call::<cert::List>(&cert::ListParams {
            email: Some("bob@example.com".into()),
        })
        .await
        .unwrap();
    assert_eq!(stored.certificates, vec![chosen.clone()]);

    // Encryption needs no cert.import: Bob's OpenSSL reads the mail.
    let encrypted = encrypt_to(&mut client, "Bob <bob@example.com>")
        .await
        .unwrap();
    let plain = world.pki.openssl_decrypt(&encrypted, "bob");
    assert!(String::from_utf8_lossy(&plain).contains("for your eyes only"));

    // Carol's certificate comes out of a userSMIMECertificate PKCS #7 bag (the CA
    // certificate beside it is chain, not a candidate), and is an EC key.
    let carol = find(&mut client, "carol@example.com").await;
    assert_eq!(carol.candidates.len(), 1, "{carol:#?}");
    assert_eq!(carol.certificate.as_ref().unwrap().key_algorithm, "ec-p256");
    let encrypted = encrypt_to(&mut client, "carol@example.com").await.unwrap();
    let plain = world.pki.openssl_decrypt(&encrypted, "carol");
    assert!(String::from_utf8_lossy(&plain).contains("for your eyes only"));

    // The CLI shows the same, for people and for scripts.
    let out = daemon.cli(&["certs", "find", "bob@example.com"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("encrypt to this certificate (directory)"),
        "{text}"
    );
    assert!(
        text.contains("rejected") && text.contains("expired on 2021"),
        "{text}"
    );
    let out = daemon.cli(&["--json", "certs", "find", "nobody@example.com"]);
    assert_eq!(out.status.code(), Some(7));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["certificate"], serde_json::Value::Null);
    assert_eq!(json["directory"]["status"], "answered");
}

#[tokio::test]
async fn addresses_are_escaped_in_the_ldap_filter() {
    let Some(world) = World::new() else { return };
    let (_daemon, mut client) = world.daemon(&world.slapd.url(), "").await;

    // Found by its exact address, special characters and all.
    let found = find(&mut client, OBRIEN).await;
    assert_eq!(found.certificate.as_ref().unwrap().subject, "CN=obrien");

    // Filter syntax in an address matches literally, and so matches nobody.
    for injection in [
        "*",
        "*)(mail=*",
        "bob@example.com)(mail=*",
        "*)(|(mail=*",
        "bob@example.com\\",
        "bob@example.com\u{0}",
    ] {
        let result = client
            .call::<cert::Find>(&cert::FindParams {
                email: injection.into(),
            })
            .await;
        match result {
            Ok(found) => {
                assert!(found.candidates.is_empty(), "{injection}: {found:#?}");
                assert!(
                    matches!(
                        found.directory,
                        DirectoryStatus::Answered {
                            certificates: 0,
                            ..
                        }
                    ),
                    "{injection}: {:?}",
                    found.directory
                );
            }
            // Control characters are refused before any lookup.
            Err(ClientError::Daemon(error)) => {
                assert!(injection.contains('\u{0}'), "{injection}: {error}");
                assert_eq!(error.kind, ErrorKind::bad_input("params.email"));
            }
            Err(other) => panic!("{injection}: {other}"),
        }
    }
}

#[tokio::test]
async fn a_dead_directory_is_reported_within_the_timeout() {
    let Some(mut world) = World::new() else {
        return;
    };
    let url = world.slapd.url();
    let (_daemon, mut client) = world
        .daemon(&url, "timeout_seconds = 2\ncache_seconds = 0\n")
        .await;
    assert!(
        find(&mut client, "bob@example.com")
            .await
            .certificate
            .is_some()
    );
    world.slapd.stop();

    // Bob's certificate was stored when found: it still serves, and the failure is told.
    let found = find(&mut client, "bob@example.com").await;
    assert_eq!(found.source, Some(CertSource::Directory));
    let DirectoryStatus::Failed { error } = &found.directory else {
        panic!("{:?}", found.directory)
    };
    assert!(
        error.contains("cannot connect to the directory") && error.contains(&url),
        "{error}"
    );

    // Nobody else can be encrypted to: the error names the recipient and the directory.
    let found = find(&mut client, "carol@example.com").await;
    assert!(found.certificate.is_none() && found.candidates.is_empty());
    let error = daemon_error(encrypt_to(&mut client, "carol@example.com").await);
    assert_eq!(
        error.kind,
        ErrorKind::CertNotFound {
            query: "carol@example.com".into()
        }
    );
    assert!(
        error.message.contains(
            "carol@example.com (no certificate is known; the directory could not be asked"
        ),
        "{}",
        error.message
    );

    // A directory that accepts connections and never answers costs the timeout, no more.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("ldap://{}", silent.local_addr().unwrap());
    let (_stalled, mut client) = world
        .daemon(&silent_url, "timeout_seconds = 2\ncache_seconds = 0\n")
        .await;
    let started = Instant::now();
    let found = find(&mut client, "bob@example.com").await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let DirectoryStatus::Failed { error } = &found.directory else {
        panic!("{:?}", found.directory)
    };
    assert!(error.contains("did not answer within 2 s"), "{error}");
    // And the daemon keeps answering.
    ping(&mut client).await;
}

#[tokio::test]
async fn tls_to_the_directory_is_checked_against_the_configured_ca() {
    let Some(world) = World::new() else { return };
    let ca_file = format!("ca_file = {:?}\n", world.pki.dir().join("ca.pem"));
    for (url, extra) in [
        (world.slapd.tls_url(), ca_file.clone()),
        (world.slapd.url(), format!("{ca_file}starttls = true\n")),
    ] {
        let (_daemon, mut client) = world.daemon(&url, &extra).await;
        let found = find(&mut client, "bob@example.com").await;
        assert_eq!(
            found.source,
            Some(CertSource::Directory),
            "{url}: {:?}",
            found.directory
        );
    }
    // Without the company CA the server is not trusted, and nothing is read from it.
    let (_daemon, mut client) = world.daemon(&world.slapd.tls_url(), "").await;
    let found = find(&mut client, "bob@example.com").await;
    assert!(found.candidates.is_empty(), "{found:#?}");
    let DirectoryStatus::Failed { error } = &found.directory else {
        panic!("{:?}", found.directory)
    };
    assert!(
        error.contains("cannot connect to the directory ldaps://"),
        "{error}"
    );
}

/// A message signed by `name` of `pki` (`<name>.pem`, `<name>.key`), from `from` to Ann.
fn signed_by(pki: &Pki, name: &str, from: &str) -> Vec<u8> {
    pki.write("note.txt", b"Content-Type: text/plain\r\n\r\nhi\r\n");
    let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
    openssl(
        pki.dir(),
        &[
            "cms",
            "-sign",
            "-in",
            "note.txt",
            "-signer",
            &cert,
            "-inkey",
            &key,
            "-from",
            from,
            "-to",
            "ann@example.com",
            "-subject",
            "hi",
        ],
    )
}

/// Without a directory (the default), `cert.find` still tells the user's own certificate, an
/// imported one and one harvested from signed mail apart. A certificate harvested from mail
/// that does not chain to a trusted CA is never encrypted to: anyone can sign a message with a
/// certificate they made themselves for someone else's address.
#[tokio::test]
async fn without_a_directory_sources_are_told_apart() {
    let pki = Pki::new();
    pki.user("ann", "ann@example.com", "rsa:2048");
    pki.user("bob", "bob@example.com", "ec");
    pki.user("dave", "dave@example.com", "rsa:2048");
    let (_daemon, mut client) = pki
        .daemon_with(&pki.trust_config(), &["ann"], &["bob"])
        .await;
    open(&mut client, &signed_by(&pki, "dave", "dave@example.com"))
        .await
        .unwrap();
    let forger = Pki::new();
    forger.user("eve", "erin@example.com", "rsa:2048");
    open(&mut client, &signed_by(&forger, "eve", "erin@example.com"))
        .await
        .unwrap();
    let erin = find(&mut client, "erin@example.com").await;
    assert_eq!(erin.certificate, None, "{erin:#?}");
    let harvested = reason_of(&erin, "CN=eve");
    assert_eq!(harvested.source, CertSource::Harvested);
    assert!(
        harvested
            .reason
            .starts_with("it does not chain to a trusted CA"),
        "{}",
        harvested.reason
    );

    for (address, source) in [
        ("ann@example.com", CertSource::Own),
        ("bob@example.com", CertSource::Store),
        ("dave@example.com", CertSource::Harvested),
    ] {
        let found = find(&mut client, address).await;
        assert_eq!(found.source, Some(source), "{address}: {found:#?}");
        assert_eq!(found.directory, DirectoryStatus::NotConfigured);
    }
}
