//! Interoperability with the real `gpgsm` (GnuPG's S/MIME tool, 2.2 as Debian 12 ships it) in
//! both directions: our signatures and encryptions opened by gpgsm, gpgsm's opened by us.
//!
//! Every test has its own GNUPGHOME (0700) that trusts the test CA (`trustlist.txt`, flag
//! `S relax`), checks no CRLs, and lets the agent take passphrases over the loopback; the agent
//! is killed when the home is dropped. Without `gpgsm` (or its agent) a test prints
//! "skipped: …" and returns; CI installs both.
//!
//! What gpgsm 2.2 (2.2.40, libksba 1.6) cannot do, found while writing these tests, so not
//! tested here (ECC key agreement is tested against OpenSSL in `smime.rs`):
//! - ECDH at all. Encrypting to a P-256 certificate fails (`ksba_cms_set_enc_val failed:
//!   Invalid S-expression`; for a keyAgreement-only certificate already `Wrong key usage`),
//!   and decrypting KeyAgreeRecipientInfo fails (`decrypting session key failed: Invalid
//!   session key`), even when the agent holds the key. So cases 3 and 4 are RSA only.
//! - AES-GCM AuthEnvelopedData (RFC 5083): it cannot decrypt it (`error getting IV: Buffer too
//!   short`). Its signatures announce only AES-128-CBC and 3DES, so after reading a gpgsm
//!   user's signed mail we must keep encrypting to them with CBC; a test checks that.
//! - Importing an EC PKCS#12: gpgsm crashes (segmentation fault). Its P-256 key is therefore
//!   made inside gpg-agent (`GENKEY`) and the CA certifies that public key; gpgsm then signs
//!   with ECDSA P-256 fine, and verifies our ECDSA P-256 signatures.
//! - OpenSSL 3's default PKCS#12 (PBES2, PBKDF2 with HMAC-SHA-256, AES-256-CBC): refused
//!   (`encryptedData error at "pkcs5PBES2-params"`). It gets the legacy form
//!   (pbeWithSHAAnd3-KeyTripleDES-CBC, HMAC-SHA-1 MAC), which our daemon reads too.
//! - Its exit status after `--decrypt` is 2 whenever a RecipientInfo before the one for its
//!   key is not for it (our sender's copy, say), although it decrypts and says
//!   `DECRYPTION_OKAY`; OpenSSL's messages get the same. Decryption is judged by the status
//!   lines, as GPGME does.
//! - With `--passphrase-fd` it reads one passphrase and uses it for every question, so an
//!   imported PKCS#12 key is protected in the agent under the PKCS#12 password itself.

use mailseal_protocol::methods::cert;
use mailseal_protocol::methods::report::{CheckName, Outcome, Verdict};
use mailseal_protocol::methods::smime::{ContentEncryption, SignatureMode};
use mailseal_test_support::ca::{Validity, email_extensions};
use mailseal_tests::gnupg::{Gnupg, has_status, path_str, sha1_fingerprint, status_lines};
use mailseal_tests::rpc::{
    check, decrypt, encrypt, only_encryption, only_signature, open, sign, verify,
};
use mailseal_tests::{Pki, mime, require_gnupg};
use std::path::{Path, PathBuf};

/// The password of every PKCS#12 file here, and so of gpgsm's imported keys: the one the
/// daemon's imports use too.
const PASSWORD: &str = mailseal_tests::P12_PASSWORD;

/// Options that make the legacy PKCS#12 gpgsm 2.2 can read.
const LEGACY_P12: [&str; 6] = [
    "-keypbe",
    "PBE-SHA1-3DES",
    "-certpbe",
    "PBE-SHA1-3DES",
    "-macalg",
    "sha1",
];

/// Ann's message as a mail client hands it over: 8-bit UTF-8, so our canonicalization
/// re-encodes it as quoted-printable before signing or encrypting.
const ANN_MESSAGE: &str = "From: Ann <ann@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: to gpgsm\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHello Bob,\r\nGrüße from Ann.\r\n";

/// A certificate for `email` issued by the test CA over a public key made elsewhere (in
/// gpg-agent): the request is signed by a throwaway key `<name>.key`, its key replaced by
/// `public_key`.
fn certify_public_key(pki: &Pki, name: &str, email: &str, public_key: &Path) -> PathBuf {
    pki.request(name, &format!("/CN={name}"), "ec");
    pki.issue(
        name,
        &email_extensions(email, "digitalSignature"),
        Validity::Days(30),
        &["-force_pubkey", &path_str(public_key)],
    )
}

/// Case 1: our detached signatures (RSA-2048 and ECDSA P-256) verify in gpgsm, given the
/// signed entity's exact bytes and the signature from our `multipart/signed`.
#[tokio::test]
async fn our_signatures_verify_with_gpgsm() {
    require_gnupg!();
    let pki = Pki::new();
    pki.user("ann", "ann@example.com", "rsa:2048");
    pki.user("cara", "cara@example.com", "ec");
    let (_daemon, mut client) = pki.daemon(&["ann", "cara"], &[]).await;
    let gnupg = Gnupg::new(&pki);

    // libgcrypt's algorithm numbers in VALIDSIG: 1 RSA, 301 ECDSA.
    for (user, pk_algo) in [("ann", "1"), ("cara", "301")] {
        let message = ANN_MESSAGE.replace("ann@example.com", &format!("{user}@example.com"));
        let signed = sign(&mut client, message.as_bytes(), SignatureMode::Detached)
            .await
            .unwrap();
        let (entity, signature) = mime::split_multipart_signed(&signed);
        let content = gnupg.write("content", &entity);
        let sig = gnupg.write("sig.p7s", &signature);
        let out = gnupg.gpgsm(&["--verify", &sig, &content], b"");
        let fingerprint = sha1_fingerprint(&pki.dir().join(format!("{user}.pem")));
        assert!(
            has_status(&out, "GOODSIG"),
            "{user}: {:?}",
            status_lines(&out)
        );
        // VALIDSIG fingerprint date timestamp expiry version reserved pk-algo hash-algo class:
        // the signer's certificate, its key type, SHA-256 (libgcrypt's number 8).
        let valid = status_lines(&out)
            .into_iter()
            .find(|l| l.starts_with("VALIDSIG "))
            .unwrap_or_else(|| panic!("{user}: no VALIDSIG in {:?}", status_lines(&out)));
        let fields: Vec<&str> = valid.split(' ').collect();
        assert_eq!(fields[1], fingerprint, "{user}: {valid}");
        assert_eq!((fields[7], fields[8]), (pk_algo, "8"), "{user}: {valid}");
        assert!(
            has_status(&out, "TRUST_FULLY"),
            "{user}: the chain to the CA is accepted: {:?}",
            status_lines(&out)
        );

        // The same signature over one changed byte: gpgsm must refuse it, so the check above
        // really covered our bytes.
        let mut changed = entity.clone();
        let last = changed.len() - 3;
        changed[last] ^= 0x01;
        let changed = gnupg.write("changed", &changed);
        let out = gnupg.run(
            "gpgsm",
            &["--batch", "--status-fd", "1", "--verify", &sig, &changed],
            b"",
        );
        assert!(!out.status.success(), "{user}: a changed entity verified");
        assert!(
            has_status(&out, "BADSIG") && !has_status(&out, "GOODSIG"),
            "{user}: {:?}",
            status_lines(&out)
        );
    }
}

/// Case 2: gpgsm's detached signatures (RSA-2048 from an imported PKCS#12, ECDSA P-256 from a
/// key made in its agent), wrapped into `multipart/signed` by hand, verify with us: verdict
/// valid, the signer's address; a changed body fails the digest check.
#[tokio::test]
async fn gpgsm_signatures_verify_with_us() {
    require_gnupg!();
    let pki = Pki::new();
    pki.user("bob", "bob@example.com", "rsa:2048");
    let gnupg = Gnupg::new(&pki);
    gnupg.import_p12(|| pki.pkcs12("bob", PASSWORD, &LEGACY_P12));
    let dave_key = gnupg.agent_p256_key();
    let dave = certify_public_key(&pki, "dave", "dave@example.com", &dave_key);
    gnupg.import(&dave);
    let (_daemon, mut client) = pki.daemon(&[], &[]).await;

    let entity = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHello Ann,\r\nthis was signed by gpgsm =E2=9C=93\r\n";
    for (user, key_type) in [("bob", "rsa-2048"), ("dave", "ec-p256")] {
        let email = format!("{user}@example.com");
        let headers = format!("From: {email}\r\nTo: ann@example.com\r\nSubject: from gpgsm\r\n");
        let (message, out) = gnupg.signed_mail(&email, &headers, entity.as_bytes());
        assert!(has_status(&out, "SIG_CREATED"), "{:?}", status_lines(&out));
        let opened = verify(&mut client, &message).await.unwrap();
        let report = only_signature(&opened.layers);
        assert_eq!(report.verdict(), Verdict::Valid, "{user}: {report:?}");
        let signer = report.signer().expect("the signer's certificate");
        assert_eq!(signer.emails, vec![email.clone()]);
        assert_eq!(signer.key_algorithm, key_type);
        assert!(report.signing_time().is_some(), "gpgsm adds signingTime");
        let text =
            String::from_utf8_lossy(opened.message.inline().expect("an inline reply")).into_owned();
        assert!(text.contains("signed by gpgsm =E2=9C=93"), "{text}");

        let tampered = String::from_utf8(message)
            .unwrap()
            .replacen("Hello Ann,", "Hello Eve,", 1);
        let opened = verify(&mut client, tampered.as_bytes()).await.unwrap();
        let report = only_signature(&opened.layers);
        assert_eq!(report.verdict(), Verdict::Invalid);
        assert_eq!(check(report, CheckName::Digest).outcome, Outcome::Fail);
    }
}

/// Case 3: what we encrypt to a gpgsm user decrypts in gpgsm to our canonical MIME entity.
/// Bob's certificate reaches us the usual way, from his gpgsm-signed mail; gpgsm announces only
/// CBC ciphers, so our default stays AES-256-CBC EnvelopedData, which it reads.
#[tokio::test]
async fn our_encryption_decrypts_with_gpgsm() {
    require_gnupg!();
    let pki = Pki::new();
    pki.user("ann", "ann@example.com", "rsa:2048");
    pki.user("bob", "bob@example.com", "rsa:2048");
    let gnupg = Gnupg::new(&pki);
    gnupg.import_p12(|| pki.pkcs12("bob", PASSWORD, &LEGACY_P12));
    let (_daemon, mut client) = pki.daemon(&["ann"], &[]).await;

    // Bob writes first, signed with gpgsm; opening it stores his certificate and capabilities.
    let (from_bob, _) = gnupg.signed_mail(
        "bob@example.com",
        "From: bob@example.com\r\nTo: ann@example.com\r\nSubject: hi\r\n",
        b"Content-Type: text/plain\r\n\r\nHi Ann, write me encrypted.\r\n",
    );
    let opened = open(&mut client, &from_bob).await.unwrap();
    assert_eq!(only_signature(&opened.layers).verdict(), Verdict::Valid);
    let bob_certs = client
        .call::<cert::List>(&cert::ListParams {
            email: Some("bob@example.com".into()),
        })
        .await
        .unwrap();
    assert_eq!(bob_certs.certificates.len(), 1, "harvested from the mail");

    let encrypted = encrypt(&mut client, ANN_MESSAGE.as_bytes()).await.unwrap();
    let content_type = mime::header(&encrypted, "Content-Type").unwrap();
    assert!(
        content_type.contains("smime-type=enveloped-data"),
        "CBC for a gpgsm recipient: {content_type}"
    );
    let der = gnupg.write("encrypted.p7m", &mime::pkcs7_mime_der(&encrypted));
    let plain = gnupg.dir().join("plain");
    // Judged by the status lines, as GPGME does: gpgsm 2.2 exits 2 whenever a RecipientInfo
    // before the one it can use is not for its key (here: Ann's own copy, in whatever order
    // the SET OF holds them), although it decrypts and reports DECRYPTION_OKAY.
    let out = gnupg.gpgsm_unchecked(
        &["--output", &path_str(&plain), "--decrypt", &der],
        format!("{PASSWORD}\n").as_bytes(),
    );
    let status = status_lines(&out);
    assert!(
        has_status(&out, "DECRYPTION_OKAY") && !has_status(&out, "DECRYPTION_FAILED"),
        "{status:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = std::fs::read(&plain).unwrap();
    let text = String::from_utf8(plain.clone()).expect("a 7-bit entity");
    // Our canonical entity: Content-* headers only (From, To, Subject stay outside), CRLF
    // line ends, the 8-bit body re-encoded as quoted-printable.
    assert!(
        text.starts_with("Content-Type: text/plain; charset=utf-8\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Content-Transfer-Encoding: quoted-printable\r\n"),
        "{text}"
    );
    assert!(text.contains("Gr=C3=BC=C3=9Fe from Ann.\r\n"), "{text}");
    assert!(
        !text.contains("Subject:") && !text.contains("From:"),
        "{text}"
    );
    assert!(
        !plain.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'),
        "CRLF only: {text:?}"
    );
}

/// Case 4: what gpgsm encrypts to our certificate (AES-128-CBC, its default, and AES-256-CBC),
/// wrapped as `application/pkcs7-mime` by hand, decrypts with us.
#[tokio::test]
async fn gpgsm_encryption_decrypts_with_us() {
    require_gnupg!();
    let pki = Pki::new();
    let ann = pki.user("ann", "ann@example.com", "rsa:2048");
    let gnupg = Gnupg::new(&pki);
    gnupg.import(&ann);
    let (_daemon, mut client) = pki.daemon(&["ann"], &[]).await;

    let entity =
        "Content-Type: text/plain; charset=us-ascii\r\n\r\nFor Ann's eyes only, from gpgsm.\r\n";
    let file = gnupg.write("entity", entity.as_bytes());
    for (cipher, expected) in [
        (None, ContentEncryption::Aes128Cbc),
        (Some("AES256"), ContentEncryption::Aes256Cbc),
    ] {
        let der_path = gnupg.dir().join("encrypted.p7m");
        let mut args = vec!["--encrypt", "--recipient", "ann@example.com"];
        if let Some(cipher) = cipher {
            args.extend(["--cipher-algo", cipher]);
        }
        let output = path_str(&der_path);
        args.extend(["--output", &output, &file]);
        let _ = std::fs::remove_file(&der_path);
        gnupg.gpgsm(&args, b"");
        let der = std::fs::read(&der_path).unwrap();
        let message = mime::pkcs7_mime(
            "From: bob@example.com\r\nTo: ann@example.com\r\nSubject: secret\r\n",
            "enveloped-data",
            &der,
        );
        let opened = decrypt(&mut client, &message)
            .await
            .unwrap_or_else(|e| panic!("{cipher:?}: {e}"));
        assert_eq!(only_encryption(&opened.layers), expected, "{cipher:?}");
        let text =
            String::from_utf8_lossy(opened.message.inline().expect("an inline reply")).into_owned();
        assert!(text.contains("For Ann's eyes only, from gpgsm."), "{text}");
        assert!(
            text.contains("Subject: secret"),
            "outer headers kept: {text}"
        );
    }
}
