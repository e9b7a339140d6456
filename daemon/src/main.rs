//! `mailseald`: the per-user Mailseal daemon.
//!
//! Exit codes: 0 stopped cleanly; 1 failed while running (message on stderr); 2 bad command line
//! or configuration; 3 another daemon already serves this socket.

use clap::{Parser, Subcommand};
use mailseal_daemon::config::Config;
use mailseal_daemon::server::{self, endpoint::EndpointError};
use mailseal_daemon::state::Daemon;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// The Mailseal daemon: keeps your S/MIME keys and answers mail clients on a private socket.
#[derive(Debug, Parser)]
#[command(name = "mailseald", version)]
struct Cli {
    /// Configuration file [default: $XDG_CONFIG_HOME/mailseal/config.toml].
    #[arg(long, global = true, env = "MAILSEAL_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run in the foreground and serve requests until SIGTERM/SIGINT (systemd-friendly).
    Serve {
        /// Socket to listen on [default: $XDG_RUNTIME_DIR/mailseal/mailseal.sock].
        #[arg(long, env = "MAILSEAL_SOCKET")]
        socket: Option<PathBuf>,
        /// Where keys and certificates are kept [default: $XDG_DATA_HOME/mailseal].
        #[arg(long, env = "MAILSEAL_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config_path = cli.config.clone().or_else(Config::default_path);
    let mut config = match config_path.as_deref().map(Config::load).transpose() {
        Ok(config) => config.unwrap_or_default(),
        Err(e) => {
            eprintln!("mailseald: {e}");
            return ExitCode::from(2);
        }
    };
    let Command::Serve { socket, data_dir } = cli.command;
    config.socket = socket.or(config.socket);
    config.data_dir = data_dir.or(config.data_dir);
    init_logging(&config.log_level);

    let daemon = match Daemon::open(config) {
        Ok(daemon) => daemon,
        Err(e) => {
            tracing::error!("cannot open the stores: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(server::run(daemon)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ EndpointError::AlreadyRunning { .. }) => {
            tracing::error!("{e}");
            ExitCode::from(3)
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr (journald picks it up under systemd); `RUST_LOG` overrides the config.
fn init_logging(level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
