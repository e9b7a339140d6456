//! `mailseal token …`: smart cards — list them, log in with the PIN, enrol a key on the card.

use crate::exit::CliError;
use crate::output::{certificate, print};
use crate::{Context, secrets};
use clap::{Subcommand, ValueEnum};
use mailseal_protocol::methods::Empty;
use mailseal_protocol::methods::token::{self, CardKeyAlgorithm};
use std::path::PathBuf;

/// Key types for `token generate-key`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyType {
    /// RSA, 2048-bit modulus.
    Rsa2048,
    /// RSA, 3072-bit modulus.
    Rsa3072,
    /// ECDSA/ECDH on P-256.
    EcP256,
    /// ECDSA/ECDH on P-384.
    EcP384,
}

impl From<KeyType> for CardKeyAlgorithm {
    fn from(key: KeyType) -> Self {
        match key {
            KeyType::Rsa2048 => Self::Rsa2048,
            KeyType::Rsa3072 => Self::Rsa3072,
            KeyType::EcP256 => Self::EcP256,
            KeyType::EcP384 => Self::EcP384,
        }
    }
}

/// `mailseal token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// List PKCS#11 modules, tokens, their PIN state and identities.
    List,
    /// Log in to a token (the PIN is asked for, or read from --pin-file).
    Login {
        /// The token's label or serial number.
        token: String,
        /// Read the PIN from this file (`-` for stdin).
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Forget a token's login now.
    Logout {
        /// The token's label or serial number.
        token: String,
    },
    /// Generate a key pair on the token.
    GenerateKey {
        /// The token's label or serial number.
        token: String,
        /// The key type.
        #[arg(long, value_enum, default_value = "ec-p256")]
        algorithm: KeyType,
        /// The key's label on the card.
        #[arg(long, default_value = "mail")]
        label: String,
    },
    /// Make a certificate request (PKCS#10, DER) signed by a key on the token.
    Csr {
        /// The token's label or serial number.
        token: String,
        /// The key's id (hex), as `generate-key` printed it.
        id: String,
        /// Your name for the certificate.
        #[arg(long)]
        name: String,
        /// Your mail address for the certificate.
        #[arg(long)]
        email: String,
        /// Write the request here (DER).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write an issued certificate to the token beside its key.
    ImportCert {
        /// The token's label or serial number.
        token: String,
        /// The certificate file (DER or PEM).
        file: PathBuf,
    },
}

impl TokenCommand {
    /// Runs the command.
    pub async fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        let client = &mut ctx.client;
        match self {
            Self::List => {
                let result = client.call::<token::List>(&Empty {}).await?;
                print(ctx.json, &result, describe_tokens);
            }
            Self::Login { token, pin_file } => {
                let pin = secrets::read(pin_file.as_deref(), &format!("PIN for {token}: "))?;
                let result = client
                    .call::<token::Login>(&token::LoginParams { token, pin })
                    .await?;
                print(ctx.json, &result, |r| {
                    format!(
                        "logged in to {} for {} s\n",
                        r.token, r.logged_in_for_seconds
                    )
                });
            }
            Self::Logout { token } => {
                let result = client
                    .call::<token::Logout>(&token::TokenParams { token })
                    .await?;
                print(ctx.json, &result, |_| "logged out\n".to_owned());
            }
            Self::GenerateKey {
                token,
                algorithm,
                label,
            } => {
                let params = token::GenerateKeyParams {
                    token,
                    algorithm: algorithm.into(),
                    label,
                };
                let result = client.call::<token::GenerateKey>(&params).await?;
                print(ctx.json, &result, |r| format!("generated key {}\n", r.id));
            }
            Self::Csr {
                token,
                id,
                name,
                email,
                output,
            } => {
                let params = token::CsrParams {
                    token,
                    id,
                    name,
                    email,
                };
                let result = client.call::<token::Csr>(&params).await?;
                std::fs::write(&output, result.csr.as_slice()).map_err(|e| {
                    CliError::Local(format!("cannot write {}: {e}", output.display()))
                })?;
                print(ctx.json, &result, |_| {
                    format!("wrote {}\n", output.display())
                });
            }
            Self::ImportCert { token, file } => {
                let data = std::fs::read(&file)
                    .map_err(|e| CliError::Local(format!("cannot read {}: {e}", file.display())))?;
                let params = token::ImportCertParams {
                    token,
                    certificate: data.into(),
                };
                let result = client.call::<token::ImportCert>(&params).await?;
                print(ctx.json, &result, |r| {
                    format!("stored beside key {}\n", r.id)
                });
            }
        }
        Ok(())
    }
}

fn describe_tokens(result: &token::ListResult) -> String {
    let mut text = String::new();
    for module in &result.modules {
        match &module.error {
            Some(error) => text.push_str(&format!("module {}: NOT LOADED: {error}\n", module.path)),
            None => text.push_str(&format!(
                "module {}: {}\n",
                module.path,
                module.description.as_deref().unwrap_or("loaded")
            )),
        }
    }
    if result.tokens.is_empty() {
        text.push_str("no tokens present\n");
    }
    for token in &result.tokens {
        let pin = if token.pin.locked {
            "PIN LOCKED"
        } else if token.pin.final_try {
            "PIN: final try"
        } else if token.pin.count_low {
            "PIN: tries running out"
        } else {
            "PIN ok"
        };
        let login = if token.logged_in {
            "logged in"
        } else {
            "not logged in"
        };
        text.push_str(&format!(
            "token {:?} (serial {}, {} {}): {pin}, {login}\n",
            token.label, token.serial, token.manufacturer, token.model
        ));
        for identity in &token.identities {
            text.push_str(&format!(
                "identity {}\n{}",
                identity.key_id,
                certificate(&identity.certificate)
            ));
        }
    }
    text
}
