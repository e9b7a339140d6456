//! `mailseal`: the command-line front-end of the Mailseal daemon, for people and scripts.
//!
//! Every subcommand is one or two protocol calls; the daemon does the work. With `--json` the
//! result object is printed as JSON (one line) for scripts; otherwise as a readable summary.
//! Exit codes are listed in [`exit`] and in `mailseal --help`.
#![forbid(unsafe_code)]

mod ca;
mod commands;
mod demo;
mod exit;
mod mail;
mod output;
mod progress;
mod secrets;
mod token;

use clap::Parser;
use mailseal_protocol::{CONNECT_TIMEOUT, Client, ClientError, default_socket_path};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Sign, encrypt, verify and decrypt mail with S/MIME through your Mailseal daemon.
#[derive(Debug, Parser)]
#[command(name = "mailseal", version, after_help = exit::HELP)]
struct Cli {
    /// The daemon's socket, in a directory of your own that others cannot write to; nothing is
    /// sent to a socket elsewhere or to one another user listens on [default:
    /// $XDG_RUNTIME_DIR/mailseal/mailseal.sock, else $TMPDIR/mailseal-<uid>/mailseal.sock].
    #[arg(long, global = true, env = "MAILSEAL_SOCKET")]
    socket: Option<PathBuf>,
    /// Print results as JSON for scripts.
    #[arg(long, global = true)]
    json: bool,
    /// Wait up to this many seconds for the daemon to start answering (e.g. right after
    /// starting it).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 0)]
    wait: u64,
    /// Give up (exit code 3) when the daemon takes longer than this many seconds to accept the
    /// connection and answer its greeting, e.g. when it is stuck; the requests themselves have
    /// no time limit.
    #[arg(
        long,
        global = true,
        env = "MAILSEAL_CONNECT_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = CONNECT_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    connect_timeout: u64,
    #[command(subcommand)]
    command: commands::Command,
}

/// What every command needs: a connection and the output mode.
pub struct Context {
    client: Client,
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let socket = cli.socket.unwrap_or_else(default_socket_path);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a single-threaded runtime starts");
    let outcome = runtime.block_on(async {
        if matches!(cli.command, commands::Command::Demo) {
            // The demo starts daemons of its own.
            return demo::run().await;
        }
        let limits = Limits {
            wait: Duration::from_secs(cli.wait),
            answer: Duration::from_secs(cli.connect_timeout),
        };
        let client = connect(&socket, limits).await?;
        let mut context = Context {
            client,
            json: cli.json,
        };
        cli.command.run(&mut context).await
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mailseal: {error}");
            exit::code_for(&error)
        }
    }
}

/// How long [`connect`] waits.
struct Limits {
    /// For a daemon to listen at all (`--wait`).
    wait: Duration,
    /// For one that listens to answer (`--connect-timeout`).
    answer: Duration,
}

/// Connects and says hello, retrying for `limits.wait` while nobody listens yet; a daemon that
/// listens but does not answer within `limits.answer` is not waited for again.
async fn connect(socket: &Path, limits: Limits) -> Result<Client, exit::CliError> {
    let deadline = Instant::now() + limits.wait;
    loop {
        match Client::connect_and_hello_within(
            socket,
            concat!("mailseal-cli/", env!("CARGO_PKG_VERSION")),
            limits.answer,
        )
        .await
        {
            Ok((client, _hello)) => return Ok(client),
            Err(ClientError::Connect { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
