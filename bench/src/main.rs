//! `mailseal-bench`: how fast the Mailseal daemon signs, verifies, encrypts and decrypts on this
//! machine, next to `openssl cms` run as a process per message and next to the raw speed of the
//! cryptography (`openssl speed`). It prints a markdown report; it is not a test and asserts
//! nothing about time. README.md ("Benchmarks") has the command.
#![forbid(unsafe_code)]

mod awslc;
mod cells;
mod daemon;
mod load;
mod pki;
mod procfs;
mod report;
mod speed;

use cells::{Cell, Input, Job, Pipeline};
use clap::Parser;
use mailseal_protocol::methods::{cert, key};
use mailseal_protocol::{Client, Secret};
use mailseal_test_support::ca::Ca;
use mailseal_test_support::{cms, openssl};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Measures the release `mailseald` against `openssl cms` and `openssl speed` on this machine.
///
/// Build first: `cargo build --release --bins && cargo run --release -p mailseal-bench -- --out
/// bench/results.md`. Every key, certificate and message is made in a temporary directory; the
/// daemon listens on a socket there; nothing goes over the network.
#[derive(Debug, Parser)]
#[command(name = "mailseal-bench", version)]
struct Args {
    /// About 1 s per cell and `openssl speed -seconds 1` (a few minutes in all) instead of 3 s.
    #[arg(long)]
    quick: bool,
    /// Also the 1 GiB encrypt, decrypt and verify rows (the daemon's by path, one client).
    #[arg(long)]
    huge: bool,
    /// Write the report to this file too.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write the raw numbers as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Seconds of wall time per cell [default: 1 with --quick, else 3].
    #[arg(long, value_name = "SECONDS")]
    seconds: Option<f64>,
    /// Clients in the "many clients" column [default: the number of cores].
    #[arg(long, value_name = "N")]
    clients: Option<usize>,
    /// Requests the one client of the "pipelined" column keeps in flight (messages up to
    /// 100 KiB; the protocol allows 32 per connection).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(2..=32))]
    in_flight: u32,
    /// Measure rows that other work on the machine disturbed (⚠) again, up to N times, and keep
    /// the least disturbed measurement.
    #[arg(long, value_name = "N", default_value_t = 0)]
    retry_disturbed: u32,
    /// Only the rows whose name ("RSA-2048 sign 1 KiB") contains this text, ignoring case.
    #[arg(long, value_name = "TEXT")]
    only: Option<String>,
    /// Also the latency of a RSA-2048 1 KiB sign and of a ping while N other connections are
    /// open and busy (each signing, verifying and pinging in turn): the rows "RSA-2048 sign
    /// 1 KiB under load" and "daemon.ping under load", measured together.
    #[arg(long, value_name = "N")]
    load_connections: Option<usize>,
    /// The `mailseald` to measure [default: target/release/mailseald].
    #[arg(long, value_name = "PATH")]
    daemon: Option<PathBuf>,
}

/// The kind of a private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with this many bits.
    Rsa(u32),
    /// ECDSA/ECDH on NIST P-256.
    P256,
}

/// An identity of the daemon's user: signs, and is the sender whose own copy is encrypted.
#[derive(Debug)]
pub struct IdentitySpec {
    /// How the report names it.
    pub label: &'static str,
    /// Its file names and the local part of its address.
    pub name: &'static str,
    /// Its key.
    pub key: KeyKind,
}

/// The identities measured.
pub const IDENTITIES: [IdentitySpec; 3] = [
    IdentitySpec {
        label: "RSA-2048",
        name: "rsa2048",
        key: KeyKind::Rsa(2048),
    },
    IdentitySpec {
        label: "RSA-3072",
        name: "rsa3072",
        key: KeyKind::Rsa(3072),
    },
    IdentitySpec {
        label: "P-256",
        name: "p256",
        key: KeyKind::P256,
    },
];

/// The recipients every message is encrypted to (RSA-2048), besides the sender.
pub const RECIPIENTS: [&str; 3] = ["bob", "carol", "dave"];

/// An S/MIME operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `smime.sign`, detached.
    Sign,
    /// `smime.verify` of a message the identity signed.
    Verify,
    /// `smime.encrypt` to the 3 recipients and the sender.
    Encrypt,
    /// `smime.decrypt` of a message encrypted so.
    Decrypt,
    /// `smime.sign_encrypt`.
    SignEncrypt,
}

/// Every operation, in report order.
pub const OPS: [Op; 5] = [
    Op::Sign,
    Op::Verify,
    Op::Encrypt,
    Op::Decrypt,
    Op::SignEncrypt,
];

impl Op {
    /// The name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Op::Sign => "sign",
            Op::Verify => "verify",
            Op::Encrypt => "encrypt",
            Op::Decrypt => "decrypt",
            Op::SignEncrypt => "sign+encrypt",
        }
    }

    /// The protocol method.
    pub fn method(self) -> &'static str {
        match self {
            Op::Sign => "smime.sign",
            Op::Verify => "smime.verify",
            Op::Encrypt => "smime.encrypt",
            Op::Decrypt => "smime.decrypt",
            Op::SignEncrypt => "smime.sign_encrypt",
        }
    }
}

/// How a row's message travels between the client and the daemon. Getting the message there
/// and back is part of what a row measures, so the report names it for every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// In the request, base64 in the JSON, and the result base64 in the reply.
    Inline,
    /// By path both ways (`{"path": …}` and `"output": {"path": …}`): how the CLI and other
    /// local clients send files, and the only way for messages larger than a frame.
    Path,
}

impl Transfer {
    /// What a row's name and size column add for this transfer: nothing for inline, the
    /// default, " by path" otherwise (so that `--only "by path"` selects those rows).
    pub fn suffix(self) -> &'static str {
        match self {
            Transfer::Inline => "",
            Transfer::Path => " by path",
        }
    }

    /// The name in the JSON numbers.
    pub fn label(self) -> &'static str {
        match self {
            Transfer::Inline => "inline",
            Transfer::Path => "by path",
        }
    }
}

/// A message size.
#[derive(Debug, Clone, Copy)]
pub struct SizeSpec {
    /// How the report names it.
    pub label: &'static str,
    /// The whole message (headers and body), bytes.
    pub bytes: usize,
    /// How messages of this size are sent, each a row of its own: inline where it fits in a
    /// frame, by path too where local clients would send files.
    pub transfers: &'static [Transfer],
}

/// The sizes measured for every operation.
pub const SIZES: [SizeSpec; 3] = [
    SizeSpec {
        label: "1 KiB",
        bytes: 1024,
        transfers: &[Transfer::Inline],
    },
    SizeSpec {
        label: "100 KiB",
        bytes: 100 * 1024,
        transfers: &[Transfer::Inline],
    },
    SizeSpec {
        label: "10 MiB",
        bytes: 10 * 1024 * 1024,
        transfers: &[Transfer::Inline, Transfer::Path],
    },
];

/// The size measured with `--huge`, for [`HUGE_OPS`] only: by path, as it cannot go through
/// one 64 MiB frame.
pub const HUGE: SizeSpec = SizeSpec {
    label: "1 GiB",
    bytes: 1 << 30,
    transfers: &[Transfer::Path],
};

/// A row's name, as the progress lines show it and `--only` matches it: "RSA-2048 encrypt
/// 10 MiB by path".
fn row_name(identity: &IdentitySpec, op: Op, size: SizeSpec, transfer: Transfer) -> String {
    format!(
        "{} {} {}{}",
        identity.label,
        op.label(),
        size.label,
        transfer.suffix()
    )
}

/// The operations measured at [`HUGE`]: the streaming ones whose memory matters.
const HUGE_OPS: [Op; 3] = [Op::Encrypt, Op::Decrypt, Op::Verify];

/// What a cell of the report holds.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A measurement.
    Measured(Cell),
    /// The measurement failed; why.
    Failed(String),
    /// Not measured; why.
    Absent(&'static str),
}

impl Outcome {
    /// The measurement, if there is one.
    pub fn cell(&self) -> Option<&Cell> {
        match self {
            Outcome::Measured(cell) => Some(cell),
            _ => None,
        }
    }

    fn of(result: Result<Cell, String>) -> Self {
        result.map_or_else(Outcome::Failed, Outcome::Measured)
    }
}

/// The daemon's memory during a row.
#[derive(Debug, Clone, Copy)]
pub struct RowRss {
    /// Resident memory before the row's first request (key unlocked), bytes.
    pub idle: u64,
    /// Peak resident memory during the row, bytes.
    pub peak: u64,
    /// Whether the peak was sampled (the kernel's peak could not be reset).
    pub sampled: bool,
}

/// One row: an identity, an operation and a size.
#[derive(Debug)]
pub struct Row {
    /// Index into [`IDENTITIES`].
    pub identity: usize,
    /// The operation.
    pub op: Op,
    /// The message size.
    pub size: SizeSpec,
    /// How the message went to the daemon and back.
    pub transfer: Transfer,
    /// Through the daemon, one client sending one request at a time.
    pub one: Outcome,
    /// Through the daemon, one client keeping [`Run::in_flight`] requests in flight.
    pub pipelined: Outcome,
    /// Through the daemon, one client per core.
    pub many: Outcome,
    /// `openssl cms`, a process per message.
    pub openssl: Outcome,
    /// The daemon's memory.
    pub rss: Option<RowRss>,
    /// CPU seconds one core needs for the cryptography alone, by `openssl speed` (see
    /// [`speed::Limits`]).
    pub crypto_seconds: f64,
    /// The same by aws-lc, the daemon's library, measured in this process.
    pub crypto_seconds_awslc: f64,
}

/// What describes this machine and this run in the report's header.
#[derive(Debug, Clone)]
pub struct Machine {
    /// When the run started (UTC).
    pub date: String,
    /// `nproc`.
    pub cores: usize,
    /// From /proc/cpuinfo.
    pub cpu: String,
    /// Kernel release.
    pub kernel: String,
    /// Total memory, bytes.
    pub memory: u64,
    /// `openssl version`.
    pub openssl: String,
    /// The daemon's version and path.
    pub daemon: String,
    /// The source measured: git commit, and whether the work tree differs from it.
    pub source: String,
    /// /proc/loadavg when the run started.
    pub load_before: String,
    /// /proc/loadavg when it ended.
    pub load_after: String,
}

/// The whole run, for the report.
#[derive(Debug)]
pub struct Run {
    /// The machine.
    pub machine: Machine,
    /// Seconds per cell.
    pub seconds: f64,
    /// Clients in the "many" column.
    pub clients: usize,
    /// Requests in flight in the "pipelined" column.
    pub in_flight: usize,
    /// `--quick`.
    pub quick: bool,
    /// `--huge`.
    pub huge: bool,
    /// The command line, as run.
    pub command: String,
    /// The physical limit by `openssl speed`.
    pub limits: speed::Limits,
    /// The same primitives by aws-lc.
    pub awslc: speed::Limits,
    /// The measurements.
    pub rows: Vec<Row>,
    /// Whether this benchmark itself was built without optimizations.
    pub debug_build: bool,
    /// The openssl command lines of one identity's rows, for the report.
    pub openssl_commands: Vec<(Op, String)>,
    /// Wall time of the whole run.
    pub total: Duration,
    /// The latencies under load (`--load-connections`).
    pub under_load: Option<load::UnderLoad>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailseal-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The message measured: headers for one identity (From) and the 3 recipients (To), and a
/// 7-bit text body of lines of 74 characters, `bytes` in all.
fn message(from: &str, bytes: usize, out: &mut impl Write) -> std::io::Result<()> {
    let head = format!(
        "From: {from}\r\nTo: Bob <bob@example.com>, Carol <carol@example.com>, Dave <dave@example.com>\r\nSubject: benchmark message of {bytes} bytes\r\nDate: Mon, 23 Nov 2026 19:00:00 +0000\r\nMessage-ID: <bench-{bytes}@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
    );
    out.write_all(head.as_bytes())?;
    let mut left = bytes.saturating_sub(head.len());
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut line = Vec::with_capacity(76);
    const LETTERS: &[u8; 32] = b"etaoinshrdlucmfwypvbgkqjxz      ";
    while left > 0 {
        // Never leave a single byte for the last line.
        let len = if left == 77 { 75 } else { left.min(76) };
        line.clear();
        for i in 0..len.saturating_sub(2) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let c = LETTERS[(state >> 59) as usize];
            // No space at either end of a line.
            let edge = i == 0 || i + 3 == len;
            line.push(if c == b' ' && edge { b'x' } else { c });
        }
        line.extend_from_slice(if len >= 2 { b"\r\n" } else { b"x" });
        out.write_all(&line)?;
        left -= len;
    }
    Ok(())
}

/// The inputs of one identity and size.
struct Inputs {
    plain: Arc<Vec<u8>>,
    signed: Arc<Vec<u8>>,
    encrypted: Arc<Vec<u8>>,
    /// File names (in the PKI directory) of the three, for openssl.
    files: [String; 3],
}

/// The `openssl cms` commands doing `op` on `files` (plain, signed, encrypted) for `identity`,
/// writing `out`.
fn openssl_pipeline(op: Op, identity: &IdentitySpec, files: &[String; 3], out: &str) -> Pipeline {
    let output = |mut args: Vec<String>| {
        args.extend(["-out".to_owned(), out.to_owned()]);
        args
    };
    let encrypt = |input: Option<&str>| {
        let mut args = vec!["cms".to_owned(), "-encrypt".into(), "-aes-256-gcm".into()];
        if let Some(input) = input {
            args.extend(["-in".to_owned(), input.to_owned()]);
        }
        let recipients = RECIPIENTS.iter().chain([&identity.name]);
        output(args)
            .into_iter()
            .chain(recipients.map(|r| format!("{r}.pem")))
            .collect()
    };
    match op {
        Op::Sign => vec![output(cms::sign(identity.name, &files[0]))],
        Op::Verify => vec![output(cms::verify(&files[1]))],
        Op::Encrypt => vec![encrypt(Some(&files[0]))],
        Op::Decrypt => vec![output(cms::decrypt(identity.name, &files[2]))],
        Op::SignEncrypt => vec![cms::sign(identity.name, &files[0]), encrypt(None)],
    }
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn probe_machine(daemon: &Path) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |text: &str, name: &str| {
        text.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == name).then(|| value.trim().to_owned())
        })
    };
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| field(&m, "MemTotal"))
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    Machine {
        date: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
            .unwrap_or_else(|| "unknown".into()),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu: field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into()),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".into(), |k| k.trim().to_owned()),
        memory,
        openssl: command_output("openssl", &["version"]).unwrap_or_else(|| "unknown".into()),
        daemon: daemon.display().to_string(),
        source: source_version(),
        load_before: load_average(),
        load_after: String::new(),
    }
}

/// The commit of the work tree this benchmark was built in (read-only git commands).
fn source_version() -> String {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(workspace)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
    };
    let Some(commit) = git(&["rev-parse", "--short", "HEAD"])
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    else {
        return "unknown".into();
    };
    let clean =
        git(&["diff-index", "--quiet", "HEAD", "--"]).is_some_and(|out| out.status.success());
    if clean {
        format!("git {commit}")
    } else {
        format!("git {commit} with uncommitted changes")
    }
}

/// The 1, 5 and 15 minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// `target/release/mailseald` beside this program's target directory.
fn default_daemon() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot find the target directory")?;
    let path = target.join("release").join("mailseald");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `cargo build --release --bins` first",
            path.display()
        ))
    }
}

fn run(args: Args) -> Result<(), String> {
    let started = Instant::now();
    let daemon_binary = match &args.daemon {
        Some(path) => path.clone(),
        None => default_daemon()?,
    };
    let mut machine = probe_machine(&daemon_binary);
    let seconds = args
        .seconds
        .unwrap_or(if args.quick { 1.0 } else { 3.0 })
        .max(0.05);
    let duration = Duration::from_secs_f64(seconds);
    let clients = args.clients.unwrap_or(machine.cores).max(1);
    let in_flight = args.in_flight as usize;
    let ticks = procfs::clock_ticks();
    let debug_build = cfg!(debug_assertions);
    if debug_build {
        eprintln!(
            "warning: this benchmark is a debug build; its client side is slow (use cargo run --release)"
        );
    }

    eprintln!(
        "openssl speed ({}s per primitive)…",
        if args.quick { 1 } else { 3 }
    );
    let limits = speed::measure(if args.quick { 1 } else { 3 })?;
    eprintln!("aws-lc speed…");
    let awslc = awslc::measure(if args.quick { 1.0 } else { 3.0 })?;

    let work = tempfile::Builder::new()
        .prefix("mailseal-bench-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    eprintln!("keys and certificates in {}…", work.path().display());
    let pki = pki::create(work.path());
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let home = daemon::Home::new(
        daemon_binary.clone(),
        work.path().join("d"),
        &pki.dir().join("ca.pem"),
        // Room for every busy connection and the measured ones, none closed for another.
        args.load_connections.map(|n| n + LOAD_SPARE),
    )?;

    // Set up once: identities, recipients, and the signed and encrypted inputs.
    let mut daemon = home.start(&runtime)?;
    let socket = home.socket();
    let (key_ids, inputs, version) = runtime.block_on(async {
        let (mut client, hello) = Client::connect_and_hello(&socket, daemon::CLIENT_NAME)
            .await
            .map_err(|e| e.to_string())?;
        let mut key_ids = Vec::new();
        for identity in &IDENTITIES {
            let p12 = std::fs::read(pki.dir().join(format!("{}.p12", identity.name)))
                .map_err(|e| e.to_string())?;
            let imported = client
                .call::<key::ImportPkcs12>(&key::ImportPkcs12Params {
                    data: p12.into(),
                    password: Secret::new(pki::PASSWORD.into()),
                    passphrase: None,
                })
                .await
                .map_err(|e| format!("key.import_pkcs12: {e}"))?;
            key_ids.push(imported.identity.key_id);
        }
        for recipient in RECIPIENTS {
            let pem = std::fs::read(pki.dir().join(format!("{recipient}.pem")))
                .map_err(|e| e.to_string())?;
            client
                .call::<cert::Import>(&cert::ImportParams { data: pem.into() })
                .await
                .map_err(|e| format!("cert.import: {e}"))?;
        }
        let mut inputs: Vec<Vec<Inputs>> = Vec::new();
        for (identity, key_id) in IDENTITIES.iter().zip(&key_ids) {
            let mut per_size = Vec::new();
            for (s, size) in SIZES.iter().enumerate() {
                let mut plain = Vec::with_capacity(size.bytes);
                message(
                    &format!("{} <{}@example.com>", identity.label, identity.name),
                    size.bytes,
                    &mut plain,
                )
                .map_err(|e| e.to_string())?;
                let plain = Arc::new(plain);
                let job = |op| Job {
                    op,
                    key_id: key_id.clone(),
                    input: Input::Inline(Arc::clone(&plain)),
                    plain_tail: cells::tail(&plain),
                };
                let signed = Arc::new(job(Op::Sign).call(&mut client, true).await?);
                let encrypted = Arc::new(job(Op::Encrypt).call(&mut client, true).await?);
                let files = [
                    format!("{}-{s}.eml", identity.name),
                    format!("{}-{s}.signed.eml", identity.name),
                    format!("{}-{s}.enc.eml", identity.name),
                ];
                for (file, data) in files.iter().zip([&plain, &signed, &encrypted]) {
                    std::fs::write(pki.dir().join(file), data.as_slice())
                        .map_err(|e| e.to_string())?;
                }
                per_size.push(Inputs {
                    plain,
                    signed,
                    encrypted,
                    files,
                });
            }
            inputs.push(per_size);
        }
        Ok::<_, String>((key_ids, inputs, hello.daemon_version))
    })?;
    daemon.stop();
    machine.daemon = format!("mailseald {version} ({})", machine.daemon);

    let mut plan = Vec::new();
    for (i, identity) in IDENTITIES.iter().enumerate() {
        for op in OPS {
            for (s, size) in SIZES.iter().enumerate() {
                for &transfer in size.transfers {
                    let name = row_name(identity, op, *size, transfer);
                    if selected(&args.only, &name) {
                        plan.push((i, op, s, transfer, name));
                    }
                }
            }
        }
    }
    let measure_row = |i: usize, op: Op, s: usize, transfer: Transfer| -> Result<Row, String> {
        let (identity, size, input) = (&IDENTITIES[i], SIZES[s], &inputs[i][s]);
        // The input openssl reads too: the plain, signed or encrypted message.
        let which = match op {
            Op::Verify => 1,
            Op::Decrypt => 2,
            _ => 0,
        };
        let job = Arc::new(Job {
            op,
            key_id: key_ids[i].clone(),
            input: match transfer {
                Transfer::Inline => Input::Inline(Arc::clone(
                    [&input.plain, &input.signed, &input.encrypted][which],
                )),
                Transfer::Path => Input::Files {
                    input: pki.dir().join(&input.files[which]),
                    output: pki.dir().join(DAEMON_OUT),
                },
            },
            plain_tail: cells::tail(&input.plain),
        });
        let columns = Columns {
            many: Some(clients),
            // Pipelined requests would share the one by-path output file.
            in_flight: (size.bytes <= PIPELINED_UP_TO && matches!(transfer, Transfer::Inline))
                .then_some(in_flight),
        };
        let cells = measure_daemon(&home, &runtime, &key_ids[i], job, columns, duration, ticks)?;
        let pipeline = openssl_pipeline(op, identity, &input.files, "out.eml");
        let openssl = Outcome::of(cells::openssl_cell(
            pki.dir(),
            &pipeline,
            duration,
            true,
            ticks,
        ));
        Ok(Row {
            identity: i,
            op,
            size,
            transfer,
            one: cells.one,
            pipelined: cells.pipelined,
            many: cells.many,
            openssl,
            rss: cells.rss,
            crypto_seconds: limits.seconds_per_message(op, identity.key, size.bytes),
            crypto_seconds_awslc: awslc.seconds_per_message(op, identity.key, size.bytes),
        })
    };
    let mut rows = Vec::new();
    for (n, (i, op, s, transfer, name)) in plan.iter().enumerate() {
        eprint!("[{:>2}/{}] {name}: ", n + 1, plan.len());
        let row = measure_row(*i, *op, *s, *transfer)?;
        eprintln!("{}", report::progress(&row, clients));
        rows.push(row);
    }
    // Rows that other work on the machine disturbed, measured again; the least disturbed
    // measurement of each is kept.
    for attempt in 1..=args.retry_disturbed {
        let disturbed: Vec<usize> = (0..rows.len())
            .filter(|&r| report::disturbed(&rows[r]))
            .collect();
        if disturbed.is_empty() {
            break;
        }
        eprintln!(
            "again ({attempt}/{}): {} rows disturbed by other work",
            args.retry_disturbed,
            disturbed.len()
        );
        for r in disturbed {
            let (i, op, s, transfer, name) = &plan[r];
            eprint!("[again] {name}: ");
            let row = measure_row(*i, *op, *s, *transfer)?;
            eprintln!("{}", report::progress(&row, clients));
            let load = |row: &Row| report::other_load(row).unwrap_or(f64::INFINITY);
            if load(&row) < load(&rows[r]) {
                rows[r] = row;
            }
        }
    }

    if args.huge {
        let huge = Huge {
            home: &home,
            runtime: &runtime,
            key_ids: &key_ids,
        };
        huge_rows(
            &pki,
            &huge,
            [&limits, &awslc],
            duration,
            ticks,
            &args.only,
            &mut rows,
        )?;
    }

    let under_load = match args.load_connections {
        Some(n) if LOAD_ROWS.iter().any(|row| selected(&args.only, row)) => {
            eprint!("[under load] {n} busy connections: ");
            let (plain, signed) = (&inputs[0][0].plain, &inputs[0][0].signed);
            let jobs = load::jobs(&key_ids[0], plain, signed);
            let measured = load::measure(&home, &runtime, n, jobs, duration)?;
            eprintln!("{}", report::load_progress(&measured));
            Some(measured)
        }
        _ => None,
    };

    let openssl_commands = OPS
        .iter()
        .map(|&op| {
            let pipeline = openssl_pipeline(op, &IDENTITIES[0], &inputs[0][0].files, "out.eml");
            let line = pipeline
                .iter()
                .map(|args| format!("openssl {}", args.join(" ")))
                .collect::<Vec<_>>()
                .join(" | ");
            (op, line)
        })
        .collect();
    let command = std::iter::once("mailseal-bench".to_owned())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    machine.load_after = load_average();
    let run = Run {
        machine,
        seconds,
        clients,
        in_flight,
        quick: args.quick,
        huge: args.huge,
        command,
        limits,
        awslc,
        rows,
        debug_build,
        openssl_commands,
        total: started.elapsed(),
        under_load,
    };
    let text = report::markdown(&run);
    print!("{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, &text).map_err(|e| format!("{}: {e}", out.display()))?;
        eprintln!("report written to {}", out.display());
    }
    if let Some(json) = &args.json {
        let value = report::json(&run);
        let text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
        std::fs::write(json, text).map_err(|e| format!("{}: {e}", json.display()))?;
    }
    Ok(())
}

/// The names of the rows `--load-connections` adds, for `--only`; both are measured together.
const LOAD_ROWS: [&str; 2] = ["RSA-2048 sign 1 KiB under load", "daemon.ping under load"];

/// Connections the daemon allows beyond `--load-connections`: the measured clients and the
/// one unlocking the key.
const LOAD_SPARE: usize = 16;

/// Whether `--only` lets the row `name` run.
fn selected(only: &Option<String>, name: &str) -> bool {
    only.as_ref()
        .is_none_or(|only| name.to_lowercase().contains(&only.to_lowercase()))
}

/// The daemon cells a row measures besides one client sending one request at a time.
#[derive(Debug, Clone, Copy)]
struct Columns {
    /// Clients of the "many clients" cell (`None`: not measured).
    many: Option<usize>,
    /// Requests in flight of the one client of the "pipelined" cell (`None`: not measured).
    in_flight: Option<usize>,
}

/// One row's measurements through the daemon.
struct DaemonCells {
    one: Outcome,
    pipelined: Outcome,
    many: Outcome,
    rss: Option<RowRss>,
}

/// The largest message sent pipelined: several requests of a large message in flight measure
/// memory more than the pipeline.
const PIPELINED_UP_TO: usize = 100 * 1024;

/// One row's daemon cells: a fresh daemon, the identity's key unlocked, the peak memory reset,
/// then 1 client, 1 client pipelining and `many` clients, as `columns` asks.
fn measure_daemon(
    home: &daemon::Home,
    runtime: &tokio::runtime::Runtime,
    key_id: &str,
    job: Arc<Job>,
    columns: Columns,
    duration: Duration,
    ticks: u64,
) -> Result<DaemonCells, String> {
    let mut daemon = home.start(runtime)?;
    runtime.block_on(cells::unlock(&home.socket(), key_id, pki::PASSWORD))?;
    // Unlocking runs scrypt (32 MiB); the row's peak starts after it.
    let reset = procfs::reset_peak(daemon.pid);
    let idle = daemon.rss().unwrap_or(0);
    let sampler = procfs::RssSampler::start(daemon.pid);
    let cell = |clients: usize, in_flight: usize| {
        Outcome::of(runtime.block_on(cells::daemon_cell(
            home.socket(),
            daemon.pid,
            ticks,
            (clients, in_flight),
            duration,
            Arc::clone(&job),
        )))
    };
    let one = cell(1, 1);
    let pipelined = columns
        .in_flight
        .map_or(Outcome::Absent(NOT_PIPELINED), |n| cell(1, n));
    let many = columns
        .many
        .map_or(Outcome::Absent(ONE_CLIENT_ONLY), |n| cell(n, 1));
    let sampled = sampler.finish();
    let peak = if reset { daemon.peak() } else { None };
    let rss = Some(RowRss {
        idle,
        peak: peak.unwrap_or(sampled),
        sampled: peak.is_none(),
    });
    daemon.stop();
    Ok(DaemonCells {
        one,
        pipelined,
        many,
        rss,
    })
}

/// Why a row has no "pipelined" cell.
const NOT_PIPELINED: &str = "pipelined only up to 100 KiB";

/// Where the daemon writes its result in the by-path rows (in the PKI directory, beside the
/// inputs and openssl's `out.eml`): one file for every by-path row and client, each result
/// renamed over it whole.
const DAEMON_OUT: &str = "out.daemon.eml";

/// Why a 1 GiB row has no "many clients" cell.
const ONE_CLIENT_ONLY: &str = "one client only at 1 GiB";

/// What the 1 GiB rows need besides the PKI.
struct Huge<'a> {
    home: &'a daemon::Home,
    runtime: &'a tokio::runtime::Runtime,
    key_ids: &'a [String],
}

/// The 1 GiB rows: encrypt, decrypt and verify by openssl and through the daemon, the message
/// by path both ways (a 1 GiB message cannot go through one 64 MiB frame), with the daemon's
/// peak memory. Both verify the same message, signed (detached) by openssl beforehand.
fn huge_rows(
    pki: &Ca,
    huge: &Huge<'_>,
    [limits, awslc]: [&speed::Limits; 2],
    duration: Duration,
    ticks: u64,
    only: &Option<String>,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    // Decryption needs the encryption's output.
    let wanted = |identity: &IdentitySpec, op: Op| {
        selected(only, &row_name(identity, op, HUGE, Transfer::Path))
            || (op == Op::Encrypt
                && selected(only, &row_name(identity, Op::Decrypt, HUGE, Transfer::Path)))
    };
    if !IDENTITIES
        .iter()
        .any(|identity| HUGE_OPS.iter().any(|&op| wanted(identity, op)))
    {
        return Ok(());
    }
    let plain = "huge.eml";
    // From the identity of the rows, as the daemon encrypts a copy to the sender (whose key
    // then decrypts it) and judges the signer's address.
    let write_plain = |identity: &IdentitySpec| -> Result<Vec<u8>, String> {
        eprintln!("writing a 1 GiB message from {}…", identity.label);
        let file = std::fs::File::create(pki.dir().join(plain)).map_err(|e| e.to_string())?;
        let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
        message(
            &format!("{} <{}@example.com>", identity.label, identity.name),
            HUGE.bytes,
            &mut writer,
        )
        .and_then(|()| writer.flush())
        .map_err(|e| e.to_string())?;
        let mut file = std::fs::File::open(pki.dir().join(plain)).map_err(|e| e.to_string())?;
        file.seek(SeekFrom::End(-64)).map_err(|e| e.to_string())?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).map_err(|e| e.to_string())?;
        Ok(tail)
    };
    for (i, identity) in IDENTITIES.iter().enumerate() {
        if !HUGE_OPS.iter().any(|&op| wanted(identity, op)) {
            continue;
        }
        let plain_tail = write_plain(identity)?;
        let encrypted = format!("huge-{}.enc.eml", identity.name);
        let ours = format!("huge-{}.daemon.enc.eml", identity.name);
        let signed = format!("huge-{}.signed.eml", identity.name);
        let files = [plain.to_owned(), signed.clone(), encrypted.clone()];
        for op in HUGE_OPS {
            if !wanted(identity, op) {
                continue;
            }
            eprint!("[1 GiB] {} {}: ", identity.label, op.label());
            if op == Op::Verify {
                // Signed for the identity's own address, so that every check passes.
                let from = format!("{}@example.com", identity.name);
                let mut sign = openssl_pipeline(Op::Sign, identity, &files, &signed).remove(0);
                sign.extend(["-from".to_owned(), from]);
                openssl(pki.dir(), &sign);
            }
            let out = if op == Op::Encrypt {
                encrypted.as_str()
            } else {
                "out.eml"
            };
            let pipeline = openssl_pipeline(op, identity, &files, out);
            let openssl = Outcome::of(cells::openssl_cell(
                pki.dir(),
                &pipeline,
                duration,
                false,
                ticks,
            ));
            // The daemon decrypts what it encrypted (the same algorithm and recipients).
            let (input, output) = match op {
                Op::Encrypt => (pki.dir().join(plain), pki.dir().join(&ours)),
                Op::Verify => (pki.dir().join(&signed), pki.dir().join("out.eml")),
                _ => (pki.dir().join(&ours), pki.dir().join("out.eml")),
            };
            let job = Arc::new(Job {
                op,
                key_id: huge.key_ids[i].clone(),
                input: Input::Files { input, output },
                plain_tail: plain_tail.clone(),
            });
            let columns = Columns {
                many: None,
                in_flight: None,
            };
            let cells = measure_daemon(
                huge.home,
                huge.runtime,
                &huge.key_ids[i],
                job,
                columns,
                duration,
                ticks,
            )?;
            let row = Row {
                identity: i,
                op,
                size: HUGE,
                transfer: Transfer::Path,
                one: cells.one,
                pipelined: cells.pipelined,
                many: cells.many,
                openssl,
                rss: cells.rss,
                crypto_seconds: limits.seconds_per_message(op, identity.key, HUGE.bytes),
                crypto_seconds_awslc: awslc.seconds_per_message(op, identity.key, HUGE.bytes),
            };
            eprintln!("{}", report::progress(&row, 1));
            rows.push(row);
        }
        let _ = std::fs::remove_file(pki.dir().join(&encrypted));
        let _ = std::fs::remove_file(pki.dir().join(&ours));
        let _ = std::fs::remove_file(pki.dir().join(&signed));
        let _ = std::fs::remove_file(pki.dir().join("out.eml"));
    }
    let _ = std::fs::remove_file(pki.dir().join(plain));
    Ok(())
}
