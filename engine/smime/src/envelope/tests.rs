//! Envelope tests: interoperability with OpenSSL 3 in both directions, the RFC 9216 samples,
//! and every way decryption must fail.

use super::*;
use crate::report::ContentEncryption::{self, *};
use aws_lc_rs::rsa::{Pkcs1PublicEncryptingKey, PublicEncryptingKey};
use cms::authenveloped_data::AuthEnvelopedData;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::enveloped_data::{EnvelopedData, RecipientInfo};
use der::asn1::{Any, OctetString};
use der::{Decode, Encode};
use mailseal_keys::backend::Hash;
use mailseal_keys::pkcs12::PrivateKeyDer;
use mailseal_keys::software::SoftwareKey;
use mailseal_pkix::ber::{self, Profile};
use mailseal_test_support::{TempPki, openssl, rfc9216};
use std::path::Path;

const MESSAGE: &[u8] =
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nMeet at n\xc3\xa4chste Woche, 10:00.\r\n";

/// The kinds of key a test party can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rsa,
    P256,
    P384,
    X25519,
}

/// A certificate and its key, made with `openssl` in the test's directory as `NAME.pem` and
/// `NAME.key`.
struct Party {
    name: String,
    cert: Certificate,
    key: SoftwareKey,
}

impl Party {
    fn new(pki: &TempPki, name: &str, kind: Kind) -> Self {
        Self::with_extension(pki, name, kind, None)
    }

    /// A party whose certificate also gets `extension` (`openssl req -addext` syntax, no
    /// spaces; not for X25519, whose certificate a test CA issues, since X25519 cannot sign).
    fn with_extension(pki: &TempPki, name: &str, kind: Kind, extension: Option<&str>) -> Self {
        let dir = pki.dir();
        let newkey = match kind {
            Kind::Rsa => Some("rsa:2048"),
            Kind::P256 => Some("ec -pkeyopt ec_paramgen_curve:P-256"),
            Kind::P384 => Some("ec -pkeyopt ec_paramgen_curve:P-384"),
            Kind::X25519 => None,
        };
        if let Some(newkey) = newkey {
            let extension = extension
                .map(|e| format!("-addext {e}"))
                .unwrap_or_default();
            run(
                dir,
                &format!(
                    "req -x509 -nodes -days 30 -subj /CN={name} -newkey {newkey} \
                     -keyout {name}.key -out {name}.pem {extension}"
                ),
            );
        } else {
            if !dir.join("ca.pem").exists() {
                run(
                    dir,
                    "req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
                     -keyout ca.key -out ca.pem -subj /CN=TestCA -days 30",
                );
            }
            run(dir, &format!("genpkey -algorithm X25519 -out {name}.key"));
            run(dir, &format!("pkey -in {name}.key -pubout -out {name}.pub"));
            run(
                dir,
                &format!(
                    "x509 -new -subj /CN={name} -force_pubkey {name}.pub -CA ca.pem \
                     -CAkey ca.key -days 30 -out {name}.pem"
                ),
            );
        }
        Self {
            name: name.to_owned(),
            cert: load_certificate(&dir.join(format!("{name}.pem"))),
            key: load_key(&dir.join(format!("{name}.key"))),
        }
    }

    fn cert_file(&self) -> String {
        format!("{}.pem", self.name)
    }

    fn key_file(&self) -> String {
        format!("{}.key", self.name)
    }

    fn own(&self) -> OwnKey<'_> {
        OwnKey {
            key_id: KeyId::of_certificate(&self.cert),
            certificate: &self.cert,
            key: Some(&self.key),
        }
    }

    fn locked(&self) -> OwnKey<'_> {
        OwnKey {
            key: None,
            ..self.own()
        }
    }

    fn recipient(&self, rsa_padding: RsaPadding) -> Recipient<'_> {
        Recipient {
            certificate: &self.cert,
            rsa_padding,
        }
    }
}

fn load_certificate(path: &Path) -> Certificate {
    let pem = std::fs::read(path).unwrap();
    mailseal_pkix::describe::parse_certificates(&pem)
        .unwrap()
        .remove(0)
}

fn load_key(path: &Path) -> SoftwareKey {
    let pem = std::fs::read_to_string(path).unwrap();
    let (label, der) = der::pem::decode_vec(pem.as_bytes()).unwrap();
    assert_eq!(label, "PRIVATE KEY");
    SoftwareKey::from_pkcs8(&PrivateKeyDer::new(der)).unwrap()
}

/// Runs `openssl` in `dir` with the space-separated arguments of `command`.
fn run(dir: &Path, command: &str) -> Vec<u8> {
    openssl(dir, &command.split_whitespace().collect::<Vec<_>>())
}

/// `openssl cms -decrypt` of `ciphertext` (DER) with `party`'s key: the recovered content.
fn openssl_decrypt(pki: &TempPki, party: &Party, ciphertext: &[u8]) -> Vec<u8> {
    std::fs::write(pki.dir().join("ours.der"), ciphertext).unwrap();
    run(
        pki.dir(),
        &format!(
            "cms -decrypt -inform DER -binary -in ours.der -inkey {} -recip {}",
            party.key_file(),
            party.cert_file()
        ),
    )
}

/// `openssl cms -encrypt` of [`MESSAGE`] with `options` (cipher, `-recip` and `-keyopt`s):
/// the DER output, or BER with `-stream`.
fn openssl_encrypt(pki: &TempPki, options: &str) -> Vec<u8> {
    std::fs::write(pki.dir().join("message.txt"), MESSAGE).unwrap();
    run(
        pki.dir(),
        &format!("cms -encrypt -binary -outform DER -in message.txt -out theirs.der {options}"),
    );
    std::fs::read(pki.dir().join("theirs.der")).unwrap()
}

#[test]
fn openssl_decrypts_what_we_encrypt() {
    let pki = TempPki::new();
    let rsa = Party::new(&pki, "rsa", Kind::Rsa);
    let p256 = Party::new(&pki, "p256", Kind::P256);
    let p384 = Party::new(&pki, "p384", Kind::P384);
    let v15 = RsaPadding::Pkcs1v15;
    let cases: &[(&Party, RsaPadding, ContentEncryption)] = &[
        (&rsa, v15, Aes128Cbc),
        (&rsa, v15, Aes256Cbc),
        (&rsa, v15, Aes128Gcm),
        (&rsa, v15, Aes256Gcm),
        (&rsa, RsaPadding::Oaep(Hash::Sha1), Aes256Gcm),
        (&rsa, RsaPadding::Oaep(Hash::Sha256), Aes128Cbc),
        (&rsa, RsaPadding::Oaep(Hash::Sha384), Aes256Gcm),
        (&rsa, RsaPadding::Oaep(Hash::Sha512), Aes256Cbc),
        (&p256, v15, Aes128Gcm),
        (&p256, v15, Aes256Cbc),
        (&p384, v15, Aes256Gcm),
        (&p384, v15, Aes128Cbc),
    ];
    for (party, padding, algorithm) in cases {
        let ours = encrypt_to_vec(MESSAGE, &[party.recipient(*padding)], *algorithm).unwrap();
        assert_eq!(
            openssl_decrypt(&pki, party, &ours),
            MESSAGE,
            "{} {padding:?} {algorithm:?}",
            party.name
        );
        // And our own reading of it, which must report the algorithm.
        let decrypted = decrypt_to_vec(&ours, &[party.own()]).unwrap();
        assert_eq!(decrypted.content, MESSAGE);
        assert_eq!(decrypted.algorithm, *algorithm);
        assert_eq!(decrypted.key_id, KeyId::of_certificate(&party.cert));
    }
}

#[test]
fn we_decrypt_what_openssl_encrypts() {
    let pki = TempPki::new();
    let rsa = Party::new(&pki, "rsa", Kind::Rsa);
    let p256 = Party::new(&pki, "p256", Kind::P256);
    let p384 = Party::new(&pki, "p384", Kind::P384);
    let oaep = "-keyopt rsa_padding_mode:oaep";
    let oaep256 = "-keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256";
    let sha256 = "-keyopt ecdh_kdf_md:sha256";
    let sha384 = "-keyopt ecdh_kdf_md:sha384";
    let cases: &[(&Party, &str, &str, ContentEncryption)] = &[
        (&rsa, "", "-aes128", Aes128Cbc),
        (&rsa, "", "-aes256", Aes256Cbc),
        (&rsa, "", "-aes-128-gcm", Aes128Gcm),
        (&rsa, "", "-aes-256-gcm", Aes256Gcm),
        (&rsa, oaep, "-aes-256-gcm", Aes256Gcm),
        (&rsa, oaep, "-aes128", Aes128Cbc),
        (&rsa, oaep256, "-aes-128-gcm", Aes128Gcm),
        (&rsa, oaep256, "-aes256", Aes256Cbc),
        // OpenSSL's default KDF is X9.63 with SHA-1.
        (&p256, "", "-aes-128-gcm", Aes128Gcm),
        (&p256, sha256, "-aes256", Aes256Cbc),
        (&p256, sha256, "-aes-256-gcm", Aes256Gcm),
        (&p384, sha384, "-aes-256-gcm", Aes256Gcm),
        (&p384, sha384, "-aes128", Aes128Cbc),
        (&p384, "", "-aes256", Aes256Cbc),
    ];
    for (party, keyopts, cipher, algorithm) in cases {
        let options = format!("{cipher} -recip {} {keyopts}", party.cert_file());
        let theirs = openssl_encrypt(&pki, &options);
        let decrypted =
            decrypt_to_vec(&theirs, &[party.own()]).unwrap_or_else(|e| panic!("{options}: {e}"));
        assert_eq!(decrypted.content, MESSAGE, "{options}");
        assert_eq!(decrypted.algorithm, *algorithm, "{options}");
    }
}

#[test]
fn we_read_streamed_ber_from_openssl() {
    let pki = TempPki::new();
    let rsa = Party::new(&pki, "rsa", Kind::Rsa);
    for (cipher, algorithm) in [("-aes256", Aes256Cbc), ("-aes-128-gcm", Aes128Gcm)] {
        let ber = openssl_encrypt(&pki, &format!("-stream {cipher} -recip rsa.pem"));
        assert_eq!(ber[1], 0x80, "-stream writes indefinite lengths");
        let decrypted = decrypt_to_vec(&ber, &[rsa.own()]).unwrap();
        assert_eq!(decrypted.content, MESSAGE);
        assert_eq!(decrypted.algorithm, algorithm);
    }
}

#[test]
fn every_recipient_of_a_mixed_envelope_decrypts() {
    let pki = TempPki::new();
    let rsa = Party::new(&pki, "rsa", Kind::Rsa);
    let p256 = Party::new(&pki, "p256", Kind::P256);
    let x25519 = Party::new(&pki, "x25519", Kind::X25519);
    for algorithm in [Aes256Gcm, Aes256Cbc] {
        let ours = encrypt_to_vec(
            MESSAGE,
            &[
                rsa.recipient(RsaPadding::Oaep(Hash::Sha256)),
                p256.recipient(RsaPadding::Pkcs1v15),
                x25519.recipient(RsaPadding::Pkcs1v15),
            ],
            algorithm,
        )
        .unwrap();
        // OpenSSL 3.0 has no X25519 key agreement in CMS: that recipient is checked by us.
        assert_eq!(openssl_decrypt(&pki, &rsa, &ours), MESSAGE);
        assert_eq!(openssl_decrypt(&pki, &p256, &ours), MESSAGE);
        for party in [&rsa, &p256, &x25519] {
            assert_eq!(
                decrypt_to_vec(&ours, &[party.own()]).unwrap().content,
                MESSAGE
            );
        }
    }
    let theirs = openssl_encrypt(&pki, "-aes-256-gcm -recip rsa.pem -recip p256.pem");
    for party in [&rsa, &p256] {
        assert_eq!(
            decrypt_to_vec(&theirs, &[party.own()]).unwrap().content,
            MESSAGE
        );
    }
}

#[test]
fn our_output_is_der_with_the_rfc_5652_versions() {
    let pki = TempPki::new();
    let rsa = Party::new(&pki, "rsa", Kind::Rsa);
    let p384 = Party::new(&pki, "p384", Kind::P384);
    let enveloped_version = |der: &[u8]| {
        let info = ContentInfo::from_der(der).unwrap();
        info.content.decode_as::<EnvelopedData>().unwrap().version
    };
    let only_rsa =
        encrypt_to_vec(MESSAGE, &[rsa.recipient(RsaPadding::Pkcs1v15)], Aes128Cbc).unwrap();
    assert_eq!(
        ber::to_der(&only_rsa, Profile::ENVELOPED_DATA).unwrap(),
        only_rsa
    );
    assert_eq!(enveloped_version(&only_rsa), CmsVersion::V0);
    let with_ec = encrypt_to_vec(
        MESSAGE,
        &[
            rsa.recipient(RsaPadding::Pkcs1v15),
            p384.recipient(RsaPadding::Pkcs1v15),
        ],
        Aes128Cbc,
    )
    .unwrap();
    assert_eq!(enveloped_version(&with_ec), CmsVersion::V2);
    let gcm = encrypt_to_vec(MESSAGE, &[p384.recipient(RsaPadding::Pkcs1v15)], Aes128Gcm).unwrap();
    let auth = auth_enveloped(&gcm);
    assert_eq!(auth.version, CmsVersion::V0);
    assert!(auth.auth_attrs.is_none());
    assert_eq!(auth.mac.as_bytes().len(), 16);
}

/// The samples of RFC 9216 (LAMPS), made by other implementations.
#[test]
fn rfc9216_samples() {
    let Some(corpus) = rfc9216("") else {
        return;
    };
    let sample = |name: &str| std::fs::read(corpus.join("cms").join(name)).unwrap();
    let bob_cert = load_certificate(&corpus.join("certs/bob@smime.example.enc.pem"));
    let bob_key = load_key(&corpus.join("keys/lamps-bob.decrypt.p8.pem"));
    let dana_cert = load_certificate(&corpus.join("certs/dana@smime.example.enc.pem"));
    let dana_key = load_key(&corpus.join("keys/lamps-dana.decrypt.p8.pem"));
    let bob = OwnKey {
        key_id: KeyId::of_certificate(&bob_cert),
        certificate: &bob_cert,
        key: Some(&bob_key),
    };
    let dana = OwnKey {
        key_id: KeyId::of_certificate(&dana_cert),
        certificate: &dana_cert,
        key: Some(&dana_key),
    };
    const SAMPLE: &[u8] = b"This is some sample content.";
    for (file, key, algorithm) in [
        ("encryptedForBobRSAOaep.p7m", bob, Aes128Cbc),
        ("encryptedForBobAndDana.p7m", bob, Aes128Cbc),
        ("encryptedForBobAndDana.p7m", dana, Aes128Cbc),
        ("authEnvelopedForDanaX25519HKDF.p7m", dana, Aes128Gcm),
    ] {
        let decrypted =
            decrypt_to_vec(&sample(file), &[key]).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(decrypted.content, SAMPLE, "{file}");
        assert_eq!(decrypted.algorithm, algorithm, "{file}");
        assert_eq!(decrypted.key_id, key.key_id, "{file}");
    }
    assert!(matches!(
        decrypt_to_vec(&sample("authEnvelopedForBobChaCha20Poly1305.p7m"), &[bob]),
        Err(EnvelopeError::UnsupportedAlgorithm { .. })
    ));
    match decrypt_to_vec(&sample("encryptedKekri.p7m"), &[bob, dana]) {
        Err(EnvelopeError::NotForUs { recipients }) => {
            assert_eq!(recipients.len(), 1);
            assert!(recipients[0].contains("6b65796964"), "{recipients:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        decrypt_to_vec(&sample("signedByAliceRSA.p7m"), &[bob]),
        Err(EnvelopeError::NotEncrypted { .. })
    ));
    // Carlos's signing certificate holds an Ed25519 key.
    let carlos = load_certificate(&corpus.join("certs/carlos@smime.example.sig.pem"));
    let to_carlos = Recipient {
        certificate: &carlos,
        rsa_padding: RsaPadding::Pkcs1v15,
    };
    assert!(matches!(
        encrypt_to_vec(MESSAGE, &[to_carlos], Aes256Gcm),
        Err(EnvelopeError::UnsupportedRecipientKey { .. })
    ));
    // And we can write to Bob and Dana what they can read.
    let ours = encrypt_to_vec(
        MESSAGE,
        &[
            Recipient {
                certificate: &bob_cert,
                rsa_padding: RsaPadding::Oaep(Hash::Sha256),
            },
            Recipient {
                certificate: &dana_cert,
                rsa_padding: RsaPadding::Pkcs1v15,
            },
        ],
        Aes256Gcm,
    )
    .unwrap();
    for key in [bob, dana] {
        assert_eq!(decrypt_to_vec(&ours, &[key]).unwrap().content, MESSAGE);
    }
}

#[test]
fn recipients_are_found_among_our_keys() {
    let pki = TempPki::new();
    let alice = Party::new(&pki, "alice", Kind::Rsa);
    let bob = Party::new(&pki, "bob", Kind::P256);
    let carol = Party::new(&pki, "carol", Kind::P256);
    let to_alice =
        encrypt_to_vec(MESSAGE, &[alice.recipient(RsaPadding::Pkcs1v15)], Aes256Gcm).unwrap();

    match decrypt_to_vec(&to_alice, &[bob.own(), carol.own()]) {
        Err(EnvelopeError::NotForUs { recipients }) => {
            assert_eq!(recipients.len(), 1);
            assert!(recipients[0].contains("CN=alice"), "{recipients:?}");
        }
        other => panic!("{other:?}"),
    }
    match decrypt_to_vec(&to_alice, &[bob.own(), alice.locked()]) {
        Err(EnvelopeError::Locked { key_id }) => {
            assert_eq!(key_id, KeyId::of_certificate(&alice.cert));
        }
        other => panic!("{other:?}"),
    }
    // For two of our keys, the unlocked one opens it even when listed after the locked one.
    let to_both = encrypt_to_vec(
        MESSAGE,
        &[
            alice.recipient(RsaPadding::Pkcs1v15),
            bob.recipient(RsaPadding::Pkcs1v15),
        ],
        Aes128Gcm,
    )
    .unwrap();
    let decrypted = decrypt_to_vec(&to_both, &[carol.own(), alice.locked(), bob.own()]).unwrap();
    assert_eq!(decrypted.key_id, KeyId::of_certificate(&bob.cert));
    // A recipient named by subject key identifier (as some clients do) is found too.
    let mut by_ski = auth_enveloped(&to_alice);
    let ski = alice
        .cert
        .tbs_certificate()
        .get_extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>()
        .unwrap()
        .expect("openssl req adds a subject key identifier")
        .1;
    let infos: Vec<RecipientInfo> = by_ski
        .recip_infos
        .0
        .iter()
        .cloned()
        .map(|info| match info {
            RecipientInfo::Ktri(mut ktri) => {
                ktri.rid =
                    cms::enveloped_data::RecipientIdentifier::SubjectKeyIdentifier(ski.clone());
                ktri.version = CmsVersion::V2;
                RecipientInfo::Ktri(ktri)
            }
            other => other,
        })
        .collect();
    by_ski.recip_infos = infos.try_into().unwrap();
    let by_ski = reencode(by_ski);
    assert_eq!(
        decrypt_to_vec(&by_ski, &[alice.own()]).unwrap().content,
        MESSAGE
    );
}

fn auth_enveloped(der: &[u8]) -> AuthEnvelopedData {
    ContentInfo::from_der(der)
        .unwrap()
        .content
        .decode_as()
        .unwrap()
}

fn reencode(data: AuthEnvelopedData) -> Vec<u8> {
    ContentInfo {
        content_type: const_oid::db::rfc5911::ID_CT_AUTH_ENVELOPED_DATA,
        content: Any::encode_from(&data).unwrap(),
    }
    .to_der()
    .unwrap()
}

/// Replaces the encrypted key of the (only) key-transport recipient.
fn with_encrypted_key(der: &[u8], encrypted_key: Vec<u8>) -> Vec<u8> {
    let mut data = auth_enveloped(der);
    let infos: Vec<RecipientInfo> = data
        .recip_infos
        .0
        .iter()
        .cloned()
        .map(|info| match info {
            RecipientInfo::Ktri(mut ktri) => {
                ktri.enc_key = OctetString::new(encrypted_key.clone()).unwrap();
                RecipientInfo::Ktri(ktri)
            }
            other => other,
        })
        .collect();
    data.recip_infos = infos.try_into().unwrap();
    reencode(data)
}

#[test]
fn every_tampering_is_the_same_decryption_failure() {
    let pki = TempPki::new();
    let rsa = Party::new(&pki, "rsa", Kind::Rsa);
    let x25519 = Party::new(&pki, "x25519", Kind::X25519);
    let failed = |der: &[u8], party: &Party| {
        matches!(
            decrypt_to_vec(der, &[party.own()]),
            Err(EnvelopeError::DecryptionFailed)
        )
    };
    // GCM, so that a wrong key is always caught (with CBC, a random key has a 1 in 256 chance
    // of ending in valid padding and yielding garbage, which is inherent to EnvelopedData).
    for padding in [RsaPadding::Pkcs1v15, RsaPadding::Oaep(Hash::Sha256)] {
        let good = encrypt_to_vec(MESSAGE, &[rsa.recipient(padding)], Aes256Gcm).unwrap();

        let mut tag = auth_enveloped(&good);
        let mut mac = tag.mac.as_bytes().to_vec();
        mac[0] ^= 1;
        tag.mac = OctetString::new(mac).unwrap();
        assert!(failed(&reencode(tag), &rsa), "tag, {padding:?}");

        let mut body = auth_enveloped(&good);
        let content = body
            .auth_encrypted_content_info
            .encrypted_content
            .as_mut()
            .unwrap();
        let mut bytes = content.as_bytes().to_vec();
        bytes[3] ^= 0x80;
        *content = OctetString::new(bytes).unwrap();
        assert!(failed(&reencode(body), &rsa), "body, {padding:?}");

        // RSA garbage: bad padding, which the RFC 3218 countermeasure turns into a random key.
        let garbage: Vec<u8> = (0..=255u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        assert!(
            failed(&with_encrypted_key(&good, garbage), &rsa),
            "garbage, {padding:?}"
        );
    }
    // A correctly padded PKCS#1 v1.5 block holding a key of the wrong length fails alike.
    let good = encrypt_to_vec(MESSAGE, &[rsa.recipient(RsaPadding::Pkcs1v15)], Aes256Gcm).unwrap();
    let spki = rsa
        .cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    let public =
        Pkcs1PublicEncryptingKey::new(PublicEncryptingKey::from_der(&spki).unwrap()).unwrap();
    let mut short = vec![0; public.ciphertext_size()];
    let short = public.encrypt(&[7; 5], &mut short).unwrap().to_vec();
    assert!(failed(&with_encrypted_key(&good, short), &rsa));

    // Key agreement: a damaged wrapped key fails the unwrap.
    let good = encrypt_to_vec(
        MESSAGE,
        &[x25519.recipient(RsaPadding::Pkcs1v15)],
        Aes128Cbc,
    )
    .unwrap();
    let info = ContentInfo::from_der(&good).unwrap();
    let mut data: EnvelopedData = info.content.decode_as().unwrap();
    let infos: Vec<RecipientInfo> = data
        .recip_infos
        .0
        .iter()
        .cloned()
        .map(|info| match info {
            RecipientInfo::Kari(mut kari) => {
                let key = &mut kari.recipient_enc_keys[0].enc_key;
                let mut bytes = key.as_bytes().to_vec();
                bytes[0] ^= 1;
                *key = OctetString::new(bytes).unwrap();
                RecipientInfo::Kari(kari)
            }
            other => other,
        })
        .collect();
    data.recip_infos = infos.try_into().unwrap();
    let damaged = ContentInfo {
        content_type: info.content_type,
        content: Any::encode_from(&data).unwrap(),
    }
    .to_der()
    .unwrap();
    assert!(failed(&damaged, &x25519));
}

#[test]
fn truncated_or_garbage_input_is_malformed() {
    let pki = TempPki::new();
    let rsa = Party::new(&pki, "rsa", Kind::Rsa);
    let der = encrypt_to_vec(MESSAGE, &[rsa.recipient(RsaPadding::Pkcs1v15)], Aes128Gcm).unwrap();
    let ber = openssl_encrypt(&pki, "-stream -aes256 -recip rsa.pem");
    for whole in [&der, &ber] {
        for len in 0..whole.len() {
            match decrypt_to_vec(&whole[..len], &[rsa.own()]) {
                Err(EnvelopeError::Malformed { .. }) => {}
                other => panic!("truncated to {len}: {other:?}"),
            }
        }
    }
    for garbage in [
        &b"hello"[..],
        &[0xff; 64],
        &[0x30, 0x80],
        &[0x30, 0x03, 0x02, 0x01],
    ] {
        assert!(
            matches!(
                decrypt_to_vec(garbage, &[rsa.own()]),
                Err(EnvelopeError::Malformed { .. })
            ),
            "{garbage:?}"
        );
    }
    // A flipped bit anywhere is an error or, in a field nothing protects (a version, a NULL),
    // harmless; never a panic, never a wrong plaintext.
    for i in 0..der.len() {
        let mut flipped = der.clone();
        flipped[i] ^= 0x04;
        if let Ok(decrypted) = decrypt_to_vec(&flipped, &[rsa.own()]) {
            assert_eq!(decrypted.content, MESSAGE, "bit flip at {i}");
        }
    }
}

#[test]
fn bad_recipients_are_refused() {
    let pki = TempPki::new();
    assert!(matches!(
        encrypt_to_vec(MESSAGE, &[], Aes256Gcm),
        Err(EnvelopeError::Malformed { .. })
    ));
    let signer = Party::with_extension(
        &pki,
        "signer",
        Kind::Rsa,
        Some("keyUsage=critical,digitalSignature"),
    );
    let ec_signer = Party::with_extension(
        &pki,
        "ecsigner",
        Kind::P256,
        Some("keyUsage=critical,digitalSignature"),
    );
    for party in [&signer, &ec_signer] {
        match encrypt_to_vec(MESSAGE, &[party.recipient(RsaPadding::Pkcs1v15)], Aes256Gcm) {
            Err(EnvelopeError::UnsupportedRecipientKey { subject, .. }) => {
                assert!(subject.contains(&party.name));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn auth_attrs_are_the_gcm_additional_data() {
    use aws_lc_rs::aead::{self, Aad, RandomizedNonceKey};
    use const_oid::db::rfc5911;
    use der::asn1::SetOfVec;
    use x509_cert::attr::Attribute;

    let pki = TempPki::new();
    let rsa = Party::new(&pki, "rsa", Kind::Rsa);
    let attribute = |value| Attribute {
        oid: rfc5911::ID_CONTENT_TYPE,
        values: SetOfVec::try_from(vec![Any::encode_from(&value).unwrap()]).unwrap(),
    };
    let attrs = SetOfVec::try_from(vec![attribute(rfc5911::ID_DATA)]).unwrap();
    // RFC 5083 §2.2: the AAD is the DER of authAttrs with the SET OF tag, not the [1].
    let aad = attrs.to_der().unwrap();
    assert_eq!(aad[0], 0x31);
    let cek = [9u8; 16];
    let mut ciphertext = MESSAGE.to_vec();
    let (nonce, tag) = RandomizedNonceKey::new(&aead::AES_128_GCM, &cek)
        .unwrap()
        .seal_in_place_separate_tag(Aad::from(&aad), &mut ciphertext)
        .unwrap();
    // GCMParameters { nonce, ICV length 16 }.
    let mut gcm_parameters = vec![0x30, 0x11, 0x04, 0x0c];
    gcm_parameters.extend_from_slice(nonce.as_ref());
    gcm_parameters.extend([0x02, 0x01, 0x10]);
    let mut data = AuthEnvelopedData {
        version: CmsVersion::V0,
        originator_info: None,
        recip_infos: vec![ktri::recipient_info(&rsa.cert, RsaPadding::Pkcs1v15, &cek).unwrap()]
            .try_into()
            .unwrap(),
        auth_encrypted_content_info: cms::enveloped_data::EncryptedContentInfo {
            content_type: rfc5911::ID_DATA,
            content_enc_alg: spki::AlgorithmIdentifierOwned {
                oid: rfc5911::ID_AES_128_GCM,
                parameters: Some(Any::from_der(&gcm_parameters).unwrap()),
            },
            encrypted_content: Some(OctetString::new(ciphertext).unwrap()),
        },
        auth_attrs: Some(attrs),
        mac: OctetString::new(tag.as_ref()).unwrap(),
        unauth_attrs: None,
    };
    let decrypted = decrypt_to_vec(&reencode(data.clone()), &[rsa.own()]).unwrap();
    assert_eq!(decrypted.content, MESSAGE);
    // Changing an authenticated attribute breaks the tag.
    data.auth_attrs = Some(SetOfVec::try_from(vec![attribute(rfc5911::ID_SIGNED_DATA)]).unwrap());
    assert!(matches!(
        decrypt_to_vec(&reencode(data), &[rsa.own()]),
        Err(EnvelopeError::DecryptionFailed)
    ));
}

#[test]
fn every_ber_fault_is_a_malformed_envelope() {
    let deep = "3080".repeat(70) + &"0000".repeat(70);
    for bad in [
        "30 05 04 01",
        "30 80 04 01 ff",
        &deep,
        "23 80 03 02 00 ff 00 00",
    ] {
        let bytes = hex::decode(bad.replace(' ', "")).unwrap();
        let error = ber::to_der(&bytes, Profile::ENVELOPED_DATA).unwrap_err();
        assert!(
            matches!(EnvelopeError::from(error), EnvelopeError::Malformed { .. }),
            "{bad}"
        );
    }
}
