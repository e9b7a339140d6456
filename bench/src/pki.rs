//! The bench's throwaway CA, the identities measured and three recipients, made with the real
//! `openssl` by `mailseal-test-support`'s [`Ca`], the same way the end-to-end tests make theirs.

use crate::{IDENTITIES, KeyKind, RECIPIENTS};
use mailseal_test_support::ca::Ca;
use std::path::Path;

/// The password of every PKCS#12 file, and the passphrase the daemon stores the keys under.
pub const PASSWORD: &str = "bench";

/// Makes the CA, the identities (with PKCS#12 files `NAME.p12`) and the recipients in a new
/// directory inside `parent`; every user `NAME` is `NAME@example.com`.
pub fn create(parent: &Path) -> Ca {
    let ca = Ca::new_in(parent);
    for identity in &IDENTITIES {
        user(&ca, identity.name, identity.key);
        ca.pkcs12(identity.name, PASSWORD, &[]);
    }
    for recipient in RECIPIENTS {
        user(&ca, recipient, KeyKind::Rsa(2048));
    }
    ca
}

fn user(ca: &Ca, name: &str, key: KeyKind) {
    let newkey = match key {
        KeyKind::Rsa(bits) => format!("rsa:{bits}"),
        KeyKind::P256 => "ec".to_owned(),
    };
    ca.user(name, &format!("{name}@example.com"), &newkey);
}
