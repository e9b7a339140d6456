//! The daemon serves each connection on a thread of its own, with up to six open files per
//! connection: started with a low soft limit on open files (systemd's default is 1024), it
//! raises the limit to fit `max_connections`, and says so when even the hard limit is too low.
//!
//! Its own test binary: it lowers this process's limits, which the daemon inherits. Linux only
//! (`/proc`, util-linux `prlimit`).
#![cfg(target_os = "linux")]

use mailseal_protocol::methods::{Empty, daemon, stream};
use mailseal_protocol::{Client, ErrorKind};
use mailseal_tests::{TestDaemon, daemon_error, limit_open_files, open_file_limits};
use std::time::Duration;

const CONNECTIONS: usize = 100;
/// What the daemon budgets per connection (`DESCRIPTORS_PER_CONNECTION`).
const PER_CONNECTION: usize = 6;
/// What it keeps for everything else.
const BASE: usize = 256;

/// The daemon's soft and hard open-file limits.
fn daemon_limits(daemon: &TestDaemon) -> (u64, u64) {
    open_file_limits(&daemon.pid().to_string())
}

#[tokio::test]
async fn the_daemon_makes_room_for_its_connections_or_says_it_cannot() {
    // A soft limit far below what 100 connections need, the hard limit untouched.
    limit_open_files("200:");
    let daemon = TestDaemon::start(&format!("max_connections = {CONNECTIONS}\n"));
    if !daemon.open_files_countable() {
        return;
    }
    let (soft, _) = daemon_limits(&daemon);
    let budget = PER_CONNECTION * CONNECTIONS + BASE;
    assert!(soft >= budget as u64, "soft limit {soft}, wanted {budget}");

    // Every connection open at once, and every one served.
    let idle = daemon.open_files();
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        clients.push(Client::connect(&daemon.socket()).await.expect("connect"));
    }
    for client in &mut clients {
        let status = client.call::<daemon::Status>(&Empty {}).await;
        assert!(status.is_ok(), "a connection went unserved: {status:?}");
    }
    // The budget holds: no connection costs more files than counted.
    let busy = daemon.open_files();
    assert!(
        busy - idle <= PER_CONNECTION * CONNECTIONS,
        "{CONNECTIONS} connections opened {} files",
        busy - idle
    );
    drop(clients);
    assert!(
        !daemon.log().contains("open-file limit"),
        "{}",
        daemon.log()
    );
    drop(daemon);

    // The hard limit, which an unprivileged process cannot raise, too low: the daemon warns
    // how many connections fit and still serves.
    limit_open_files("200:400");
    let daemon = TestDaemon::start(&format!("max_connections = {CONNECTIONS}\n"));
    assert_eq!(daemon_limits(&daemon), (400, 400));
    let fit = (400 - BASE) / PER_CONNECTION;
    let log = daemon.wait_for_log(&format!(
        "open-file limit leaves room for about {fit} connections"
    ));
    assert!(log.contains("LimitNOFILE"), "{log}");
    let mut client = daemon.client().await;
    assert!(client.call::<daemon::Status>(&Empty {}).await.is_ok());
    drop((client, daemon));

    // Streams hold a file each: a client opening them in a loop is refused while every
    // connection still has its share. 20 connections and the base take 376 of the 400 files;
    // 24 are left for streams. Before, it opened streams until the daemon had no descriptor
    // left, after which accept failed and every new client hung.
    const FEW: usize = 20;
    let daemon = TestDaemon::start(&format!(
        "max_connections = {FEW}\nmax_streams_per_connection = 10000\n"
    ));
    let mut greedy = daemon.client().await;
    let mut opened = 0;
    let refused = loop {
        match greedy.call::<stream::Open>(&Empty {}).await {
            Ok(_) => opened += 1,
            Err(refused) => break daemon_error::<()>(Err(refused)),
        }
        assert!(opened <= 1000, "streams without end");
    };
    assert_eq!(
        refused.kind,
        ErrorKind::LimitExceeded {
            limit: "max_open_streams".into(),
            retry_after_seconds: None
        },
        "{refused:?}"
    );
    assert_eq!(opened, 400 - BASE - PER_CONNECTION * FEW);
    daemon.wait_for_log("leaves room for 24 open streams");
    let mut clients = Vec::new();
    for _ in 0..FEW - 1 {
        let served = tokio::time::timeout(Duration::from_secs(10), async {
            let mut client = daemon.client().await;
            client.call::<daemon::Status>(&Empty {}).await.unwrap();
            client
        });
        clients.push(served.await.expect("a new client is served"));
    }
}
