//! The daemon serves each connection on a thread of its own, with three open files per
//! connection: started with a low soft limit on open files (systemd's default is 1024), it
//! raises the limit to fit `max_connections`, and says so when even the hard limit is too low.
//!
//! Its own test binary: it lowers this process's limits, which the daemon inherits.

use mailseal_protocol::Client;
use mailseal_protocol::methods::{Empty, daemon};
use mailseal_tests::TestDaemon;
use std::process::Command;

const CONNECTIONS: usize = 100;

/// Sets this test process's open-file limits (`soft:hard`, either may be empty) with
/// util-linux `prlimit`.
fn limit_open_files(limits: &str) {
    let status = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={limits}"))
        .status()
        .expect("run prlimit (util-linux)");
    assert!(status.success(), "prlimit --nofile={limits} failed");
}

/// The daemon's soft and hard open-file limits, from /proc.
fn daemon_limits(daemon: &TestDaemon) -> (u64, u64) {
    let pid = daemon.child.as_ref().expect("daemon running").id();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("open-file limit listed");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[tokio::test]
async fn the_daemon_makes_room_for_its_connections_or_says_it_cannot() {
    // A soft limit far below what 100 connections need (3 each), the hard limit untouched.
    limit_open_files("200:");
    let daemon = TestDaemon::start(&format!("max_connections = {CONNECTIONS}\n"));
    let (soft, _) = daemon_limits(&daemon);
    assert!(
        soft >= 3 * CONNECTIONS as u64 + 256,
        "soft limit still {soft}"
    );

    // Every connection open at once, and every one served.
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        clients.push(Client::connect(&daemon.socket()).await.expect("connect"));
    }
    for client in &mut clients {
        let status = client.call::<daemon::Status>(&Empty {}).await;
        assert!(status.is_ok(), "a connection went unserved: {status:?}");
    }
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
    let log = daemon.wait_for_log("open-file limit leaves room for about 48 connections");
    assert!(log.contains("LimitNOFILE"), "{log}");
    let mut client = daemon.client().await;
    assert!(client.call::<daemon::Status>(&Empty {}).await.is_ok());
}
