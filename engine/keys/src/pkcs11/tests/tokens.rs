//! Discovery, login, the PIN cache, wrong PINs, card removal and module loading.

use super::{Kind, PIN, assert_pin_required, isolated, key, serial};
use crate::backend::{Hash, KeyAlgorithm, KeyError, SignatureScheme};
use crate::pkcs11::{Pkcs11, TokenError};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use mailseal_test_support::softhsm::MODULE as SOFTHSM;
use std::path::PathBuf;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);
const PKCS1: SignatureScheme = SignatureScheme::RsaPkcs1(Hash::Sha256);

#[test]
fn discovery_pairs_certificates_with_keys_by_id() {
    isolated(|hsm| {
        hsm.init_token("L");
        let alice = hsm.identity("L", Kind::Rsa2048, "01", "alice");
        // A certificate alone (a CA's, say) is no identity.
        let ca = hsm.identity("L", Kind::P256, "09", "ca");
        hsm.tool("L", &["--delete-object", "--type", "privkey", "--id", "09"]);
        hsm.tool("L", &["--delete-object", "--type", "pubkey", "--id", "09"]);

        let pkcs11 = hsm.load(MINUTE);
        let modules = pkcs11.modules();
        assert_eq!(modules.len(), 1);
        let description = modules[0].status.as_ref().expect("SoftHSM loads");
        assert!(description.contains("SoftHSM"), "{description}");

        let tokens = pkcs11.tokens();
        assert_eq!(tokens.len(), 1, "the free slot is not a token");
        let token = &tokens[0];
        assert_eq!(token.label, "L");
        assert_eq!(token.manufacturer, "SoftHSM project");
        assert_eq!(token.token.as_str(), token.serial);
        assert!(token.flags.login_required && token.flags.rng && token.flags.user_pin_initialized);
        assert!(!token.logged_in);
        assert_eq!(token.module, PathBuf::from(SOFTHSM));
        let object = |id: &str| token.objects.iter().find(|o| o.id_hex == id).expect(id);
        // Before login the private key is hidden; its public key stands in.
        assert!(object("01").has_private_key);
        assert_eq!(object("01").certificate.as_ref(), Some(&alice.certificate));
        assert_eq!(object("01").label, "alice");
        assert!(!object("09").has_private_key);
        assert_eq!(object("09").certificate.as_ref(), Some(&ca.certificate));

        let identities = pkcs11.identities();
        assert_eq!(identities.len(), 1);
        assert_eq!(identities[0].key_id, alice.key_id());
        assert_eq!(identities[0].token_label, "L");
        assert_eq!(identities[0].token, token.token);
        assert_eq!(identities[0].certificate, alice.certificate);

        // After login the private key itself is seen.
        pkcs11.login("L", PIN).unwrap();
        let token = &pkcs11.tokens()[0];
        assert!(token.logged_in);
        assert!(
            token
                .objects
                .iter()
                .any(|o| o.id_hex == "01" && o.has_private_key)
        );
        assert_eq!(pkcs11.identities().len(), 1);
        pkcs11.logout(&token.serial).unwrap();
        assert!(!pkcs11.tokens()[0].logged_in);
    });
}

#[test]
fn unloadable_modules_are_reported_and_the_rest_work() {
    isolated(|hsm| {
        hsm.init_token("L");
        let not_a_module = hsm.dir().join("softhsm2.conf");
        let modules = [
            PathBuf::from("/nonexistent/libpkcs11.so"),
            not_a_module.clone(),
            PathBuf::from(SOFTHSM),
        ];
        let pkcs11 = Pkcs11::load(&modules, MINUTE);
        let status = pkcs11.modules();
        assert_eq!(status.len(), 3);
        assert_eq!(status[0].path, modules[0]);
        assert!(status[0].status.is_err());
        assert!(status[1].status.is_err(), "{:?}", status[1]);
        assert!(status[2].status.is_ok());
        assert_eq!(pkcs11.tokens().len(), 1);
        println!("reasons: {:?} / {:?}", status[0].status, status[1].status);
    });
}

#[test]
fn key_needs_a_login_and_the_login_expires() {
    isolated(|hsm| {
        hsm.init_token("L");
        let alice = hsm.identity("L", Kind::Rsa2048, "01", "alice");
        let pkcs11 = hsm.load(Duration::from_secs(1));
        assert_pin_required(pkcs11.key(&alice.key_id()));
        assert!(matches!(
            pkcs11.login("nope", PIN),
            Err(TokenError::NoSuchToken { .. })
        ));

        // By label, then by serial number.
        pkcs11.login("L", PIN).unwrap();
        let card = key(&pkcs11, &alice.key_id());
        assert_eq!(card.sign(PKCS1, b"m").unwrap().len(), 256);
        pkcs11.login(&serial(&pkcs11, "L"), PIN).unwrap();

        std::thread::sleep(Duration::from_millis(1200));
        assert_pin_required(pkcs11.key(&alice.key_id()));
        assert!(!pkcs11.tokens()[0].logged_in);
        // A key handed out before the expiry stops working too.
        assert!(matches!(
            card.sign(PKCS1, b"m"),
            Err(KeyError::PinRequired { .. })
        ));

        pkcs11.login("L", PIN).unwrap();
        assert!(card.sign(PKCS1, b"m").is_ok());
        pkcs11.logout("L").unwrap();
        assert!(matches!(
            card.sign(PKCS1, b"m"),
            Err(KeyError::PinRequired { .. })
        ));
    });
}

#[test]
fn a_zero_pin_cache_allows_one_operation_per_login() {
    isolated(|hsm| {
        hsm.init_token("L");
        let alice = hsm.identity("L", Kind::Rsa2048, "01", "alice");
        let pkcs11 = hsm.load(Duration::ZERO);
        pkcs11.login("L", PIN).unwrap();
        let card = key(&pkcs11, &alice.key_id());
        assert!(
            pkcs11.tokens()[0].logged_in,
            "key() does not use the login up"
        );
        card.sign(PKCS1, b"first").unwrap();
        assert!(!pkcs11.tokens()[0].logged_in);
        assert!(card.sign(PKCS1, b"second").is_err());
        assert_pin_required(pkcs11.key(&alice.key_id()));
        pkcs11.login("L", PIN).unwrap();
        card.sign(PKCS1, b"second").unwrap();
    });
}

/// SoftHSM2 2.6 never locks the user PIN: each wrong PIN sets CKF_USER_PIN_COUNT_LOW (never
/// FINAL_TRY or LOCKED), and the right PIN clears it.
#[test]
fn wrong_pins_are_reported_with_the_pin_flags() {
    isolated(|hsm| {
        hsm.init_token("L");
        let pkcs11 = hsm.load(MINUTE);
        for attempt in 0..12 {
            match pkcs11.login("L", b"0000") {
                Err(TokenError::WrongPin { token, pin }) => {
                    assert_eq!(token, "L");
                    assert!(
                        pin.count_low && !pin.final_try && !pin.locked,
                        "{attempt}: {pin:?}"
                    );
                }
                other => panic!("attempt {attempt}: {other:?}"),
            }
        }
        assert!(pkcs11.tokens()[0].pin.count_low);
        assert!(!pkcs11.tokens()[0].logged_in);
        pkcs11.login("L", PIN).unwrap();
        assert!(!pkcs11.tokens()[0].pin.count_low);
        // A wrong PIN ends a cached login: the PIN is checked every time.
        assert!(pkcs11.login("L", b"0000").is_err());
        assert!(!pkcs11.tokens()[0].logged_in);
    });
}

#[test]
fn a_removed_token_is_not_present_and_others_still_work() {
    isolated(|hsm| {
        hsm.init_token("A");
        hsm.init_token("B");
        let a = hsm.identity("A", Kind::P256, "01", "a");
        let b = hsm.identity("B", Kind::Rsa2048, "01", "b");
        let pkcs11 = hsm.load(MINUTE);
        assert_eq!(pkcs11.tokens().len(), 2);
        pkcs11.login("A", PIN).unwrap();
        pkcs11.login("B", PIN).unwrap();
        let key_a = key(&pkcs11, &a.key_id());
        let key_b = key(&pkcs11, &b.key_id());
        key_a
            .sign(SignatureScheme::Ecdsa(Hash::Sha256), b"m")
            .unwrap();

        hsm.delete_token("A");
        // Noticed by the operation itself, before any refresh.
        assert_eq!(
            key_a.sign(SignatureScheme::Ecdsa(Hash::Sha256), b"m"),
            Err(KeyError::TokenNotPresent { token: "A".into() })
        );
        assert!(matches!(
            pkcs11.login("A", PIN),
            Err(TokenError::TokenNotPresent { .. })
        ));
        assert!(pkcs11.identities().iter().all(|id| id.token_label == "B"));
        key_b.sign(PKCS1, b"m").unwrap();

        pkcs11.refresh();
        let labels: Vec<_> = pkcs11.tokens().into_iter().map(|t| t.label).collect();
        assert_eq!(labels, ["B"]);
        assert!(matches!(
            pkcs11.login("A", PIN),
            Err(TokenError::NoSuchToken { .. })
        ));
        assert!(matches!(
            pkcs11.key(&a.key_id()),
            Err(TokenError::KeyNotFound { .. })
        ));
        assert!(
            key_a
                .sign(SignatureScheme::Ecdsa(Hash::Sha256), b"m")
                .is_err()
        );
        key_b.sign(PKCS1, b"m").unwrap();
        assert!(pkcs11.tokens()[0].logged_in, "B keeps its login");

        // Removal noticed by the poller first.
        hsm.delete_token("B");
        pkcs11.refresh();
        assert!(pkcs11.tokens().is_empty());
        assert_eq!(
            key_b.sign(PKCS1, b"m"),
            Err(KeyError::TokenNotPresent { token: "B".into() })
        );

        // A new card shows up at the next refresh. SoftHSM2 reads its token directory once,
        // so the token is made through this process's own instance.
        let context = &pkcs11.modules[0].loaded.as_ref().unwrap().context;
        let free = context
            .get_slots_with_token()
            .unwrap()
            .into_iter()
            .find(|slot| {
                // The slots of deleted tokens answer with errors.
                context
                    .get_token_info(*slot)
                    .is_ok_and(|info| !info.token_initialized())
            })
            .expect("SoftHSM2 always offers a free slot");
        let so_pin = AuthPin::from("1234");
        context.init_token(free, &so_pin, "C").unwrap();
        let session = context.open_rw_session(free).unwrap();
        session.login(UserType::So, Some(&so_pin)).unwrap();
        session.init_pin(&AuthPin::from("5678")).unwrap();
        drop(session);
        pkcs11.refresh();
        let labels: Vec<_> = pkcs11.tokens().into_iter().map(|t| t.label).collect();
        assert_eq!(labels, ["C"]);
        pkcs11.login("C", PIN).unwrap();
        pkcs11.generate_key("C", KeyAlgorithm::EcP384, "c").unwrap();
    });
}

/// The default module, the p11-kit proxy, reaches SoftHSM2 when SoftHSM2 is registered with
/// p11-kit (Debian's package registers it).
#[test]
fn the_p11_kit_proxy_reaches_softhsm() {
    isolated(|hsm| {
        let modules = Pkcs11::default_modules();
        let Some(proxy) = modules.first() else {
            println!("skipped: no p11-kit proxy installed");
            return;
        };
        hsm.init_token("L");
        let alice = hsm.identity("L", Kind::P256, "01", "alice");
        let pkcs11 = Pkcs11::load(&modules, MINUTE);
        println!("{}: {:?}", proxy.display(), pkcs11.modules()[0].status);
        if !pkcs11.tokens().iter().any(|token| token.label == "L") {
            println!("skipped: the p11-kit proxy does not list the SoftHSM2 token");
            return;
        }
        assert_eq!(pkcs11.identities()[0].key_id, alice.key_id());
        pkcs11.login("L", PIN).unwrap();
        let card = key(&pkcs11, &alice.key_id());
        let message = b"through p11-kit";
        let signature = card
            .sign(SignatureScheme::Ecdsa(Hash::Sha256), message)
            .unwrap();
        hsm.verify(&alice.public_pem, "-sha256", message, &signature, &[]);
    });
}

#[test]
fn a_token_seen_through_two_modules_is_listed_once() {
    isolated(|hsm| {
        hsm.init_token("L");
        let modules = [PathBuf::from(SOFTHSM), PathBuf::from(SOFTHSM)];
        let pkcs11 = Pkcs11::load(&modules, MINUTE);
        assert!(pkcs11.modules().iter().all(|module| module.status.is_ok()));
        assert_eq!(pkcs11.tokens().len(), 1);
    });
}
