//! The message commands: `sign`, `encrypt`, `sign-encrypt`, `decrypt`, `verify`, `open`.
//! Each reads a whole RFC 5322 message from a file or stdin and writes the result to a file
//! or stdout; reports go to stderr (or, with `--json`, the whole result to stdout).
//!
//! Files are passed to the daemon by path (it runs as the same user), so a message of any size
//! works and the output file is written atomically by the daemon; stdin and stdout travel
//! inline. Large inputs get a progress bar at a terminal.

use crate::exit::CliError;
use crate::progress::{self, Bar};
use crate::{Context, secrets};
use clap::{Args, ValueEnum};
use mailseal_protocol::methods::report::{Outcome, Verdict};
use mailseal_protocol::methods::smime::{
    self, ContentEncryption, Layer, OpenedResult, SignatureMode,
};
use mailseal_protocol::methods::transfer::{AbsolutePath, Delivered, Output, Payload};
use mailseal_protocol::methods::{Method, token};
use mailseal_protocol::{ClientError, ErrorKind, RpcError};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// Where the message comes from and goes to.
#[derive(Debug, Args)]
pub struct Io {
    /// The message file; stdin when absent or `-`.
    input: Option<PathBuf>,
    /// Write the result here instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// The message as the daemon is to get it, and its size (for the progress bar).
struct Input {
    payload: Payload,
    size: u64,
}

/// `path` made absolute, as the daemon (in another working directory) must be given it.
pub fn absolute(path: &Path) -> Result<AbsolutePath, CliError> {
    std::path::absolute(path)
        .ok()
        .and_then(AbsolutePath::new)
        .ok_or_else(|| CliError::Local(format!("cannot make {} absolute", path.display())))
}

impl Io {
    /// A file by path (checked here, for a clear error before the daemon is asked), stdin
    /// inline.
    fn input(&self) -> Result<Input, CliError> {
        match &self.input {
            Some(path) if path.as_os_str() != "-" => {
                let size = std::fs::metadata(path)
                    .map_err(|e| CliError::Local(format!("cannot read {}: {e}", path.display())))?
                    .len();
                Ok(Input {
                    payload: Payload::Path(absolute(path)?),
                    size,
                })
            }
            _ => {
                let mut data = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut data)
                    .map_err(|e| CliError::Local(format!("cannot read stdin: {e}")))?;
                Ok(Input {
                    size: data.len() as u64,
                    payload: data.into(),
                })
            }
        }
    }

    /// The output file, which the daemon writes; `None` for stdout.
    fn output(&self) -> Result<Option<Output>, CliError> {
        self.output
            .as_deref()
            .map(|path| absolute(path).map(Output::Path))
            .transpose()
    }

    /// Writes an inline result to stdout; a result the daemon wrote to the file is done.
    fn finish(&self, message: &Delivered) -> Result<(), CliError> {
        match message.inline() {
            Some(data) => std::io::stdout()
                .write_all(data)
                .map_err(|e| CliError::Local(format!("cannot write stdout: {e}"))),
            None => Ok(()),
        }
    }
}

/// Content encryption choices on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Algorithm {
    /// AES-256-GCM (AuthEnvelopedData).
    Aes256Gcm,
    /// AES-128-GCM (AuthEnvelopedData).
    Aes128Gcm,
    /// AES-256-CBC (EnvelopedData), readable by every S/MIME client.
    Aes256Cbc,
    /// AES-128-CBC (EnvelopedData).
    Aes128Cbc,
}

impl From<Algorithm> for ContentEncryption {
    fn from(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Aes256Gcm => Self::Aes256Gcm,
            Algorithm::Aes128Gcm => Self::Aes128Gcm,
            Algorithm::Aes256Cbc => Self::Aes256Cbc,
            Algorithm::Aes128Cbc => Self::Aes128Cbc,
        }
    }
}

/// Options of `sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    #[command(flatten)]
    io: Io,
    /// Sign with this key instead of the identity for the From address.
    #[arg(long)]
    key_id: Option<String>,
    /// Opaque signing (application/pkcs7-mime) instead of multipart/signed.
    #[arg(long)]
    opaque: bool,
    /// Sign with RSA-PSS instead of PKCS#1 v1.5 (RSA keys).
    #[arg(long)]
    rsa_pss: bool,
}

/// Options of `encrypt` and `sign-encrypt`.
#[derive(Debug, Args)]
pub struct EncryptArgs {
    #[command(flatten)]
    io: Io,
    /// Recipient address (repeatable); default: To, Cc and Bcc of the message.
    #[arg(long = "to")]
    recipients: Vec<String>,
    /// Content encryption; default: AES-256-GCM if every recipient reads it, else AES-256-CBC.
    #[arg(long)]
    algorithm: Option<Algorithm>,
    /// (sign-encrypt) sign with this key instead of the identity for From.
    #[arg(long)]
    key_id: Option<String>,
    /// (sign-encrypt) sign the encrypted message once more (RFC 2634 triple wrap).
    #[arg(long)]
    triple_wrap: bool,
    /// Encrypt to RSA recipients with RSA-OAEP (SHA-256) instead of PKCS#1 v1.5.
    #[arg(long)]
    rsa_oaep: bool,
    /// (sign-encrypt) sign with RSA-PSS (RSA keys).
    #[arg(long)]
    rsa_pss: bool,
}

impl EncryptArgs {
    fn recipients(&self) -> Option<Vec<String>> {
        (!self.recipients.is_empty()).then(|| self.recipients.clone())
    }
}

/// Which incoming-message method to run.
#[derive(Debug, Clone, Copy)]
pub enum Incoming {
    /// `smime.decrypt`.
    Decrypt,
    /// `smime.verify`.
    Verify,
    /// `smime.open`.
    Open,
}

/// Calls a method that may need a smart card; when the card wants its PIN and a person is at
/// the terminal, asks for it, logs in and tries once more. Scripts (no terminal) get the
/// `pin_required` error and exit code 6, and can call `mailseal token login` themselves.
/// With `progress`, draws the daemon's progress notifications as a bar.
async fn call_with_pin<M: Method>(
    ctx: &mut Context,
    params: &M::Params,
    progress: bool,
) -> Result<M::Result, CliError> {
    let mut bar = progress.then(Bar::default);
    let mut call = async |ctx: &mut Context| {
        ctx.client
            .call_with_progress::<M>(params, |p| {
                if let Some(bar) = bar.as_mut() {
                    bar.update(p);
                }
            })
            .await
    };
    match call(ctx).await {
        Err(ClientError::Daemon(RpcError {
            kind: ErrorKind::PinRequired { token },
            ..
        })) if std::io::stderr().is_terminal() => {
            let pin = secrets::read(None, &format!("PIN for smart card {token:?}: "))?;
            ctx.client
                .call::<token::Login>(&token::LoginParams { token, pin })
                .await?;
            Ok(call(ctx).await?)
        }
        other => Ok(other?),
    }
}

/// Whether to ask for progress: a person at a terminal, not `--json`, and a large input.
fn wants_progress(ctx: &Context, input: &Input) -> bool {
    !ctx.json && input.size >= progress::THRESHOLD && std::io::stderr().is_terminal()
}

/// Runs `sign`.
pub async fn sign(ctx: &mut Context, args: SignArgs) -> Result<(), CliError> {
    let mode = if args.opaque {
        SignatureMode::Opaque
    } else {
        SignatureMode::Detached
    };
    let input = args.io.input()?;
    let progress = wants_progress(ctx, &input);
    let params = smime::SignParams {
        message: input.payload,
        output: args.io.output()?,
        progress,
        key_id: args.key_id,
        mode,
        rsa_pss: args.rsa_pss,
    };
    let result = call_with_pin::<smime::Sign>(ctx, &params, progress).await?;
    emit_message(ctx, &args.io, &result)
}

/// Runs `encrypt`.
pub async fn encrypt(ctx: &mut Context, args: EncryptArgs) -> Result<(), CliError> {
    let input = args.io.input()?;
    let progress = wants_progress(ctx, &input);
    let params = smime::EncryptParams {
        message: input.payload,
        output: args.io.output()?,
        progress,
        recipients: args.recipients(),
        content_encryption: args.algorithm.map(Into::into),
        rsa_oaep: args.rsa_oaep,
    };
    let result = call_with_pin::<smime::Encrypt>(ctx, &params, progress).await?;
    emit_message(ctx, &args.io, &result)
}

/// Runs `sign-encrypt`.
pub async fn sign_encrypt(ctx: &mut Context, args: EncryptArgs) -> Result<(), CliError> {
    let input = args.io.input()?;
    let progress = wants_progress(ctx, &input);
    let params = smime::SignEncryptParams {
        message: input.payload,
        output: args.io.output()?,
        progress,
        key_id: args.key_id.clone(),
        recipients: args.recipients(),
        content_encryption: args.algorithm.map(Into::into),
        triple_wrap: args.triple_wrap,
        rsa_pss: args.rsa_pss,
        rsa_oaep: args.rsa_oaep,
    };
    let result = call_with_pin::<smime::SignEncrypt>(ctx, &params, progress).await?;
    emit_message(ctx, &args.io, &result)
}

fn emit_message(ctx: &Context, io: &Io, result: &smime::MessageResult) -> Result<(), CliError> {
    if ctx.json {
        println!(
            "{}",
            serde_json::to_string(result).expect("results serialize")
        );
        Ok(())
    } else {
        io.finish(&result.message)
    }
}

/// Runs `decrypt`, `verify` or `open`; fails with exit code 8 when a signature is not valid.
pub async fn incoming(ctx: &mut Context, which: Incoming, io: Io) -> Result<(), CliError> {
    let input = io.input()?;
    let progress = wants_progress(ctx, &input);
    let params = smime::IncomingParams {
        message: input.payload,
        output: io.output()?,
        progress,
    };
    let result = match which {
        Incoming::Decrypt => call_with_pin::<smime::Decrypt>(ctx, &params, progress).await?,
        Incoming::Verify => call_with_pin::<smime::Verify>(ctx, &params, progress).await?,
        Incoming::Open => call_with_pin::<smime::Open>(ctx, &params, progress).await?,
    };
    if ctx.json {
        println!(
            "{}",
            serde_json::to_string(&result).expect("results serialize")
        );
    } else {
        eprint!("{}", describe_layers(&result));
        io.finish(&result.message)?;
    }
    match first_bad_signature(&result) {
        Some(check) => Err(CliError::BadSignature(check)),
        None => Ok(()),
    }
}

/// The layers in words, one line per layer and per check.
pub fn describe_layers(result: &OpenedResult) -> String {
    let mut text = String::new();
    if result.layers.is_empty() {
        text.push_str("no S/MIME layers: the message is neither signed nor encrypted\n");
    }
    for layer in &result.layers {
        match layer {
            Layer::Encrypted { algorithm, key_id } => {
                text.push_str(&format!("encrypted ({algorithm:?}) to your key {key_id}\n"));
            }
            Layer::Signed { mode, signatures } => {
                for report in signatures {
                    let who = report
                        .signer()
                        .map_or("unknown signer".to_owned(), |s| s.emails.join(", "));
                    text.push_str(&format!(
                        "signature ({mode:?}) by {who}: {:?}\n",
                        report.verdict()
                    ));
                    for check in report.checks() {
                        let mark = match check.outcome {
                            Outcome::Pass => "ok  ",
                            Outcome::Fail => "FAIL",
                            Outcome::Unknown => "??  ",
                            Outcome::NotChecked => "--  ",
                        };
                        text.push_str(&format!(
                            "  [{mark}] {}: {}\n",
                            check.name.as_str(),
                            check.reason
                        ));
                    }
                }
            }
            _ => text.push_str("a layer this version does not know\n"),
        }
    }
    text
}

/// The first failed check of the first signature that is not valid.
fn first_bad_signature(result: &OpenedResult) -> Option<String> {
    result.layers.iter().find_map(|layer| match layer {
        Layer::Signed { signatures, .. } => signatures
            .iter()
            .find(|r| r.verdict() != Verdict::Valid)
            .map(|r| {
                r.first_failure().map_or_else(
                    || "a check could not be decided".to_owned(),
                    |c| c.name.as_str().to_owned(),
                )
            }),
        _ => None,
    })
}
