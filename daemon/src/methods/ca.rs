//! `ca.init`, `ca.issue`, `ca.batch`, `ca.renew`, `ca.revoke`, `ca.crl`, `ca.list`,
//! `ca.publish`: the company CA of `mailseal-ca`, for IT. Key generation, KDFs, signing and SQLite all block, so each request
//! runs off the async workers.
//!
//! The issuing CA key is unlocked into the daemon's key cache (under its key id) for
//! `key_cache_seconds` by any request carrying `ca_password`, and locked again like every
//! key: by `key.lock`, at expiry, at shutdown.

use super::blocking;
use crate::certs::publish;
use crate::rpc_error::{ToRpc, rpc};
use crate::state::Daemon;
use crate::transfer::progress::Reporter;
use crate::transfer::{Caller, Session, files};
use crate::wire::describe;
use crate::wire::{FromWire, ToWire};
use der::{Decode, EncodePem};
use mailseal_ca as ca;
use mailseal_ca::PkiError;
use mailseal_ca::authority::{Authority, InitKeys, InitRequest, KeyStorage};
use mailseal_ca::batch::{self, OutDir};
use mailseal_ca::db::{Record, StoredStatus};
use mailseal_ca::issue::{self, KeyRequest, Password, Replacing, unix};
use mailseal_ca::profile::Subject;
use mailseal_ca::signer::CaSigner;
use mailseal_ca::{crl, csr};
use mailseal_protocol::methods::ca::{
    BatchParams, BatchResult, BatchUsers, CaEntry, CaKeys, CrlParams, CrlResult, InitParams,
    InitResult, IssueParams, IssueResult, Issued, KeySource, ListParams, ListResult,
    PublishFailure, PublishParams, PublishResult, RenewParams, RevokeParams, RevokeResult, Status,
};
use mailseal_protocol::{ErrorKind, RpcError, Secret};
use rcgen::Issuer;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use x509_cert::Certificate;

/// A key on a token, named by its CKA_ID, as the CA's signer.
fn token_signer(daemon: &Daemon, token: &str, id: &str, field: &str) -> Result<CaSigner, RpcError> {
    let (key, spki) = daemon.tokens.key_by_id(token, id).map_err(rpc)?;
    CaSigner::new(key, &spki).map_err(|_| {
        RpcError::new(
            ErrorKind::bad_input(field),
            format!("{field} is not an RSA, P-256 or P-384 key the CA can sign with"),
        )
    })
}

/// Creates the root and issuing CA.
pub async fn init(daemon: Arc<Daemon>, params: InitParams) -> Result<InitResult, RpcError> {
    blocking(move || {
        let name = params.name.trim();
        if name.is_empty() || name.chars().count() > 48 || name.chars().any(char::is_control) {
            return Err(RpcError::new(
                ErrorKind::bad_input("params.name"),
                "params.name must be 1 to 48 characters without control characters",
            ));
        }
        let keys = match &params.keys {
            CaKeys::Generate {
                algorithm,
                ca_password,
            } => InitKeys::Software {
                algorithm: algorithm.map_or(ca::KeyAlgorithm::Rsa3072, FromWire::from_wire),
                password: ca_password.expose().as_bytes(),
            },
            CaKeys::Token {
                token,
                root_key_id,
                issuing_key_id,
            } => InitKeys::Token {
                root: token_signer(&daemon, token, root_key_id, "params.keys.token.root_key_id")?,
                issuing: token_signer(
                    &daemon,
                    token,
                    issuing_key_id,
                    "params.keys.token.issuing_key_id",
                )?,
            },
        };
        let authority = daemon
            .ca
            .init(&InitRequest {
                name,
                organization: params.organization.as_deref().map(str::trim),
                keys,
            })
            .map_err(rpc)?;
        tracing::info!(dir = %authority.dir().display(), "created the company CA");
        let root = Certificate::from_der(authority.root_der())
            .map_err(PkiError::encoding("CA certificate"))
            .map_err(rpc)?;
        match &params.keys {
            // IT issues right after creating the CA: keep the issuing key unlocked as any key.
            CaKeys::Generate { ca_password, .. } => {
                let key = authority
                    .unlock(ca_password.expose().as_bytes())
                    .map_err(rpc)?;
                daemon.keys.insert(authority.key_id(), key);
            }
            // Beside their keys, the certificates make the keys findable by key id later.
            CaKeys::Token { token, .. } => {
                for certificate in [&root, authority.issuing()] {
                    daemon
                        .tokens
                        .import_certificate(token, certificate)
                        .map_err(rpc)?;
                }
            }
        }
        let now = SystemTime::now();
        let issuing = authority.issuing().clone();
        let mut chain_pem = String::new();
        for cert in [&issuing, &root] {
            chain_pem.push_str(
                &cert
                    .to_pem(der::pem::LineEnding::LF)
                    .map_err(PkiError::encoding("CA certificate PEM"))
                    .map_err(rpc)?,
            );
        }
        Ok(InitResult {
            dir: authority.dir().display().to_string(),
            root: describe(&root, now),
            issuing: describe(&issuing, now),
            chain_pem,
        })
    })
    .await
}

/// The issuing CA as rcgen's issuer: its key on the token, or from the key cache, or
/// unlocked with `password`.
fn issuer(
    daemon: &Daemon,
    authority: &Authority,
    password: Option<&Secret>,
) -> Result<Issuer<'static, CaSigner>, RpcError> {
    let key_id = authority.key_id();
    let key = match (authority.storage(), password) {
        (KeyStorage::Token, _) => daemon.tokens.key(&key_id).map_err(rpc)?,
        (KeyStorage::Sealed, Some(password)) => {
            let key = authority
                .unlock(password.expose().as_bytes())
                .map_err(rpc)?;
            daemon.keys.insert(key_id, key.clone());
            key
        }
        (KeyStorage::Sealed, None) => daemon
            .keys
            .get(&key_id)
            .ok_or(PkiError::Locked { key_id })
            .map_err(rpc)?,
    };
    authority.issuer(key).map_err(rpc)
}

/// Issues a certificate of a profile.
pub async fn issue(daemon: Arc<Daemon>, params: IssueParams) -> Result<IssueResult, RpcError> {
    blocking(move || {
        let subject = Subject::new(
            FromWire::from_wire(params.kind),
            &params.email,
            params.name.as_deref(),
            params.organization.as_deref(),
        ).map_err(rpc)?;
        let key = match &params.key {
            KeySource::Generate {
                algorithm,
                pkcs12_password,
                dual,
                pkcs12_format,
            } => KeyRequest::Generate {
                algorithm: FromWire::from_wire(*algorithm),
                password: Password(pkcs12_password.expose()),
                usages: if *dual {
                    &[ca::Usage::Signing, ca::Usage::Encryption]
                } else {
                    &[ca::Usage::Both]
                },
                format: FromWire::from_wire(*pkcs12_format),
            },
            KeySource::Csr { request, usage } => KeyRequest::Csr {
                csr: csr::check(request.as_slice(), &subject, FromWire::from_wire(*usage)).map_err(rpc)?,
                usage: FromWire::from_wire(*usage),
            },
        };
        let authority = daemon.ca.get().map_err(rpc)?;
        let issuer = issuer(&daemon, &authority, params.ca_password.as_ref())?;
        let outcome = issue::issue(
            &authority,
            &issuer,
            &subject,
            key,
            Replacing::Active(FromWire::from_wire(params.if_active)),
        ).map_err(rpc)?;
        crl::publish_if_replaced(&authority, &issuer, &outcome).map_err(rpc)?;
        for issued in &outcome.issued {
            tracing::info!(serial = %issued.record.serial, kind = subject.kind().as_str(), "issued a certificate");
        }
        Ok(IssueResult {
            issued: outcome.issued.into_iter().map(to_issued).collect(),
            existing: outcome.existing.iter().map(entry).collect(),
            replaced: outcome.replaced,
        })
    })
    .await
}

/// Issues to every user of a CSV file into a directory of PKCS#12 files and passwords (the
/// rules are `mailseal_ca::batch`'s). The file and the directory are checked before the CA key
/// is asked for, so a bad file never needs the CA password.
pub async fn batch(
    daemon: Arc<Daemon>,
    caller: Caller,
    params: BatchParams,
) -> Result<BatchResult, RpcError> {
    let mut watcher = Watcher {
        reporter: caller.reporter(params.progress).every(1),
        session: caller.session,
    };
    blocking(move || {
        let kind = params
            .kind
            .map_or(ca::CertificateKind::Individual, FromWire::from_wire);
        let rows = match &params.users {
            BatchUsers::Csv(text) => batch::parse(text, kind).map_err(|e| bad_users("the CSV", e)),
            BatchUsers::Path(path) => {
                let path = path.as_path();
                let field = "params.users.path";
                let mut text = String::new();
                files::open_input(path, field)?
                    .read_to_string(&mut text)
                    .map_err(|e| {
                        RpcError::new(
                            ErrorKind::BadPath {
                                field: field.to_owned(),
                            },
                            format!("{field}: cannot read {}: {e}", path.display()),
                        )
                    })?;
                batch::parse(&text, kind).map_err(|e| bad_users(&path.display().to_string(), e))
            }
        }?;
        let out = OutDir::prepare(params.out_dir.as_path()).map_err(rpc)?;
        let authority = daemon.ca.get().map_err(rpc)?;
        let issuer = issuer(&daemon, &authority, params.ca_password.as_ref())?;
        let keys = batch::Keys {
            algorithm: params
                .algorithm
                .map_or(ca::KeyAlgorithm::Rsa3072, FromWire::from_wire),
            format: FromWire::from_wire(params.pkcs12_format),
        };
        let summary =
            batch::run(&authority, &issuer, &rows, keys, &out, &mut watcher).map_err(rpc)?;
        tracing::info!(
            issued = summary.issued.len(),
            reissued = summary.reissued.len(),
            skipped = summary.skipped.len(),
            failed = summary.failed.len(),
            "issued a batch"
        );
        Ok(BatchResult {
            issued: summary.issued,
            reissued: summary.reissued,
            skipped: summary.skipped,
            failed: summary.failed.into_iter().map(ToWire::to_wire).collect(),
            out_dir: out.path().display().to_string(),
        })
    })
    .await
}

/// A batch file that cannot be used, named by `source` (its path, or "the CSV").
fn bad_users(source: &str, error: batch::CsvError) -> RpcError {
    RpcError::new(
        ErrorKind::bad_input("params.users"),
        format!("{source}: {error}"),
    )
}

/// How a batch in the daemon is watched: progress notifications to a client that asked for
/// them, and a stop once the connection has ended (nobody is left to hand the files to, or the
/// daemon is stopping).
struct Watcher {
    reporter: Reporter,
    session: Arc<Session>,
}

impl batch::Watch for Watcher {
    fn progress(&mut self, done: usize, total: usize) {
        if done == 0 {
            self.reporter.start(total as u64);
        } else {
            self.reporter.reach(done as u64);
        }
    }

    fn stop(&self) -> bool {
        self.session.ended()
    }
}

/// Renews an active certificate, optionally with a new key.
pub async fn renew(daemon: Arc<Daemon>, params: RenewParams) -> Result<IssueResult, RpcError> {
    blocking(move || {
        let authority = daemon.ca.get().map_err(rpc)?;
        let record = active_record(&authority, &params.serial).map_err(rpc)?;
        let subject = Subject::new(
            record.kind,
            &record.email,
            record.name.as_deref(),
            record.organization.as_deref(),
        )
        .map_err(rpc)?;
        let key = match &params.rekey {
            Some(rekey) => KeyRequest::Generate {
                algorithm: FromWire::from_wire(rekey.algorithm),
                password: Password(rekey.pkcs12_password.expose()),
                // A renewed half of a dual-key pair stays that half.
                usages: std::slice::from_ref(&record.usage),
                format: FromWire::from_wire(rekey.pkcs12_format),
            },
            None => {
                let (public_key, family) = issue::certified_key(&record).map_err(rpc)?;
                KeyRequest::Existing {
                    public_key,
                    family,
                    usage: record.usage,
                }
            }
        };
        let issuer = issuer(&daemon, &authority, params.ca_password.as_ref())?;
        let outcome = issue::issue(
            &authority,
            &issuer,
            &subject,
            key,
            Replacing::Renewal(&record.serial),
        )
        .map_err(rpc)?;
        Ok(IssueResult {
            issued: outcome.issued.into_iter().map(to_issued).collect(),
            existing: Vec::new(),
            replaced: Vec::new(),
        })
    })
    .await
}

/// Revokes a certificate and publishes a CRL listing it.
pub async fn revoke(daemon: Arc<Daemon>, params: RevokeParams) -> Result<RevokeResult, RpcError> {
    blocking(move || {
        let authority = daemon.ca.get().map_err(rpc)?;
        let serial = normalize_serial(&params.serial);
        let record = authority
            .db
            .get(&serial)
            .map_err(rpc)?
            .ok_or_else(|| PkiError::UnknownSerial {
                serial: serial.clone(),
            })
            .map_err(rpc)?;
        if let StoredStatus::Revoked { .. } = record.status {
            return Err(PkiError::NotActive {
                serial,
                status: "revoked",
            }
            .to_rpc());
        }
        let issuer = issuer(&daemon, &authority, params.ca_password.as_ref())?;
        authority
            .db
            .revoke(
                &serial,
                unix(SystemTime::now()),
                FromWire::from_wire(params.reason),
            )
            .map_err(rpc)?;
        tracing::info!(serial = %serial, "revoked a certificate");
        let published = crl::publish(&authority, &issuer).map_err(rpc)?;
        let record = authority.db.get(&serial).map_err(rpc)?.unwrap_or(record);
        Ok(RevokeResult {
            entry: entry(&record),
            crl: crl_result(published),
        })
    })
    .await
}

/// Signs and writes a fresh CRL.
pub async fn crl(daemon: Arc<Daemon>, params: CrlParams) -> Result<CrlResult, RpcError> {
    blocking(move || {
        let authority = daemon.ca.get().map_err(rpc)?;
        let issuer = issuer(&daemon, &authority, params.ca_password.as_ref())?;
        Ok(crl_result(crl::publish(&authority, &issuer).map_err(rpc)?))
    })
    .await
}

/// Lists issued certificates.
pub async fn list(daemon: Arc<Daemon>, params: ListParams) -> Result<ListResult, RpcError> {
    blocking(move || {
        let authority = daemon.ca.get().map_err(rpc)?;
        let email = params.email.map(|e| e.to_ascii_lowercase());
        let records = authority.db.list(email.as_deref()).map_err(rpc)?;
        Ok(ListResult {
            certificates: records.iter().map(entry).collect(),
        })
    })
    .await
}

/// Publishes the active certificates to the company directory.
pub async fn publish(
    daemon: Arc<Daemon>,
    params: PublishParams,
) -> Result<PublishResult, RpcError> {
    let reader = daemon.clone();
    let certificates = blocking(move || {
        let authority = reader.ca.get().map_err(rpc)?;
        let email = params.email.map(|e| e.to_ascii_lowercase());
        let now = unix(SystemTime::now());
        let mut by_email: std::collections::BTreeMap<String, Vec<Vec<u8>>> = Default::default();
        for record in authority.db.list(email.as_deref()).map_err(rpc)? {
            let certificates = by_email.entry(record.email).or_default();
            if record.status == StoredStatus::Active && record.not_after >= now {
                certificates.push(record.der);
            }
        }
        Ok(by_email)
    })
    .await?;
    let published = publish::publish(daemon.directory.as_ref(), certificates).await?;
    tracing::info!(
        updated = published.updated.len(),
        not_found = published.not_found.len(),
        failed = published.failed.len(),
        "published certificates to the directory"
    );
    Ok(PublishResult {
        updated: published.updated,
        not_found: published.not_found,
        failed: published
            .failed
            .into_iter()
            .map(|(email, error)| PublishFailure { email, error })
            .collect(),
    })
}

fn normalize_serial(serial: &str) -> String {
    serial
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase()
}

fn active_record(authority: &Authority, serial: &str) -> Result<Record, PkiError> {
    let serial = normalize_serial(serial);
    let record = authority
        .db
        .get(&serial)?
        .ok_or_else(|| PkiError::UnknownSerial {
            serial: serial.clone(),
        })?;
    match record.status {
        StoredStatus::Active => Ok(record),
        StoredStatus::Superseded => Err(PkiError::NotActive {
            serial,
            status: "superseded",
        }),
        StoredStatus::Revoked { .. } => Err(PkiError::NotActive {
            serial,
            status: "revoked",
        }),
    }
}

fn to_issued(issued: issue::Issued) -> Issued {
    Issued {
        entry: entry(&issued.record),
        certificate: issued.record.der.into(),
        pkcs12: issued.pkcs12.map(Into::into),
    }
}

/// A record as the wire shows it, with expiry computed now.
fn entry(record: &Record) -> CaEntry {
    let now = unix(SystemTime::now());
    let (status, revoked_at, reason) = match record.status {
        StoredStatus::Revoked { at, reason } => {
            (Status::Revoked, Some(rfc3339(at)), Some(reason.to_wire()))
        }
        _ if record.not_after < now => (Status::Expired, None, None),
        StoredStatus::Superseded => (Status::Superseded, None, None),
        StoredStatus::Active => (Status::Active, None, None),
    };
    let left = record.not_after - now;
    CaEntry {
        serial: record.serial.clone(),
        email: record.email.clone(),
        kind: record.kind.to_wire(),
        usage: record.usage.to_wire(),
        subject: record.subject.clone(),
        status,
        not_after: rfc3339(record.not_after),
        days_to_expiry: if left >= 0 {
            left / 86_400
        } else {
            -((-left + 86_399) / 86_400)
        },
        revoked_at,
        reason,
    }
}

fn crl_result(published: crl::Published) -> CrlResult {
    CrlResult {
        crl: published.der.into(),
        number: published.number,
        this_update: rfc3339(unix(published.this_update)),
        next_update: rfc3339(unix(published.next_update)),
        revoked: published.revoked,
        path: published.path.display().to_string(),
    }
}

/// Unix seconds as RFC 3339 UTC, the form every time on the wire has.
fn rfc3339(seconds: i64) -> String {
    der::DateTime::from_unix_duration(Duration::from_secs(seconds.unsigned_abs()))
        .map_or_else(|_| seconds.to_string(), |t| t.to_string())
}
