//! The release `mailseald` under test: one home (config, data, socket, log) for the whole run,
//! started afresh for every row so that each row's peak memory is its own.

use crate::procfs;
use mailseal_protocol::Client;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// The client name the benchmark gives in `daemon.hello`.
pub const CLIENT_NAME: &str = concat!("mailseal-bench/", env!("CARGO_PKG_VERSION"));

/// Where the daemon keeps its files during the run.
pub struct Home {
    binary: PathBuf,
    dir: PathBuf,
}

/// A running daemon.
pub struct Running {
    child: Child,
    /// Its process id.
    pub pid: u32,
}

impl Home {
    /// A home in `dir` for `binary`, trusting `ca` (so that signatures verify as valid), with
    /// smart cards off, quiet logs, and `max_connections` where given (the default otherwise).
    pub fn new(
        binary: PathBuf,
        dir: PathBuf,
        ca: &Path,
        max_connections: Option<usize>,
    ) -> Result<Self, String> {
        std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
        let mut config = format!(
            "log_level = \"warn\"\ntrusted_ca_files = [{}]\npkcs11_modules = []\n",
            serde_json::to_string(&ca.to_string_lossy()).map_err(|e| e.to_string())?
        );
        if let Some(max) = max_connections {
            config.push_str(&format!("max_connections = {max}\n"));
        }
        std::fs::write(dir.join("config.toml"), config).map_err(|e| e.to_string())?;
        Ok(Self { binary, dir })
    }

    /// The socket the daemon listens on.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("s.sock")
    }

    /// The daemon's log (stderr of every start).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }

    /// Starts `mailseald serve` and waits until it answers `daemon.hello`.
    pub fn start(&self, runtime: &Runtime) -> Result<Running, String> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("daemon.log"))
            .map_err(|e| e.to_string())?;
        let child = Command::new(&self.binary)
            .arg("--config")
            .arg(self.dir.join("config.toml"))
            .arg("serve")
            .arg("--socket")
            .arg(self.socket())
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        let mut running = Running {
            pid: child.id(),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if runtime
                .block_on(Client::connect_and_hello(&self.socket(), CLIENT_NAME))
                .is_ok()
            {
                return Ok(running);
            }
            if let Ok(Some(status)) = running.child.try_wait() {
                return Err(format!(
                    "mailseald exited with {status} while starting:\n{}",
                    self.log()
                ));
            }
            if Instant::now() > deadline {
                running.stop();
                return Err(format!("mailseald did not answer in 20 s:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Running {
    /// Current resident memory, bytes.
    pub fn rss(&self) -> Option<u64> {
        procfs::status_bytes(self.pid, "VmRSS")
    }

    /// Peak resident memory since start or the last [`procfs::reset_peak`], bytes.
    pub fn peak(&self) -> Option<u64> {
        procfs::status_bytes(self.pid, "VmHWM")
    }

    /// Stops the daemon with SIGTERM (it finishes requests in flight and removes its socket),
    /// or SIGKILL if it has not exited within 10 s.
    pub fn stop(&mut self) {
        let asked = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while asked && Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
