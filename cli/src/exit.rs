//! Exit codes scripts can rely on, one per kind of failure.

use mailseal_protocol::{ClientError, ErrorKind};
use std::process::ExitCode;

/// The exit codes, as shown at the end of `mailseal --help`.
pub const HELP: &str = "\
Exit codes:
  0  success
  1  other failure (I/O, unexpected reply)
  2  bad command line
  3  the daemon is not running, not reachable, did not answer in time, dropped the
     connection, or the socket is not your own daemon's (nothing was sent)
  4  the daemon refused the input (bad file, bad parameter)
  5  wrong password, passphrase or PIN
  6  a key is locked, a smart card needs its PIN, or its PIN is locked
  7  key, certificate, recipient or smart card not found
  8  a signature or certificate check failed, or decryption failed";

/// Why a command failed, with the exit code that tells it apart.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The daemon or the connection failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A local file or terminal could not be used.
    #[error("{0}")]
    Local(String),
    /// A signature was not valid; the named check failed.
    #[error("the signature is not valid: the {0} check failed")]
    BadSignature(String),
}

/// The exit code of a failure.
pub fn code_for(error: &CliError) -> ExitCode {
    let code = match error {
        CliError::Local(_) => 1,
        CliError::BadSignature(_) => 8,
        CliError::Client(
            ClientError::Connect { .. }
            | ClientError::Untrusted { .. }
            | ClientError::TimedOut { .. }
            | ClientError::Closed
            | ClientError::Frame(_),
        ) => 3,
        CliError::Client(ClientError::Daemon(rpc)) => match rpc.kind {
            ErrorKind::BadInput { .. } | ErrorKind::FrameTooLarge { .. } => 4,
            ErrorKind::WrongPassword | ErrorKind::WrongPin { .. } => 5,
            ErrorKind::KeyLocked { .. }
            | ErrorKind::PinRequired { .. }
            | ErrorKind::PinLocked { .. } => 6,
            ErrorKind::KeyNotFound { .. }
            | ErrorKind::CertNotFound { .. }
            | ErrorKind::NotARecipient { .. }
            | ErrorKind::TokenNotPresent { .. } => 7,
            ErrorKind::VerificationFailed { .. } | ErrorKind::DecryptionFailed => 8,
            ErrorKind::UnsupportedAlgorithm { .. } => 4,
            _ => 1,
        },
        CliError::Client(_) => 1,
    };
    ExitCode::from(code)
}
