//! Key generation on the card, certificate requests signed on the card, and certificate import.

use super::{PIN, SoftHsm, assert_pin_required, isolated, key};
use crate::KeyId;
use crate::backend::{Hash, KeyAlgorithm, SignatureScheme};
use crate::pkcs11::{Pkcs11, TokenError};
use aws_lc_rs::digest;
use const_oid::db::rfc5912;
use der::{Decode, DecodePem};
use mailseal_test_support::{TempPki, openssl};
use spki::SubjectPublicKeyInfoOwned;
use std::process::Command;
use std::time::Duration;
use x509_cert::Certificate;

/// `openssl req -verify` on a DER request, returning its text dump.
fn verified_request(hsm: &SoftHsm, request: &[u8]) -> String {
    let file = hsm.file("request.der", request);
    let out = Command::new("openssl")
        .args([
            "req", "-verify", "-noout", "-text", "-inform", "DER", "-in", &file,
        ])
        .current_dir(hsm.dir())
        .output()
        .expect("openssl runs");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(all.contains("verify OK"), "{all}");
    all
}

/// Issues a certificate for the request, copying its extensions, from a throwaway CA.
fn issue(hsm: &SoftHsm, request: &[u8]) -> Certificate {
    let file = hsm.file("request.der", request);
    let ca = TempPki::new();
    ca.self_signed("ec", "/CN=Test CA", None);
    let path = |file: &str| ca.dir().join(file).to_str().expect("UTF-8 path").to_owned();
    let (ca_cert, ca_key) = (path("cert.pem"), path("key.pem"));
    openssl(
        hsm.dir(),
        &[
            "x509",
            "-req",
            "-inform",
            "DER",
            "-in",
            &file,
            "-CA",
            &ca_cert,
            "-CAkey",
            &ca_key,
            "-set_serial",
            "7",
            "-days",
            "30",
            "-copy_extensions",
            "copy",
            "-out",
            "issued.pem",
        ],
    );
    openssl(
        hsm.dir(),
        &[
            "x509",
            "-in",
            "issued.pem",
            "-pubkey",
            "-noout",
            "-out",
            "issued.pub.pem",
        ],
    );
    Certificate::from_pem(std::fs::read(hsm.dir().join("issued.pem")).unwrap()).unwrap()
}

/// Generates a key of `algorithm`, requests, issues and imports its certificate, and signs
/// with the key found through the certificate.
fn enrol(hsm: &SoftHsm, pkcs11: &Pkcs11, algorithm: KeyAlgorithm, label: &str) {
    let generated = pkcs11.generate_key("L", algorithm, label).unwrap();
    let spki = SubjectPublicKeyInfoOwned::from_der(&generated.public_key).unwrap();
    let expected_oid = match algorithm {
        KeyAlgorithm::Rsa { .. } => rfc5912::RSA_ENCRYPTION,
        _ => rfc5912::ID_EC_PUBLIC_KEY,
    };
    assert_eq!(spki.algorithm.oid, expected_oid);
    let listed = pkcs11.tokens()[0]
        .objects
        .iter()
        .find(|object| object.id_hex == generated.id_hex)
        .cloned()
        .expect("the new key is listed");
    assert!(listed.has_private_key && listed.certificate.is_none());
    assert_eq!(listed.label, label);

    let email = format!("{label}@example.org");
    let request = pkcs11
        .csr("L", &generated.id_hex, &format!("Card {label}"), &email)
        .unwrap();
    let text = verified_request(hsm, &request);
    assert!(
        text.contains(&format!("Subject: CN = Card {label}")),
        "{text}"
    );
    assert!(text.contains(&format!("email:{email}")), "{text}");
    assert!(text.contains("E-mail Protection"), "{text}");
    let usage = match algorithm {
        KeyAlgorithm::Rsa { .. } => "Digital Signature, Key Encipherment",
        _ => "Digital Signature, Key Agreement",
    };
    assert!(text.contains(usage), "{text}");

    let certificate = issue(hsm, &request);
    let key_id = KeyId::of_certificate(&certificate);
    let spki_hash = digest::digest(&digest::SHA256, &generated.public_key);
    assert_eq!(
        key_id.to_string(),
        hex::encode(spki_hash),
        "same SPKI encoding"
    );
    assert!(
        pkcs11
            .identities()
            .iter()
            .all(|identity| identity.key_id != key_id)
    );
    let objects = pkcs11.tokens()[0].objects.len();
    assert_eq!(
        pkcs11.import_certificate("L", &certificate).unwrap(),
        generated.id_hex
    );
    let identity = pkcs11
        .identities()
        .into_iter()
        .find(|identity| identity.key_id == key_id)
        .expect("an identity now");
    assert_eq!(identity.certificate, certificate);
    // Again: nothing new.
    assert_eq!(
        pkcs11.import_certificate("L", &certificate).unwrap(),
        generated.id_hex
    );
    assert_eq!(pkcs11.tokens()[0].objects.len(), objects);

    let card = key(pkcs11, &key_id);
    assert_eq!(card.algorithm(), algorithm);
    let (scheme, digest) = match algorithm {
        KeyAlgorithm::Rsa { .. } => (SignatureScheme::RsaPkcs1(Hash::Sha256), "-sha256"),
        KeyAlgorithm::EcP384 => (SignatureScheme::Ecdsa(Hash::Sha384), "-sha384"),
        _ => (SignatureScheme::Ecdsa(Hash::Sha256), "-sha256"),
    };
    let signature = card.sign(scheme, b"enrolled").unwrap();
    hsm.verify(
        &hsm.dir().join("issued.pub.pem"),
        digest,
        b"enrolled",
        &signature,
        &[],
    );
}

#[test]
fn generated_keys_get_requests_and_certificates() {
    isolated(|hsm| {
        hsm.init_token("L");
        let pkcs11 = hsm.load(Duration::from_secs(60));
        assert_pin_required(pkcs11.generate_key("L", KeyAlgorithm::EcP256, "x"));
        pkcs11.login("L", PIN).unwrap();
        enrol(hsm, &pkcs11, KeyAlgorithm::Rsa { bits: 2048 }, "rsa");
        enrol(hsm, &pkcs11, KeyAlgorithm::EcP256, "p256");
        enrol(hsm, &pkcs11, KeyAlgorithm::EcP384, "p384");
        assert_eq!(pkcs11.identities().len(), 3);
        // The private keys are generated sensitive and never extractable.
        let listing = hsm.tool("L", &["-O"]);
        let listing = String::from_utf8_lossy(&listing);
        assert_eq!(listing.matches("never extractable").count(), 3, "{listing}");
    });
}

#[test]
fn enrolment_refusals() {
    isolated(|hsm| {
        hsm.init_token("L");
        let pkcs11 = hsm.load(Duration::from_secs(60));
        pkcs11.login("L", PIN).unwrap();
        assert!(matches!(
            pkcs11.generate_key("L", KeyAlgorithm::Ed25519, "x"),
            Err(TokenError::UnsupportedAlgorithm { .. })
        ));
        assert!(matches!(
            pkcs11.generate_key("L", KeyAlgorithm::Rsa { bits: 1024 }, "x"),
            Err(TokenError::UnsupportedAlgorithm { .. })
        ));
        assert!(matches!(
            pkcs11.generate_key("M", KeyAlgorithm::EcP256, "x"),
            Err(TokenError::NoSuchToken { .. })
        ));
        for id in ["0a0b", "not hex"] {
            assert!(matches!(
                pkcs11.csr("L", id, "n", "n@example.org"),
                Err(TokenError::KeyNotFound { .. })
            ));
        }
        let generated = pkcs11.generate_key("L", KeyAlgorithm::EcP256, "k").unwrap();
        assert!(matches!(
            pkcs11.csr("L", &generated.id_hex, "n", "nön@example.org"),
            Err(TokenError::Certificate { .. })
        ));
        // A certificate for a key that is not on the card.
        let stranger = TempPki::new().self_signed("ec", "/CN=x", None);
        assert!(matches!(
            pkcs11.import_certificate("L", &stranger),
            Err(TokenError::KeyNotFound { .. })
        ));
    });
}
