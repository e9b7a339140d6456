//! Routing a request to its handler, and the one place where parameters are decoded.

use crate::methods;
use crate::state::Daemon;
use crate::transfer::{Caller, Session};
use mailseal_protocol::methods::{
    Method, ca, cert, daemon, identity, key, mime, policy, smime, stream, token,
};
use mailseal_protocol::{ErrorKind, Request, Response, RpcError};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use zeroize::Zeroize;

/// Answers one request.
#[tracing::instrument(name = "request", skip_all, fields(id = %request.id, method = %request.method))]
pub async fn dispatch(daemon: Arc<Daemon>, session: Arc<Session>, request: Request) -> Response {
    let Request {
        id, method, params, ..
    } = request;
    tracing::debug!("received");
    let caller = Caller {
        session,
        id: id.clone(),
    };
    let outcome = route(daemon, caller, &method, params).await;
    match outcome {
        Ok(result) => Response::result(id, result),
        Err(error) => {
            tracing::info!(kind = ?error.kind, "request failed: {}", error.message);
            Response::error(Some(id), error)
        }
    }
}

/// A method this daemon answers: how its request becomes its handler's call.
trait Handler: Method {
    /// Decodes `params`, runs the handler and encodes its result.
    fn handle(
        daemon: Arc<Daemon>,
        caller: Caller,
        params: Value,
    ) -> impl Future<Output = Result<Value, RpcError>> + Send;
}

/// Implements [`Handler`] for each method with its handler, called by [`call`] or [`call_as`].
macro_rules! handlers {
    ($($namespace:ident::$method:ident => $call:ident($handler:path),)*) => {$(
        impl Handler for $namespace::$method {
            async fn handle(
                daemon: Arc<Daemon>,
                caller: Caller,
                params: Value,
            ) -> Result<Value, RpcError> {
                $call::<Self, _, _>(daemon, caller, params, $handler).await
            }
        }
    )*};
}

// Each method's handler. A method of the protocol's table without one here does not compile
// (`route` asks every one for its `Handler`).
handlers! {
    daemon::Hello => call(methods::daemon::hello),
    daemon::Ping => call(methods::daemon::ping),
    daemon::Status => call(methods::daemon::status),
    key::ImportPkcs12 => call(methods::key::import_pkcs12),
    key::ImportPkcs8 => call(methods::key::import_pkcs8),
    key::Unlock => call(methods::key::unlock),
    key::Lock => call(methods::key::lock),
    identity::List => call(methods::identity::list),
    cert::Import => call(methods::cert::import),
    cert::List => call(methods::cert::list),
    cert::Remove => call(methods::cert::remove),
    cert::Find => call(methods::cert::find),
    smime::Sign => call_as(methods::smime::sign),
    smime::Encrypt => call_as(methods::smime::encrypt),
    smime::SignEncrypt => call_as(methods::smime::sign_encrypt),
    smime::Decrypt => call_as(methods::smime::decrypt),
    smime::Verify => call_as(methods::smime::verify),
    smime::Open => call_as(methods::smime::open),
    stream::Open => call_as(methods::stream::open),
    stream::Write => call_as(methods::stream::write),
    stream::Read => call_as(methods::stream::read),
    stream::Close => call_as(methods::stream::close),
    token::List => call(methods::token::list),
    token::Login => call(methods::token::login),
    token::Logout => call(methods::token::logout),
    token::GenerateKey => call(methods::token::generate_key),
    token::Csr => call(methods::token::csr),
    token::ImportCert => call(methods::token::import_cert),
    policy::Compose => call(methods::policy::compose),
    mime::Display => call(methods::mime::display_message),
    ca::Init => call(methods::ca::init),
    ca::Issue => call(methods::ca::issue),
    ca::Batch => call_as(methods::ca::batch),
    ca::Renew => call(methods::ca::renew),
    ca::Revoke => call(methods::ca::revoke),
    ca::Crl => call(methods::ca::crl),
    ca::List => call(methods::ca::list),
    ca::Publish => call(methods::ca::publish),
}

/// Defines `route` over the protocol's method table.
macro_rules! route {
    ($($namespace:ident::$method:ident => $($audience:ident)|+,)*) => {
        /// Runs the handler of `method`, every method of the table being one of `route`'s
        /// arms.
        async fn route(
            daemon: Arc<Daemon>,
            caller: Caller,
            method: &str,
            params: Value,
        ) -> Result<Value, RpcError> {
            match method {
                $(
                    <$namespace::$method as Method>::NAME => {
                        <$namespace::$method as Handler>::handle(daemon, caller, params).await
                    }
                )*
                other => Err(RpcError::new(
                    ErrorKind::UnknownMethod {
                        method: other.to_owned(),
                    },
                    format!(
                        "unknown method {other:?}; daemon.hello lists the methods this daemon knows"
                    ),
                )),
            }
        }
    };
}

mailseal_protocol::for_each_method!(route);

/// Runs a handler that needs only the daemon and its parameters.
async fn call<M, F, Fut>(
    daemon: Arc<Daemon>,
    _caller: Caller,
    params: Value,
    handler: F,
) -> Result<Value, RpcError>
where
    M: Method,
    F: FnOnce(Arc<Daemon>, M::Params) -> Fut,
    Fut: Future<Output = Result<M::Result, RpcError>>,
{
    let params = decode_params::<M::Params>(params)?;
    encode_result(handler(daemon, params).await?)
}

/// [`call`] for handlers that need the connection: its streams, or the request's id for
/// progress notifications.
async fn call_as<M, F, Fut>(
    daemon: Arc<Daemon>,
    caller: Caller,
    params: Value,
    handler: F,
) -> Result<Value, RpcError>
where
    M: Method,
    F: FnOnce(Arc<Daemon>, Caller, M::Params) -> Fut,
    Fut: Future<Output = Result<M::Result, RpcError>>,
{
    let params = decode_params::<M::Params>(params)?;
    encode_result(handler(daemon, caller, params).await?)
}

fn encode_result<R: serde::Serialize>(result: R) -> Result<Value, RpcError> {
    serde_json::to_value(result).map_err(|e| {
        RpcError::new(
            ErrorKind::Internal,
            format!("cannot encode the result: {e}"),
        )
    })
}

/// Decodes `params`, naming the offending field on failure.
///
/// serde's messages quote the value it rejected ("invalid type: integer `1234`", "unknown
/// variant `hunter2`"); that value may be a PIN or passphrase sent in the wrong field or the
/// wrong type, and error messages reach logs, so only what was expected is kept (see
/// [`without_the_value`]).
///
/// The parameters are decoded from a reference and every string of them is wiped afterwards,
/// whether decoding succeeded or not: a passphrase then lives on only in its [`Secret`]
/// (wiped when dropped), and none is left behind in a freed `Value` (the frame it was parsed
/// from is wiped by the connection).
///
/// [`Secret`]: mailseal_protocol::Secret
fn decode_params<P: serde::de::DeserializeOwned>(mut params: Value) -> Result<P, RpcError> {
    if params.is_null() {
        params = Value::Object(Default::default());
    }
    let decoded = serde_path_to_error::deserialize(&params);
    wipe(&mut params);
    decoded.map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "params".to_owned()
        } else {
            format!("params.{path}")
        };
        let why = without_the_value(&e.into_inner().to_string());
        RpcError::new(ErrorKind::bad_input(&field), format!("{field}: {why}"))
    })
}

/// Overwrites every string in `value`, keys of objects included, before it is freed.
fn wipe(value: &mut Value) {
    match value {
        Value::String(text) => text.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(fields) => {
            // Keys cannot be changed in place: taken out, wiped and dropped one by one.
            for (mut key, mut field) in std::mem::take(fields) {
                key.zeroize();
                wipe(&mut field);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// serde's message for a value that did not decode, less the value itself.
///
/// The messages that quote a value all end in what was expected: `invalid type: …, expected
/// …`, `invalid value: …`, `invalid length …`, `unknown variant `…`, expected …`; only the
/// part after the last `, expected ` is kept (the last, since the quoted value may itself
/// contain those words). `unknown field`, `missing field` and `duplicate field` name a field,
/// not a value, and stay whole; so do the messages of the protocol's own deserializers, which
/// quote nothing.
fn without_the_value(message: &str) -> String {
    let quotes_a_value = ["invalid ", "unknown variant "]
        .iter()
        .any(|prefix| message.starts_with(prefix));
    match message.rsplit_once(", expected ") {
        Some((_, expected)) if quotes_a_value => format!("expected {expected}"),
        _ if quotes_a_value => "not a value this parameter takes".to_owned(),
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::transfer::streams::{StreamLimits, StreamTable};
    use mailseal_protocol::Id;
    use mailseal_protocol::methods::METHODS;
    use mailseal_protocol::methods::key::UnlockParams;
    use serde_json::json;

    #[tokio::test]
    async fn every_method_of_the_table_is_routed_and_decodes_its_own_params() {
        let dir = tempfile::tempdir().unwrap();
        let daemon = Arc::new(
            Daemon::open(Config {
                data_dir: Some(dir.path().to_owned()),
                pkcs11_modules: Some(Vec::new()),
                ..Config::default()
            })
            .unwrap(),
        );
        let (outgoing, _) = tokio::sync::mpsc::channel(1);
        let streams = StreamTable::new(dir.path().join("streams"), StreamLimits::roomy());
        let session = Arc::new(Session::new(streams, outgoing));
        let ask = |method: &'static str| {
            let caller = Caller {
                session: Arc::clone(&session),
                id: Id::Number(1),
            };
            // No method's parameters are a string: each is refused while being decoded, so
            // no handler does any work.
            route(Arc::clone(&daemon), caller, method, json!("not an object"))
        };
        for method in METHODS {
            let answer = ask(method.name).await.unwrap_err();
            assert_eq!(
                answer.kind,
                ErrorKind::bad_input("params"),
                "{}",
                method.name
            );
        }
        let answer = ask("smime.nonesuch").await.unwrap_err();
        assert_eq!(
            answer.kind,
            ErrorKind::UnknownMethod {
                method: "smime.nonesuch".into()
            }
        );
    }

    #[test]
    fn bad_params_name_the_field_and_never_echo_the_value() {
        let err =
            decode_params::<UnlockParams>(serde_json::json!({"key_id": "k", "passphrase": 123456}))
                .unwrap_err();
        assert_eq!(err.kind, ErrorKind::bad_input("params.passphrase"));
        assert!(!err.message.contains("123456"), "{}", err.message);
        assert!(err.message.contains("expected a string"), "{}", err.message);
        let err = decode_params::<UnlockParams>(serde_json::json!({"key_id": "k"})).unwrap_err();
        assert_eq!(err.kind, ErrorKind::bad_input("params"));
        assert!(
            err.message.contains("missing field `passphrase`"),
            "{}",
            err.message
        );
    }

    /// Every parameter the hardening review found quoted back (issue 16), with a value that
    /// must not appear in the reply.
    #[test]
    fn unknown_variants_and_bad_values_are_never_quoted_back() {
        use mailseal_protocol::methods::{
            ca::IssueParams, smime::EncryptParams, smime::SignParams,
        };
        const SECRET: &str = "Tr0ub4dor, expected &3";
        let issue = |extra: Value| {
            let mut params = json!({"kind": "mailbox", "email": "a@example.com",
                "key": {"csr": {"request": "AAEC"}}});
            params
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            decode_params::<IssueParams>(params).map(drop)
        };
        let sign = |params: Value| decode_params::<SignParams>(params).map(drop);
        let cases = [
            (
                "params.mode",
                sign(json!({"message": "AAAA", "mode": SECRET})),
            ),
            (
                "params.content_encryption",
                decode_params::<EncryptParams>(
                    json!({"message": "AAAA", "content_encryption": SECRET}),
                )
                .map(drop),
            ),
            ("params.key", issue(json!({"key": {SECRET: {}}}))),
            ("params.key", issue(json!({"key": SECRET}))),
            ("params.if_active", issue(json!({"if_active": SECRET}))),
            ("params.kind", issue(json!({"kind": SECRET}))),
            (
                "params.key.generate.algorithm",
                issue(json!({"key": {"generate": {"algorithm": SECRET, "pkcs12_password": "p"}}})),
            ),
            (
                "params.message",
                sign(json!({"message": {"stream": [SECRET]}})),
            ),
            ("params.message", sign(json!({"message": {"path": SECRET}}))),
        ];
        for (field, outcome) in cases {
            let err = outcome.unwrap_err();
            assert_eq!(err.kind, ErrorKind::bad_input(field), "{}", err.message);
            assert!(!err.message.contains("Tr0ub4dor"), "{}", err.message);
            assert!(!err.message.contains("&3"), "{}", err.message);
        }
    }

    #[test]
    fn every_string_of_the_parameters_is_wiped() {
        let mut params = json!({"key_id": "k", "passphrase": "hunter2",
            "nested": [{"pin": "1234"}, "x", 5, null]});
        let Value::String(text) = &params["passphrase"] else {
            unreachable!()
        };
        let capacity = text.capacity();
        wipe(&mut params["passphrase"]);
        let Value::String(text) = &params["passphrase"] else {
            unreachable!()
        };
        // `String::zeroize` overwrites the whole buffer, then empties the string.
        assert!(text.is_empty() && text.capacity() == capacity);
        wipe(&mut params);
        assert_eq!(params, json!({}));
        // Decoding still works from the reference, and a secret is a copy of its own.
        let decoded: UnlockParams =
            decode_params(json!({"key_id": "k", "passphrase": "hunter2"})).unwrap();
        assert_eq!(decoded.passphrase.expose(), "hunter2");
    }

    #[test]
    fn messages_that_name_a_field_or_quote_nothing_stay_whole() {
        assert_eq!(
            without_the_value("unknown field `x`, expected `a` or `b`"),
            "unknown field `x`, expected `a` or `b`"
        );
        assert_eq!(without_the_value("missing field `a`"), "missing field `a`");
        assert_eq!(
            without_the_value("the path must be absolute"),
            "the path must be absolute"
        );
        assert_eq!(
            without_the_value("invalid value: string \"pin\""),
            "not a value this parameter takes"
        );
    }
}
