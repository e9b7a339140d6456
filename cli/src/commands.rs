//! The subcommands, each a thin wrapper over protocol calls.

use crate::exit::CliError;
use crate::output::{certificate, print};
use crate::{Context, mail, secrets};
use clap::Subcommand;
use mailseal_protocol::methods::{Empty, KeyState, cert, daemon, identity, key};
use mailseal_protocol::{ClientError, ErrorKind, RpcError};
use std::path::PathBuf;

/// What `mailseal` can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show that the daemon runs, its version and what it holds.
    Status,
    /// Import your own key and certificate from a PKCS#12 file (.p12, .pfx).
    Import {
        /// The PKCS#12 file.
        file: PathBuf,
        /// Read the file's password from this file (`-` for stdin) instead of asking.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Store the key under the passphrase in this file instead of the PKCS#12 password.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// List your own identities (keys with their certificates).
    Identities,
    /// Unlock a key for the cache time, so that signing and decrypting need no passphrase.
    Unlock {
        /// The key id, as `mailseal identities` shows it.
        key_id: String,
        /// Read the passphrase from this file (`-` for stdin) instead of asking.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Forget unlocked keys now: one, or all when no key id is given.
    Lock {
        /// The key id.
        key_id: Option<String>,
    },
    /// Other people's certificates.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Sign a message (multipart/signed, or opaque with --opaque).
    Sign(mail::SignArgs),
    /// Encrypt a message to its recipients and to you.
    Encrypt(mail::EncryptArgs),
    /// Sign a message, then encrypt it.
    SignEncrypt(mail::EncryptArgs),
    /// Decrypt a message; the report goes to stderr.
    Decrypt(mail::Io),
    /// Verify a signed message; exit code 8 if a signature is not valid.
    Verify(mail::Io),
    /// Take every S/MIME layer off a message and report each.
    Open(mail::Io),
    /// Smart cards and hardware tokens.
    #[command(subcommand)]
    Token(crate::token::TokenCommand),
    /// The company CA (for IT): create it, issue, renew, revoke, CRLs, batches.
    #[command(subcommand)]
    Ca(crate::ca::CaCommand),
    /// Show the whole product working: a throwaway CA, two users with their own daemons, a
    /// signed and encrypted message from one to the other, opened and checked.
    Demo,
}

/// `mailseal certs …`.
#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// List stored certificates.
    List {
        /// Only certificates for this address.
        #[arg(long)]
        email: Option<String>,
    },
    /// Store certificates from files (DER or PEM, several per PEM file allowed).
    Import {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Remove a stored certificate.
    Remove {
        /// Its SHA-256 fingerprint (colons allowed).
        fingerprint: String,
    },
    /// Find the certificate mail to ADDRESS would be encrypted to (own identities, stored
    /// certificates, the company directory), and why each other candidate is not it; exit
    /// code 7 when none is usable.
    Find {
        /// The mail address.
        address: String,
    },
}

fn read_file(path: &PathBuf) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::Local(format!("cannot read {}: {e}", path.display())))
}

fn list_certificates(result: &cert::CertificatesResult) -> String {
    if result.certificates.is_empty() {
        return "no certificates\n".into();
    }
    result
        .certificates
        .iter()
        .map(|c| format!("certificate\n{}", certificate(c)))
        .collect()
}

fn found_certificate(result: &cert::FindResult) -> String {
    let mut out = match (&result.certificate, result.source) {
        (Some(chosen), Some(source)) => {
            format!(
                "encrypt to this certificate ({source})\n{}",
                certificate(chosen)
            )
        }
        _ => "no usable certificate\n".to_owned(),
    };
    if !result.candidates.is_empty() {
        out.push_str("candidates\n");
    }
    for candidate in &result.candidates {
        out.push_str(&format!(
            "  {:<8} {:<9} {}…  {}\n",
            if candidate.usable {
                "usable"
            } else {
                "rejected"
            },
            candidate.source.to_string(),
            candidate
                .certificate
                .fingerprint
                .get(..16)
                .unwrap_or_default(),
            candidate.reason
        ));
    }
    out.push_str(&match &result.directory {
        cert::DirectoryStatus::NotConfigured => "directory: not configured\n".to_owned(),
        cert::DirectoryStatus::Answered {
            certificates,
            cached,
            unreadable,
        } => {
            let mut line = format!(
                "directory: {certificates} certificate(s){}\n",
                if *cached { " (cached answer)" } else { "" }
            );
            for problem in unreadable {
                line.push_str(&format!("  unreadable: {problem}\n"));
            }
            line
        }
        cert::DirectoryStatus::Failed { error } => format!("directory: FAILED: {error}\n"),
    });
    out
}

impl Command {
    /// Runs the command against the daemon.
    pub async fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        let client = &mut ctx.client;
        match self {
            Self::Sign(args) => return mail::sign(ctx, args).await,
            Self::Encrypt(args) => return mail::encrypt(ctx, args).await,
            Self::SignEncrypt(args) => return mail::sign_encrypt(ctx, args).await,
            Self::Decrypt(io) => return mail::incoming(ctx, mail::Incoming::Decrypt, io).await,
            Self::Verify(io) => return mail::incoming(ctx, mail::Incoming::Verify, io).await,
            Self::Open(io) => return mail::incoming(ctx, mail::Incoming::Open, io).await,
            Self::Token(command) => return command.run(ctx).await,
            Self::Ca(command) => return command.run(ctx).await,
            Self::Demo => unreachable!("main runs the demo before connecting to a daemon"),
            Self::Status => {
                let status = client.call::<daemon::Status>(&Empty {}).await?;
                print(ctx.json, &status, |s| {
                    let yes_no = |on: bool| if on { "yes" } else { "no" };
                    format!(
                        "mailseald {} (protocol {}) running, pid {}, up {} s\nsocket:       {}\ndata:         {}\nidentities:   {} ({} unlocked, cache {} s)\ncertificates: {}\nprotection:   core dumps off: {}, not dumpable: {}, keys in locked memory: {}\n",
                        s.daemon_version,
                        s.protocol_version,
                        s.pid,
                        s.uptime_seconds,
                        s.socket,
                        s.data_dir,
                        s.identities,
                        s.unlocked_keys,
                        s.key_cache_seconds,
                        s.certificates,
                        yes_no(s.process.core_dumps_off),
                        yes_no(s.process.not_dumpable),
                        yes_no(s.process.keys_in_locked_memory),
                    )
                });
            }
            Self::Import {
                file,
                password_file,
                passphrase_file,
            } => {
                let data = read_file(&file)?;
                let password = secrets::read(password_file.as_deref(), "PKCS#12 password: ")?;
                let passphrase = passphrase_file
                    .map(|f| secrets::read(Some(&f), "New passphrase: "))
                    .transpose()?;
                let params = key::ImportPkcs12Params {
                    data: data.into(),
                    password,
                    passphrase,
                };
                let result = client.call::<key::ImportPkcs12>(&params).await?;
                print(ctx.json, &result, |r| {
                    format!(
                        "imported identity {}\n{}",
                        r.identity.key_id,
                        certificate(&r.identity.certificate)
                    )
                });
            }
            Self::Identities => {
                let result = client.call::<identity::List>(&Empty {}).await?;
                print(ctx.json, &result, |r| {
                    if r.identities.is_empty() {
                        return "no identities; import one with `mailseal import FILE.p12`\n"
                            .into();
                    }
                    r.identities
                        .iter()
                        .map(|i| {
                            let state = match i.state {
                                KeyState::Locked => "locked",
                                KeyState::Unlocked => "unlocked",
                            };
                            let warning = i
                                .expiry_warning
                                .as_ref()
                                .map(|w| format!("  WARNING:     {w}\n"))
                                .unwrap_or_default();
                            format!(
                                "identity {} ({state})\n{}{warning}",
                                i.key_id,
                                certificate(&i.certificate)
                            )
                        })
                        .collect()
                });
            }
            Self::Unlock {
                key_id,
                passphrase_file,
            } => {
                let passphrase = secrets::read(passphrase_file.as_deref(), "Passphrase: ")?;
                let result = client
                    .call::<key::Unlock>(&key::UnlockParams { key_id, passphrase })
                    .await?;
                print(ctx.json, &result, |r| {
                    format!("unlocked {} for {} s\n", r.key_id, r.unlocked_for_seconds)
                });
            }
            Self::Lock { key_id } => {
                let result = client
                    .call::<key::Lock>(&key::LockParams { key_id })
                    .await?;
                print(ctx.json, &result, |r| {
                    format!("locked {} key(s)\n", r.locked)
                });
            }
            Self::Certs(CertsCommand::List { email }) => {
                let result = client
                    .call::<cert::List>(&cert::ListParams { email })
                    .await?;
                print(ctx.json, &result, list_certificates);
            }
            Self::Certs(CertsCommand::Import { files }) => {
                let mut imported = cert::CertificatesResult {
                    certificates: Vec::new(),
                };
                for file in &files {
                    let params = cert::ImportParams {
                        data: read_file(file)?.into(),
                    };
                    imported
                        .certificates
                        .extend(client.call::<cert::Import>(&params).await?.certificates);
                }
                print(ctx.json, &imported, list_certificates);
            }
            Self::Certs(CertsCommand::Remove { fingerprint }) => {
                let result = client
                    .call::<cert::Remove>(&cert::RemoveParams { fingerprint })
                    .await?;
                print(ctx.json, &result, |r| format!("removed {}\n", r.removed));
            }
            Self::Certs(CertsCommand::Find { address }) => {
                let result = client
                    .call::<cert::Find>(&cert::FindParams {
                        email: address.clone(),
                    })
                    .await?;
                print(ctx.json, &result, found_certificate);
                if result.certificate.is_none() {
                    // The same exit code as `mailseal encrypt` to this address would give.
                    return Err(ClientError::Daemon(RpcError::new(
                        ErrorKind::CertNotFound {
                            query: address.clone(),
                        },
                        format!("no usable certificate for {address}"),
                    ))
                    .into());
                }
            }
        }
        Ok(())
    }
}
