//! Load and soak (issue 16): 1,000 connections open at once, each sending a mix of requests
//! for a bounded time, must all be answered correctly, and once they close the daemon must be
//! back to its idle descriptors and, within a stated margin, its idle memory. Every connection
//! is served on a thread of its own, so this is where a leaked descriptor, a thread that never
//! ends or memory kept per connection would show.
//!
//! Its own test binary: it may raise this process's open-file limit, which the daemon
//! inherits. Loopback only (the daemon's local socket). Linux only (`/proc`, `prlimit`); it
//! asserts nothing about speed.

#[cfg(target_os = "linux")]
mod linux {
    use mailseal_protocol::methods::report::Verdict;
    use mailseal_protocol::methods::smime::SignatureMode;
    use mailseal_protocol::methods::{Empty, cert, daemon, stream};
    use mailseal_protocol::{Client, ErrorKind};
    use mailseal_tests::rpc::{only_signature, ping, sign, verify};
    use mailseal_tests::{Pki, TestDaemon, daemon_error, limit_open_files, open_file_limits};
    use serde_json::json;
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use tokio::sync::Barrier;

    /// Connections open at once.
    const CONNECTIONS: usize = 1000;
    /// How long the connections of one load keep sending rounds of requests once all are
    /// open; each sends at least one whole round however long it takes. With [`LOADS`] loads
    /// this keeps the test at about 25 s against a debug daemon on 2 shared cores (each load
    /// answers 11,000 to 17,000 requests there, with the cores shared).
    const LOAD: Duration = Duration::from_secs(5);
    /// Loads one after the other, each checked on its own (answers, files, memory).
    const LOADS: usize = 3;
    /// Requests in one round of [`round`].
    const PER_ROUND: usize = 11;
    /// How long a connection may wait to be accepted and greeted: with 1,000 arriving at once
    /// and the cores busy signing, far longer than the client's default 10 s may pass.
    const CONNECT_WITHIN: Duration = Duration::from_secs(120);
    /// How long the daemon may take to end the 1,000 connection threads and close their
    /// sockets once the clients have gone.
    const SETTLE_WITHIN: Duration = Duration::from_secs(30);
    /// How far above idle the daemon's resident memory may stay after a load. Freed memory is
    /// not all given back to the system: glibc's allocator keeps what the 1,000 connection
    /// threads freed in its arenas (up to 8 per core), fragmented, for reuse, and the daemon
    /// cannot call `malloc_trim` (no `unsafe`). Measured on 2 cores (idle 36 MiB, peak about
    /// 700 MiB): 110–170 MiB kept after the first load, then 340–410 MiB after each further
    /// one, so this is a bound on what the allocator keeps, not "back to idle" (issue 16 keeps
    /// that open). A check that the third load keeps no more than the second (within 32 MiB)
    /// was tried and flaked (340 → 410 MiB in one CI run, with more requests answered), so only
    /// this bound is asserted: it catches a leak of about 500 KiB per connection.
    const RSS_MARGIN: u64 = 512 << 20;
    /// Open files this test process needs: a socket per connection and some room.
    const OWN_FILES: u64 = CONNECTIONS as u64 + 256;
    /// Open files the daemon budgets for `max_connections` of [`MAX_CONNECTIONS`] and its
    /// default 1,024 streams (see protocol/README.md, "Limits").
    const DAEMON_FILES: u64 = 6 * MAX_CONNECTIONS as u64 + 256 + 1024;
    /// Every load connection, the observer and room to spare stay open at once: none is
    /// closed to make room for another.
    const MAX_CONNECTIONS: usize = CONNECTIONS + 24;

    /// What every connection signs and verifies: small, as most mail is.
    const MESSAGE: &str = "From: Ann <ann@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: load\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nOne of many small messages signed and verified under load.\r\n";

    /// One round of the mix on `client`, connection number `n`, every reply checked: the
    /// number of requests answered (all of them, or it panics).
    async fn round(client: &mut Client, pid: u32, n: usize) -> usize {
        ping(client).await;
        let status = client
            .call::<daemon::Status>(&Empty {})
            .await
            .expect("daemon.status");
        assert_eq!(status.pid, pid);
        let certificates = client
            .call::<cert::List>(&cert::ListParams::default())
            .await
            .expect("cert.list")
            .certificates;
        assert!(
            certificates
                .iter()
                .any(|c| c.emails.iter().any(|e| e == "bob@example.com")),
            "bob's certificate missing from {certificates:?}"
        );

        let signed = sign(client, MESSAGE.as_bytes(), SignatureMode::Detached)
            .await
            .expect("smime.sign");
        let opened = verify(client, &signed).await.expect("smime.verify");
        assert_eq!(only_signature(&opened.layers).verdict(), Verdict::Valid);

        // A stream with bytes of this connection's own, read back whole.
        let data = format!("connection {n}\n").repeat(256).into_bytes();
        let id = client
            .call::<stream::Open>(&Empty {})
            .await
            .expect("stream.open")
            .stream;
        let written = client
            .call::<stream::Write>(&stream::WriteParams {
                stream: id.clone(),
                data: data.clone().into(),
            })
            .await
            .expect("stream.write");
        assert_eq!(written.bytes, data.len() as u64);
        let read = client
            .call::<stream::Read>(&stream::ReadParams {
                stream: id.clone(),
                offset: 0,
                length: None,
            })
            .await
            .expect("stream.read");
        assert!(read.eof);
        assert!(
            read.data.into_inner() == data,
            "stream {n} read back other bytes"
        );
        let closed = client
            .call::<stream::Close>(&stream::CloseParams { stream: id })
            .await
            .expect("stream.close");
        assert_eq!(closed.bytes, data.len() as u64);

        // Bad requests get the error they deserve, and the connection goes on.
        let bad = daemon_error(client.request("smime.sign", json!({"message": 5})).await);
        assert!(matches!(bad.kind, ErrorKind::BadInput { .. }), "{bad:?}");
        let unknown = daemon_error(client.request("load.no_such_method", json!({})).await);
        assert_eq!(
            unknown.kind,
            ErrorKind::UnknownMethod {
                method: "load.no_such_method".into()
            }
        );
        PER_ROUND
    }

    /// What one load did.
    #[derive(Debug)]
    struct Load {
        /// Requests answered, each correctly.
        answered: usize,
        /// The daemon's open files once every connection was open.
        busy_files: usize,
    }

    /// One load: [`CONNECTIONS`] connections opened at once, each sending rounds for [`LOAD`],
    /// then all closed; returns once the daemon is back to `idle_files` open files (every
    /// connection thread ended), panicking if it does not get there within [`SETTLE_WITHIN`].
    async fn load(daemon: &Arc<TestDaemon>, idle_files: usize) -> Load {
        let pid = daemon.pid();
        let connected = Arc::new(Barrier::new(CONNECTIONS + 1));
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..CONNECTIONS {
            let (daemon, connected) = (Arc::clone(daemon), Arc::clone(&connected));
            tasks.spawn(async move {
                let client =
                    Client::connect_and_hello_within(&daemon.socket(), "load", CONNECT_WITHIN)
                        .await;
                // All open before any starts, so that the load meets 1,000 at once; a failure
                // still reaches the barrier, or the others would wait for it forever.
                connected.wait().await;
                let (mut client, _) = client.expect("connect and hello");
                let deadline = Instant::now() + LOAD;
                let mut answered = round(&mut client, pid, n).await;
                while Instant::now() < deadline {
                    answered += round(&mut client, pid, n).await;
                }
                answered
            });
        }
        connected.wait().await;
        let busy_files = daemon.open_files();
        assert!(
            busy_files >= idle_files + CONNECTIONS,
            "{busy_files} files open with {CONNECTIONS} connections, {idle_files} idle"
        );
        let mut answered = 0;
        while let Some(result) = tasks.join_next().await {
            let each = result.expect("a connection's requests were all answered correctly");
            assert!(each >= PER_ROUND);
            answered += each;
        }
        // Each task's client was dropped as it ended: every connection is closed.
        let deadline = Instant::now() + SETTLE_WITHIN;
        loop {
            let files = daemon.open_files();
            if files == idle_files {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{files} files still open {SETTLE_WITHIN:?} after the load, {idle_files} idle"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Load {
            answered,
            busy_files,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_thousand_busy_connections_are_all_answered_and_leave_nothing_behind() {
        let (soft, hard) = open_file_limits("self");
        if hard < OWN_FILES.max(DAEMON_FILES) {
            eprintln!(
                "skipped: 1,000 connections need {} open files but the hard limit is {hard}",
                OWN_FILES.max(DAEMON_FILES)
            );
            return;
        }
        if soft < OWN_FILES {
            limit_open_files(&format!("{OWN_FILES}:"));
        }

        let pki = Pki::new();
        pki.user("ann", "ann@example.com", "rsa:2048");
        pki.user("bob", "bob@example.com", "ec");
        // Logging at info: debug would write a few lines for each of tens of thousands of
        // requests.
        let daemon = Arc::new(TestDaemon::start_with_env(
            &format!(
                "{}max_connections = {MAX_CONNECTIONS}\n",
                pki.trust_config()
            ),
            &[("RUST_LOG", "info")],
        ));
        if !daemon.open_files_countable() {
            return;
        }
        let pid = daemon.pid();
        // The observer stays connected throughout, so the idle figures include it: it imports
        // ann's key and bob's certificate, warms up every method once, and checks at the end that
        // the daemon still serves.
        let mut observer = daemon.client().await;
        pki.provision(&mut observer, &["ann"], &["bob"]).await;
        round(&mut observer, pid, CONNECTIONS).await;
        let idle_files = daemon.open_files();
        let idle_rss = daemon.memory("VmRSS");

        let mut after = Vec::new();
        let mut answered = 0;
        for _ in 0..LOADS {
            let load = load(&daemon, idle_files).await;
            answered += load.answered;
            after.push(daemon.memory("VmRSS"));
            eprintln!(
                "load {}: {} requests answered on {CONNECTIONS} connections; open files: \
                 {idle_files} idle, {} under load, back to idle after; RSS {} MiB after",
                after.len(),
                load.answered,
                load.busy_files,
                after[after.len() - 1] >> 20
            );
        }
        let mib = |bytes: u64| bytes >> 20;
        eprintln!(
            "{answered} requests answered in all; RSS: {} MiB idle, {} MiB peak, {:?} MiB after \
             each load",
            mib(idle_rss),
            mib(daemon.memory("VmHWM")),
            after.iter().map(|&rss| mib(rss)).collect::<Vec<_>>()
        );
        for &rss in &after {
            assert!(
                rss <= idle_rss + RSS_MARGIN,
                "RSS {} MiB after a load, {} MiB idle: more than {} MiB kept",
                mib(rss),
                mib(idle_rss),
                mib(RSS_MARGIN)
            );
        }
        round(&mut observer, pid, CONNECTIONS).await;
    }
}

#[cfg(not(target_os = "linux"))]
#[test]
fn a_thousand_busy_connections_are_all_answered_and_leave_nothing_behind() {
    eprintln!("skipped: the load test reads /proc and uses prlimit, because both are Linux only");
}
