//! `mailseal ca …`: the company CA for IT — create it, issue (one user, or a batch from a CSV
//! file), renew, revoke, publish CRLs, list. Every command is `ca.*` calls to the daemon, which
//! also runs batches (`ca.batch`: the rules are `mailseal-ca`'s, for any IT tool); this file
//! only parses arguments and shows results. The CA password is sent only when the daemon says
//! the CA key is locked.

use crate::exit::CliError;
use crate::mail::absolute;
use crate::output::{certificate, print};
use crate::progress::Bar;
use crate::{Context, secrets};
use clap::{Subcommand, ValueEnum};
use mailseal_protocol::methods::Method;
use mailseal_protocol::methods::ca::{
    self, BatchResult, BatchUsers, CaEntry, CertificateKind, IfActive, KeyAlgorithm, KeySource,
    Pkcs12Format, RevocationReason, Status, Usage,
};
use mailseal_protocol::{ClientError, ErrorKind, Progress, Secret};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The profile, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// Mail address only (mailbox-validated).
    Mailbox,
    /// Address and name (individual-validated).
    Individual,
    /// Address, name and company (sponsor-validated).
    Organization,
}

impl From<Kind> for CertificateKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Mailbox => Self::Mailbox,
            Kind::Individual => Self::Individual,
            Kind::Organization => Self::Organization,
        }
    }
}

/// Key types, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Algorithm {
    /// RSA, 2048 bits.
    #[value(name = "rsa-2048")]
    Rsa2048,
    /// RSA, 3072 bits.
    #[value(name = "rsa-3072")]
    Rsa3072,
    /// RSA, 4096 bits.
    #[value(name = "rsa-4096")]
    Rsa4096,
    /// EC P-256.
    EcP256,
    /// EC P-384.
    EcP384,
}

impl From<Algorithm> for KeyAlgorithm {
    fn from(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Rsa2048 => Self::Rsa2048,
            Algorithm::Rsa3072 => Self::Rsa3072,
            Algorithm::Rsa4096 => Self::Rsa4096,
            Algorithm::EcP256 => Self::EcP256,
            Algorithm::EcP384 => Self::EcP384,
        }
    }
}

/// PKCS#12 encryption, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum P12Format {
    /// PBKDF2-HMAC-SHA-256 + AES-256-CBC: Windows, macOS, Thunderbird, OpenSSL.
    Modern,
    /// PBKDF2-HMAC-SHA-1 + AES-128-CBC: also GnuPG 2.2 (gpgsm).
    Gnupg22,
}

impl From<P12Format> for Pkcs12Format {
    fn from(format: P12Format) -> Self {
        match format {
            P12Format::Modern => Self::Modern,
            P12Format::Gnupg22 => Self::Gnupg22,
        }
    }
}

/// Revocation reasons, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Reason {
    /// No reason given.
    Unspecified,
    /// The key was or may have been disclosed.
    KeyCompromise,
    /// The person left or changed role.
    AffiliationChanged,
    /// Replaced by a new certificate.
    Superseded,
    /// No longer needed.
    CessationOfOperation,
    /// The right to it was withdrawn.
    PrivilegeWithdrawn,
}

impl From<Reason> for RevocationReason {
    fn from(reason: Reason) -> Self {
        match reason {
            Reason::Unspecified => Self::Unspecified,
            Reason::KeyCompromise => Self::KeyCompromise,
            Reason::AffiliationChanged => Self::AffiliationChanged,
            Reason::Superseded => Self::Superseded,
            Reason::CessationOfOperation => Self::CessationOfOperation,
            Reason::PrivilegeWithdrawn => Self::PrivilegeWithdrawn,
        }
    }
}

/// Key usage for a certificate from a request.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UsageArg {
    /// Signing and encryption.
    Both,
    /// Signing only.
    Signing,
    /// Encryption only.
    Encryption,
}

impl From<UsageArg> for Usage {
    fn from(usage: UsageArg) -> Self {
        match usage {
            UsageArg::Both => Self::Both,
            UsageArg::Signing => Self::Signing,
            UsageArg::Encryption => Self::Encryption,
        }
    }
}

/// `mailseal ca …`.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create the root and issuing CA in the daemon's CA directory (`[ca] dir`).
    Init {
        /// The CA's name ("NAME Root CA", "NAME S/MIME CA").
        #[arg(long)]
        name: String,
        /// The organizationName of the CA certificates.
        #[arg(long)]
        org: Option<String>,
        /// The CA keys' type.
        #[arg(long, value_enum, default_value = "rsa-3072")]
        algorithm: Algorithm,
        /// Read the new CA password from this file (`-` for stdin) instead of asking.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Use keys on this smart card or HSM instead (made with `mailseal token
        /// generate-key`; log in to the token first).
        #[arg(long, requires_all = ["root_key_id", "issuing_key_id"], conflicts_with = "password_file")]
        token: Option<String>,
        /// The root key's id on the token (hex), as `token generate-key` printed it.
        #[arg(long, requires = "token")]
        root_key_id: Option<String>,
        /// The issuing key's id on the token (hex).
        #[arg(long, requires = "token")]
        issuing_key_id: Option<String>,
    },
    /// Issue a certificate: a new key pair in a PKCS#12 file, or for a request (--csr).
    Issue {
        /// The profile.
        #[arg(long, value_enum)]
        kind: Kind,
        /// The holder's mail address.
        #[arg(long)]
        email: String,
        /// The holder's name (individual, organization).
        #[arg(long)]
        name: Option<String>,
        /// The company (organization).
        #[arg(long)]
        org: Option<String>,
        /// Certify the key of this PKCS#10 request (DER or PEM) instead of making one.
        #[arg(long, conflicts_with_all = ["algorithm", "dual", "p12_password_file"])]
        csr: Option<PathBuf>,
        /// What the request's key is for.
        #[arg(long, value_enum, default_value = "both", requires = "csr")]
        usage: UsageArg,
        /// The new key's type.
        #[arg(long, value_enum, default_value = "rsa-3072")]
        algorithm: Algorithm,
        /// Two keys and certificates, one for signing and one for encryption.
        #[arg(long)]
        dual: bool,
        /// How the PKCS#12 file is encrypted.
        #[arg(long, value_enum, default_value = "modern")]
        p12_format: P12Format,
        /// Read the PKCS#12 password from this file instead of asking.
        #[arg(long)]
        p12_password_file: Option<PathBuf>,
        /// Where to write the PKCS#12 file(s) or the certificate (PEM).
        #[arg(short, long)]
        output: PathBuf,
        /// Read the CA password from this file (`-` for stdin) if the CA key is locked.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Issue certificates to every user of a CSV file (header: email,name,organization,kind;
    /// only email is required), PKCS#12 files and their passwords into a directory. Users
    /// who already have their certificate are skipped, so it can be run again after a failure.
    Batch {
        /// The CSV file.
        file: PathBuf,
        /// The profile for rows without a kind.
        #[arg(long, value_enum, default_value = "individual")]
        kind: Kind,
        /// The keys' type.
        #[arg(long, value_enum, default_value = "rsa-3072")]
        algorithm: Algorithm,
        /// The output directory (created 0700; every file in it 0600).
        #[arg(long)]
        out_dir: PathBuf,
        /// How the PKCS#12 files are encrypted.
        #[arg(long, value_enum, default_value = "modern")]
        p12_format: P12Format,
        /// Read the CA password from this file (`-` for stdin) if the CA key is locked.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Renew an active certificate (same key, or a new one with --rekey).
    Renew {
        /// The certificate's serial (hex).
        serial: String,
        /// A new key of this type, written as a PKCS#12 file.
        #[arg(long, value_enum)]
        rekey: Option<Algorithm>,
        /// How the PKCS#12 file is encrypted.
        #[arg(long, value_enum, default_value = "modern")]
        p12_format: P12Format,
        /// Read the PKCS#12 password from this file instead of asking.
        #[arg(long, requires = "rekey")]
        p12_password_file: Option<PathBuf>,
        /// Where to write the PKCS#12 file or the certificate (PEM).
        #[arg(short, long)]
        output: PathBuf,
        /// Read the CA password from this file (`-` for stdin) if the CA key is locked.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Revoke a certificate and publish a new CRL.
    Revoke {
        /// The certificate's serial (hex).
        serial: String,
        /// Why.
        #[arg(long, value_enum)]
        reason: Reason,
        /// Read the CA password from this file (`-` for stdin) if the CA key is locked.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Sign a fresh CRL (also written to the CA directory as issuing-ca.crl).
    Crl {
        /// Also write it here (DER).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Read the CA password from this file (`-` for stdin) if the CA key is locked.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Write the active certificates to the company LDAP directory (`[directory]`); revoked
    /// and superseded ones disappear from it.
    Publish {
        /// Only this address.
        #[arg(long)]
        email: Option<String>,
    },
    /// List issued certificates with their status and days to expiry.
    List {
        /// Only this address.
        #[arg(long)]
        email: Option<String>,
    },
}

/// The CA password: read once, when the daemon first says the CA key is locked.
struct CaPassword {
    file: Option<PathBuf>,
    secret: Option<Secret>,
}

impl CaPassword {
    fn new(file: Option<PathBuf>) -> Self {
        Self { file, secret: None }
    }

    fn get(&mut self) -> Result<Secret, CliError> {
        if self.secret.is_none() {
            self.secret = Some(secrets::read(self.file.as_deref(), "CA password: ")?);
        }
        Ok(self.secret.clone().unwrap_or_default())
    }
}

/// Calls `M`, first without the CA password, then with it if the CA key is locked.
async fn signed<M: Method>(
    ctx: &mut Context,
    password: &mut CaPassword,
    params: impl Fn(Option<Secret>) -> M::Params,
) -> Result<M::Result, CliError> {
    signed_with_bar::<M>(ctx, password, None, params).await
}

/// [`signed`], drawing the daemon's progress notifications on `bar`.
async fn signed_with_bar<M: Method>(
    ctx: &mut Context,
    password: &mut CaPassword,
    mut bar: Option<Bar>,
    params: impl Fn(Option<Secret>) -> M::Params,
) -> Result<M::Result, CliError> {
    let mut draw = |progress: &Progress| {
        if let Some(bar) = bar.as_mut() {
            bar.update(progress);
        }
    };
    match ctx
        .client
        .call_with_progress::<M>(&params(None), &mut draw)
        .await
    {
        Err(ClientError::Daemon(error)) if matches!(error.kind, ErrorKind::KeyLocked { .. }) => {
            let secret = password.get()?;
            Ok(ctx
                .client
                .call_with_progress::<M>(&params(Some(secret)), &mut draw)
                .await?)
        }
        other => Ok(other?),
    }
}

impl CaCommand {
    /// Runs the command.
    pub async fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        match self {
            Self::Init {
                name,
                org,
                algorithm,
                password_file,
                token,
                root_key_id,
                issuing_key_id,
            } => {
                let keys = match (token, root_key_id, issuing_key_id) {
                    (Some(token), Some(root_key_id), Some(issuing_key_id)) => ca::CaKeys::Token {
                        token,
                        root_key_id,
                        issuing_key_id,
                    },
                    _ => ca::CaKeys::Generate {
                        algorithm: Some(algorithm.into()),
                        ca_password: new_password(password_file.as_deref(), "New CA password")?,
                    },
                };
                let params = ca::InitParams {
                    name,
                    organization: org,
                    keys,
                };
                let result = ctx.client.call::<ca::Init>(&params).await?;
                print(ctx.json, &result, |r| {
                    format!(
                        "created the CA in {}\nroot CA\n{}issuing CA\n{}",
                        r.dir,
                        certificate(&r.root),
                        certificate(&r.issuing)
                    )
                });
            }
            Self::Issue {
                kind,
                email,
                name,
                org,
                csr,
                usage,
                algorithm,
                dual,
                p12_format,
                p12_password_file,
                output,
                password_file,
            } => {
                let key = match csr {
                    Some(file) => KeySource::Csr {
                        request: read(&file)?.into(),
                        usage: usage.into(),
                    },
                    None => KeySource::Generate {
                        algorithm: algorithm.into(),
                        pkcs12_password: new_password(
                            p12_password_file.as_deref(),
                            "PKCS#12 password",
                        )?,
                        dual,
                        pkcs12_format: p12_format.into(),
                    },
                };
                let mut password = CaPassword::new(password_file);
                let result =
                    signed::<ca::Issue>(ctx, &mut password, |ca_password| ca::IssueParams {
                        kind: kind.into(),
                        email: email.clone(),
                        name: name.clone(),
                        organization: org.clone(),
                        key: key.clone(),
                        if_active: IfActive::Fail,
                        ca_password,
                    })
                    .await?;
                let written = write_issued(&result.issued, &output)?;
                print(ctx.json, &result, |r| describe_issued(&r.issued, &written));
            }
            Self::Batch {
                file,
                kind,
                algorithm,
                out_dir,
                p12_format,
                password_file,
            } => {
                let (users, out_dir) = (BatchUsers::Path(absolute(&file)?), absolute(&out_dir)?);
                let mut password = CaPassword::new(password_file);
                let progress = !ctx.json && std::io::stderr().is_terminal();
                let bar = progress.then(|| Bar::counting("users"));
                let result = signed_with_bar::<ca::Batch>(ctx, &mut password, bar, |ca_password| {
                    ca::BatchParams {
                        users: users.clone(),
                        out_dir: out_dir.clone(),
                        kind: Some(kind.into()),
                        algorithm: Some(algorithm.into()),
                        pkcs12_format: p12_format.into(),
                        ca_password,
                        progress,
                    }
                })
                .await?;
                print(ctx.json, &result, describe_batch);
                if !result.failed.is_empty() {
                    let users = result.issued.len()
                        + result.reissued.len()
                        + result.skipped.len()
                        + result.failed.len();
                    return Err(CliError::Local(format!(
                        "{} of {users} users failed",
                        result.failed.len()
                    )));
                }
            }
            Self::Renew {
                serial,
                rekey,
                p12_format,
                p12_password_file,
                output,
                password_file,
            } => {
                let rekey = match rekey {
                    Some(algorithm) => Some(ca::Rekey {
                        algorithm: algorithm.into(),
                        pkcs12_password: new_password(
                            p12_password_file.as_deref(),
                            "PKCS#12 password",
                        )?,
                        pkcs12_format: p12_format.into(),
                    }),
                    None => None,
                };
                let mut password = CaPassword::new(password_file);
                let result =
                    signed::<ca::Renew>(ctx, &mut password, |ca_password| ca::RenewParams {
                        serial: serial.clone(),
                        rekey: rekey.clone(),
                        ca_password,
                    })
                    .await?;
                let written = write_issued(&result.issued, &output)?;
                print(ctx.json, &result, |r| describe_issued(&r.issued, &written));
            }
            Self::Revoke {
                serial,
                reason,
                password_file,
            } => {
                let mut password = CaPassword::new(password_file);
                let result =
                    signed::<ca::Revoke>(ctx, &mut password, |ca_password| ca::RevokeParams {
                        serial: serial.clone(),
                        reason: reason.into(),
                        ca_password,
                    })
                    .await?;
                print(ctx.json, &result, |r| {
                    format!(
                        "revoked {} ({})\nCRL #{} written to {}, {} revoked, next update {}\n",
                        r.entry.serial,
                        r.entry.email,
                        r.crl.number,
                        r.crl.path,
                        r.crl.revoked,
                        r.crl.next_update
                    )
                });
            }
            Self::Crl {
                output,
                password_file,
            } => {
                let mut password = CaPassword::new(password_file);
                let result = signed::<ca::Crl>(ctx, &mut password, |ca_password| ca::CrlParams {
                    ca_password,
                })
                .await?;
                if let Some(output) = &output {
                    write_private(output, result.crl.as_slice())?;
                }
                print(ctx.json, &result, |r| {
                    format!(
                        "CRL #{} written to {}: {} revoked, next update {}\n",
                        r.number, r.path, r.revoked, r.next_update
                    )
                });
            }
            Self::Publish { email } => {
                let result = ctx
                    .client
                    .call::<ca::Publish>(&ca::PublishParams { email })
                    .await?;
                print(ctx.json, &result, |r| {
                    let mut text = format!(
                        "updated {}, not in the directory {}, failed {}\n",
                        r.updated.len(),
                        r.not_found.len(),
                        r.failed.len()
                    );
                    for email in &r.not_found {
                        text.push_str(&format!("  not in the directory: {email}\n"));
                    }
                    for failure in &r.failed {
                        text.push_str(&format!("  {}: {}\n", failure.email, failure.error));
                    }
                    text
                });
                if !result.failed.is_empty() {
                    return Err(CliError::Local(format!(
                        "{} addresses could not be published",
                        result.failed.len()
                    )));
                }
            }
            Self::List { email } => {
                let result = ctx
                    .client
                    .call::<ca::List>(&ca::ListParams { email })
                    .await?;
                print(ctx.json, &result, |r| {
                    if r.certificates.is_empty() {
                        return "no certificates issued\n".into();
                    }
                    r.certificates.iter().map(describe_entry).collect()
                });
            }
        }
        Ok(())
    }
}

/// A new password from a file, or typed twice at the terminal.
fn new_password(file: Option<&Path>, what: &str) -> Result<Secret, CliError> {
    let first = secrets::read(file, &format!("{what}: "))?;
    if file.is_none() {
        let again = secrets::read(None, &format!("{what} again: "))?;
        if again != first {
            return Err(CliError::Local("the passwords differ".into()));
        }
    }
    if first.expose().is_empty() {
        return Err(CliError::Local(format!("the {what} is empty")));
    }
    Ok(first)
}

fn read(file: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(file).map_err(|e| CliError::Local(format!("cannot read {}: {e}", file.display())))
}

/// Writes `contents` atomically, readable by the owner only: a temporary file in the same
/// directory, flushed, renamed over `path`, and the directory flushed.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::Local(format!("cannot write {}: {e}", path.display()));
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    temp.write_all(contents).map_err(fail)?;
    temp.as_file().sync_all().map_err(fail)?;
    temp.persist(path).map_err(|e| fail(e.error))?;
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(fail)?;
    Ok(())
}

/// Writes what was issued: PKCS#12 files when the key was made by the CA (a dual-key pair as
/// `NAME-signing.p12` and `NAME-encryption.p12`), else the certificate as PEM.
fn write_issued(issued: &[ca::Issued], output: &Path) -> Result<Vec<PathBuf>, CliError> {
    let mut written = Vec::new();
    for item in issued {
        let path = if issued.len() > 1 {
            let stem = output.file_stem().unwrap_or_default().to_string_lossy();
            let extension = output.extension().unwrap_or_default().to_string_lossy();
            output.with_file_name(format!("{stem}-{}.{extension}", item.entry.usage.as_str()))
        } else {
            output.to_owned()
        };
        match &item.pkcs12 {
            Some(pkcs12) => write_private(&path, pkcs12.as_slice())?,
            None => write_private(
                &path,
                pem("CERTIFICATE", item.certificate.as_slice()).as_bytes(),
            )?,
        }
        written.push(path);
    }
    Ok(written)
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

fn describe_issued(issued: &[ca::Issued], written: &[PathBuf]) -> String {
    issued
        .iter()
        .zip(written)
        .map(|(item, path)| {
            format!(
                "{}  written to {}\n",
                describe_entry(&item.entry),
                path.display()
            )
        })
        .collect()
}

fn describe_entry(entry: &CaEntry) -> String {
    let status = match entry.status {
        Status::Active => format!("active, {} days left", entry.days_to_expiry),
        Status::Superseded => format!("superseded, {} days left", entry.days_to_expiry),
        Status::Expired => "EXPIRED".to_owned(),
        Status::Revoked => format!(
            "REVOKED {} ({})",
            entry.revoked_at.as_deref().unwrap_or("?"),
            entry
                .reason
                .map(|r| serde_json::to_value(r)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or("?")
                    .to_owned())
                .unwrap_or_default()
        ),
    };
    format!(
        "{}  {}  {} ({}, {})  {}\n",
        entry.serial,
        entry.email,
        entry.subject,
        entry.kind.as_str(),
        entry.usage.as_str(),
        status
    )
}

/// A batch's summary: counts, then each failure with its line.
fn describe_batch(result: &BatchResult) -> String {
    let issued = result.issued.len() + result.reissued.len();
    let mut text = format!(
        "issued {issued}, skipped {} (they already have their certificate), failed {}\n",
        result.skipped.len(),
        result.failed.len()
    );
    if !result.reissued.is_empty() {
        text.push_str(&format!(
            "{} of them again: an interrupted run had recorded a certificate whose file never reached {} (now revoked as superseded)\n",
            result.reissued.len(),
            result.out_dir
        ));
    }
    if issued > 0 {
        text.push_str(&format!(
            "PKCS#12 files and passwords are in {}; hand each file and its password out by different channels\n",
            result.out_dir
        ));
    }
    for failure in &result.failed {
        text.push_str(&format!(
            "  line {}: {}: {}\n",
            failure.line, failure.email, failure.error
        ));
    }
    text
}
