//! `token.list`, `token.login`, `token.logout`, `token.generate_key`, `token.csr`,
//! `token.import_cert`: smart cards through the PKCS#11 backend. Every PKCS#11 call blocks, so
//! each runs off the async workers.

use super::blocking;
use crate::rpc_error::rpc;
use crate::state::Daemon;
use crate::wire::describe;
use mailseal_keys::backend::KeyAlgorithm;
use mailseal_keys::pkcs11::TokenInfo;
use mailseal_pkix::describe::parse_certificates;
use mailseal_protocol::methods::Empty;
use mailseal_protocol::methods::token::{
    CardKeyAlgorithm, CsrParams, CsrResult, GenerateKeyParams, GenerateKeyResult, ImportCertParams,
    ImportCertResult, ListResult, LoginParams, LoginResult, ModuleInfo, PinState, TokenIdentity,
    TokenParams,
};
use mailseal_protocol::{ErrorKind, RpcError};
use std::sync::Arc;
use std::time::SystemTime;

/// Lists modules and tokens with their identities.
pub async fn list(daemon: Arc<Daemon>, _params: Empty) -> Result<ListResult, RpcError> {
    blocking(move || {
        let modules = daemon
            .tokens
            .modules()
            .into_iter()
            .map(|module| {
                let (description, error) = match module.status {
                    Ok(description) => (Some(description), None),
                    Err(error) => (None, Some(error)),
                };
                ModuleInfo {
                    path: module.path.display().to_string(),
                    description,
                    error,
                }
            })
            .collect();
        let identities = daemon.tokens.identities();
        let tokens = daemon
            .tokens
            .tokens()
            .into_iter()
            .map(|token| to_wire(token, &identities))
            .collect();
        Ok(ListResult { modules, tokens })
    })
    .await
}

fn to_wire(
    token: TokenInfo,
    identities: &[mailseal_keys::pkcs11::TokenIdentity],
) -> mailseal_protocol::methods::token::TokenInfo {
    let now = SystemTime::now();
    mailseal_protocol::methods::token::TokenInfo {
        identities: identities
            .iter()
            .filter(|identity| identity.token == token.token)
            .map(|identity| TokenIdentity {
                key_id: identity.key_id.to_string(),
                certificate: describe(&identity.certificate, now),
            })
            .collect(),
        label: token.label,
        serial: token.serial,
        manufacturer: token.manufacturer,
        model: token.model,
        protected_authentication_path: token.flags.protected_auth_path,
        pin: PinState {
            count_low: token.pin.count_low,
            final_try: token.pin.final_try,
            locked: token.pin.locked,
        },
        logged_in: token.logged_in,
    }
}

/// Logs in with the PIN; the PIN is not kept.
pub async fn login(daemon: Arc<Daemon>, params: LoginParams) -> Result<LoginResult, RpcError> {
    let seconds = daemon.config.pin_cache_seconds;
    blocking(move || {
        daemon
            .tokens
            .login(&params.token, params.pin.expose().as_bytes())
            .map_err(rpc)?;
        tracing::info!(token = %params.token, "logged in to a token");
        Ok(LoginResult {
            token: params.token,
            logged_in_for_seconds: seconds,
        })
    })
    .await
}

/// Forgets a token's login.
pub async fn logout(daemon: Arc<Daemon>, params: TokenParams) -> Result<Empty, RpcError> {
    blocking(move || {
        daemon.tokens.logout(&params.token).map_err(rpc)?;
        Ok(Empty {})
    })
    .await
}

/// Generates a key pair on the card.
pub async fn generate_key(
    daemon: Arc<Daemon>,
    params: GenerateKeyParams,
) -> Result<GenerateKeyResult, RpcError> {
    let algorithm = match params.algorithm {
        CardKeyAlgorithm::Rsa2048 => KeyAlgorithm::Rsa { bits: 2048 },
        CardKeyAlgorithm::Rsa3072 => KeyAlgorithm::Rsa { bits: 3072 },
        CardKeyAlgorithm::EcP256 => KeyAlgorithm::EcP256,
        CardKeyAlgorithm::EcP384 => KeyAlgorithm::EcP384,
    };
    blocking(move || {
        let generated = daemon
            .tokens
            .generate_key(&params.token, algorithm, &params.label)
            .map_err(rpc)?;
        Ok(GenerateKeyResult {
            id: generated.id_hex,
            public_key: generated.public_key.into(),
        })
    })
    .await
}

/// Makes a certificate request signed on the card.
pub async fn csr(daemon: Arc<Daemon>, params: CsrParams) -> Result<CsrResult, RpcError> {
    blocking(move || {
        let csr = daemon
            .tokens
            .csr(&params.token, &params.id, &params.name, &params.email)
            .map_err(rpc)?;
        Ok(CsrResult { csr: csr.into() })
    })
    .await
}

/// Writes an issued certificate to the card beside its key.
pub async fn import_cert(
    daemon: Arc<Daemon>,
    params: ImportCertParams,
) -> Result<ImportCertResult, RpcError> {
    let certificate = parse_certificates(params.certificate.as_slice())
        .ok()
        .and_then(|mut certs| (!certs.is_empty()).then(|| certs.remove(0)))
        .ok_or_else(|| {
            RpcError::new(
                ErrorKind::bad_input("params.certificate"),
                "params.certificate is not a DER or PEM certificate",
            )
        })?;
    blocking(move || {
        let id = daemon
            .tokens
            .import_certificate(&params.token, &certificate)
            .map_err(rpc)?;
        Ok(ImportCertResult { id })
    })
    .await
}
