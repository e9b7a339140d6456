//! Verification tests: messages signed by the real `openssl` with every algorithm, each way a
//! check can fail, BER input, damaged input, and the RFC 9216 corpus.

use super::content::MAX_WHOLE;
use super::*;
use crate::report::{CheckName, Outcome, Verdict};
use der::{Decode, Encode};
use mailseal_pkix::describe::parse_certificates;
use mailseal_pkix::issuers::Issuers;
use mailseal_pkix::revocation::RevocationPolicy;
use mailseal_test_support::pki::{Key, Pki, attribute, ed25519_attributes, user_extensions};
use mailseal_test_support::rfc9216;
use std::time::Duration;

const CONTENT: &[u8] = b"Content-Type: text/plain\r\n\r\nHello, signed world.\r\n";
const ALICE: &str = "alice@example.com";

/// A CA (the only trust anchor) and a user "alice" with a certificate of `key`.
fn alice(key: Key) -> (Pki, [Certificate; 1]) {
    let pki = Pki::new();
    let anchors = [pki.root("ca", "/CN=Test CA")];
    pki.user("alice", "ca", key, ALICE);
    (pki, anchors)
}

/// What verification found, with the content that was signed.
#[derive(Debug)]
struct Checked {
    content: Vec<u8>,
    reports: Vec<SignatureReport>,
    signers: Vec<Harvest>,
}

/// Verifies with the given trust anchors and known certificates, From = alice, now.
fn check(
    message: &[u8],
    detached: Option<&[u8]>,
    anchors: &[Certificate],
    known: &[Certificate],
) -> Result<Checked, VerifyError> {
    verify_as(
        message,
        detached,
        &[ALICE.into()],
        anchors,
        known,
        SystemTime::now(),
    )
}

fn verify_as(
    message: &[u8],
    detached: Option<&[u8]>,
    from: &[String],
    anchors: &[Certificate],
    known: &[Certificate],
    now: SystemTime,
) -> Result<Checked, VerifyError> {
    // The streaming engine over slices: the content passes through the hashing writer, from
    // the detached bytes or out of the SignedData.
    let mut source = std::io::Cursor::new(message);
    let signed = read(&mut source)?;
    let mut hashing = signed.hashing(Vec::new());
    match detached {
        Some(content) => std::io::Write::write_all(&mut hashing, content)?,
        None => signed.copy_content(&mut source, &mut hashing)?,
    }
    let (content, learned) = hashing.finish();
    let verified = signed.check(
        &learned,
        &VerifyInput {
            from,
            anchors,
            revocation: &Revocation::new(RevocationPolicy::SoftFail, Duration::from_secs(5)),
            issuers: &Issuers::new(Duration::from_secs(5), false),
            known_certs: &known.iter().collect::<Vec<_>>(),
            now,
        },
    );
    Ok(Checked {
        content,
        reports: verified.reports,
        signers: verified.signers,
    })
}

fn only_report(verified: &Checked) -> &SignatureReport {
    assert_eq!(verified.reports.len(), 1);
    &verified.reports[0]
}

fn outcome(report: &SignatureReport, name: CheckName) -> (Outcome, &str) {
    let check = report.checks().iter().find(|c| c.name == name).unwrap();
    (check.outcome, &check.reason)
}

/// The report fails exactly the check `name`, whose reason contains `reason`.
fn assert_fails_only(report: &SignatureReport, name: CheckName, reason: &str) {
    let failed: Vec<_> = report
        .checks()
        .iter()
        .filter(|c| !c.allows_valid())
        .collect();
    assert_eq!(failed.len(), 1, "{:#?}", report.checks());
    assert_eq!(failed[0].name, name);
    assert_eq!(failed[0].outcome, Outcome::Fail);
    assert!(failed[0].reason.contains(reason), "{}", failed[0].reason);
}

fn assert_valid(report: &SignatureReport) {
    assert_eq!(report.verdict(), Verdict::Valid, "{:#?}", report.checks());
}

#[test]
fn every_algorithm_verifies_detached_and_encapsulated() {
    // OpenSSL 3.0's CMS cannot sign with Ed25519: see `ed25519_signatures_verify`.
    let rows: [(Key, &[&str], &str); 6] = [
        (Key::Rsa(2048), &["-md", "sha256"], "RSA-2048/SHA-256"),
        (Key::Rsa(3072), &["-md", "sha384"], "RSA-3072/SHA-384"),
        (Key::Rsa(2048), &["-md", "sha512"], "RSA-2048/SHA-512"),
        (
            Key::Rsa(2048),
            &["-md", "sha256", "-keyopt", "rsa_padding_mode:pss"],
            "RSA-PSS-2048/SHA-256",
        ),
        (Key::P256, &["-md", "sha256"], "ECDSA P-256/SHA-256"),
        (Key::P384, &["-md", "sha384"], "ECDSA P-384/SHA-384"),
    ];
    for (key, args, described) in rows {
        let (pki, anchors) = alice(key);
        let detached = pki.sign("alice", CONTENT, args);
        let verified = check(&detached, Some(CONTENT), &anchors, &[]).unwrap();
        let report = only_report(&verified);
        assert_valid(report);
        let (_, reason) = outcome(report, CheckName::Signature);
        assert_eq!(reason, format!("signed by {ALICE} with {described}"));
        assert_eq!(verified.content, CONTENT);

        let mut with_content = args.to_vec();
        with_content.push("-nodetach");
        let encapsulated = pki.sign("alice", CONTENT, &with_content);
        let verified = check(&encapsulated, None, &anchors, &[]).unwrap();
        assert_valid(only_report(&verified));
        assert_eq!(verified.content, CONTENT);
        assert!(verified.signers[0].signature_ok);
        assert_eq!(verified.signers[0].certificate, pki.cert("alice"));
    }
}

#[test]
fn ed25519_signatures_verify() {
    let (pki, anchors) = alice(Key::Ed25519);
    for encapsulate in [false, true] {
        let signed =
            pki.ed25519_signed("alice", CONTENT, encapsulate, &ed25519_attributes(CONTENT));
        let detached = (!encapsulate).then_some(CONTENT);
        let verified = check(&signed, detached, &anchors, &[]).unwrap();
        let report = only_report(&verified);
        assert_valid(report);
        let expected = format!("signed by {ALICE} with Ed25519");
        assert_eq!(outcome(report, CheckName::Signature).1, expected);
        assert_eq!(
            outcome(report, CheckName::Digest).1,
            "SHA-512 digest of the content matches"
        );
        assert_eq!(verified.content, CONTENT);
    }
}

#[test]
fn signed_attributes_count_in_the_order_sent() {
    let (pki, anchors) = alice(Key::Ed25519);
    let mut attributes = ed25519_attributes(CONTENT);
    attributes.reverse();
    let signed = pki.ed25519_signed("alice", CONTENT, false, &attributes);
    assert_valid(only_report(
        &check(&signed, Some(CONTENT), &anchors, &[]).unwrap(),
    ));

    // A second messageDigest is refused even when one of them matches (RFC 5652 §11.2).
    let digest = der::asn1::OctetString::new(vec![0; 64]).unwrap();
    attributes.push(attribute(
        const_oid::db::rfc5911::ID_MESSAGE_DIGEST,
        &digest,
    ));
    let signed = pki.ed25519_signed("alice", CONTENT, false, &attributes);
    let verified = check(&signed, Some(CONTENT), &anchors, &[]).unwrap();
    assert_fails_only(
        only_report(&verified),
        CheckName::Digest,
        "messageDigest twice",
    );
}

#[test]
fn streamed_ber_and_pem_output_verify() {
    let (pki, anchors) = alice(Key::P256);
    for nodetach in [false, true] {
        let mut args = vec!["-stream"];
        if nodetach {
            args.push("-nodetach");
        }
        let ber = pki.sign("alice", CONTENT, &args);
        // Indefinite lengths from the first element on.
        assert_eq!(ber[1], 0x80, "openssl -stream made definite lengths");
        let detached = (!nodetach).then_some(CONTENT);
        let verified = check(&ber, detached, &anchors, &[]).unwrap();
        assert_valid(only_report(&verified));
        assert_eq!(verified.content, CONTENT);

        args.extend(["-outform", "PEM"]);
        let pem = pki.sign("alice", CONTENT, &args);
        let (label, ber) = der::pem::decode_vec(&pem).unwrap();
        assert_eq!(label, "CMS");
        let verified = check(&ber, detached, &anchors, &[]).unwrap();
        assert_valid(only_report(&verified));
    }
}

#[test]
fn changed_content_fails_the_digest() {
    let (pki, anchors) = alice(Key::Rsa(2048));
    let signed = pki.sign("alice", CONTENT, &[]);
    let changed = [CONTENT, b"P.S. added later\r\n"].concat();
    let verified = check(&signed, Some(&changed), &anchors, &[]).unwrap();
    assert_fails_only(
        only_report(&verified),
        CheckName::Digest,
        "the message was changed after signing",
    );

    let mut encapsulated = pki.sign("alice", CONTENT, &["-nodetach"]);
    let at = encapsulated.windows(5).position(|w| w == b"Hello").unwrap();
    encapsulated[at] = b'J';
    let verified = check(&encapsulated, None, &anchors, &[]).unwrap();
    assert_fails_only(
        only_report(&verified),
        CheckName::Digest,
        "does not match the content",
    );
}

#[test]
fn the_from_address_must_be_in_the_certificate() {
    let (pki, anchors) = alice(Key::P256);
    let signed = pki.sign("alice", CONTENT, &[]);
    let run = |from: &[String]| {
        verify_as(
            &signed,
            Some(CONTENT),
            from,
            &anchors,
            &[],
            SystemTime::now(),
        )
        .unwrap()
    };
    let verified = run(&["mallory@example.com".into()]);
    assert_fails_only(
        only_report(&verified),
        CheckName::Address,
        "mallory@example.com is not in the certificate",
    );
    assert_fails_only(
        only_report(&run(&[])),
        CheckName::Address,
        "no From address",
    );
    assert_valid(only_report(&run(&["Alice@EXAMPLE.com".into()])));
    let two = run(&[ALICE.into(), "bob@example.com".into()]);
    assert_fails_only(only_report(&two), CheckName::Address, "bob@example.com");
}

#[test]
fn an_expired_signer_fails_validity_now() {
    let pki = Pki::new();
    let anchors = [pki.root("ca", "/CN=Test CA")];
    pki.certify(
        "old",
        Some("ca"),
        Key::P256,
        "/CN=Old",
        1,
        &user_extensions(ALICE),
    );
    let signed = pki.sign("old", CONTENT, &[]);
    let later = SystemTime::now() + Duration::from_secs(3 * 86_400);
    let verified = verify_as(
        &signed,
        Some(CONTENT),
        &[ALICE.into()],
        &anchors,
        &[],
        later,
    )
    .unwrap();
    let report = only_report(&verified);
    assert_fails_only(report, CheckName::ValidityNow, "certificate expired on ");
    let (at_signing, reason) = outcome(report, CheckName::ValidityAtSigning);
    assert_eq!(at_signing, Outcome::Pass, "{reason}");
    assert!(report.signing_time().unwrap().ends_with('Z'));
}

#[test]
fn usage_extensions_must_allow_signing_mail() {
    let pki = Pki::new();
    let anchors = [pki.root("ca", "/CN=Test CA")];
    let base = "subjectAltName=email:alice@example.com\nauthorityKeyIdentifier=keyid\n";
    let cases = [
        (
            "web",
            "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
            Some((
                CheckName::ExtendedKeyUsage,
                "serverAuth, not emailProtection",
            )),
        ),
        (
            "any",
            "keyUsage=digitalSignature\nextendedKeyUsage=anyExtendedKeyUsage\n",
            None,
        ),
        ("nr", "keyUsage=nonRepudiation\n", None),
        (
            "enc",
            "keyUsage=keyEncipherment\nextendedKeyUsage=emailProtection\n",
            Some((CheckName::KeyUsage, "allows only keyEncipherment")),
        ),
    ];
    for (name, ext, failure) in cases {
        let subject = format!("/CN={name}");
        pki.certify(
            name,
            Some("ca"),
            Key::Rsa(2048),
            &subject,
            30,
            &format!("{base}{ext}"),
        );
        let signed = pki.sign(name, CONTENT, &[]);
        let verified = check(&signed, Some(CONTENT), &anchors, &[]).unwrap();
        match failure {
            Some((check, reason)) => assert_fails_only(only_report(&verified), check, reason),
            None => assert_valid(only_report(&verified)),
        }
    }
}

#[test]
fn an_untrusted_issuer_fails_the_chain() {
    let (pki, _ca) = alice(Key::P384);
    let other = pki.root("other", "/CN=Other CA");
    let signed = pki.sign("alice", CONTENT, &[]);
    let verified = check(&signed, Some(CONTENT), &[other], &[]).unwrap();
    assert_fails_only(
        only_report(&verified),
        CheckName::Chain,
        "CN=Test CA is not a trusted CA",
    );
}

#[test]
fn weak_algorithms_fail_the_algorithms_check() {
    for (key, args, weak, used) in [
        (
            Key::Rsa(2048),
            &["-md", "sha1"],
            "weak: SHA-1",
            "RSA-2048/SHA-1",
        ),
        (
            Key::Rsa(1024),
            &["-md", "sha256"],
            "weak: RSA-1024 key",
            "RSA-1024/SHA-256",
        ),
    ] {
        let (pki, anchors) = alice(key);
        let signed = pki.sign("alice", CONTENT, args);
        let verified = check(&signed, Some(CONTENT), &anchors, &[]).unwrap();
        let report = only_report(&verified);
        assert_fails_only(report, CheckName::Algorithms, weak);
        assert!(outcome(report, CheckName::Signature).1.ends_with(used));
    }
}

#[test]
fn the_signer_certificate_may_come_from_known_certificates() {
    let (pki, anchors) = alice(Key::P384);
    let signed = pki.sign("alice", CONTENT, &["-nocerts"]);
    let verified = check(&signed, Some(CONTENT), &anchors, &[pki.cert("alice")]).unwrap();
    assert_valid(only_report(&verified));

    let verified = check(&signed, Some(CONTENT), &anchors, &[]).unwrap();
    let report = only_report(&verified);
    assert_eq!(report.verdict(), Verdict::Invalid);
    assert!(report.signer().is_none());
    let (signature, reason) = outcome(report, CheckName::Signature);
    assert_eq!(signature, Outcome::Fail);
    assert!(
        reason.starts_with("signer certificate not found (issuer CN=Test CA"),
        "{reason}"
    );
    assert_eq!(outcome(report, CheckName::Digest).0, Outcome::Pass);
    assert_eq!(outcome(report, CheckName::Algorithms).0, Outcome::Pass);
    for name in [CheckName::Chain, CheckName::ValidityNow, CheckName::Address] {
        assert_eq!(outcome(report, name).0, Outcome::Unknown);
    }
    assert!(verified.signers.is_empty());
}

#[test]
fn a_subject_key_identifier_names_the_signer() {
    let (pki, anchors) = alice(Key::Rsa(2048));
    let signed = pki.sign("alice", CONTENT, &["-keyid", "-nodetach"]);
    assert_valid(only_report(&check(&signed, None, &anchors, &[]).unwrap()));
}

#[test]
fn without_signed_attributes_the_signature_covers_the_content() {
    let (pki, anchors) = alice(Key::Rsa(2048));
    let signed = pki.sign("alice", CONTENT, &["-noattr"]);
    let verified = check(&signed, Some(CONTENT), &anchors, &[]).unwrap();
    let report = only_report(&verified);
    assert_eq!(
        outcome(report, CheckName::Digest),
        (
            Outcome::Pass,
            "no signed attributes; signature covers the content"
        )
    );
    assert_eq!(
        outcome(report, CheckName::ValidityAtSigning).0,
        Outcome::Unknown
    );
    assert_eq!(report.verdict(), Verdict::Unknown);
    assert!(verified.signers[0].capabilities.is_empty());
    let verified = check(&signed, Some(b"other"), &anchors, &[]).unwrap();
    assert_eq!(
        outcome(only_report(&verified), CheckName::Signature).0,
        Outcome::Fail
    );
}

#[test]
fn a_pure_ed25519_signature_covers_the_content_itself() {
    let (pki, anchors) = alice(Key::Ed25519);
    let signed = pki.ed25519_signed("alice", CONTENT, true, &[]);
    let verified = check(&signed, None, &anchors, &[]).unwrap();
    let report = only_report(&verified);
    assert_eq!(outcome(report, CheckName::Signature).0, Outcome::Pass);
    assert_eq!(verified.content, CONTENT);

    // Content that is not hashed must be kept to be checked: only up to a limit.
    let long = vec![b'a'; MAX_WHOLE + 1];
    let signed = pki.ed25519_signed("alice", &long, false, &[]);
    let verified = check(&signed, Some(&long), &anchors, &[]).unwrap();
    let (signature, reason) = outcome(only_report(&verified), CheckName::Signature);
    assert_eq!(signature, Outcome::Fail);
    assert!(reason.contains("longer than 16 MiB"), "{reason}");
}

#[test]
fn each_signer_gets_a_report() {
    let (pki, anchors) = alice(Key::Rsa(2048));
    pki.user("bob", "ca", Key::P256, "bob@example.com");
    pki.write("content.bin", CONTENT);
    pki.openssl(&[
        "cms",
        "-sign",
        "-binary",
        "-in",
        "content.bin",
        "-outform",
        "DER",
        "-out",
        "two.der",
        "-signer",
        "alice.pem",
        "-inkey",
        "alice.key",
        "-signer",
        "bob.pem",
        "-inkey",
        "bob.key",
    ]);
    let signed = pki.read("two.der");
    let from = [ALICE.to_owned()];
    let verified = verify_as(
        &signed,
        Some(CONTENT),
        &from,
        &anchors,
        &[],
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(verified.reports.len(), 2);
    assert_eq!(verified.signers.len(), 2);
    for (report, harvest) in verified.reports.iter().zip(&verified.signers) {
        let signer = report.signer().unwrap();
        assert_eq!(signer, &harvest.certificate);
        if mailseal_pkix::describe::emails(signer) == [ALICE] {
            assert_valid(report);
        } else {
            assert_fails_only(report, CheckName::Address, "bob@example.com");
        }
        // openssl advertises its ciphers (AES-256-CBC first) in SMIMECapabilities.
        assert_eq!(
            harvest.capabilities.first(),
            Some(&const_oid::db::rfc5911::ID_AES_256_CBC)
        );
    }
}

#[test]
fn unreadable_messages_are_errors() {
    let (pki, anchors) = alice(Key::Rsa(2048));
    assert!(matches!(
        check(b"garbage", None, &[], &[]),
        Err(VerifyError::Malformed { .. })
    ));
    let detached = pki.sign("alice", CONTENT, &[]);
    assert!(matches!(
        check(&detached, None, &[], &[]),
        Err(VerifyError::MissingContent)
    ));

    pki.write("content.bin", CONTENT);
    let enveloped = pki.openssl(&[
        "cms",
        "-encrypt",
        "-binary",
        "-in",
        "content.bin",
        "-outform",
        "DER",
        "alice.pem",
    ]);
    match check(&enveloped, None, &[], &[]) {
        Err(VerifyError::NotSigned { content_type }) => {
            assert_eq!(content_type, "1.2.840.113549.1.7.3 (id-envelopedData)")
        }
        other => panic!("{other:?}"),
    }
    let certs_only = pki.openssl(&[
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        "ca.pem",
        "-outform",
        "DER",
    ]);
    assert!(matches!(
        check(&certs_only, None, &anchors, &[]),
        Err(VerifyError::NoSigners)
    ));
}

#[test]
fn a_malformed_signer_info_does_not_hide_the_others() {
    let (pki, anchors) = alice(Key::P256);
    let signed = pki.sign("alice", CONTENT, &[]);
    let mut info = cms::content_info::ContentInfo::from_der(&signed).unwrap();
    let mut data: super::parse::LenientSignedData = info.content.decode_as().unwrap();
    let bogus = der::Any::from_der(&[0x30, 0x03, 0x02, 0x01, 0x09]).unwrap();
    let mut infos = data.signer_infos.into_vec();
    infos.insert(0, bogus);
    data.signer_infos = der::asn1::SetOfVec::from_iter(infos).unwrap();
    info.content = der::Any::encode_from(&data).unwrap();
    let verified = check(&info.to_der().unwrap(), Some(CONTENT), &anchors, &[]).unwrap();
    assert_eq!(verified.reports.len(), 2);
    let broken = verified
        .reports
        .iter()
        .find(|r| r.verdict() != Verdict::Valid)
        .unwrap();
    let (signature, reason) = outcome(broken, CheckName::Signature);
    assert_eq!(signature, Outcome::Fail);
    assert!(reason.starts_with("malformed SignerInfo"), "{reason}");
    assert_eq!(
        verified
            .reports
            .iter()
            .filter(|r| r.verdict() == Verdict::Valid)
            .count(),
        1
    );
}

#[test]
fn damaged_input_never_panics() {
    let (pki, anchors) = alice(Key::P256);
    let signed = pki.sign("alice", CONTENT, &["-nodetach"]);
    for len in 0..signed.len() {
        let _ = check(&signed[..len], None, &anchors, &[]);
    }
    for at in 0..signed.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut damaged = signed.clone();
            damaged[at] ^= flip;
            if let Ok(verified) = check(&damaged, None, &anchors, &[]) {
                assert_eq!(verified.reports.len(), 1);
            }
        }
    }
}

/// The RFC 9216 sample: certificates by file name.
fn sample_cert(dir: &std::path::Path, file: &str) -> Certificate {
    parse_certificates(&std::fs::read(dir.join(file)).unwrap())
        .unwrap()
        .remove(0)
}

#[test]
fn rfc9216_signed_messages_verify() {
    let (Some(cms_dir), Some(cert_dir)) = (rfc9216("cms"), rfc9216("certs")) else {
        return;
    };
    let anchors = [
        sample_cert(
            &cert_dir,
            "Sample_LAMPS_RSA_Certification_Authority.selfsigned.pem",
        ),
        sample_cert(
            &cert_dir,
            "Sample_LAMPS_Ed25519_Certification_Authority.selfsigned.pem",
        ),
    ];
    let known = [
        sample_cert(&cert_dir, "alice@smime.example.sig.pem"),
        sample_cert(&cert_dir, "carlos@smime.example.sig.pem"),
    ];
    let sample = b"This is some sample content.";
    for (file, detached, signers) in [
        ("signedByAliceRSA.p7m", None, 1),
        ("signedByAliceRSAPSS.p7m", None, 1),
        ("signedByCarlosEd25519.p7m", None, 1),
        ("signedByCarlosDetached.p7m", Some(&sample[..]), 1),
        ("signedByAliceAndCarlosNoCerts.p7m", None, 2),
    ] {
        let message = std::fs::read(cms_dir.join(file)).unwrap();
        let verified = verify_as(&message, detached, &[], &anchors, &known, SystemTime::now())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(verified.reports.len(), signers, "{file}");
        assert_eq!(verified.content.trim_ascii_end(), sample, "{file}");
        for report in &verified.reports {
            for name in [CheckName::Signature, CheckName::Digest, CheckName::Chain] {
                let (result, reason) = outcome(report, name);
                assert_eq!(result, Outcome::Pass, "{file} {name:?}: {reason}");
            }
        }
    }
}
