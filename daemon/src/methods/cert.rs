//! `cert.import`, `cert.list`, `cert.remove`, `cert.find`.

use super::blocking;
use crate::certs::find;
use crate::rpc_error::rpc;
use crate::state::Daemon;
use crate::wire::describe;
use mailseal_pkix::describe::{Fingerprint, parse_certificates};
use mailseal_protocol::methods::cert::{
    Candidate, CertificatesResult, FindParams, FindResult, ImportParams, ListParams, RemoveParams,
    RemoveResult,
};
use mailseal_protocol::{ErrorKind, RpcError};
use std::sync::Arc;
use std::time::SystemTime;
use x509_cert::Certificate;

fn to_result(certs: &[Certificate]) -> CertificatesResult {
    let now = SystemTime::now();
    CertificatesResult {
        certificates: certs.iter().map(|c| describe(c, now)).collect(),
    }
}

/// Stores the certificates in `data`.
pub async fn import(
    daemon: Arc<Daemon>,
    params: ImportParams,
) -> Result<CertificatesResult, RpcError> {
    let certs = parse_certificates(params.data.as_slice()).map_err(|e| {
        RpcError::new(
            ErrorKind::bad_input("params.data"),
            format!("params.data is not a DER or PEM certificate: {e}"),
        )
    })?;
    let stored = blocking(move || daemon.certs.import(certs).map_err(rpc)).await?;
    Ok(to_result(&stored))
}

/// Lists stored certificates.
pub async fn list(daemon: Arc<Daemon>, params: ListParams) -> Result<CertificatesResult, RpcError> {
    Ok(to_result(&daemon.certs.list(params.email.as_deref())))
}

/// Removes a stored certificate.
pub async fn remove(daemon: Arc<Daemon>, params: RemoveParams) -> Result<RemoveResult, RpcError> {
    let fingerprint: Fingerprint = params.fingerprint.parse().map_err(|_| {
        RpcError::new(
            ErrorKind::bad_input("params.fingerprint"),
            "params.fingerprint: expected a SHA-256 fingerprint (64 hex digits, colons allowed)",
        )
    })?;
    let removed = blocking(move || daemon.certs.remove(&fingerprint).map_err(rpc)).await?;
    if !removed {
        return Err(RpcError::new(
            ErrorKind::CertNotFound {
                query: fingerprint.to_string(),
            },
            format!("no stored certificate has fingerprint {fingerprint}"),
        ));
    }
    Ok(RemoveResult {
        removed: fingerprint.to_string(),
    })
}

/// Finds the certificate to encrypt to an address, with every candidate judged.
pub async fn find(daemon: Arc<Daemon>, params: FindParams) -> Result<FindResult, RpcError> {
    let address = params.email.trim();
    if address.is_empty() || address.chars().any(char::is_control) {
        return Err(RpcError::new(
            ErrorKind::bad_input("params.email"),
            "params.email: expected a mail address (not empty, no control characters)",
        ));
    }
    let now = SystemTime::now();
    let finding = find::find(&daemon, address, now).await;
    let best = finding.best();
    Ok(FindResult {
        certificate: best.map(|c| describe(&c.certificate, now)),
        source: best.map(|c| c.source),
        candidates: finding
            .candidates
            .iter()
            .map(|c| Candidate {
                certificate: describe(&c.certificate, now),
                source: c.source,
                usable: c.verdict.is_usable(),
                reason: c.verdict.reason().to_owned(),
            })
            .collect(),
        directory: finding.directory,
    })
}
