//! The company CA end to end: `mailseal ca …` against the real daemon, every certificate and
//! CRL checked by the real `openssl` (x509 -text, verify -purpose, pkcs12, crl, cms), PKCS#12
//! files imported into a user's daemon and used, a batch of a thousand users, and a daemon
//! killed (kill -9) in the middle of a batch.
//!
//! OpenSSL's `-purpose smimeencrypt` demands keyEncipherment, which only RSA keys get (an EC
//! key gets keyAgreement, S/MIME BR §7.1.2.3(e)); EC certificates are checked for encryption
//! by `openssl cms -encrypt` instead.

use mailseal_protocol::ErrorKind;
use mailseal_protocol::methods::report::{CheckName, Outcome, Verdict};
use mailseal_protocol::methods::smime::SignatureMode;
use mailseal_protocol::methods::{ca, cert, key, token};
use mailseal_protocol::{Client, Secret};
use mailseal_test_support::openssl;
use mailseal_test_support::softhsm::{self, Slots, SoftHsm};
use mailseal_tests::gnupg::{Gnupg, path_str};
use mailseal_tests::rpc::{card_key_and_request, check, decrypt, only_signature, sign, verify};
use mailseal_tests::slapd::{Entry, ROOT_DN, ROOT_PASSWORD, SUFFIX, Slapd, server_certificate};
use mailseal_tests::{Pki, TestDaemon, daemon_error, mime, require_gnupg};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CA_PASSWORD: &str = "ca secret";
/// Ann, individual-validated, with an RSA key (the one key type gpgsm 2.2 imports).
const ANN_RSA: &[&str] = &[
    "--kind",
    "individual",
    "--email",
    "ann@example.com",
    "--name",
    "Ann Example",
    "--algorithm",
    "rsa-2048",
];
const P12_PASSWORD: &str = "p12 secret";
const CRL_URL: &str = "http://pki.example.com/issuing-ca.crl";
const AIA_URL: &str = "http://pki.example.com/issuing-ca.crt";

/// A daemon holding the company CA, and a directory for the files the tests make.
struct Ca {
    daemon: TestDaemon,
    work: tempfile::TempDir,
}

impl Ca {
    /// A daemon with a `[ca]` section (plus `extra` lines in it) and a fresh CA in it.
    fn new(extra: &str) -> Self {
        Self::with_crl_url(CRL_URL, extra)
    }

    /// [`Ca::new`] with the CRL published at `crl_url`.
    fn with_crl_url(crl_url: &str, extra: &str) -> Self {
        let daemon = TestDaemon::start(&format!(
            "pkcs11_modules = []\n[ca]\ncrl_url = {crl_url:?}\naia_url = {AIA_URL:?}\n{extra}"
        ));
        let work = tempfile::tempdir().unwrap();
        let ca = Self { daemon, work };
        std::fs::write(ca.path("ca.pw"), CA_PASSWORD).unwrap();
        std::fs::write(ca.path("p12.pw"), P12_PASSWORD).unwrap();
        ca.ok(&[
            "ca",
            "init",
            "--name",
            "Example",
            "--org",
            "Example Corp",
            "--password-file",
            &ca.file("ca.pw"),
        ]);
        // OpenSSL's chain: the root trusted, the issuing CA as an intermediate.
        std::fs::copy(ca.ca_dir().join("root-ca.pem"), ca.path("root.pem")).unwrap();
        std::fs::copy(ca.ca_dir().join("issuing-ca.pem"), ca.path("issuing.pem")).unwrap();
        let mut chain = std::fs::read(ca.path("issuing.pem")).unwrap();
        chain.extend(std::fs::read(ca.path("root.pem")).unwrap());
        std::fs::write(ca.path("chain.pem"), chain).unwrap();
        ca
    }

    fn ca_dir(&self) -> PathBuf {
        self.daemon.data_dir().join("ca")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    fn file(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// Runs `mailseal` and returns its stdout, panicking with its stderr on failure.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.daemon.cli(args);
        assert!(
            out.status.success(),
            "mailseal {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `mailseal --json …` parsed.
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Issues with a new key to `<name>.p12` in the work directory; the issued entries.
    fn issue(&self, name: &str, args: &[&str]) -> Vec<serde_json::Value> {
        let out = self.file(&format!("{name}.p12"));
        let mut all = vec!["ca", "issue", "--p12-password-file"];
        let pw = self.file("p12.pw");
        all.push(&pw);
        all.extend_from_slice(args);
        all.extend(["-o", &out]);
        let result = self.json(&all);
        result["issued"].as_array().unwrap().clone()
    }

    /// Asks to issue with a new key to `<name>.p12` and expects a refusal (exit code 4) that
    /// says `why`, and no file.
    fn refused_issue(&self, name: &str, args: &[&str], why: &str) {
        let (pw, out) = (self.file("p12.pw"), self.file(&format!("{name}.p12")));
        let mut all = vec!["ca", "issue", "--p12-password-file", &pw];
        all.extend_from_slice(args);
        all.extend(["-o", &out]);
        let refused = self.daemon.cli(&all);
        assert_eq!(refused.status.code(), Some(4), "{}", stderr(&refused));
        assert!(stderr(&refused).contains(why), "{}", stderr(&refused));
        assert!(!self.path(&format!("{name}.p12")).exists());
    }

    /// The certificate in `<p12>` as `<pem>`, read by OpenSSL with the PKCS#12 password.
    fn certificate_of(&self, p12: &str, pem: &str) -> String {
        let pass = format!("pass:{P12_PASSWORD}");
        openssl(
            self.work.path(),
            &[
                "pkcs12", "-in", p12, "-passin", &pass, "-nokeys", "-clcerts", "-out", pem,
            ],
        );
        String::from_utf8(openssl(
            self.work.path(),
            &["x509", "-in", pem, "-noout", "-text", "-serial"],
        ))
        .unwrap()
    }

    /// `openssl verify` of `pem` for `purpose` against the CA, with extra options.
    fn verify(&self, pem: &str, purpose: &str, extra: &[&str]) -> Output {
        Command::new("openssl")
            .args([
                "verify",
                "-purpose",
                purpose,
                "-CAfile",
                "root.pem",
                "-untrusted",
                "issuing.pem",
            ])
            .args(extra)
            .arg(pem)
            .current_dir(self.work.path())
            .output()
            .unwrap()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn each_kind_follows_its_strict_profile_and_openssl_accepts_it() {
    let ca = Ca::new("validity_days = 825\n");

    let mailbox = ca.issue(
        "bob",
        &[
            "--kind",
            "mailbox",
            "--email",
            "Bob@Example.com",
            "--algorithm",
            "ec-p256",
        ],
    );
    let text = ca.certificate_of("bob.p12", "bob.pem");
    assert!(text.contains("Policy: 2.23.140.1.5.1.3"), "{text}");
    assert!(text.contains("Subject: CN = bob@example.com\n"), "{text}");
    assert!(text.contains("Digital Signature, Key Agreement"), "{text}");
    assert!(text.contains("email:bob@example.com"), "{text}");
    // Valid for the 825 days configured (whole days left: 824 once a second has passed).
    let days = mailbox[0]["entry"]["days_to_expiry"].as_i64().unwrap();
    assert!((824..=825).contains(&days), "{days}");

    ca.issue(
        "ann",
        &[
            "--kind",
            "individual",
            "--email",
            "ann@example.com",
            "--name",
            "Ann Example",
            "--algorithm",
            "rsa-2048",
        ],
    );
    let text = ca.certificate_of("ann.p12", "ann.pem");
    assert!(text.contains("Policy: 2.23.140.1.5.4.3"), "{text}");
    assert!(text.contains("Subject: CN = Ann Example\n"), "{text}");

    let dual = ca.issue(
        "carl",
        &[
            "--kind",
            "organization",
            "--email",
            "carl@example.com",
            "--name",
            "Carl Example",
            "--org",
            "Example Corp",
            "--algorithm",
            "rsa-2048",
            "--dual",
        ],
    );
    assert_eq!(dual.len(), 2);
    let signing = ca.certificate_of("carl-signing.p12", "carl-signing.pem");
    let encryption = ca.certificate_of("carl-encryption.p12", "carl-encryption.pem");
    for text in [&signing, &encryption] {
        assert!(text.contains("Policy: 2.23.140.1.5.3.3"), "{text}");
        assert!(
            text.contains("Subject: CN = Carl Example, O = Example Corp\n"),
            "{text}"
        );
    }

    for text in [
        &ca.certificate_of("ann.p12", "ann.pem"),
        &signing,
        &encryption,
        &ca.certificate_of("bob.p12", "bob.pem"),
    ] {
        assert!(text.contains("E-mail Protection"), "{text}");
        assert!(!text.contains("TLS Web"), "{text}");
        assert!(text.contains("X509v3 Key Usage: critical"), "{text}");
        assert!(text.contains(&format!("URI:{CRL_URL}")), "{text}");
        assert!(
            text.contains(&format!("CA Issuers - URI:{AIA_URL}")),
            "{text}"
        );
        assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
        // 16 bytes of serial: 126 bits from the CSPRNG.
        let serial = text
            .lines()
            .find_map(|l| l.strip_prefix("serial="))
            .unwrap();
        assert_eq!(serial.len(), 32, "{serial}");
    }
    assert!(text_has_usage(
        &ca.certificate_of("ann.p12", "ann.pem"),
        "Digital Signature, Key Encipherment"
    ));
    assert!(text_has_usage(&signing, "Digital Signature\n"));
    assert!(text_has_usage(&encryption, "Key Encipherment\n"));

    for (pem, purpose, accepted) in [
        ("ann.pem", "smimesign", true),
        ("ann.pem", "smimeencrypt", true),
        ("bob.pem", "smimesign", true),
        ("carl-signing.pem", "smimesign", true),
        ("carl-signing.pem", "smimeencrypt", false),
        ("carl-encryption.pem", "smimeencrypt", true),
        ("carl-encryption.pem", "smimesign", false),
    ] {
        let out = ca.verify(pem, purpose, &[]);
        assert_eq!(
            out.status.success(),
            accepted,
            "{pem} {purpose}: {}",
            stderr(&out)
        );
    }
    // Bob's EC key is for key agreement: OpenSSL encrypts to it.
    std::fs::write(ca.path("msg.txt"), "hello").unwrap();
    openssl(
        ca.work.path(),
        &[
            "cms", "-encrypt", "-aes256", "-in", "msg.txt", "-out", "msg.p7m", "bob.pem",
        ],
    );

    // What the profiles forbid is refused, with the field named.
    ca.refused_issue(
        "x",
        &[
            "--kind",
            "mailbox",
            "--email",
            "x@example.com",
            "--name",
            "X",
        ],
        "name is not allowed in a mailbox certificate",
    );
    ca.refused_issue(
        "x",
        &[
            "--kind",
            "individual",
            "--email",
            "ann@example.com",
            "--name",
            "Ann",
        ],
        "already has an active individual certificate",
    );
}

fn text_has_usage(text: &str, usage: &str) -> bool {
    text.contains(&format!(
        "X509v3 Key Usage: critical\n                {usage}"
    ))
}

/// `message` signed (detached) by the daemon of `client`, then verified by `openssl cms
/// -verify` with `trust` (its -CAfile and options): the content OpenSSL found signed.
async fn signed_and_verified(
    ca: &Ca,
    client: &mut Client,
    message: &[u8],
    trust: &[&str],
) -> Vec<u8> {
    let signed = sign(client, message, SignatureMode::Detached)
        .await
        .unwrap();
    std::fs::write(ca.path("signed.eml"), &signed).unwrap();
    let mut args = vec!["cms", "-verify", "-in", "signed.eml"];
    args.extend_from_slice(trust);
    openssl(ca.work.path(), &args)
}

#[tokio::test]
async fn a_pkcs12_from_the_ca_imports_into_a_daemon_that_signs_and_decrypts_with_it() {
    let ca = Ca::new("");
    ca.issue("ann", ANN_RSA);
    let pass = format!("pass:{P12_PASSWORD}");
    let info = Command::new("openssl")
        .args([
            "pkcs12", "-info", "-nodes", "-passin", &pass, "-in", "ann.p12",
        ])
        .current_dir(ca.work.path())
        .output()
        .unwrap();
    assert!(info.status.success(), "{}", stderr(&info));
    let info_text = stderr(&info);
    assert!(
        info_text.contains("MAC: sha256, Iteration 100000"),
        "{info_text}"
    );
    assert!(
        info_text.contains("PBES2, PBKDF2, AES-256-CBC, Iteration 100000, PRF hmacWithSHA256"),
        "{info_text}"
    );
    let stdout = String::from_utf8_lossy(&info.stdout);
    assert!(stdout.contains("friendlyName: ann@example.com"), "{stdout}");
    assert!(stdout.contains("BEGIN PRIVATE KEY"));
    ca.certificate_of("ann.p12", "ann.pem");

    let user = TestDaemon::start(&format!(
        "pkcs11_modules = []\ntrusted_ca_files = [{:?}]\n",
        ca.path("root.pem")
    ));
    let mut client = user.client().await;
    let imported = client
        .call::<key::ImportPkcs12>(&key::ImportPkcs12Params {
            data: std::fs::read(ca.path("ann.p12")).unwrap().into(),
            password: Secret::new(P12_PASSWORD.into()),
            passphrase: None,
        })
        .await
        .unwrap();
    assert_eq!(imported.identity.certificate.emails, ["ann@example.com"]);
    assert_eq!(imported.identity.chain.len(), 2, "issuing and root CA");

    let message = b"From: Ann <ann@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: hi\r\n\r\nsigned with the company CA\r\n";
    let content = signed_and_verified(
        &ca,
        &mut client,
        message,
        &["-CAfile", "root.pem", "-purpose", "smimesign"],
    )
    .await;
    assert!(String::from_utf8_lossy(&content).contains("signed with the company CA"));

    std::fs::write(ca.path("plain.eml"), "Subject: for Ann\r\n\r\nsecret\r\n").unwrap();
    let encrypted = openssl(
        ca.work.path(),
        &["cms", "-encrypt", "-aes256", "-in", "plain.eml", "ann.pem"],
    );
    let opened = decrypt(&mut client, &encrypted).await.unwrap();
    assert!(mime::body_text(opened.message.inline().expect("an inline reply")).contains("secret"));
}

#[test]
fn a_pkcs12_for_gnupg_imports_into_gpgsm_which_signs_and_decrypts_with_it() {
    require_gnupg!();
    let ca = Ca::new("");
    ca.issue("ann", &[ANN_RSA, &["--p12-format", "gnupg22"]].concat());
    let gnupg = Gnupg::trusting(&ca.path("root.pem"));
    gnupg.import_p12_with(&ca.path("ann.p12"), P12_PASSWORD);

    let file = gnupg.write(
        "msg.txt",
        b"signed by gpgsm with a key from the company CA\n",
    );
    let signature = gnupg.dir().join("msg.p7s");
    gnupg.gpgsm(
        &[
            "--local-user",
            "ann@example.com",
            "--sign",
            "--detach",
            "--output",
            &path_str(&signature),
            &file,
        ],
        format!("{P12_PASSWORD}\n").as_bytes(),
    );
    openssl(
        ca.work.path(),
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            &path_str(&signature),
            "-content",
            &file,
            "-CAfile",
            "root.pem",
            "-purpose",
            "smimesign",
        ],
    );

    ca.certificate_of("ann.p12", "ann.pem");
    std::fs::write(ca.path("plain.txt"), "for Ann's gpgsm\n").unwrap();
    openssl(
        ca.work.path(),
        &[
            "cms",
            "-encrypt",
            "-aes128",
            "-outform",
            "DER",
            "-in",
            "plain.txt",
            "-out",
            "enc.p7m",
            "ann.pem",
        ],
    );
    let out = gnupg.gpgsm(
        &["--decrypt", &ca.file("enc.p7m")],
        format!("{P12_PASSWORD}\n").as_bytes(),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("for Ann's gpgsm"));
}

#[tokio::test]
async fn a_request_made_on_a_card_gets_a_certificate_that_signs_on_the_card() {
    let ca = Ca::new("");
    let Some(hsm) = SoftHsm::new(ca.work.path(), Slots::Fixed) else {
        return;
    };
    hsm.init_token("card");
    let user = TestDaemon::start_with_env(
        &format!(
            "pkcs11_modules = [{:?}]\ntrusted_ca_files = [{:?}]\n",
            softhsm::MODULE,
            ca.path("root.pem")
        ),
        &hsm.env(),
    );
    let mut client = user.client().await;
    client
        .call::<token::Login>(&token::LoginParams {
            token: "card".into(),
            pin: Secret::new(softhsm::USER_PIN.into()),
        })
        .await
        .unwrap();
    let (_, csr) = card_key_and_request(
        &mut client,
        "card",
        "mail",
        "Carl Example",
        "carl@example.com",
    )
    .await;
    std::fs::write(ca.path("carl.csr"), &csr).unwrap();

    // What the request may not ask for is refused: another address, a tampered signature.
    let issue = |email: &str, csr: &str, out: &str| {
        ca.daemon.cli(&[
            "ca",
            "issue",
            "--kind",
            "individual",
            "--email",
            email,
            "--name",
            "Carl Example",
            "--csr",
            &ca.file(csr),
            "-o",
            &ca.file(out),
        ])
    };
    let out = issue("mallory@example.com", "carl.csr", "x.pem");
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("subjectAltName other than the address"),
        "{}",
        stderr(&out)
    );
    let mut tampered = csr.clone();
    let at = tampered.len() - 8;
    tampered[at] ^= 0x01;
    std::fs::write(ca.path("tampered.csr"), tampered).unwrap();
    let out = issue("carl@example.com", "tampered.csr", "x.pem");
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));

    let out = issue("carl@example.com", "carl.csr", "carl.pem");
    assert!(out.status.success(), "{}", stderr(&out));
    let key_of = |args: &[&str]| openssl(ca.work.path(), args);
    assert_eq!(
        key_of(&[
            "req", "-inform", "DER", "-in", "carl.csr", "-noout", "-pubkey"
        ]),
        key_of(&["x509", "-in", "carl.pem", "-noout", "-pubkey"]),
    );
    client
        .call::<token::ImportCert>(&token::ImportCertParams {
            token: "card".into(),
            certificate: std::fs::read(ca.path("carl.pem")).unwrap().into(),
        })
        .await
        .unwrap();
    let message = b"From: Carl <carl@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: card\r\n\r\nsigned on the card\r\n";
    let content = signed_and_verified(&ca, &mut client, message, &["-CAfile", "chain.pem"]).await;
    assert!(String::from_utf8_lossy(&content).contains("signed on the card"));
}

#[tokio::test]
async fn a_ca_whose_keys_are_on_a_card_signs_with_them_after_login() {
    let work = tempfile::tempdir().unwrap();
    let Some(hsm) = SoftHsm::new(work.path(), Slots::Fixed) else {
        return;
    };
    hsm.init_token("ca-card");
    let daemon = TestDaemon::start_with_env(
        &format!("pkcs11_modules = [{:?}]\n", softhsm::MODULE),
        &hsm.env(),
    );
    let mut client = daemon.client().await;
    let login = token::LoginParams {
        token: "ca-card".into(),
        pin: Secret::new(softhsm::USER_PIN.into()),
    };
    client.call::<token::Login>(&login).await.unwrap();
    let mut ids = Vec::new();
    for label in ["root", "issuing"] {
        let generated = client
            .call::<token::GenerateKey>(&token::GenerateKeyParams {
                token: "ca-card".into(),
                algorithm: token::CardKeyAlgorithm::EcP256,
                label: label.into(),
            })
            .await
            .unwrap();
        ids.push(generated.id);
    }
    let init = client
        .call::<ca::Init>(&ca::InitParams {
            name: "Card".into(),
            organization: None,
            keys: ca::CaKeys::Token {
                token: "ca-card".into(),
                root_key_id: ids[0].clone(),
                issuing_key_id: ids[1].clone(),
            },
        })
        .await
        .unwrap();
    assert_eq!(init.issuing.key_algorithm, "ec-p256");
    let ca_dir = daemon.data_dir().join("ca");
    assert!(!ca_dir.join("issuing-ca.key").exists() && !ca_dir.join("root-ca.key").exists());

    let issue = ca::IssueParams {
        kind: ca::CertificateKind::Mailbox,
        email: "dana@example.com".into(),
        name: None,
        organization: None,
        key: ca::KeySource::Generate {
            algorithm: ca::KeyAlgorithm::EcP256,
            pkcs12_password: Secret::new(P12_PASSWORD.into()),
            dual: false,
            pkcs12_format: ca::Pkcs12Format::Modern,
        },
        if_active: ca::IfActive::Replace,
        ca_password: None,
    };
    let issued = client.call::<ca::Issue>(&issue).await.unwrap();
    std::fs::write(
        work.path().join("dana.der"),
        issued.issued[0].certificate.as_slice(),
    )
    .unwrap();
    std::fs::write(work.path().join("chain.pem"), &init.chain_pem).unwrap();
    openssl(
        work.path(),
        &[
            "x509", "-inform", "DER", "-in", "dana.der", "-out", "dana.pem",
        ],
    );
    openssl(
        work.path(),
        &[
            "verify",
            "-purpose",
            "smimesign",
            "-CAfile",
            "chain.pem",
            "dana.pem",
        ],
    );

    // Without a login the card's CA key cannot sign: the client is told to ask for the PIN.
    client
        .call::<token::Logout>(&token::TokenParams {
            token: "ca-card".into(),
        })
        .await
        .unwrap();
    let error = daemon_error(client.call::<ca::Issue>(&issue).await);
    assert_eq!(
        error.kind,
        ErrorKind::PinRequired {
            token: "ca-card".into()
        }
    );
}

#[test]
fn revoked_certificates_are_in_the_signed_crl_and_renewal_keeps_or_replaces_the_key() {
    let ca = Ca::new("crl_days = 3\n");
    let ann = ca.issue(
        "ann",
        &[
            "--kind",
            "mailbox",
            "--email",
            "ann@example.com",
            "--algorithm",
            "ec-p256",
        ],
    );
    ca.issue(
        "bob",
        &[
            "--kind",
            "mailbox",
            "--email",
            "bob@example.com",
            "--algorithm",
            "ec-p256",
        ],
    );
    ca.certificate_of("ann.p12", "ann.pem");
    ca.certificate_of("bob.p12", "bob.pem");
    let ann_serial = ann[0]["entry"]["serial"].as_str().unwrap().to_owned();

    let revoked = ca.json(&["ca", "revoke", &ann_serial, "--reason", "key-compromise"]);
    assert_eq!(revoked["entry"]["status"], "revoked");
    assert_eq!(revoked["crl"]["revoked"], 1);
    let crl = ca.ca_dir().join("issuing-ca.crl");
    std::fs::copy(&crl, ca.path("crl.der")).unwrap();
    let text = String::from_utf8(openssl(
        ca.work.path(),
        &["crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text"],
    ))
    .unwrap();
    assert!(
        text.contains(&format!("Serial Number: {}", ann_serial.to_uppercase())),
        "{text}"
    );
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(text.contains("Next Update:"), "{text}");
    assert!(text.contains("X509v3 CRL Number"), "{text}");
    openssl(
        ca.work.path(),
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "crl.der",
            "-out",
            "crl.pem",
            "-CAfile",
            "issuing.pem",
        ],
    );
    let out = ca.verify(
        "ann.pem",
        "smimesign",
        &["-crl_check", "-CRLfile", "crl.pem"],
    );
    assert!(!out.status.success());
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(said.contains("certificate revoked"), "{said}");
    let out = ca.verify(
        "bob.pem",
        "smimesign",
        &["-crl_check", "-CRLfile", "crl.pem"],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // Revoking twice, or what this CA never issued, is refused.
    let out = ca
        .daemon
        .cli(&["ca", "revoke", &ann_serial, "--reason", "superseded"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let out = ca
        .daemon
        .cli(&["ca", "revoke", "00ff", "--reason", "superseded"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));

    // Renewal without a new key certifies the same key; the old certificate is superseded.
    let listed = ca.json(&["ca", "list", "--email", "bob@example.com"]);
    let bob_serial = listed["certificates"][0]["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    let renewed = ca.json(&["ca", "renew", &bob_serial, "-o", &ca.file("bob2.pem")]);
    assert_eq!(renewed["issued"][0]["entry"]["status"], "active");
    let key_of = |pem: &str| openssl(ca.work.path(), &["x509", "-in", pem, "-noout", "-pubkey"]);
    assert_eq!(key_of("bob2.pem"), key_of("bob.pem"));
    let listed = ca.json(&["ca", "list", "--email", "bob@example.com"]);
    let statuses: Vec<&str> = listed["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["superseded", "active"]);
    // With --rekey a new key comes in a PKCS#12 file.
    let renewed_serial = renewed["issued"][0]["entry"]["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    ca.json(&[
        "ca",
        "renew",
        &renewed_serial,
        "--rekey",
        "ec-p256",
        "--p12-password-file",
        &ca.file("p12.pw"),
        "-o",
        &ca.file("bob3.p12"),
    ]);
    ca.certificate_of("bob3.p12", "bob3.pem");
    assert_ne!(key_of("bob3.pem"), key_of("bob.pem"));

    // A renewed half of a dual-key pair stays that half, beside the other.
    let dual = ca.issue(
        "dora",
        &[
            "--kind",
            "mailbox",
            "--email",
            "dora@example.com",
            "--algorithm",
            "ec-p256",
            "--dual",
        ],
    );
    let signing = dual
        .iter()
        .find(|issued| issued["entry"]["usage"] == "signing")
        .expect("a signing certificate")["entry"]["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    let renewed = ca.json(&[
        "ca",
        "renew",
        &signing,
        "--rekey",
        "ec-p256",
        "--p12-password-file",
        &ca.file("p12.pw"),
        "-o",
        &ca.file("dora2.p12"),
    ]);
    assert_eq!(renewed["issued"].as_array().unwrap().len(), 1, "{renewed}");
    assert_eq!(renewed["issued"][0]["entry"]["usage"], "signing");
    let listed = ca.json(&["ca", "list", "--email", "dora@example.com"]);
    let mut active: Vec<&str> = listed["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "active")
        .map(|c| c["usage"].as_str().unwrap())
        .collect();
    active.sort_unstable();
    assert_eq!(active, ["encryption", "signing"]);
}

/// A web server for `dir` on a free loopback port, as IT publishes the CRL; killed on drop.
struct WebServer(std::process::Child);

impl WebServer {
    fn start(dir: &Path) -> (Self, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the web server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        (Self(child), port)
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// OpenSSL and a user's daemon, verifying, fetch the CRL from the distribution point in the
/// certificate and find the revocation there.
#[tokio::test]
async fn a_verifier_fetches_the_crl_from_the_distribution_point_and_finds_the_revocation() {
    let www = tempfile::tempdir().unwrap();
    let (_server, port) = WebServer::start(www.path());
    let ca = Ca::with_crl_url(&format!("http://127.0.0.1:{port}/issuing-ca.crl"), "");
    let ann = ca.issue(
        "ann",
        &[
            "--kind",
            "mailbox",
            "--email",
            "ann@example.com",
            "--algorithm",
            "ec-p256",
        ],
    );
    ca.certificate_of("ann.p12", "ann.pem");
    let serial = ann[0]["entry"]["serial"].as_str().unwrap();
    // IT's web server publishes what `ca crl` and `ca revoke` write.
    let publish = |args: &[&str]| {
        ca.ok(args);
        let crl = ca.ca_dir().join("issuing-ca.crl");
        std::fs::copy(crl, www.path().join("issuing-ca.crl")).unwrap();
    };
    // Ann signs a message while her certificate is good.
    let ann_daemon = TestDaemon::start("pkcs11_modules = []\n");
    let mut client = ann_daemon.client().await;
    client
        .call::<key::ImportPkcs12>(&key::ImportPkcs12Params {
            data: std::fs::read(ca.path("ann.p12")).unwrap().into(),
            password: Secret::new(P12_PASSWORD.into()),
            passphrase: None,
        })
        .await
        .unwrap();
    let message = b"From: ann@example.com\r\nTo: bob@example.com\r\nSubject: hi\r\n\r\nsigned, then revoked\r\n";
    let signed = sign(&mut client, message, SignatureMode::Detached)
        .await
        .unwrap();
    // Published before the revocation, the CRL lets the certificate pass…
    publish(&["ca", "crl"]);
    let download = ["-crl_check", "-crl_download"];
    let out = ca.verify("ann.pem", "smimesign", &download);
    assert!(out.status.success(), "{}", stderr(&out));
    // …and the one published after it, fetched from the URL in the certificate, revokes it.
    publish(&["ca", "revoke", serial, "--reason", "affiliation-changed"]);
    let out = ca.verify("ann.pem", "smimesign", &download);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(
        !out.status.success() && said.contains("certificate revoked"),
        "{said}"
    );
    // A daemon trusting the company CA finds it too, and names the failed check.
    let verifier = TestDaemon::start(&format!(
        "pkcs11_modules = []\ntrusted_ca_files = [{:?}]\n",
        ca.path("root.pem")
    ));
    let opened = verify(&mut verifier.client().await, &signed).await.unwrap();
    let report = only_signature(&opened.layers);
    assert_eq!(report.verdict(), Verdict::Invalid, "{report:#?}");
    let revocation = check(report, CheckName::Revocation);
    assert_eq!(revocation.outcome, Outcome::Fail, "{revocation:?}");
    assert!(
        revocation.reason.contains("revoked"),
        "{}",
        revocation.reason
    );
    assert_eq!(check(report, CheckName::Chain).outcome, Outcome::Pass);
}

/// What a fresh daemon of a user, looking recipients up in `directory`, finds for `email`.
async fn find_in_directory(directory: &str, ca: &Ca, email: &str) -> cert::FindResult {
    let user = TestDaemon::start(&format!(
        "pkcs11_modules = []\ntrusted_ca_files = [{:?}]\n{directory}",
        ca.path("chain.pem")
    ));
    user.client()
        .await
        .call::<cert::Find>(&cert::FindParams {
            email: email.into(),
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn publishing_puts_active_certificates_into_the_directory_and_takes_revoked_ones_out() {
    let pki = Pki::new();
    let (cert, key) = server_certificate(&pki);
    let ann_entry = Entry {
        uid: "ann",
        mail: &["ann@example.com"],
        user_certificates: Vec::new(),
        smime_certificates: Vec::new(),
    };
    let Some(slapd) = Slapd::start(&[ann_entry], (&cert, &key)) else {
        return;
    };
    // Over LDAPS, the server's certificate checked against the directory's own CA (ca_file).
    let directory = format!(
        "[directory]\nurl = \"{}\"\nbase_dn = \"{SUFFIX}\"\nbind_dn = \"{ROOT_DN}\"\nbind_password = \"{ROOT_PASSWORD}\"\nca_file = {:?}\n",
        slapd.tls_url(),
        pki.dir().join("ca.pem")
    );
    let ca = Ca::new(&directory);
    let ann = ca.issue(
        "ann",
        &[
            "--kind",
            "mailbox",
            "--email",
            "ann@example.com",
            "--algorithm",
            "rsa-2048",
        ],
    );
    ca.issue(
        "bob",
        &[
            "--kind",
            "mailbox",
            "--email",
            "bob@example.com",
            "--algorithm",
            "ec-p256",
        ],
    );
    let published = ca.json(&["ca", "publish"]);
    assert_eq!(published["updated"], serde_json::json!(["ann@example.com"]));
    assert_eq!(
        published["not_found"],
        serde_json::json!(["bob@example.com"])
    );

    let found = find_in_directory(&directory, &ca, "ann@example.com").await;
    assert_eq!(found.source, Some(cert::CertSource::Directory), "{found:?}");
    let serial = ann[0]["entry"]["serial"].as_str().unwrap();
    assert_eq!(found.certificate.unwrap().serial, serial);

    // Revoked, the certificate leaves the directory at the next publication.
    ca.ok(&["ca", "revoke", serial, "--reason", "cessation-of-operation"]);
    let published = ca.json(&["ca", "publish", "--email", "ann@example.com"]);
    assert_eq!(published["updated"], serde_json::json!(["ann@example.com"]));
    let found = find_in_directory(&directory, &ca, "ann@example.com").await;
    assert!(found.certificate.is_none(), "{found:?}");
    assert!(
        matches!(
            found.directory,
            cert::DirectoryStatus::Answered {
                certificates: 0,
                ..
            }
        ),
        "{found:?}"
    );
}

/// A CSV of `count` users, and their addresses.
fn users_csv(path: &Path, count: usize) -> Vec<String> {
    let emails: Vec<String> = (0..count)
        .map(|i| format!("user{i:04}@example.com"))
        .collect();
    let mut csv = String::from("email,name\n");
    for (i, email) in emails.iter().enumerate() {
        csv.push_str(&format!("{email},\"User {i}, Example\"\n"));
    }
    std::fs::write(path, csv).unwrap();
    emails
}

/// The serial of the certificate in each PKCS#12 file of a batch directory, by address, read
/// by OpenSSL with the password beside it.
fn delivered(dir: &Path) -> BTreeMap<String, String> {
    let mut serials = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "p12") {
            continue;
        }
        let email = path.file_stem().unwrap().to_string_lossy().into_owned();
        let password = std::fs::read_to_string(dir.join(format!("{email}.password"))).unwrap();
        let pass = format!("pass:{}", password.trim_end());
        let pem = openssl(
            dir,
            &[
                "pkcs12",
                "-in",
                &format!("{email}.p12"),
                "-passin",
                &pass,
                "-nokeys",
                "-clcerts",
            ],
        );
        let mut x509 = Command::new("openssl")
            .args(["x509", "-noout", "-serial"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut x509.stdin.take().unwrap(), &pem).unwrap();
        let out = x509.wait_with_output().unwrap();
        let serial = String::from_utf8(out.stdout).unwrap();
        let serial = serial
            .trim()
            .strip_prefix("serial=")
            .unwrap()
            .to_ascii_lowercase();
        serials.insert(email, serial);
    }
    serials
}

/// Active certificates by address, from `ca list`.
fn active(ca: &Ca) -> BTreeMap<String, Vec<String>> {
    let listed = ca.json(&["ca", "list"]);
    let mut active: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in listed["certificates"].as_array().unwrap() {
        if entry["status"] == "active" {
            active
                .entry(entry["email"].as_str().unwrap().to_owned())
                .or_default()
                .push(entry["serial"].as_str().unwrap().to_owned());
        }
    }
    active
}

fn batch(ca: &Ca, csv: &str, out: &str) -> serde_json::Value {
    ca.json(&[
        "ca",
        "batch",
        csv,
        "--kind",
        "individual",
        "--algorithm",
        "ec-p256",
        "--out-dir",
        out,
        "--password-file",
        &ca.file("ca.pw"),
    ])
}

/// Users whose files would coincide (addresses that differ only in characters a file name
/// cannot hold; the same address twice, in any case, is refused when the file is read) are
/// refused rather than overwriting each other's keys, and keys never go into a directory
/// others can read.
#[test]
fn a_batch_never_lets_two_users_share_files() {
    let ca = Ca::new("pkcs12_iterations = 2048\n");
    std::fs::write(
        ca.path("users.csv"),
        "email,name\nann@example.com,Ann\na/b@example.com,AB\na_b@example.com,A B\n",
    )
    .unwrap();
    let run = |out: &str| {
        ca.daemon.cli(&[
            "--json",
            "ca",
            "batch",
            &ca.file("users.csv"),
            "--kind",
            "individual",
            "--algorithm",
            "ec-p256",
            "--out-dir",
            out,
            "--password-file",
            &ca.file("ca.pw"),
        ])
    };
    let out = run(&ca.file("out"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let failed: Vec<i64> = summary["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["line"].as_i64().unwrap())
        .collect();
    assert_eq!(failed, [4], "{summary}");
    assert!(
        summary["failed"][0]["error"]
            .as_str()
            .unwrap()
            .contains("line 3"),
        "{summary}"
    );
    let files = std::fs::read_dir(ca.path("out")).unwrap().count();
    assert_eq!(files, 5, "two users' .p12 and .password, and passwords.csv");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir(ca.path("open")).unwrap();
        std::fs::set_permissions(ca.path("open"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let refused = run(&ca.file("open"));
        assert!(!refused.status.success());
        assert!(
            stderr(&refused).contains("can be read by others"),
            "{}",
            stderr(&refused)
        );
        assert_eq!(std::fs::read_dir(ca.path("open")).unwrap().count(), 0);
    }
}

#[test]
fn a_batch_of_a_thousand_users_completes_and_a_rerun_issues_nothing() {
    // Batch passwords are random (100 bits): fewer KDF rounds lose nothing and keep 2 cores quick.
    let ca = Ca::new("pkcs12_iterations = 2048\n");
    let emails = users_csv(&ca.path("users.csv"), 1000);
    let out = ca.file("out");
    let first = batch(&ca, &ca.file("users.csv"), &out);
    assert_eq!(first["issued"].as_array().unwrap().len(), 1000, "{first}");
    assert_eq!(first["failed"].as_array().unwrap().len(), 0, "{first}");

    let second = batch(&ca, &ca.file("users.csv"), &out);
    assert_eq!(second["issued"].as_array().unwrap().len(), 0, "{second}");
    assert_eq!(second["reissued"].as_array().unwrap().len(), 0, "{second}");
    assert_eq!(
        second["skipped"].as_array().unwrap().len(),
        1000,
        "{second}"
    );
    assert_eq!(
        ca.json(&["ca", "list"])["certificates"]
            .as_array()
            .unwrap()
            .len(),
        1000
    );

    let passwords = std::fs::read_to_string(ca.path("out").join("passwords.csv")).unwrap();
    assert_eq!(passwords.lines().count(), 1001);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(ca.path("out")), 0o700);
        assert_eq!(mode(ca.path("out").join("passwords.csv")), 0o600);
        assert_eq!(
            mode(ca.path("out").join(format!("{}.p12", emails[7]))),
            0o600
        );
    }
    // A sample opens with its own password and holds the certificate the CA recorded.
    let sample = ca.path("sample");
    std::fs::create_dir(&sample).unwrap();
    for email in [&emails[0], &emails[499], &emails[999]] {
        for ext in ["p12", "password"] {
            let name = format!("{email}.{ext}");
            std::fs::copy(ca.path("out").join(&name), sample.join(&name)).unwrap();
        }
    }
    let active = active(&ca);
    for (email, serial) in delivered(&sample) {
        assert_eq!(active[&email], [serial]);
    }
}

/// Starts a batch of 200 users, lets `kill` stop it (kill -9 of the daemon or of the CLI) once
/// some are done, then checks that the CA database opens and agrees with the files, and that
/// a rerun completes the rest with every user holding exactly the certificate recorded.
fn killed_mid_batch(kill: impl FnOnce(&mut Ca, &mut std::process::Child)) {
    let mut ca = Ca::new("pkcs12_iterations = 2048\n");
    let emails = users_csv(&ca.path("users.csv"), 200);
    let out_dir = ca.path("out");
    let mut cli = Command::new(mailseal_tests::binary("mailseal"))
        .args(["--socket"])
        .arg(ca.daemon.socket())
        .args([
            "ca",
            "batch",
            &ca.file("users.csv"),
            "--algorithm",
            "ec-p256",
            "--out-dir",
        ])
        .arg(&out_dir)
        .args(["--password-file", &ca.file("ca.pw")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let files = |dir: &Path| {
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "p12"))
                    .count()
            })
            .unwrap_or(0)
    };
    while files(&out_dir) < 40 {
        assert!(Instant::now() < deadline, "the batch made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    kill(&mut ca, &mut cli);
    let status = cli.wait().unwrap();
    assert!(!status.success(), "the batch cannot have finished");
    let before = delivered(&out_dir);
    assert!(before.len() < 200, "killed too late: {}", before.len());

    // The database opens and agrees with the files: every delivered file is an active
    // certificate, and at most the one certificate in flight has no file.
    if ca.daemon.child.is_none() {
        ca.daemon.restart();
    }
    let active_now = active(&ca);
    for (email, serial) in &before {
        assert_eq!(
            active_now.get(email),
            Some(&vec![serial.clone()]),
            "{email}"
        );
    }
    let undelivered: BTreeSet<&String> = active_now
        .keys()
        .filter(|e| !before.contains_key(*e))
        .collect();
    assert!(undelivered.len() <= 1, "{undelivered:?}");

    // A rerun completes the rest and replaces the undelivered one.
    let rerun = batch(&ca, &ca.file("users.csv"), &out_dir.display().to_string());
    assert_eq!(rerun["failed"].as_array().unwrap().len(), 0, "{rerun}");
    assert_eq!(
        rerun["skipped"].as_array().unwrap().len(),
        before.len(),
        "{rerun}"
    );
    assert_eq!(
        rerun["reissued"].as_array().unwrap().len(),
        undelivered.len(),
        "{rerun}"
    );
    let after = delivered(&out_dir);
    let active_after = active(&ca);
    assert_eq!(after.len(), emails.len());
    for email in &emails {
        assert_eq!(active_after[email], [after[email].clone()], "{email}");
    }
}

#[test]
fn a_daemon_killed_mid_batch_leaves_the_ca_consistent_and_a_rerun_completes() {
    killed_mid_batch(|ca, _cli| {
        ca.daemon.signal("KILL");
        ca.daemon.wait_exit();
    });
}

#[test]
fn a_batch_cli_killed_midway_leaves_the_ca_consistent_and_a_rerun_completes() {
    killed_mid_batch(|_ca, cli| cli.kill().unwrap());
}
