//! What a mail-client add-on may ask through the bridge.
//!
//! The add-on handles untrusted mail in a browser-like engine; if it were ever subverted, the
//! bridge must not hand it more than its job needs. So only the methods the add-ons use pass,
//! and never with file paths (`{"path": …}` inputs or outputs would let it read or overwrite
//! any of the user's files); large messages go through `stream.*` instead. IT's `ca.*`, key
//! imports and certificate management stay with the CLI on the local socket.
//!
//! Which methods those are is the protocol's method table (`mailseal_protocol::for_each_method!`):
//! the ones whose audience names [`Bridge::Thunderbird`], none of them with `BRIDGE_PATHS`.

use mailseal_protocol::methods::{Bridge, MethodInfo};
use mailseal_protocol::{ErrorKind, RpcError};
use serde_json::Value;

/// The bridge this host is: the method table says what it may call.
const BRIDGE: Bridge = Bridge::Thunderbird;

/// Why the bridge refuses a request, or `None` when it may go to the daemon.
pub fn refusal(method: &str, params: &Value) -> Option<RpcError> {
    let Some(allowed) = MethodInfo::find(method).filter(|m| m.allowed_for(BRIDGE)) else {
        return Some(RpcError::new(
            ErrorKind::UnknownMethod {
                method: method.to_owned(),
            },
            format!("{method} is not available to mail-client add-ons; use the mailseal command"),
        ));
    };
    if allowed.paths_allowed_for(BRIDGE) {
        return None;
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
    use mailseal_protocol::methods::METHODS;
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

    /// `ca.batch` writes private keys and their passwords into a directory of the caller's
    /// choosing: an add-on must not reach it, whether it names its users by path or inline.
    #[test]
    fn ca_batch_is_refused_through_the_bridge_in_every_form() {
        use mailseal_protocol::methods::Method;
        use mailseal_protocol::methods::ca::{Batch, BatchParams, BatchUsers};
        use mailseal_protocol::methods::transfer::AbsolutePath;
        let out_dir = AbsolutePath::new("/home/ann/.mozilla").unwrap();
        for users in [
            BatchUsers::Csv("email\nann@example.com\n".into()),
            BatchUsers::Path(AbsolutePath::new("/home/ann/users.csv").unwrap()),
        ] {
            let params = BatchParams {
                users,
                out_dir: out_dir.clone(),
                kind: None,
                algorithm: None,
                pkcs12_format: Default::default(),
                ca_password: None,
                progress: true,
            };
            let refused = refusal(Batch::NAME, &serde_json::to_value(&params).unwrap()).unwrap();
            assert_eq!(
                refused.kind,
                ErrorKind::UnknownMethod {
                    method: "ca.batch".into()
                }
            );
            assert!(
                refused
                    .message
                    .contains("not available to mail-client add-ons")
            );
        }
    }

    #[test]
    fn the_bridge_passes_exactly_the_tables_add_on_methods() {
        let passed: Vec<&str> = METHODS
            .iter()
            .map(|m| m.name)
            .filter(|name| refusal(name, &json!({})).is_none())
            .collect();
        let add_ons: Vec<&str> = METHODS
            .iter()
            .filter(|m| m.allowed_for(BRIDGE))
            .map(|m| m.name)
            .collect();
        assert_eq!(passed, add_ons);
        let mut passed = passed;
        passed.sort_unstable();
        assert_eq!(
            passed,
            [
                "cert.find",
                "cert.list",
                "daemon.hello",
                "daemon.ping",
                "daemon.status",
                "identity.list",
                "key.unlock",
                "mime.display",
                "policy.compose",
                "smime.decrypt",
                "smime.encrypt",
                "smime.open",
                "smime.sign",
                "smime.sign_encrypt",
                "smime.verify",
                "stream.close",
                "stream.open",
                "stream.read",
                "stream.write",
                "token.list",
                "token.login",
            ]
        );
    }
}
