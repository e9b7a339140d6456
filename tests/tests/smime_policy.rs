//! End-to-end S/MIME policy through the real daemons: which content encryption we choose
//! from what correspondents announced, triple wrapping between two daemons, what an expired
//! certificate does to a signature and to signing, and how large a message one request can
//! carry.

use mailseal_protocol::methods::report::{CheckName, Outcome, Verdict};
use mailseal_protocol::methods::smime::{self, ContentEncryption, Layer, SignatureMode};
use mailseal_protocol::{DEFAULT_MAX_FRAME, ErrorKind};
use mailseal_test_support::ca::Validity;
use mailseal_test_support::openssl;
use mailseal_tests::rpc::{
    check, encrypt, only_encryption, only_signature, open, sign, sign_encrypt, verify,
};
use mailseal_tests::{Pki, TestDaemon, daemon_error, mime};
use std::time::Instant;

/// The validity of a certificate that expired years ago.
const LONG_AGO: Validity = Validity::Between("20200101000000Z", "20210101000000Z");

/// The key usage of the RSA certificates made here.
const RSA_USAGE: &str = "digitalSignature,keyEncipherment";

fn message(from: &str, to: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: policy\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// The CMS content type and content-encryption algorithm of an encrypted message, as
/// `openssl cms -cmsout -print` names them.
fn cms_shape(pki: &Pki, encrypted: &[u8]) -> (String, String) {
    let file = pki.write("shape.eml", encrypted);
    let printed = String::from_utf8(openssl(
        pki.dir(),
        &["cms", "-cmsout", "-print", "-in", &file],
    ))
    .unwrap();
    let content_type = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("contentType: "))
        .expect("a contentType")
        .to_owned();
    let lines: Vec<&str> = printed.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == "contentEncryptionAlgorithm:")
        .expect("a contentEncryptionAlgorithm");
    let algorithm = lines[at + 1]
        .trim()
        .strip_prefix("algorithm: ")
        .expect("its algorithm")
        .to_owned();
    (content_type, algorithm)
}

/// Before Bob's daemon has ever signed to Ann, Ann's daemon does not know Bob reads GCM and
/// encrypts to him with AES-256-CBC EnvelopedData; once Ann has opened a message signed by
/// Bob's daemon (whose SMIMECapabilities announce AES-GCM), her default becomes AES-256-GCM
/// AuthEnvelopedData — also after her daemon restarts. Bob's daemon reads both.
#[tokio::test]
async fn content_encryption_follows_harvested_capabilities() {
    let pki = Pki::new();
    pki.user("ann", "ann@example.com", "rsa:2048");
    pki.user("bob", "bob@example.com", "rsa:2048");
    let (mut ann_daemon, mut ann) = pki.daemon(&["ann"], &["bob"]).await;
    let (_bob_daemon, mut bob) = pki.daemon(&["bob"], &["ann"]).await;
    let to_bob = message("ann@example.com", "bob@example.com", "Dear Bob,");

    let first = encrypt(&mut ann, &to_bob).await.unwrap();
    let content_type = mime::header(&first, "Content-Type").unwrap();
    assert!(
        content_type.contains("smime-type=enveloped-data"),
        "{content_type}"
    );
    let (cms_type, algorithm) = cms_shape(&pki, &first);
    assert_eq!(cms_type, "pkcs7-envelopedData (1.2.840.113549.1.7.3)");
    assert_eq!(algorithm, "aes-256-cbc (2.16.840.1.101.3.4.1.42)");
    let opened = open(&mut bob, &first).await.unwrap();
    assert_eq!(
        only_encryption(&opened.layers),
        ContentEncryption::Aes256Cbc
    );

    // Bob's daemon signs a reply; its signature announces AES-256-GCM first.
    let reply = sign(
        &mut bob,
        &message("bob@example.com", "ann@example.com", "Hi Ann,"),
        SignatureMode::Detached,
    )
    .await
    .unwrap();
    let (_, signature) = mime::split_multipart_signed(&reply);
    let sig_file = pki.write("bob.p7s", &signature);
    let printed = String::from_utf8(openssl(
        pki.dir(),
        &[
            "cms", "-cmsout", "-print", "-inform", "DER", "-in", &sig_file,
        ],
    ))
    .unwrap();
    assert!(printed.contains("aes-256-gcm"), "{printed}");
    let opened = open(&mut ann, &reply).await.unwrap();
    let report = only_signature(&opened.layers);
    assert_eq!(report.verdict(), Verdict::Valid, "{report:?}");

    let second = encrypt(&mut ann, &to_bob).await.unwrap();
    let content_type = mime::header(&second, "Content-Type").unwrap();
    assert!(
        content_type.contains("smime-type=authEnveloped-data"),
        "{content_type}"
    );
    let (cms_type, algorithm) = cms_shape(&pki, &second);
    assert_eq!(
        cms_type,
        "id-smime-ct-authEnvelopedData (1.2.840.113549.1.9.16.1.23)"
    );
    assert_eq!(algorithm, "aes-256-gcm (2.16.840.1.101.3.4.1.46)");
    let opened = open(&mut bob, &second).await.unwrap();
    assert_eq!(
        only_encryption(&opened.layers),
        ContentEncryption::Aes256Gcm
    );
    assert!(
        String::from_utf8_lossy(opened.message.inline().expect("an inline reply"))
            .contains("Dear Bob,")
    );

    // What Ann learnt is kept across a restart of her daemon.
    drop(ann);
    ann_daemon.signal("TERM");
    assert_eq!(ann_daemon.wait_exit(), Some(0));
    ann_daemon.restart();
    let mut ann = ann_daemon.client().await;
    let third = encrypt(&mut ann, &to_bob).await.unwrap();
    assert_eq!(
        cms_shape(&pki, &third).1,
        "aes-256-gcm (2.16.840.1.101.3.4.1.46)"
    );
}

/// Triple wrap (RFC 2634 §1.1): signed, encrypted, signed again. The recipient's daemon
/// reports the three layers with both signatures valid, and OpenSSL accepts the outer one.
#[tokio::test]
async fn triple_wrapped_messages_open_layer_by_layer() {
    let pki = Pki::new();
    pki.user("ann", "ann@example.com", "rsa:2048");
    pki.user("bob", "bob@example.com", "ec");
    let (_ann_daemon, mut ann) = pki.daemon(&["ann"], &["bob"]).await;
    let (_bob_daemon, mut bob) = pki.daemon(&["bob"], &["ann"]).await;

    let to_bob = message("ann@example.com", "bob@example.com", "Wrapped three times.");
    let wrapped = sign_encrypt(&mut ann, &to_bob, true).await.unwrap();

    let opened = open(&mut bob, &wrapped).await.unwrap();
    let [
        Layer::Signed {
            mode: SignatureMode::Detached,
            signatures: outer,
        },
        Layer::Encrypted { .. },
        Layer::Signed {
            signatures: inner, ..
        },
    ] = opened.layers.as_slice()
    else {
        panic!("expected signed, encrypted, signed: {:?}", opened.layers)
    };
    for (which, signatures) in [("outer", outer), ("inner", inner)] {
        assert_eq!(signatures.len(), 1, "{which}");
        assert_eq!(
            signatures[0].verdict(),
            Verdict::Valid,
            "{which}: {signatures:?}"
        );
        assert_eq!(
            signatures[0].signer().unwrap().emails,
            vec!["ann@example.com"],
            "{which}"
        );
    }
    let text =
        String::from_utf8_lossy(opened.message.inline().expect("an inline reply")).into_owned();
    assert!(text.contains("Wrapped three times."), "{text}");
    assert!(text.starts_with("From: ann@example.com\r\n"), "{text}");

    // The outer signature covers the encrypted entity and verifies with OpenSSL, which hands
    // back that entity: still encrypted.
    let content = pki.openssl_verify(&wrapped);
    let inner_type = mime::header(&content, "Content-Type").unwrap();
    assert!(
        inner_type.starts_with("application/pkcs7-mime") && inner_type.contains("enveloped-data"),
        "{inner_type}"
    );
}

/// A signature by a certificate that expired years ago: `validity_now` fails, and so does
/// `validity_at_signing` — OpenSSL stamps signingTime with the present, after the expiry; a
/// signature without signed attributes has no signingTime, and that check is `unknown`.
/// Either way the verdict is invalid.
#[tokio::test]
async fn signatures_by_expired_certificates_are_reported() {
    let pki = Pki::new();
    pki.user("ann", "ann@example.com", "rsa:2048");
    pki.user_with("old", "old@example.com", "rsa:2048", RSA_USAGE, LONG_AGO);
    let (_daemon, mut ann) = pki.daemon(&["ann"], &[]).await;
    let entity = pki.write(
        "entity.txt",
        b"Content-Type: text/plain\r\n\r\nsigned with an old certificate\r\n",
    );
    let headers = [
        "-from",
        "old@example.com",
        "-to",
        "ann@example.com",
        "-subject",
        "old",
    ];
    for no_attributes in [false, true] {
        let mut args = vec![
            "cms", "-sign", "-in", &entity, "-signer", "old.pem", "-inkey", "old.key",
        ];
        if no_attributes {
            args.push("-noattr");
        }
        args.extend(headers);
        let signed = openssl(pki.dir(), &args);
        let opened = verify(&mut ann, &signed).await.unwrap();
        let report = only_signature(&opened.layers);
        assert_eq!(
            report.verdict(),
            Verdict::Invalid,
            "noattr={no_attributes}: {report:?}"
        );
        // The signature itself is sound; only time is against it.
        assert_eq!(check(report, CheckName::Signature).outcome, Outcome::Pass);
        let now = check(report, CheckName::ValidityNow);
        let why = &now.reason;
        assert_eq!(now.outcome, Outcome::Fail, "{why}");
        assert!(why.contains("expired") && why.contains("2021"), "{why}");
        let at_signing = check(report, CheckName::ValidityAtSigning);
        let why = &at_signing.reason;
        if no_attributes {
            assert!(report.signing_time().is_none());
            assert_eq!(at_signing.outcome, Outcome::Unknown, "{why}");
            assert!(why.contains("signingTime"), "{why}");
        } else {
            let signed_at = report.signing_time().expect("OpenSSL adds signingTime");
            assert!(signed_at > "2021", "signed now, not in 2020: {signed_at}");
            assert_eq!(at_signing.outcome, Outcome::Fail, "{why}");
            assert!(why.contains("after the certificate expired"), "{why}");
        }
    }
}

/// An own identity whose certificate has expired, or is not yet valid, is never chosen to sign
/// for its address, even when it is the only one or the one with the latest expiry.
#[tokio::test]
async fn own_identities_outside_their_validity_do_not_sign() {
    let pki = Pki::new();
    pki.user("ann", "ann@example.com", "rsa:2048");
    pki.user_with("old", "old@example.com", "rsa:2048", RSA_USAGE, LONG_AGO);
    pki.user_with(
        "future",
        "ann@example.com",
        "rsa:2048",
        RSA_USAGE,
        Validity::Between("20350101000000Z", "20360101000000Z"),
    );
    let (_daemon, mut client) = pki.daemon(&["ann"], &[]).await;
    let old = pki.import_pkcs12(&mut client, "old").await.unwrap();
    assert!(old.identity.certificate.days_to_expiry < 0, "{old:?}");

    let err = daemon_error(
        sign(
            &mut client,
            &message("old@example.com", "x@example.com", "old"),
            SignatureMode::Detached,
        )
        .await,
    );
    assert_eq!(
        err.kind,
        ErrorKind::CertNotFound {
            query: "old@example.com".into()
        }
    );

    // Ann has her current certificate and one valid only from 2035, which expires later: the
    // current one signs.
    let future = pki.import_pkcs12(&mut client, "future").await.unwrap();
    let signed = sign(
        &mut client,
        &message("ann@example.com", "x@example.com", "now"),
        SignatureMode::Detached,
    )
    .await
    .unwrap();
    let opened = open(&mut client, &signed).await.unwrap();
    let report = only_signature(&opened.layers);
    let signer = report.signer().unwrap();
    assert_ne!(signer.fingerprint, future.identity.certificate.fingerprint);
    assert_eq!(report.verdict(), Verdict::Valid, "{report:?}");
}

/// A message of `size` bytes: 7-bit text in CRLF lines, so the signed entity is the body as
/// given (no re-encoding) and its size is known.
fn big_message(size: usize) -> Vec<u8> {
    let mut out = b"From: ann@example.com\r\nTo: bob@example.com\r\nSubject: big\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n".to_vec();
    let mut n = 0u64;
    while out.len() < size {
        let line =
            format!("{n:010} the quick brown fox jumps over the lazy dog 0123456789 abcdef\r\n");
        out.extend_from_slice(line.as_bytes());
        n += 1;
    }
    out.truncate(size - 2);
    out.extend_from_slice(b"\r\n");
    out
}

/// Base64 length of `n` bytes.
fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// A `smime.sign` request line for `message`, as a client sends it.
fn sign_request(message: &[u8]) -> Vec<u8> {
    let mut line = serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "smime.sign",
        "params": smime::SignParams {
            message: message.to_vec().into(),
            output: None,
            progress: false,
            key_id: None,
            mode: SignatureMode::Detached, rsa_pss: false },
    }))
    .unwrap();
    line.push(b'\n');
    line
}

/// Sends one request line and returns the reply line, reading while still writing: a daemon
/// refusing an oversized frame answers and closes before the client has finished sending, so
/// a client that only reads after writing everything sees a broken pipe instead.
async fn call_raw(daemon: &TestDaemon, request: Vec<u8>) -> serde_json::Value {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = tokio::net::UnixStream::connect(daemon.socket())
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        // A write error is expected once the daemon has closed the connection.
        let _ = write.write_all(&request).await;
        let _ = write.shutdown().await;
    });
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await.unwrap();
    writer.await.unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("reply {line:?}: {e}"))
}

/// The default frame limit (64 MiB) bounds a request. A 50 MiB message is 69,905,068 bytes in
/// base64 alone, over the limit of 67,108,864, and is refused with `frame_too_large` (50
/// million bytes would still fit: 66,666,668). A 30 MB message is inside it in both
/// directions (about 40 MB of base64 each way), signs, and OpenSSL verifies the result.
///
/// Measured in a debug build on 2 cores: the refusal takes 2–4 s (making and encoding 50 MiB),
/// the 30 MB signature 2.5–3 s more and OpenSSL's check about 1.3 s, 8–11 s in all; the times
/// are printed with `--nocapture`, and nothing depends on them.
#[tokio::test]
async fn the_frame_limit_bounds_message_size() {
    let pki = Pki::new();
    pki.user("ann", "ann@example.com", "rsa:2048");
    let (daemon, mut client) = pki.daemon(&["ann"], &[]).await;

    let started = Instant::now();
    let request = sign_request(&big_message(50 * 1024 * 1024));
    assert!(
        request.len() > DEFAULT_MAX_FRAME,
        "{} bytes should exceed the limit",
        request.len()
    );
    let reply = call_raw(&daemon, request).await;
    eprintln!("50 MiB refused after {:?}", started.elapsed());
    assert_eq!(reply["error"]["data"]["kind"], "frame_too_large", "{reply}");
    assert_eq!(reply["error"]["data"]["limit"], DEFAULT_MAX_FRAME);
    assert!(reply["id"].is_null(), "{reply}");

    let started = Instant::now();
    let size = 30_000_000;
    let fits = big_message(size);
    assert!(sign_request(&fits).len() < DEFAULT_MAX_FRAME - 1024 * 1024);
    let signed = sign(&mut client, &fits, SignatureMode::Detached)
        .await
        .unwrap();
    eprintln!("30 MB signed after {:?}", started.elapsed());
    assert!(
        base64_len(signed.len()) < DEFAULT_MAX_FRAME,
        "the reply fits too"
    );
    let (entity, _) = mime::split_multipart_signed(&signed);
    let body = mime::split_head(&fits).1;
    assert!(entity.ends_with(body), "the body is signed as given");
    let verified = pki.openssl_verify(&signed);
    assert_eq!(verified, entity, "OpenSSL checked the whole entity");
    eprintln!("30 MB verified by openssl after {:?}", started.elapsed());
}

/// The protocol client (and so the CLI) reports `frame_too_large` for an oversized request:
/// the daemon answers and closes while the client is still writing, and the client reads that
/// answer before reporting the broken connection.
#[tokio::test]
async fn the_protocol_client_reports_frame_too_large() {
    let daemon = TestDaemon::start("max_frame_bytes = 1048576\n");
    let mut client = daemon.client().await;
    let result = client
        .request(
            "daemon.ping",
            serde_json::json!({"pad": "x".repeat(8 * 1024 * 1024)}),
        )
        .await;
    let kind = daemon_error(result).kind;
    assert_eq!(kind, ErrorKind::FrameTooLarge { limit: 1_048_576 });
}
