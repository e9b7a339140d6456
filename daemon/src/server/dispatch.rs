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

/// Every method this daemon answers, as announced by `daemon.hello`.
pub const METHODS: &[&str] = &[
    daemon::Hello::NAME,
    daemon::Ping::NAME,
    daemon::Status::NAME,
    key::ImportPkcs12::NAME,
    key::ImportPkcs8::NAME,
    key::Unlock::NAME,
    key::Lock::NAME,
    identity::List::NAME,
    cert::Import::NAME,
    cert::List::NAME,
    cert::Remove::NAME,
    cert::Find::NAME,
    smime::Sign::NAME,
    smime::Encrypt::NAME,
    smime::SignEncrypt::NAME,
    smime::Decrypt::NAME,
    smime::Verify::NAME,
    smime::Open::NAME,
    stream::Open::NAME,
    stream::Write::NAME,
    stream::Read::NAME,
    stream::Close::NAME,
    token::List::NAME,
    token::Login::NAME,
    token::Logout::NAME,
    token::GenerateKey::NAME,
    token::Csr::NAME,
    token::ImportCert::NAME,
    policy::Compose::NAME,
    mime::Display::NAME,
    ca::Init::NAME,
    ca::Issue::NAME,
    ca::Renew::NAME,
    ca::Revoke::NAME,
    ca::Crl::NAME,
    ca::List::NAME,
    ca::Publish::NAME,
];

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

async fn route(
    daemon: Arc<Daemon>,
    caller: Caller,
    method: &str,
    params: Value,
) -> Result<Value, RpcError> {
    match method {
        daemon::Hello::NAME => {
            call::<daemon::Hello, _, _>(daemon, params, methods::daemon::hello).await
        }
        daemon::Ping::NAME => {
            call::<daemon::Ping, _, _>(daemon, params, methods::daemon::ping).await
        }
        daemon::Status::NAME => {
            call::<daemon::Status, _, _>(daemon, params, methods::daemon::status).await
        }
        key::ImportPkcs12::NAME => {
            call::<key::ImportPkcs12, _, _>(daemon, params, methods::key::import_pkcs12).await
        }
        key::ImportPkcs8::NAME => {
            call::<key::ImportPkcs8, _, _>(daemon, params, methods::key::import_pkcs8).await
        }
        key::Unlock::NAME => call::<key::Unlock, _, _>(daemon, params, methods::key::unlock).await,
        key::Lock::NAME => call::<key::Lock, _, _>(daemon, params, methods::key::lock).await,
        identity::List::NAME => {
            call::<identity::List, _, _>(daemon, params, methods::identity::list).await
        }
        cert::Import::NAME => {
            call::<cert::Import, _, _>(daemon, params, methods::cert::import).await
        }
        cert::List::NAME => call::<cert::List, _, _>(daemon, params, methods::cert::list).await,
        cert::Remove::NAME => {
            call::<cert::Remove, _, _>(daemon, params, methods::cert::remove).await
        }
        cert::Find::NAME => call::<cert::Find, _, _>(daemon, params, methods::cert::find).await,
        smime::Sign::NAME => {
            call_as::<smime::Sign, _, _>(daemon, caller, params, methods::smime::sign).await
        }
        smime::Encrypt::NAME => {
            call_as::<smime::Encrypt, _, _>(daemon, caller, params, methods::smime::encrypt).await
        }
        smime::SignEncrypt::NAME => {
            call_as::<smime::SignEncrypt, _, _>(
                daemon,
                caller,
                params,
                methods::smime::sign_encrypt,
            )
            .await
        }
        smime::Decrypt::NAME => {
            call_as::<smime::Decrypt, _, _>(daemon, caller, params, methods::smime::decrypt).await
        }
        smime::Verify::NAME => {
            call_as::<smime::Verify, _, _>(daemon, caller, params, methods::smime::verify).await
        }
        smime::Open::NAME => {
            call_as::<smime::Open, _, _>(daemon, caller, params, methods::smime::open).await
        }
        stream::Open::NAME => {
            call_as::<stream::Open, _, _>(daemon, caller, params, methods::stream::open).await
        }
        stream::Write::NAME => {
            call_as::<stream::Write, _, _>(daemon, caller, params, methods::stream::write).await
        }
        stream::Read::NAME => {
            call_as::<stream::Read, _, _>(daemon, caller, params, methods::stream::read).await
        }
        stream::Close::NAME => {
            call_as::<stream::Close, _, _>(daemon, caller, params, methods::stream::close).await
        }
        token::List::NAME => call::<token::List, _, _>(daemon, params, methods::token::list).await,
        token::Login::NAME => {
            call::<token::Login, _, _>(daemon, params, methods::token::login).await
        }
        token::Logout::NAME => {
            call::<token::Logout, _, _>(daemon, params, methods::token::logout).await
        }
        token::GenerateKey::NAME => {
            call::<token::GenerateKey, _, _>(daemon, params, methods::token::generate_key).await
        }
        token::Csr::NAME => call::<token::Csr, _, _>(daemon, params, methods::token::csr).await,
        token::ImportCert::NAME => {
            call::<token::ImportCert, _, _>(daemon, params, methods::token::import_cert).await
        }
        policy::Compose::NAME => {
            call::<policy::Compose, _, _>(daemon, params, methods::policy::compose).await
        }
        mime::Display::NAME => {
            call::<mime::Display, _, _>(daemon, params, methods::mime::display_message).await
        }
        ca::Init::NAME => call::<ca::Init, _, _>(daemon, params, methods::ca::init).await,
        ca::Issue::NAME => call::<ca::Issue, _, _>(daemon, params, methods::ca::issue).await,
        ca::Renew::NAME => call::<ca::Renew, _, _>(daemon, params, methods::ca::renew).await,
        ca::Revoke::NAME => call::<ca::Revoke, _, _>(daemon, params, methods::ca::revoke).await,
        ca::Crl::NAME => call::<ca::Crl, _, _>(daemon, params, methods::ca::crl).await,
        ca::List::NAME => call::<ca::List, _, _>(daemon, params, methods::ca::list).await,
        ca::Publish::NAME => call::<ca::Publish, _, _>(daemon, params, methods::ca::publish).await,
        other => Err(RpcError::new(
            ErrorKind::UnknownMethod {
                method: other.to_owned(),
            },
            format!("unknown method {other:?}; daemon.hello lists the methods this daemon knows"),
        )),
    }
}

async fn call<M, F, Fut>(daemon: Arc<Daemon>, params: Value, handler: F) -> Result<Value, RpcError>
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
/// serde's messages quote the value it rejected ("invalid type: integer `1234`"); that value
/// may be a PIN sent in the wrong type, so only what was expected is kept.
fn decode_params<P: serde::de::DeserializeOwned>(params: Value) -> Result<P, RpcError> {
    let params = if params.is_null() {
        Value::Object(Default::default())
    } else {
        params
    };
    serde_path_to_error::deserialize(params).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "params".to_owned()
        } else {
            format!("params.{path}")
        };
        let inner = e.into_inner().to_string();
        let why = match inner.split_once(", expected ") {
            Some((_, expected)) if inner.starts_with("invalid") => format!("expected {expected}"),
            _ => inner,
        };
        RpcError::new(ErrorKind::bad_input(&field), format!("{field}: {why}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_protocol::methods::key::UnlockParams;

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
}
