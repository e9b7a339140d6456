//! `mailseald`: the per-user Mailseal daemon.
//!
//! Exit codes: 0 stopped cleanly; 1 failed while running (message on stderr); 2 bad command line
//! or configuration; 3 another daemon already serves this socket.

use clap::{Parser, Subcommand};
use mailseal_daemon::config::Config;
use mailseal_daemon::native_host::register::{HOST_NAME, Platform, Scope, register, registration};
use mailseal_daemon::server::{self, endpoint::EndpointError};
use mailseal_daemon::state::Daemon;
use std::path::{Path, PathBuf};
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
        /// Register the host with Thunderbird for this user (Linux: ~/.mozilla/native-messaging-hosts/,
        /// macOS: ~/Library/Mozilla/NativeMessagingHosts/, Windows: %LOCALAPPDATA%\Mailseal\ and
        /// HKCU\Software\Mozilla\NativeMessagingHosts\mailseal) and exit.
        #[arg(long, conflicts_with = "print_manifest")]
        register: bool,
        /// With --register: for every user of the machine (/usr/lib/mozilla/…, /Library/Application
        /// Support/Mozilla/…, %ProgramData% and HKLM); needs administrator rights.
        #[arg(long, requires = "register")]
        system: bool,
        /// Print the host manifest for this add-on id (for installers) and exit.
        #[arg(long, value_name = "EXTENSION_ID")]
        print_manifest: Option<String>,
        /// With --register: the add-on allowed to start the host.
        #[arg(
            long,
            value_name = "EXTENSION_ID",
            default_value = "mailseal@example.com"
        )]
        extension_id: String,
        /// The wrapper Thunderbird runs, which execs `mailseald native-host` (manifests cannot pass
        /// arguments) [default: /usr/lib/mailseal/mailseal-native-host on Linux, beside mailseald
        /// elsewhere].
        #[arg(long)]
        wrapper: Option<PathBuf>,
        /// What Thunderbird passes to a host (manifest path, add-on id): not used.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        browser_args: Vec<String>,
    },
}

fn host_manifest(wrapper: &Path, extension_id: &str) -> String {
    let manifest = mailseal_daemon::native_host::manifest(HOST_NAME, wrapper, extension_id);
    serde_json::to_string_pretty(&manifest).expect("manifests serialize")
}

/// Writes the host manifest where Thunderbird looks for it and prints where.
fn register_host(scope: Scope, wrapper: &Path, extension_id: &str) -> ExitCode {
    if !wrapper.is_absolute() {
        eprintln!("mailseald: --wrapper must be an absolute path");
        return ExitCode::from(2);
    }
    if !wrapper.is_file() {
        eprintln!(
            "mailseald: warning: {} does not exist (yet)",
            wrapper.display()
        );
    }
    let done = registration(Platform::current(), scope, std::env::var_os).and_then(|place| {
        register(&place, host_manifest(wrapper, extension_id).as_bytes())?;
        Ok(place)
    });
    match done {
        Ok(place) => {
            println!("{}", place.manifest.display());
            if let Some(key) = place.registry_key {
                println!("{key}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mailseald: {e}");
            ExitCode::FAILURE
        }
    }
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
            register,
            system,
            print_manifest,
            extension_id,
            wrapper,
            browser_args: _,
        } => {
            config.socket = socket.or(config.socket);
            let wrapper = wrapper.unwrap_or_else(|| {
                let mailseald = std::env::current_exe().unwrap_or_default();
                Platform::current().default_wrapper(&mailseald)
            });
            if let Some(extension_id) = print_manifest {
                println!("{}", host_manifest(&wrapper, &extension_id));
                return ExitCode::SUCCESS;
            }
            if register {
                let scope = if system { Scope::System } else { Scope::User };
                return register_host(scope, &wrapper, &extension_id);
            }
            return native_host(&config);
        }
    };
    config.socket = socket.or(config.socket);
    config.data_dir = data_dir.or(config.data_dir);
    init_logging(&config.log_level);
    // Before any key is read: a core file or a debugger must never see one.
    mailseal_daemon::hygiene::harden();

    let daemon = match Daemon::open(config) {
        Ok(daemon) => daemon,
        Err(e) => {
            tracing::error!("cannot open the stores: {e}");
            return ExitCode::FAILURE;
        }
    };
    // One thread accepts connections and keeps time; each connection runs on its own.
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
