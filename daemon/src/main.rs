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
    /// Company policy file, whose settings win over the user's [default:
    /// /etc/mailseal/policy.toml].
    #[arg(long, global = true, env = "MAILSEAL_POLICY")]
    policy: Option<PathBuf>,
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
    /// Native-messaging host for the Thunderbird add-on: relays its requests (stdin/stdout,
    /// Mozilla framing) to the user's daemon. Thunderbird starts it; people don't.
    NativeHost {
        /// The daemon's socket [default: as `serve`].
        #[arg(long, env = "MAILSEAL_SOCKET")]
        socket: Option<PathBuf>,
        /// Print the host manifest for this add-on id (for installers) and exit.
        #[arg(long, value_name = "EXTENSION_ID")]
        print_manifest: Option<String>,
        /// With --print-manifest: the wrapper Thunderbird runs, which execs `mailseald
        /// native-host` (manifests cannot pass arguments).
        #[arg(long, default_value = "/usr/lib/mailseal/mailseal-native-host")]
        wrapper: PathBuf,
        /// What Thunderbird passes to a host (manifest path, add-on id): not used.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        browser_args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config_path = cli.config.clone().or_else(Config::default_path);
    let policy_path = cli
        .policy
        .clone()
        .unwrap_or_else(Config::default_policy_path);
    let mut config = match Config::load_layered(Some(&policy_path), config_path.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("mailseald: {e}");
            return ExitCode::from(2);
        }
    };
    let (socket, data_dir) = match cli.command {
        Command::Serve { socket, data_dir } => (socket, data_dir),
        Command::NativeHost {
            socket,
            print_manifest,
            wrapper,
            browser_args: _,
        } => {
            config.socket = socket.or(config.socket);
            if let Some(extension_id) = print_manifest {
                let manifest =
                    mailseal_daemon::native_host::manifest("mailseal", &wrapper, &extension_id);
                println!(
                    "{}",
                    serde_json::to_string_pretty(&manifest).expect("manifests serialize")
                );
                return ExitCode::SUCCESS;
            }
            return native_host(&config);
        }
    };
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

/// Runs the native-messaging host until Thunderbird closes the port.
fn native_host(config: &Config) -> ExitCode {
    // stdout is the channel to Thunderbird: logs go to stderr only.
    init_logging("warn");
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let socket = config.socket();
    let outcome = runtime.block_on(async {
        let (mut stdin, mut stdout) = (tokio::io::stdin(), tokio::io::stdout());
        mailseal_daemon::native_host::run(&socket, &mut stdin, &mut stdout).await
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("native messaging failed: {e}");
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
