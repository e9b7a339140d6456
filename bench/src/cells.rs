//! One measurement ("cell"): a fixed amount of wall time of one operation on one input, either
//! through the daemon's socket by one or more clients, or by `openssl cms` as a process per
//! message.

use crate::Op;
use crate::daemon::CLIENT_NAME;
use crate::procfs::{self, CpuTimes};
use mailseal_protocol::Secret;
use mailseal_protocol::methods::Method;
use mailseal_protocol::methods::key;
use mailseal_protocol::methods::report::Verdict;
use mailseal_protocol::methods::smime::{self, ContentEncryption, Layer, SignatureMode};
use mailseal_protocol::methods::transfer::{AbsolutePath, Delivered, Output, Payload};
use mailseal_protocol::{Client, ClientError};
use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;
use tokio::sync::oneshot;

/// What one cell measured.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// Messages done in the timed part.
    pub count: u64,
    /// Wall time of the timed part.
    pub elapsed: Duration,
    /// Each message's latency (request written → reply read, or process start → exit).
    pub latencies: Vec<Duration>,
    /// CPU time of the daemon during the timed part.
    pub daemon_cpu: Option<Duration>,
    /// CPU time of this benchmark process (the clients) during the timed part, and of the
    /// `openssl` processes it ran.
    pub bench_cpu: Option<CpuTimes>,
    /// CPU time the rest of the machine used meanwhile (every core's busy time less the
    /// daemon's, this process's and its children's): other work disturbing the measurement.
    pub other_cpu: Option<Duration>,
}

impl Cell {
    /// How many cores other work kept busy on average during the cell.
    pub fn other_load(&self) -> Option<f64> {
        self.other_cpu
            .map(|cpu| cpu.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9))
    }

    /// Messages per second.
    pub fn rate(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }

    /// The `q` quantile (0–1) of the latencies.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let last = sorted.len().checked_sub(1)?;
        sorted.get(((last as f64) * q).round() as usize).copied()
    }
}

/// What a daemon cell sends, prepared once and shared by its clients.
pub struct Job {
    /// The operation.
    pub op: Op,
    /// The identity signing (sign, sign+encrypt).
    pub key_id: String,
    /// The plain message (sign, encrypt, sign+encrypt), or the signed (verify) or encrypted
    /// (decrypt) one.
    pub input: Input,
    /// The plain message's last bytes, to check what verify and decrypt return.
    pub plain_tail: Vec<u8>,
}

/// How a job's message travels.
pub enum Input {
    /// In the request, base64, and the result in the reply.
    Inline(Arc<Vec<u8>>),
    /// By path both ways (`{"path": …}` and `"output": {"path": …}`): how the CLI sends files,
    /// and the only way for messages larger than a frame.
    Files {
        /// The message file.
        input: PathBuf,
        /// Where the daemon writes the result.
        output: PathBuf,
    },
}

/// The last bytes of `plain`, which every opened message must end with.
pub fn tail(plain: &[u8]) -> Vec<u8> {
    plain[plain.len().saturating_sub(64)..].to_vec()
}

/// The error for a reply that did not carry the message where the job asked for it.
const INLINE: &str = "the daemon did not return the message where it was asked to";

/// A failed call, as text.
fn failed(op: Op) -> impl Fn(ClientError) -> String {
    move |e| format!("{}: {e}", op.method())
}

/// [`Job::timed_calls`] for one method: the same parameters again and again, pipelined.
pub async fn timed<M: Method>(
    client: &mut Client,
    params: &M::Params,
    in_flight: usize,
    deadline: Instant,
) -> Result<Vec<Duration>, ClientError> {
    let mut sent = VecDeque::with_capacity(in_flight);
    let mut latencies = Vec::new();
    loop {
        while sent.len() < in_flight
            && ((latencies.is_empty() && sent.is_empty()) || Instant::now() < deadline)
        {
            sent.push_back((Instant::now(), client.send::<M>(params).await?));
        }
        let Some((at, pending)) = sent.pop_front() else {
            return Ok(latencies);
        };
        client.receive(pending).await?;
        latencies.push(at.elapsed());
    }
}

impl Job {
    fn bytes(&self) -> Payload {
        match &self.input {
            Input::Inline(data) => data.as_ref().clone().into(),
            Input::Files { input, .. } => {
                Payload::Path(AbsolutePath::new(input).expect("the benchmark's paths are absolute"))
            }
        }
    }

    fn output(&self) -> Option<Output> {
        match &self.input {
            Input::Inline(_) => None,
            Input::Files { output, .. } => Some(Output::Path(
                AbsolutePath::new(output).expect("the benchmark's paths are absolute"),
            )),
        }
    }

    /// The result of a call: the message itself when inline; for a file, its first 4 KiB and
    /// its last 64 bytes, which is what [`Self::check`] looks at.
    fn result(&self, message: Delivered) -> Result<Vec<u8>, String> {
        match (message, &self.input) {
            (Delivered::Inline(data), _) => Ok(data.into_inner()),
            (Delivered::Path { .. }, Input::Files { output, .. }) => {
                let mut file = std::fs::File::open(output).map_err(|e| e.to_string())?;
                let mut head = Vec::new();
                (&mut file)
                    .take(4096)
                    .read_to_end(&mut head)
                    .map_err(|e| e.to_string())?;
                let len = file.metadata().map_err(|e| e.to_string())?.len();
                file.seek(SeekFrom::Start(
                    len.saturating_sub(64).max(head.len() as u64),
                ))
                .and_then(|_| file.read_to_end(&mut head))
                .map_err(|e| e.to_string())?;
                Ok(head)
            }
            _ => Err(INLINE.to_owned()),
        }
    }

    fn sign_params(&self) -> smime::SignParams {
        smime::SignParams {
            message: self.bytes(),
            output: self.output(),
            progress: false,
            key_id: Some(self.key_id.clone()),
            mode: SignatureMode::Detached,
            rsa_pss: false,
        }
    }

    fn encrypt_params(&self) -> smime::EncryptParams {
        smime::EncryptParams {
            message: self.bytes(),
            output: self.output(),
            progress: false,
            recipients: None,
            content_encryption: Some(ContentEncryption::Aes256Gcm),
            rsa_oaep: false,
        }
    }

    fn sign_encrypt_params(&self) -> smime::SignEncryptParams {
        smime::SignEncryptParams {
            message: self.bytes(),
            output: self.output(),
            progress: false,
            key_id: Some(self.key_id.clone()),
            recipients: None,
            content_encryption: Some(ContentEncryption::Aes256Gcm),
            triple_wrap: false,
            rsa_pss: false,
            rsa_oaep: false,
        }
    }

    fn incoming_params(&self) -> smime::IncomingParams {
        smime::IncomingParams {
            message: self.bytes(),
            output: self.output(),
            progress: false,
        }
    }

    /// Makes one call; with `check`, also checks that the reply is what the operation should
    /// produce (done on the warm-up call only, so as not to measure the checks).
    pub async fn call(&self, client: &mut Client, check: bool) -> Result<Vec<u8>, String> {
        let op = self.op;
        let (message, layers) = match op {
            Op::Sign => {
                let reply = client.call::<smime::Sign>(&self.sign_params()).await;
                (self.result(reply.map_err(failed(op))?.message)?, Vec::new())
            }
            Op::Encrypt => {
                let reply = client.call::<smime::Encrypt>(&self.encrypt_params()).await;
                (self.result(reply.map_err(failed(op))?.message)?, Vec::new())
            }
            Op::SignEncrypt => {
                let params = self.sign_encrypt_params();
                let reply = client.call::<smime::SignEncrypt>(&params).await;
                (self.result(reply.map_err(failed(op))?.message)?, Vec::new())
            }
            Op::Verify => {
                let reply = client.call::<smime::Verify>(&self.incoming_params()).await;
                let reply = reply.map_err(failed(op))?;
                (self.result(reply.message)?, reply.layers)
            }
            Op::Decrypt => {
                let reply = client.call::<smime::Decrypt>(&self.incoming_params()).await;
                let reply = reply.map_err(failed(op))?;
                (self.result(reply.message)?, reply.layers)
            }
        };
        if check {
            self.check(&message, &layers)?;
        }
        Ok(message)
    }

    /// Calls until `deadline` (at least once), keeping up to `in_flight` requests sent ahead of
    /// the reply awaited; each call's latency, from its request written to its reply read.
    pub async fn timed_calls(
        &self,
        client: &mut Client,
        in_flight: usize,
        deadline: Instant,
    ) -> Result<Vec<Duration>, String> {
        let calls = match self.op {
            Op::Sign => {
                timed::<smime::Sign>(client, &self.sign_params(), in_flight, deadline).await
            }
            Op::Encrypt => {
                timed::<smime::Encrypt>(client, &self.encrypt_params(), in_flight, deadline).await
            }
            Op::SignEncrypt => {
                let params = self.sign_encrypt_params();
                timed::<smime::SignEncrypt>(client, &params, in_flight, deadline).await
            }
            Op::Verify => {
                timed::<smime::Verify>(client, &self.incoming_params(), in_flight, deadline).await
            }
            Op::Decrypt => {
                timed::<smime::Decrypt>(client, &self.incoming_params(), in_flight, deadline).await
            }
        };
        calls.map_err(failed(self.op))
    }

    fn check(&self, message: &[u8], layers: &[Layer]) -> Result<(), String> {
        let contains = |needle: &[u8]| message.windows(needle.len()).any(|w| w == needle);
        let tail = self.plain_tail.as_slice();
        let ok = match self.op {
            Op::Sign => contains(b"multipart/signed"),
            Op::Encrypt | Op::SignEncrypt => contains(b"authEnveloped-data"),
            Op::Verify => {
                message.ends_with(tail)
                    && layers.iter().any(|layer| {
                        matches!(layer, Layer::Signed { signatures, .. }
                            if !signatures.is_empty()
                                && signatures.iter().all(|s| s.verdict() == Verdict::Valid))
                    })
            }
            Op::Decrypt => {
                message.ends_with(tail)
                    && layers.iter().any(|layer| {
                        matches!(
                            layer,
                            Layer::Encrypted {
                                algorithm: ContentEncryption::Aes256Gcm,
                                ..
                            }
                        )
                    })
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{}: the reply is not what it should be (layers: {layers:?})",
                self.op.method()
            ))
        }
    }
}

/// Unlocks `key_id` in the daemon at `socket`.
pub async fn unlock(socket: &Path, key_id: &str, passphrase: &str) -> Result<(), String> {
    let (mut client, _) = Client::connect_and_hello(socket, CLIENT_NAME)
        .await
        .map_err(|e| e.to_string())?;
    client
        .call::<key::Unlock>(&key::UnlockParams {
            key_id: key_id.to_owned(),
            passphrase: Secret::new(passphrase.to_owned()),
        })
        .await
        .map_err(|e| format!("key.unlock: {e}"))?;
    Ok(())
}

/// `clients` connections, each on a thread of its own, calling `job` for `duration` of wall
/// time after one checked warm-up call each, with `in_flight` requests sent ahead by each (1:
/// one at a time); at least one timed call per client.
pub async fn daemon_cell(
    socket: PathBuf,
    pid: u32,
    ticks: u64,
    (clients, in_flight): (usize, usize),
    duration: Duration,
    job: Arc<Job>,
) -> Result<Cell, String> {
    let warmed = Arc::new(Barrier::new(clients + 1));
    let go = Arc::new(Barrier::new(clients + 1));
    // Each client on a thread and runtime of its own, like the separate programs (the CLI, a
    // mail client's add-on) that use the daemon; all made before any client waits at a barrier.
    let runtimes = (0..clients)
        .map(|_| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a client's runtime: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut results = Vec::with_capacity(clients);
    for runtime in runtimes {
        let (socket, job) = (socket.clone(), Arc::clone(&job));
        let (warmed, go) = (Arc::clone(&warmed), Arc::clone(&go));
        let client = async move {
            let warm_up = async {
                let (mut client, _) = Client::connect_and_hello(&socket, CLIENT_NAME)
                    .await
                    .map_err(|e| e.to_string())?;
                job.call(&mut client, true).await?;
                Ok::<_, String>(client)
            }
            .await;
            // Every client reaches both barriers, even after a failure, so none waits forever.
            warmed.wait().await;
            go.wait().await;
            let mut client = warm_up?;
            let start = Instant::now();
            let latencies = job
                .timed_calls(&mut client, in_flight, start + duration)
                .await?;
            Ok::<_, String>((start, Instant::now(), latencies))
        };
        let (result, received) = oneshot::channel();
        std::thread::spawn(move || {
            let _ = result.send(runtime.block_on(client));
        });
        results.push(received);
    }
    warmed.wait().await;
    let before = (
        CpuTimes::read(&pid.to_string(), ticks),
        CpuTimes::read("self", ticks),
        procfs::machine_busy(ticks),
    );
    go.wait().await;
    let mut cell = Cell::default();
    let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
    let mut error = None;
    for received in results {
        match received.await.map_err(|e| e.to_string()).and_then(|r| r) {
            Ok((start, end, latencies)) => {
                first = Some(first.map_or(start, |f| f.min(start)));
                last = Some(last.map_or(end, |l| l.max(end)));
                cell.count += latencies.len() as u64;
                cell.latencies.extend(latencies);
            }
            Err(e) => error = error.or(Some(e)),
        }
    }
    let after = (
        CpuTimes::read(&pid.to_string(), ticks),
        CpuTimes::read("self", ticks),
        procfs::machine_busy(ticks),
    );
    if let Some(e) = error {
        return Err(e);
    }
    cell.elapsed = last.zip(first).map(|(l, f)| l - f).unwrap_or_default();
    cell.daemon_cpu = after.0.zip(before.0).map(|(a, b)| a.since(b).own);
    cell.bench_cpu = after.1.zip(before.1).map(|(a, b)| a.since(b));
    cell.other_cpu = other(after.2.zip(before.2), cell.daemon_cpu, cell.bench_cpu);
    Ok(cell)
}

/// The machine's busy time between two readings less what the daemon and this process (with
/// its children) used.
fn other(
    busy: Option<(Duration, Duration)>,
    daemon: Option<Duration>,
    bench: Option<CpuTimes>,
) -> Option<Duration> {
    let (after, before) = busy?;
    let ours = daemon? + bench?.own + bench?.children;
    Some(after.saturating_sub(before).saturating_sub(ours))
}

/// An `openssl` command line, or two piped into each other (sign | encrypt).
pub type Pipeline = Vec<Vec<String>>;

/// Runs `pipeline` in `dir` once; its standard error if a process fails.
fn run_pipeline(dir: &Path, pipeline: &Pipeline) -> Result<(), String> {
    let mut children = Vec::new();
    let mut input = Stdio::null();
    for (i, args) in pipeline.iter().enumerate() {
        let output = if i + 1 < pipeline.len() {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        let mut child = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(input)
            .stdout(output)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run openssl: {e}"))?;
        input = child.stdout.take().map_or_else(Stdio::null, Stdio::from);
        children.push((args, child));
    }
    for (args, child) in children {
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "openssl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(())
}

/// `pipeline` run again and again, one process (or pipe) per message, for `duration` of wall
/// time; after one unmeasured run when `warm_up`; at least one measured run.
pub fn openssl_cell(
    dir: &Path,
    pipeline: &Pipeline,
    duration: Duration,
    warm_up: bool,
    ticks: u64,
) -> Result<Cell, String> {
    if warm_up {
        run_pipeline(dir, pipeline)?;
    }
    let before = CpuTimes::read("self", ticks);
    let busy_before = procfs::machine_busy(ticks);
    let start = Instant::now();
    let deadline = start + duration;
    let mut cell = Cell::default();
    while cell.latencies.is_empty() || Instant::now() < deadline {
        let began = Instant::now();
        run_pipeline(dir, pipeline)?;
        cell.latencies.push(began.elapsed());
    }
    cell.elapsed = start.elapsed();
    cell.count = cell.latencies.len() as u64;
    cell.bench_cpu = CpuTimes::read("self", ticks)
        .zip(before)
        .map(|(a, b)| a.since(b));
    let busy = procfs::machine_busy(ticks).zip(busy_before);
    cell.other_cpu = other(busy, Some(Duration::ZERO), cell.bench_cpu);
    Ok(cell)
}
