//! Card keys behave like software keys: signatures, decryption and key agreement.

use super::{Kind, PIN, isolated, key};
use crate::backend::{Hash, KeyAlgorithm, KeyError, PrivateKeyOps, RsaPadding, SignatureScheme};
use aws_lc_rs::agreement::{self, EphemeralPrivateKey};
use aws_lc_rs::rand::SystemRandom;
use cryptoki::mechanism::MechanismType;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);
const HASHES: [(Hash, &str); 3] = [
    (Hash::Sha256, "-sha256"),
    (Hash::Sha384, "-sha384"),
    (Hash::Sha512, "-sha512"),
];

#[test]
fn rsa_pkcs1_signatures_are_those_of_the_software_key() {
    isolated(|hsm| {
        hsm.init_token("L");
        let alice = hsm.identity("L", Kind::Rsa2048, "01", "alice");
        let pkcs11 = hsm.load(MINUTE);
        pkcs11.login("L", PIN).unwrap();
        let card = pkcs11.card_key(&alice.key_id()).unwrap();
        assert_eq!(card.algorithm(), KeyAlgorithm::Rsa { bits: 2048 });
        assert_eq!(card.algorithm(), alice.software.algorithm());
        let message = b"signed attributes";
        for (hash, digest) in HASHES {
            let scheme = SignatureScheme::RsaPkcs1(hash);
            let expected = alice.software.sign(scheme, message).unwrap();
            // The token hashing (CKM_SHA256_RSA_PKCS...), and we hashing (CKM_RSA_PKCS).
            assert_eq!(card.sign(scheme, message).unwrap(), expected, "{hash:?}");
            let raw = card.sign_with(&[MechanismType::RSA_PKCS], scheme, message);
            assert_eq!(raw.unwrap(), expected, "{hash:?} over CKM_RSA_PKCS");
            hsm.verify(&alice.public_pem, digest, message, &expected, &[]);
        }
        // The same refusals as the software key.
        for scheme in [
            SignatureScheme::RsaPkcs1(Hash::Sha1),
            SignatureScheme::Ecdsa(Hash::Sha256),
            SignatureScheme::Ed25519,
        ] {
            assert_eq!(
                card.sign(scheme, message),
                alice.software.sign(scheme, message),
                "{scheme:?}"
            );
        }
        assert!(matches!(
            card.sign_with(
                &[MechanismType::ECDSA],
                SignatureScheme::RsaPkcs1(Hash::Sha256),
                message
            ),
            Err(KeyError::UnsupportedScheme { .. })
        ));
    });
}

#[test]
fn rsa_pss_signatures_verify_with_openssl() {
    isolated(|hsm| {
        hsm.init_token("L");
        let alice = hsm.identity("L", Kind::Rsa2048, "01", "alice");
        let pkcs11 = hsm.load(MINUTE);
        pkcs11.login("L", PIN).unwrap();
        let card = pkcs11.card_key(&alice.key_id()).unwrap();
        let message = b"signed attributes";
        let pss = [
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:digest",
        ];
        for (hash, digest) in HASHES {
            let scheme = SignatureScheme::RsaPss(hash);
            let direct = card.sign(scheme, message).unwrap();
            let raw = card
                .sign_with(&[MechanismType::RSA_PKCS_PSS], scheme, message)
                .unwrap();
            assert_ne!(direct, raw, "PSS is randomized");
            hsm.verify(&alice.public_pem, digest, message, &direct, &pss);
            hsm.verify(&alice.public_pem, digest, message, &raw, &pss);
            // The salt is the hash's length, as the software key's: openssl insists.
            let strict = [
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:-1",
            ];
            hsm.verify(&alice.public_pem, digest, message, &direct, &strict);
        }
        assert_eq!(
            card.sign(SignatureScheme::RsaPss(Hash::Sha1), message),
            alice
                .software
                .sign(SignatureScheme::RsaPss(Hash::Sha1), message)
        );
    });
}

#[test]
fn ecdsa_signatures_are_der_and_verify_with_openssl() {
    isolated(|hsm| {
        hsm.init_token("L");
        let p256 = hsm.identity("L", Kind::P256, "01", "p256");
        let p384 = hsm.identity("L", Kind::P384, "02", "p384");
        let pkcs11 = hsm.load(MINUTE);
        pkcs11.login("L", PIN).unwrap();
        let message = b"signed attributes";
        for (identity, hash, digest, algorithm) in [
            (&p256, Hash::Sha256, "-sha256", KeyAlgorithm::EcP256),
            (&p384, Hash::Sha384, "-sha384", KeyAlgorithm::EcP384),
        ] {
            let card = key(&pkcs11, &identity.key_id());
            assert_eq!(card.algorithm(), algorithm);
            assert_eq!(card.algorithm(), identity.software.algorithm());
            // Many signatures, so that short r or s values (DER drops leading zeros) occur.
            for round in 0..40u8 {
                let message = [&message[..], &[round]].concat();
                let signature = card.sign(SignatureScheme::Ecdsa(hash), &message).unwrap();
                assert_eq!(signature[0], 0x30, "DER SEQUENCE");
                if round < 3 {
                    hsm.verify(&identity.public_pem, digest, &message, &signature, &[]);
                }
                let public = identity
                    .certificate
                    .tbs_certificate()
                    .subject_public_key_info();
                let verifier = match algorithm {
                    KeyAlgorithm::EcP256 => &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
                    _ => &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1,
                };
                aws_lc_rs::signature::UnparsedPublicKey::new(
                    verifier,
                    public.subject_public_key.raw_bytes(),
                )
                .verify(&message, &signature)
                .expect("aws-lc-rs verifies it");
            }
            for scheme in [
                SignatureScheme::Ecdsa(Hash::Sha512),
                SignatureScheme::RsaPkcs1(Hash::Sha256),
                SignatureScheme::Ed25519,
            ] {
                assert_eq!(
                    card.sign(scheme, message),
                    identity.software.sign(scheme, message),
                    "{scheme:?}"
                );
            }
            assert_eq!(
                card.rsa_decrypt(RsaPadding::Pkcs1v15, &[0; 256]),
                identity
                    .software
                    .rsa_decrypt(RsaPadding::Pkcs1v15, &[0; 256])
            );
        }
    });
}

#[test]
fn rsa_decrypt_recovers_what_openssl_encrypted() {
    isolated(|hsm| {
        hsm.init_token("L");
        let alice = hsm.identity("L", Kind::Rsa2048, "01", "alice");
        let pkcs11 = hsm.load(MINUTE);
        pkcs11.login("L", PIN).unwrap();
        let card = key(&pkcs11, &alice.key_id());
        let cek = hsm.file("cek.bin", b"0123456789abcdef0123456789abcdef");
        let public = alice.public_pem.to_str().unwrap();
        let encrypt = |options: &[&str]| {
            let mut args = vec![
                "pkeyutl", "-encrypt", "-pubin", "-inkey", public, "-in", &cek,
            ];
            args.extend(options);
            args.extend(["-out", "ct.bin"]);
            super::openssl(hsm.dir(), &args);
            std::fs::read(hsm.dir().join("ct.bin")).unwrap()
        };
        let oaep = |md: &'static str| {
            let digest = format!("rsa_oaep_md:{md}");
            let mgf = format!("rsa_mgf1_md:{md}");
            encrypt(&[
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                &digest,
                "-pkeyopt",
                &mgf,
            ])
        };
        let plain = b"0123456789abcdef0123456789abcdef".to_vec();
        let v15 = encrypt(&[]);
        assert_eq!(
            *card.rsa_decrypt(RsaPadding::Pkcs1v15, &v15).unwrap(),
            plain
        );
        let sha1 = oaep("sha1");
        assert_eq!(
            *card
                .rsa_decrypt(RsaPadding::Oaep(Hash::Sha1), &sha1)
                .unwrap(),
            plain
        );
        let sha256 = oaep("sha256");
        assert_eq!(
            *alice
                .software
                .rsa_decrypt(RsaPadding::Oaep(Hash::Sha256), &sha256)
                .unwrap(),
            plain
        );
        // SoftHSM2 2.6 refuses OAEP with anything but SHA-1 when the decryption starts: that
        // is reported as an unsupported scheme, not as a failed decryption (which the RFC 3218
        // countermeasure would hide). Later SoftHSM2 versions decrypt it.
        match card.rsa_decrypt(RsaPadding::Oaep(Hash::Sha256), &sha256) {
            Ok(cek) => assert_eq!(*cek, plain),
            Err(KeyError::UnsupportedScheme { operation, scheme }) => {
                assert_eq!(
                    (operation, scheme.as_str()),
                    ("RSA decryption", "Oaep(Sha256)")
                );
                println!("this SoftHSM2 has no OAEP with SHA-256");
            }
            Err(error) => panic!("OAEP SHA-256: {error:?}"),
        }
        // A damaged ciphertext fails as it does in software: `Failed`, nothing more.
        let mut damaged = v15.clone();
        damaged[100] ^= 1;
        assert_eq!(
            card.rsa_decrypt(RsaPadding::Pkcs1v15, &damaged),
            Err(KeyError::Failed {
                operation: "RSA decryption"
            })
        );
        assert_eq!(
            card.rsa_decrypt(RsaPadding::Pkcs1v15, &damaged)
                .unwrap_err(),
            alice
                .software
                .rsa_decrypt(RsaPadding::Pkcs1v15, &damaged)
                .unwrap_err()
        );
        assert_eq!(card.ecdh(&[4; 65]), alice.software.ecdh(&[4; 65]));
        // The token still works after the failures.
        assert_eq!(
            *card.rsa_decrypt(RsaPadding::Pkcs1v15, &v15).unwrap(),
            plain
        );
    });
}

#[test]
fn ecdh_gives_the_software_keys_shared_secret() {
    isolated(|hsm| {
        hsm.init_token("L");
        let p256 = hsm.identity("L", Kind::P256, "01", "p256");
        let p384 = hsm.identity("L", Kind::P384, "02", "p384");
        let pkcs11 = hsm.load(MINUTE);
        pkcs11.login("L", PIN).unwrap();
        let rng = SystemRandom::new();
        for (identity, curve) in [
            (&p256, &agreement::ECDH_P256),
            (&p384, &agreement::ECDH_P384),
        ] {
            let card = key(&pkcs11, &identity.key_id());
            let peer = EphemeralPrivateKey::generate(curve, &rng).unwrap();
            let peer_public = peer.compute_public_key().unwrap();
            let secret = card.ecdh(peer_public.as_ref()).unwrap();
            assert_eq!(
                secret,
                identity.software.ecdh(peer_public.as_ref()).unwrap()
            );
            assert_eq!(
                secret.len(),
                if curve == &agreement::ECDH_P256 {
                    32
                } else {
                    48
                }
            );
            // Not a point on the curve, or not a point at all: `Failed`, as in software.
            let mut off_curve = peer_public.as_ref().to_vec();
            off_curve[5] ^= 1;
            for bad in [&off_curve[..], &off_curve[1..], &[0u8; 3][..]] {
                assert_eq!(
                    card.ecdh(bad),
                    Err(KeyError::Failed {
                        operation: "key agreement"
                    })
                );
                assert_eq!(card.ecdh(bad), identity.software.ecdh(bad));
            }
        }
        // No derived secret is left behind on the token.
        let objects = pkcs11.tokens()[0].objects.len();
        pkcs11.refresh();
        assert_eq!(pkcs11.tokens()[0].objects.len(), objects);
    });
}

#[test]
fn fifty_concurrent_signatures_on_one_token_all_succeed() {
    isolated(|hsm| {
        hsm.init_token("L");
        let alice = hsm.identity("L", Kind::Rsa2048, "01", "alice");
        let bob = hsm.identity("L", Kind::P256, "02", "bob");
        let pkcs11 = hsm.load(MINUTE);
        pkcs11.login("L", PIN).unwrap();
        let rsa = key(&pkcs11, &alice.key_id());
        let ec = key(&pkcs11, &bob.key_id());
        std::thread::scope(|scope| {
            let threads: Vec<_> = (0..50u8)
                .map(|n| {
                    let (rsa, ec, pkcs11) = (rsa.clone(), ec.clone(), &pkcs11);
                    scope.spawn(move || {
                        let message = [b'm', n];
                        let scheme = SignatureScheme::RsaPkcs1(Hash::Sha256);
                        let signature = rsa.sign(scheme, &message).unwrap();
                        if n % 5 == 0 {
                            // Readers and the poller interleave with the signers.
                            pkcs11.refresh();
                            assert_eq!(pkcs11.tokens().len(), 1);
                        }
                        ec.sign(SignatureScheme::Ecdsa(Hash::Sha256), &message)
                            .unwrap();
                        (message, signature)
                    })
                })
                .collect();
            for thread in threads {
                let (message, signature) = thread.join().expect("no panic");
                let scheme = SignatureScheme::RsaPkcs1(Hash::Sha256);
                assert_eq!(signature, alice.software.sign(scheme, &message).unwrap());
            }
        });
    });
}
