//! What a mail-client add-on may ask through the bridge.
//!
//! The add-on handles untrusted mail in a browser-like engine; if it were ever subverted, the
//! bridge must not hand it more than its job needs. So only the methods the add-ons use pass,
//! and never with file paths (`{"path": …}` inputs or outputs would let it read or overwrite
//! any of the user's files); large messages go through `stream.*` instead. IT's `ca.*`, key
//! imports and certificate management stay with the CLI on the local socket.

use mailseal_protocol::methods::{
    Method, cert, daemon, identity, key, mime, policy, smime, stream, token,
};
use mailseal_protocol::{ErrorKind, RpcError};
use serde_json::Value;

/// The methods an add-on may call.
const ALLOWED: &[&str] = &[
    daemon::Hello::NAME,
    daemon::Ping::NAME,
    daemon::Status::NAME,
    identity::List::NAME,
    cert::Find::NAME,
    cert::List::NAME,
    policy::Compose::NAME,
    mime::Display::NAME,
    smime::Sign::NAME,
    smime::Encrypt::NAME,
    smime::SignEncrypt::NAME,
    smime::Decrypt::NAME,
    smime::Verify::NAME,
    smime::Open::NAME,
    key::Unlock::NAME,
    token::List::NAME,
    token::Login::NAME,
    stream::Open::NAME,
    stream::Write::NAME,
    stream::Read::NAME,
    stream::Close::NAME,
];

/// Why the bridge refuses a request, or `None` when it may go to the daemon.
pub fn refusal(method: &str, params: &Value) -> Option<RpcError> {
    if !ALLOWED.contains(&method) {
        return Some(RpcError::new(
            ErrorKind::UnknownMethod {
                method: method.to_owned(),
            },
            format!("{method} is not available to mail-client add-ons; use the mailseal command"),
        ));
    }
    let with_path = params.as_object()?.iter().find(|(_, value)| {
        value
            .as_object()
            .is_some_and(|object| object.contains_key("path"))
    });
    with_path.map(|(field, _)| {
        let field = format!("params.{field}");
        RpcError::new(
            ErrorKind::bad_input(&field),
            format!("{field}: file paths are for local programs, not add-ons; use stream.*"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_add_ons_methods_pass_and_never_with_paths() {
        assert!(refusal("smime.open", &json!({"message": "TUlNRQ=="})).is_none());
        assert!(refusal("smime.open", &json!({"message": {"stream": "s1"}})).is_none());
        assert!(refusal("daemon.hello", &Value::Null).is_none());
        for method in [
            "ca.issue",
            "key.import_pkcs12",
            "cert.remove",
            "token.generate_key",
        ] {
            let refused = refusal(method, &json!({})).unwrap();
            assert_eq!(
                refused.kind,
                ErrorKind::UnknownMethod {
                    method: method.into()
                }
            );
        }
        let refused = refusal(
            "smime.sign",
            &json!({"message": {"path": "/home/ann/.ssh/id_ed25519"}}),
        )
        .unwrap();
        assert_eq!(refused.kind, ErrorKind::bad_input("params.message"));
        let refused = refusal(
            "smime.decrypt",
            &json!({"message": "TUlNRQ==", "output": {"path": "/home/ann/.bashrc"}}),
        )
        .unwrap();
        assert_eq!(refused.kind, ErrorKind::bad_input("params.output"));
    }
}
