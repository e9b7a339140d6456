//! End-to-end S/MIME through the real daemon, checked against the real `openssl` in both
//! directions: our signatures and encryptions opened by OpenSSL, OpenSSL's opened by us.

use mailseal_protocol::methods::key;
use mailseal_protocol::methods::report::{CheckName, Outcome, Verdict};
use mailseal_protocol::methods::smime::{self, ContentEncryption, Layer, SignatureMode};
use mailseal_protocol::{Client, ErrorKind};
use mailseal_test_support::hostile::nested_multipart;
use mailseal_test_support::openssl;
use mailseal_tests::rpc::{
    check, decrypt, encrypt, only_encryption, only_signature, open, sign, sign_encrypt,
};
use mailseal_tests::{Pki, TestDaemon, daemon_error, mime};
use std::path::Path;

const MESSAGE: &str = "From: Ann <ann@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: numbers\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHello Bob,\r\nGrüße from Ann.\r\n";

/// Ann (RSA-2048) owns the daemon; Bob (P-256) is a correspondent whose key only OpenSSL has.
struct World {
    pki: Pki,
    daemon: TestDaemon,
}

impl World {
    async fn new() -> (Self, Client) {
        let pki = Pki::new();
        pki.user("ann", "ann@example.com", "rsa:2048");
        pki.user("bob", "bob@example.com", "ec");
        let (daemon, client) = pki.daemon(&["ann"], &["bob"]).await;
        (Self { pki, daemon }, client)
    }

    fn dir(&self) -> &Path {
        self.pki.dir()
    }

    fn write(&self, name: &str, data: &[u8]) -> String {
        self.pki.write(name, data)
    }

    fn openssl(&self, args: &[&str]) -> Vec<u8> {
        openssl(self.dir(), args)
    }
}

#[tokio::test]
async fn our_detached_and_opaque_signatures_verify_with_openssl() {
    let (world, mut client) = World::new().await;
    for mode in [SignatureMode::Detached, SignatureMode::Opaque] {
        let signed = sign(&mut client, MESSAGE.as_bytes(), mode).await.unwrap();
        let text = String::from_utf8_lossy(&signed);
        assert!(
            text.starts_with("From: Ann <ann@example.com>\r\nTo: Bob"),
            "headers stay outside:\n{text}"
        );
        let content = String::from_utf8(world.pki.openssl_verify(&signed)).unwrap();
        assert!(
            content.contains("Content-Transfer-Encoding: quoted-printable"),
            "{content}"
        );
        assert!(content.contains("Gr=C3=BC=C3=9Fe from Ann."), "{content}");
    }
}

#[tokio::test]
async fn openssl_signatures_verify_with_us_and_the_signer_is_harvested() {
    let (world, mut client) = World::new().await;
    let inner = "Content-Type: text/plain\r\n\r\nfrom bob\r\n";
    let file = world.write("inner.txt", inner.as_bytes());
    let signed = world.pki.openssl_sign_to_ann("bob", &file, "hi", &[]);
    let opened = open(&mut client, &signed).await.unwrap();
    let report = only_signature(&opened.layers);
    assert_eq!(report.verdict(), Verdict::Valid, "{report:?}");
    assert_eq!(report.signer().unwrap().emails, vec!["bob@example.com"]);
    assert!(
        mime::body_text(opened.message.inline().expect("an inline reply")).contains("from bob")
    );

    // Tampered body: the digest check names the change.
    let tampered = String::from_utf8(signed.clone())
        .unwrap()
        .replacen("from bob", "from eve", 1);
    let opened = open(&mut client, tampered.as_bytes()).await.unwrap();
    let report = only_signature(&opened.layers);
    assert_eq!(report.verdict(), Verdict::Invalid);
    assert_eq!(report.first_failure().unwrap().name, CheckName::Digest);

    // A From that is not the signer's: the address check fails.
    let forged = String::from_utf8(signed).unwrap().replacen(
        "From: bob@example.com",
        "From: boss@example.com",
        1,
    );
    let opened = open(&mut client, forged.as_bytes()).await.unwrap();
    let report = only_signature(&opened.layers);
    assert_eq!(check(report, CheckName::Address).outcome, Outcome::Fail);
    assert_eq!(check(report, CheckName::Digest).outcome, Outcome::Pass);
}

#[tokio::test]
async fn the_cli_verify_exits_8_and_names_the_failed_check() {
    let (world, mut client) = World::new().await;
    let signed = sign(&mut client, MESSAGE.as_bytes(), SignatureMode::Detached)
        .await
        .unwrap();
    let good = world.write("good.eml", &signed);
    let out = world
        .daemon
        .cli(&["verify", world.dir().join(&good).to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Valid"));
    let tampered = String::from_utf8(signed)
        .unwrap()
        .replacen("Gr=C3=BC=C3=9Fe", "Hallo", 1);
    let bad = world.write("bad.eml", tampered.as_bytes());
    let out = world
        .daemon
        .cli(&["verify", world.dir().join(&bad).to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(8));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the digest check failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn our_encryption_opens_with_openssl_and_the_sender_copy_with_us() {
    let (world, mut client) = World::new().await;
    for algorithm in [
        ContentEncryption::Aes256Cbc,
        ContentEncryption::Aes128Gcm,
        ContentEncryption::Aes256Gcm,
    ] {
        let encrypted = client
            .call::<smime::Encrypt>(&smime::EncryptParams {
                message: MESSAGE.as_bytes().to_vec().into(),
                output: None,
                progress: false,
                recipients: None,
                content_encryption: Some(algorithm),
                rsa_oaep: false,
            })
            .await
            .unwrap()
            .message
            .into_inline()
            .expect("an inline reply");
        let plain = world.pki.openssl_decrypt(&encrypted, "bob");
        assert!(
            String::from_utf8_lossy(&plain).contains("Gr=C3=BC=C3=9Fe from Ann."),
            "{algorithm:?}"
        );
        let opened = open(&mut client, &encrypted).await.unwrap();
        assert_eq!(only_encryption(&opened.layers), algorithm);
        assert!(
            mime::body_text(opened.message.inline().expect("an inline reply"))
                .contains("Gr=C3=BC=C3=9Fe from Ann.")
        );
    }
}

#[tokio::test]
async fn openssl_encryption_to_us_decrypts() {
    let (world, mut client) = World::new().await;
    let file = world.write(
        "inner.txt",
        b"Content-Type: text/plain\r\n\r\nsecret for ann\r\n",
    );
    for cipher in ["-aes256", "-aes128", "-aes-256-gcm"] {
        let encrypted = world.openssl(&[
            "cms",
            "-encrypt",
            cipher,
            "-in",
            &file,
            "-from",
            "bob@example.com",
            "-to",
            "ann@example.com",
            "ann.pem",
        ]);
        let opened = decrypt(&mut client, &encrypted)
            .await
            .unwrap_or_else(|e| panic!("{cipher}: {e}"));
        assert!(
            mime::body_text(opened.message.inline().expect("an inline reply"))
                .contains("secret for ann"),
            "{cipher}"
        );
    }
}

#[tokio::test]
async fn sign_then_encrypt_opens_in_openssl_and_in_us() {
    let (world, mut client) = World::new().await;
    let wrapped = sign_encrypt(&mut client, MESSAGE.as_bytes(), false)
        .await
        .unwrap();
    let signed = world.pki.openssl_decrypt(&wrapped, "bob");
    let content = world.pki.openssl_verify(&signed);
    assert!(String::from_utf8_lossy(&content).contains("Gr=C3=BC=C3=9Fe from Ann."));

    let opened = open(&mut client, &wrapped).await.unwrap();
    assert!(matches!(
        opened.layers.first(),
        Some(Layer::Encrypted { .. })
    ));
    assert_eq!(
        only_signature(&opened.layers[1..]).verdict(),
        Verdict::Valid
    );
}

#[tokio::test]
async fn refusals_are_typed() {
    let (world, mut client) = World::new().await;
    // An unknown recipient: nothing is encrypted, and the error names the address.
    let to_carol = MESSAGE.replace(
        "To: Bob <bob@example.com>",
        "To: Bob <bob@example.com>, carol@example.com",
    );
    let err = daemon_error(encrypt(&mut client, to_carol.as_bytes()).await);
    assert_eq!(
        err.kind,
        ErrorKind::CertNotFound {
            query: "carol@example.com".into()
        }
    );

    // A message encrypted to someone else.
    let file = world.write(
        "inner.txt",
        b"Content-Type: text/plain\r\n\r\nfor bob only\r\n",
    );
    let for_bob = world.openssl(&["cms", "-encrypt", "-aes256", "-in", &file, "bob.pem"]);
    let err = daemon_error(decrypt(&mut client, &for_bob).await);
    assert!(
        matches!(err.kind, ErrorKind::NotARecipient { .. }),
        "{err:?}"
    );

    // Garbage where CMS should be.
    let garbage = mime::pkcs7_mime("From: a@x\r\n", "enveloped-data", b"not cms at all");
    let err = daemon_error(open(&mut client, &garbage).await);
    assert!(matches!(err.kind, ErrorKind::BadInput { .. }), "{err:?}");

    // Locked key: encrypted mail needs the passphrase first.
    let encrypted = encrypt(&mut client, MESSAGE.as_bytes()).await.unwrap();
    client
        .call::<key::Lock>(&key::LockParams::default())
        .await
        .unwrap();
    let err = daemon_error(open(&mut client, &encrypted).await);
    assert!(matches!(err.kind, ErrorKind::KeyLocked { .. }), "{err:?}");
}

#[tokio::test]
async fn deeply_nested_messages_are_refused() {
    let (_world, mut client) = World::new().await;
    let mut message = MESSAGE.as_bytes().to_vec();
    for _ in 0..11 {
        message = sign(&mut client, &message, SignatureMode::Opaque)
            .await
            .unwrap();
    }
    let err = daemon_error(open(&mut client, &message).await);
    assert!(err.message.contains("nested more than 10"), "{err:?}");
}

#[tokio::test]
async fn signing_or_encrypting_deeply_nested_multiparts_is_refused_and_the_daemon_lives_on() {
    let (_world, mut client) = World::new().await;
    let nested = nested_multipart(5_000);
    // From Ann to Bob: the same message from `ann@` rather than `a@`.
    let message = [
        &b"To: bob@example.com\r\nFrom: ann"[..],
        nested.strip_prefix(b"From: a").unwrap(),
    ]
    .concat();
    for mode in [SignatureMode::Detached, SignatureMode::Opaque] {
        let err = daemon_error(sign(&mut client, &message, mode).await);
        assert!(matches!(err.kind, ErrorKind::BadInput { .. }), "{err:?}");
        assert!(err.message.contains("nested more than 100"), "{err:?}");
    }
    let err = daemon_error(encrypt(&mut client, &message).await);
    assert!(err.message.contains("nested more than 100"), "{err:?}");
    // The daemon is still there, for this client and everyone else.
    sign(&mut client, MESSAGE.as_bytes(), SignatureMode::Detached)
        .await
        .unwrap();
}

#[tokio::test]
async fn rsa_pss_signatures_and_rsa_oaep_encryption_open_in_openssl() {
    let (world, mut client) = World::new().await;
    // Ann's key is RSA: sign with RSASSA-PSS.
    let signed = client
        .call::<smime::Sign>(&smime::SignParams {
            message: MESSAGE.as_bytes().to_vec().into(),
            output: None,
            progress: false,
            key_id: None,
            mode: SignatureMode::Detached,
            rsa_pss: true,
        })
        .await
        .unwrap()
        .message
        .into_inline()
        .expect("an inline reply");
    let file = world.write("pss.eml", &signed);
    let content = world.pki.openssl_verify(&signed);
    assert!(String::from_utf8_lossy(&content).contains("Gr=C3=BC=C3=9Fe from Ann."));
    let printed =
        String::from_utf8(world.openssl(&["cms", "-cmsout", "-print", "-in", &file])).unwrap();
    assert!(printed.contains("rsassaPss"), "{printed}");

    // Encrypt with RSAES-OAEP to an RSA recipient (Ann herself, whose key OpenSSL has too).
    let encrypted = client
        .call::<smime::Encrypt>(&smime::EncryptParams {
            message: MESSAGE.as_bytes().to_vec().into(),
            output: None,
            progress: false,
            recipients: Some(vec!["bob@example.com".into()]),
            content_encryption: None,
            rsa_oaep: true,
        })
        .await
        .unwrap()
        .message
        .into_inline()
        .expect("an inline reply");
    let file = world.write("oaep.eml", &encrypted);
    let printed =
        String::from_utf8(world.openssl(&["cms", "-cmsout", "-print", "-in", &file])).unwrap();
    assert!(printed.contains("rsaesOaep"), "{printed}");
    let plain = world.pki.openssl_decrypt(&encrypted, "ann");
    assert!(String::from_utf8_lossy(&plain).contains("Gr=C3=BC=C3=9Fe from Ann."));
}
