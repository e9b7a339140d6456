//! What the mail-client add-ons ask the daemon besides S/MIME itself: the company's Sign and
//! Encrypt defaults for a message being written (`policy.compose`, from the policy file), and
//! the readable parts of a decrypted message (`mime.display`), through the real daemon.

use mailseal_protocol::Client;
use mailseal_protocol::ErrorKind;
use mailseal_protocol::methods::mime;
use mailseal_protocol::methods::policy::{self, ComposeResult};
use mailseal_test_support::openssl;
use mailseal_tests::rpc::decrypt;
use mailseal_tests::{Pki, TestDaemon, daemon_error};
use std::process::Stdio;

async fn compose(client: &mut Client, from: &str, recipients: &[&str]) -> ComposeResult {
    client
        .call::<policy::Compose>(&policy::ComposeParams {
            from: Some(from.to_owned()),
            recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
        })
        .await
        .unwrap()
}

/// With no `[compose]` rules, signing starts on for a sender the user has an identity for and
/// encryption when every recipient has a certificate. The company policy file then requires
/// signing and encryption to its own domain; a user's own config cannot loosen that.
#[tokio::test]
async fn compose_defaults_come_from_the_company_policy() {
    let pki = Pki::new();
    pki.user("ann", "ann@example.com", "rsa:2048");
    pki.user("bob", "bob@example.com", "rsa:2048");
    let user_config = format!("{}[compose]\nsign = \"off\"\n", pki.trust_config());
    let (mut daemon, mut client) = pki
        .daemon_with(&pki.trust_config(), &["ann"], &["bob"])
        .await;

    let defaults = compose(
        &mut client,
        "Ann <ann@example.com>",
        &["Bob <bob@example.com>"],
    )
    .await;
    assert!(
        defaults.sign.default && !defaults.sign.required,
        "{defaults:?}"
    );
    assert!(
        defaults.encrypt.default && !defaults.encrypt.required,
        "{defaults:?}"
    );
    let stranger = compose(
        &mut client,
        "ann@example.com",
        &["bob@example.com", "carol@other.org"],
    )
    .await;
    assert!(
        !stranger.encrypt.default,
        "carol has no certificate: {stranger:?}"
    );
    assert_eq!(
        stranger.encrypt.reason,
        "not every recipient has a certificate"
    );
    let nobody = compose(&mut client, "zoe@example.com", &[]).await;
    assert!(!nobody.sign.default, "no identity for zoe: {nobody:?}");
    assert!(
        nobody.sign.reason.contains("zoe@example.com"),
        "{}",
        nobody.sign.reason
    );

    std::fs::write(daemon.home.path().join("config.toml"), user_config).unwrap();
    std::fs::write(
        daemon.home.path().join("policy.toml"),
        "[compose]\nsign = \"required\"\nencrypt = \"off\"\nencrypt_required_domains = [\"example.com\"]\n",
    )
    .unwrap();
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(), Some(0));
    daemon.restart();
    let mut client = daemon.client().await;
    let internal = compose(&mut client, "ann@example.com", &["carol@sales.example.com"]).await;
    assert!(
        internal.sign.required && internal.sign.default,
        "the policy's [compose] wins over the user's: {internal:?}"
    );
    assert!(
        internal.encrypt.required && internal.encrypt.default,
        "{internal:?}"
    );
    assert_eq!(
        internal.encrypt.reason,
        "company policy requires encryption for mail to example.com"
    );
    let external = compose(&mut client, "ann@example.com", &["carol@other.org"]).await;
    assert!(
        !external.encrypt.default && !external.encrypt.required,
        "{external:?}"
    );
}

/// A bad `[compose]` setting in the policy stops the daemon with the file and key named,
/// rather than silently not enforcing what IT meant.
#[test]
fn a_bad_compose_policy_is_refused_at_start() {
    let daemon = TestDaemon::start("");
    std::fs::write(
        daemon.home.path().join("policy.toml"),
        "[compose]\nencrypt_required_domains = [\"@example.com\"]\n",
    )
    .unwrap();
    let output = daemon.command().stderr(Stdio::piped()).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("policy.toml") && stderr.contains("encrypt_required_domains"),
        "{stderr}"
    );
}

/// A message openssl encrypted to Ann, with an attachment, is opened by her daemon and its
/// parts decoded for display: the add-on shows this text and offers the file.
#[tokio::test]
async fn a_decrypted_message_is_decoded_for_display() {
    let pki = Pki::new();
    pki.user("ann", "ann@example.com", "rsa:2048");
    let (_daemon, mut client) = pki.daemon(&["ann"], &[]).await;
    let inner = pki.write(
        "inner.eml",
        b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Gr=C3=BC=C3=9Fe, the plan is attached.\r\n--b\r\n\
Content-Type: text/csv; name=\"plan.csv\"\r\nContent-Disposition: attachment; filename=\"plan.csv\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nd2hvLHdoZW4KYW5uLG1vbmRheQo=\r\n--b--\r\n",
    );
    let encrypted = openssl(
        pki.dir(),
        &[
            "cms", "-encrypt", "-aes256", "-in", &inner, "-subject", "plan", "ann.pem",
        ],
    );
    let opened = decrypt(&mut client, &encrypted).await.unwrap();
    let shown = client
        .call::<mime::Display>(&mime::DisplayParams {
            message: opened.message.into_inline().expect("inline").into(),
        })
        .await
        .unwrap();
    assert_eq!(shown.subject.as_deref(), Some("plan"));
    assert_eq!(
        shown.text.as_deref().map(str::trim_end),
        Some("Grüße, the plan is attached.")
    );
    assert_eq!(shown.attachments.len(), 1);
    assert_eq!(shown.attachments[0].filename, "plan.csv");
    assert_eq!(shown.attachments[0].content_type, "text/csv");
    assert_eq!(
        shown.attachments[0].data.as_slice(),
        b"who,when\nann,monday\n"
    );

    let error = daemon_error(
        client
            .call::<mime::Display>(&mime::DisplayParams {
                message: Vec::new().into(),
            })
            .await,
    );
    assert_eq!(error.kind, ErrorKind::bad_input("params.message"));
}
