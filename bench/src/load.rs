//! Latency under load (`--load-connections N`, issue 16): how long a 1 KiB sign and a ping
//! take while N other connections are open and busy, as on a daemon serving many programs of
//! the user at once. `tests/tests/load.rs` checks that such a load is answered correctly and
//! leaves nothing behind; this reports what it costs the requests that come meanwhile.

use crate::cells::{self, Cell, Job};
use crate::daemon::{self, CLIENT_NAME};
use crate::{Op, Outcome, pki};
use mailseal_protocol::Client;
use mailseal_protocol::methods::daemon::{Ping, PingParams};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::{Barrier, oneshot};

/// How long each of the busy connections may take to be accepted and greeted: they arrive
/// at once, on a machine whose cores the daemon is already busy with.
const CONNECT_WITHIN: Duration = Duration::from_secs(120);

/// The measurements under load.
#[derive(Debug)]
pub struct UnderLoad {
    /// Busy connections open meanwhile.
    pub connections: usize,
    /// Requests the busy connections completed per second while the measured ones ran.
    pub background_rate: f64,
    /// `smime.sign` of the RSA-2048 1 KiB message, one request at a time.
    pub sign: Outcome,
    /// `daemon.ping`, one request at a time.
    pub ping: Outcome,
}

/// What the busy connections send, in turn, for the report.
pub const MIX: &str = "RSA-2048 1 KiB `smime.sign`, `smime.verify` of it, `daemon.ping`";

/// A fresh daemon with `sign` and `verify`'s key unlocked, `connections` connections opened
/// and each sending [`MIX`] in a loop; then, for `duration`, one more client signing (`sign`)
/// and one pinging, each on a thread of its own, one request at a time.
pub fn measure(
    home: &daemon::Home,
    runtime: &Runtime,
    connections: usize,
    [sign, verify]: [Arc<Job>; 2],
    duration: Duration,
) -> Result<UnderLoad, String> {
    let mut daemon = home.start(runtime)?;
    let socket = home.socket();
    let result = runtime.block_on(async {
        cells::unlock(&socket, &sign.key_id, pki::PASSWORD).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let connected = Arc::new(Barrier::new(connections + 1));
        let mut busy = tokio::task::JoinSet::new();
        for _ in 0..connections {
            let (socket, sign, verify) = (socket.clone(), Arc::clone(&sign), Arc::clone(&verify));
            let (stop, done, connected) =
                (Arc::clone(&stop), Arc::clone(&done), Arc::clone(&connected));
            busy.spawn(async move {
                let client = Client::connect_and_hello_within(&socket, CLIENT_NAME, CONNECT_WITHIN)
                    .await
                    .map_err(|e| e.to_string());
                // Every task reaches the barrier, even after a failure, so none waits forever.
                connected.wait().await;
                let (mut client, _) = client?;
                while !stop.load(Ordering::Relaxed) {
                    sign.call(&mut client, false).await?;
                    verify.call(&mut client, false).await?;
                    client
                        .call::<Ping>(&PingParams::default())
                        .await
                        .map_err(|e| format!("daemon.ping: {e}"))?;
                    done.fetch_add(3, Ordering::Relaxed);
                }
                Ok::<_, String>(())
            });
        }
        connected.wait().await;
        let before = (done.load(Ordering::Relaxed), Instant::now());
        let sign_cell = measured(&socket, duration, move |client, deadline| {
            Box::pin(async move { sign.timed_calls(client, 1, deadline).await })
        });
        let ping_cell = measured(&socket, duration, |client, deadline| {
            Box::pin(async move {
                cells::timed::<Ping>(client, &PingParams::default(), 1, deadline)
                    .await
                    .map_err(|e| format!("daemon.ping: {e}"))
            })
        });
        let (sign_cell, ping_cell) = (sign_cell.await, ping_cell.await);
        let background_rate =
            (done.load(Ordering::Relaxed) - before.0) as f64 / before.1.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        while let Some(finished) = busy.join_next().await {
            finished.map_err(|e| e.to_string())??;
        }
        Ok::<_, String>(UnderLoad {
            connections,
            background_rate,
            sign: Outcome::of(sign_cell),
            ping: Outcome::of(ping_cell),
        })
    });
    daemon.stop();
    result
}

/// The future of one measured client's timed calls.
type Calls<'a> = std::pin::Pin<Box<dyn Future<Output = Result<Vec<Duration>, String>> + Send + 'a>>;

/// A client on a thread and runtime of its own (as the busy ones are another program's),
/// connected, then making `calls` until `duration` has passed: the latencies as a cell.
async fn measured(
    socket: &Path,
    duration: Duration,
    calls: impl for<'a> FnOnce(&'a mut Client, Instant) -> Calls<'a> + Send + 'static,
) -> Result<Cell, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a client's runtime: {e}"))?;
    let socket = socket.to_owned();
    let (result, received) = oneshot::channel();
    std::thread::spawn(move || {
        let _ = result.send(runtime.block_on(async {
            let (mut client, _) =
                Client::connect_and_hello_within(&socket, CLIENT_NAME, CONNECT_WITHIN)
                    .await
                    .map_err(|e| e.to_string())?;
            let start = Instant::now();
            let latencies = calls(&mut client, start + duration).await?;
            Ok(Cell {
                count: latencies.len() as u64,
                elapsed: start.elapsed(),
                latencies,
                ..Cell::default()
            })
        }));
    });
    received.await.map_err(|e| e.to_string())?
}

/// The sign and verify jobs of the busy connections and the measured signer: `plain` and
/// `signed` (the RSA-2048 identity's 1 KiB message, and it signed) inline.
pub fn jobs(key_id: &str, plain: &Arc<Vec<u8>>, signed: &Arc<Vec<u8>>) -> [Arc<Job>; 2] {
    let job = |op, input: &Arc<Vec<u8>>| {
        Arc::new(Job {
            op,
            key_id: key_id.to_owned(),
            input: cells::Input::Inline(Arc::clone(input)),
            plain_tail: cells::tail(plain),
        })
    };
    [job(Op::Sign, plain), job(Op::Verify, signed)]
}
