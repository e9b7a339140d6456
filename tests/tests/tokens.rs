//! Smart cards end to end: a real SoftHSM2 token through the real daemon (cryptoki path),
//! with results checked by `openssl`. A fresh token directory per test.

use mailseal_protocol::methods::smime::SignatureMode;
use mailseal_protocol::methods::{Empty, KeyLocation, identity, token};
use mailseal_protocol::{Client, ClientError, ErrorKind, Secret};
use mailseal_test_support::ca::{Validity, email_extensions};
use mailseal_test_support::openssl;
use mailseal_test_support::softhsm::{self, Slots, SoftHsm};
use mailseal_tests::rpc::{self, card_key_and_request, decrypt, ping};
use mailseal_tests::{Pki, TestDaemon, daemon_error};
use std::process::Command;

const PIN: &str = softhsm::USER_PIN;
const MESSAGE: &str = "From: Carl <carl@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: from the card\r\n\r\nsigned on a card\r\n";

/// A SoftHSM2 token `card`, and a CA whose user carl's key and certificate are on it.
struct Card {
    pki: Pki,
    hsm: SoftHsm,
}

impl Card {
    fn new() -> Option<Self> {
        let pki = Pki::new();
        let hsm = SoftHsm::new(pki.dir(), Slots::Fixed)?;
        hsm.init_token("card");
        pki.user("carl", "carl@example.com", "rsa:2048");
        pki.user("bob", "bob@example.com", "rsa:2048");
        hsm.write_identity(
            "card",
            "01",
            "carl",
            "carl.key",
            "carl.pem",
            &["--usage-sign", "--usage-decrypt"],
        );
        Some(Self { pki, hsm })
    }

    fn daemon(&self, extra: &str) -> TestDaemon {
        let config = format!(
            "pkcs11_modules = [{:?}]\n{}{extra}",
            softhsm::MODULE,
            self.pki.trust_config()
        );
        TestDaemon::start_with_env(&config, &self.hsm.env())
    }
}

/// Signs [`MESSAGE`], detached.
async fn sign(client: &mut Client) -> Result<Vec<u8>, ClientError> {
    rpc::sign(client, MESSAGE.as_bytes(), SignatureMode::Detached).await
}

async fn login(client: &mut Client, pin: &str) -> Result<token::LoginResult, ClientError> {
    client
        .call::<token::Login>(&token::LoginParams {
            token: "card".into(),
            pin: Secret::new(pin.into()),
        })
        .await
}

#[tokio::test]
async fn a_card_identity_signs_and_decrypts_after_login() {
    let Some(card) = Card::new() else { return };
    let daemon = card.daemon("");
    let mut client = daemon.client().await;

    let listed = client.call::<token::List>(&Empty {}).await.unwrap();
    assert_eq!(listed.modules.len(), 1);
    assert!(listed.modules[0].error.is_none(), "{:?}", listed.modules);
    let [found] = listed.tokens.as_slice() else {
        panic!("{:?}", listed.tokens)
    };
    assert_eq!((found.label.as_str(), found.logged_in), ("card", false));
    assert_eq!(found.identities.len(), 1);
    assert_eq!(
        found.identities[0].certificate.emails,
        vec!["carl@example.com"]
    );

    let identities = client
        .call::<identity::List>(&Empty {})
        .await
        .unwrap()
        .identities;
    assert_eq!(
        identities[0].location,
        KeyLocation::Token {
            token: "card".into()
        }
    );

    // No login yet: the error names the token so the client can ask for its PIN.
    let error = daemon_error(sign(&mut client).await);
    assert_eq!(
        error.kind,
        ErrorKind::PinRequired {
            token: "card".into()
        }
    );

    let error = daemon_error(login(&mut client, "0000").await);
    assert!(
        matches!(error.kind, ErrorKind::WrongPin { ref token, count_low: true, .. } if token == "card"),
        "{error:?}"
    );

    login(&mut client, PIN).await.unwrap();
    let signed = sign(&mut client).await.unwrap();
    let content = card.pki.openssl_verify(&signed);
    assert!(String::from_utf8_lossy(&content).contains("signed on a card"));

    // Mail encrypted to the card's certificate by OpenSSL decrypts through the card.
    let inner = card.pki.write(
        "inner.txt",
        b"Content-Type: text/plain\r\n\r\nfor carl's card\r\n",
    );
    let encrypted = openssl(
        card.pki.dir(),
        &["cms", "-encrypt", "-aes256", "-in", &inner, "carl.pem"],
    );
    let opened = decrypt(&mut client, &encrypted).await.unwrap();
    assert!(
        String::from_utf8_lossy(opened.message.inline().expect("an inline reply"))
            .contains("for carl's card")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_signatures_on_one_card_all_succeed() {
    let Some(card) = Card::new() else { return };
    let daemon = std::sync::Arc::new(card.daemon(""));
    login(&mut daemon.client().await, PIN).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let daemon = std::sync::Arc::clone(&daemon);
        tasks.spawn(async move { sign(&mut daemon.client().await).await.map(|m| m.len()) });
    }
    let mut signed = 0;
    while let Some(result) = tasks.join_next().await {
        assert!(result.unwrap().unwrap() > MESSAGE.len());
        signed += 1;
    }
    assert_eq!(signed, 50);
}

#[tokio::test]
async fn the_pin_cache_expires_and_a_removed_card_is_a_clean_error() {
    let Some(card) = Card::new() else { return };
    let daemon = card.daemon("pin_cache_seconds = 1\n");
    let mut client = daemon.client().await;
    login(&mut client, PIN).await.unwrap();
    sign(&mut client).await.unwrap();
    // The login is kept one second; allow the slow machine some margin.
    let mut error = None;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if let Err(e) = sign(&mut client).await {
            error = Some(daemon_error::<()>(Err(e)));
            break;
        }
    }
    assert_eq!(
        error.expect("the login expired").kind,
        ErrorKind::PinRequired {
            token: "card".into()
        }
    );

    // The card goes away mid-session: a typed error, and the daemon goes on serving.
    login(&mut client, PIN).await.unwrap();
    card.hsm.delete_token("card");
    let error = daemon_error(sign(&mut client).await);
    assert!(
        matches!(
            error.kind,
            ErrorKind::TokenNotPresent { .. } | ErrorKind::CertNotFound { .. }
        ),
        "{error:?}"
    );
    ping(&mut client).await;
}

#[tokio::test]
async fn a_key_made_on_the_card_gets_a_certificate_through_a_csr() {
    let Some(card) = Card::new() else { return };
    let daemon = card.daemon("");
    let mut client = daemon.client().await;
    login(&mut client, PIN).await.unwrap();
    let (id, csr) =
        card_key_and_request(&mut client, "card", "dora", "Dora", "dora@example.com").await;
    let pki = &card.pki;
    let csr = pki.write("dora.csr", &csr);
    openssl(
        pki.dir(),
        &["req", "-verify", "-noout", "-inform", "DER", "-in", &csr],
    );
    let dora = pki.issue(
        "dora",
        &email_extensions("dora@example.com", "digitalSignature,keyAgreement"),
        Validity::Days(30),
        &["-inform", "DER"],
    );
    let stored = client
        .call::<token::ImportCert>(&token::ImportCertParams {
            token: "card".into(),
            certificate: std::fs::read(dora).unwrap().into(),
        })
        .await
        .unwrap();
    assert_eq!(stored.id, id);

    let listed = client.call::<token::List>(&Empty {}).await.unwrap();
    assert!(
        listed.tokens[0]
            .identities
            .iter()
            .any(|i| i.certificate.emails == vec!["dora@example.com"])
    );
    let message = MESSAGE.replace("Carl <carl@example.com>", "Dora <dora@example.com>");
    let signed = rpc::sign(&mut client, message.as_bytes(), SignatureMode::Opaque)
        .await
        .unwrap();
    let content = pki.openssl_verify(&signed);
    assert!(String::from_utf8_lossy(&content).contains("signed on a card"));
}

/// Waits until the `mailseal` process talking to `socket` has turned its terminal's echo off,
/// as it does to read a PIN: typed before that, the PIN would be shown.
fn wait_for_echo_off(socket: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let cli = std::fs::read_dir("/proc").unwrap().flatten().find(|entry| {
            std::fs::read(entry.path().join("cmdline")).is_ok_and(|cmdline| {
                let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
                args.first().is_some_and(|a| a.ends_with(b"mailseal"))
                    && args.contains(&socket.as_bytes())
            })
        });
        let echo_off = cli.is_some_and(|entry| {
            Command::new("stty")
                .arg("-a")
                .stdin(std::fs::File::open(entry.path().join("fd/0")).unwrap())
                .output()
                .is_ok_and(|out| {
                    String::from_utf8_lossy(&out.stdout)
                        .split_whitespace()
                        .any(|flag| flag == "-echo")
                })
        });
        if echo_off {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the CLI never turned echo off"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[tokio::test]
async fn the_cli_asks_for_the_pin_at_a_terminal_and_retries() {
    let Some(card) = Card::new() else { return };
    let daemon = card.daemon("");
    let dir = card.pki.dir();
    std::fs::write(dir.join("msg.eml"), MESSAGE).unwrap();
    let cli = mailseal_tests::binary("mailseal");
    // `script` gives the CLI a terminal whose keyboard is our stdin.
    let command = format!(
        "{} --socket {} sign {} -o {}",
        cli.display(),
        daemon.socket().display(),
        dir.join("msg.eml").display(),
        dir.join("signed.eml").display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    // Type the PIN only once the prompt is up (echo is off then), as a person would.
    let mut screen = Vec::new();
    let mut stdout = child.stdout.take().unwrap();
    let mut chunk = [0u8; 256];
    while !String::from_utf8_lossy(&screen).contains("PIN for smart card \"card\": ") {
        use std::io::Read;
        let n = stdout.read(&mut chunk).unwrap();
        assert!(
            n > 0,
            "the CLI ended without asking: {}",
            String::from_utf8_lossy(&screen)
        );
        screen.extend_from_slice(&chunk[..n]);
    }
    // The prompt is printed a moment before echo goes off: wait for the terminal to say so.
    wait_for_echo_off(&daemon.socket().display().to_string());
    {
        use std::io::{Read, Write};
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{PIN}\n").as_bytes())
            .unwrap();
        stdout.read_to_end(&mut screen).unwrap();
    }
    let status = child.wait().unwrap();
    let screen = String::from_utf8_lossy(&screen);
    assert!(status.success(), "{screen}");
    assert!(!screen.contains(PIN), "the PIN is not echoed: {screen}");
    let content = openssl(
        dir,
        &["cms", "-verify", "-in", "signed.eml", "-CAfile", "ca.pem"],
    );
    assert!(String::from_utf8_lossy(&content).contains("signed on a card"));
}
