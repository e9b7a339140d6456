//! End-to-end tests of the foundation: the real `mailseald` on a temporary socket, spoken to
//! with raw JSON lines, the protocol client and the `mailseal` CLI.

use mailseal_protocol::methods::{Empty, daemon, identity, key};
use mailseal_protocol::{ClientError, ErrorKind, PROTOCOL_VERSION, Secret};
use mailseal_tests::rpc::ping;
use mailseal_tests::{Pki, TestDaemon, binary, daemon_error};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// A raw line-level connection, for sending what a well-behaved client never would.
struct Raw(BufReader<UnixStream>);

impl Raw {
    async fn connect(daemon: &TestDaemon) -> Self {
        Self(BufReader::new(
            UnixStream::connect(daemon.socket()).await.unwrap(),
        ))
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.0.get_mut().write_all(bytes).await.unwrap();
    }

    /// The next reply, or `None` when the daemon closed the connection.
    async fn reply(&mut self) -> Option<Value> {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(20), self.0.read_line(&mut line))
            .await
            .expect("reply in time")
            .unwrap_or(0);
        (n > 0).then(|| serde_json::from_str(&line).expect("replies are JSON"))
    }

    async fn call(&mut self, line: &str) -> Value {
        self.send(format!("{line}\n").as_bytes()).await;
        self.reply().await.expect("a reply")
    }
}

fn kind(reply: &Value) -> &str {
    reply["error"]["data"]["kind"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error: {reply}"))
}

/// Pings over a new connection: the daemon still accepts and serves clients.
async fn ping_ok(daemon: &TestDaemon) {
    ping(&mut daemon.client().await).await;
}

#[tokio::test]
async fn hello_negotiates_the_version_and_lists_what_the_daemon_answers() {
    let daemon = TestDaemon::start("");
    let mut client = daemon.client().await;
    let hello = client
        .call::<daemon::Hello>(&daemon::HelloParams {
            client: Some("test".into()),
            protocol_versions: vec![PROTOCOL_VERSION, 99],
        })
        .await
        .unwrap();
    assert_eq!(hello.protocol_version, PROTOCOL_VERSION);
    assert_eq!(hello.daemon_version, env!("CARGO_PKG_VERSION"));
    assert!(hello.capabilities.contains(&"key.import_pkcs12".to_owned()));

    // Every announced method is routed to a handler: none answers unknown_method.
    for method in &hello.capabilities {
        let outcome = client.request(method, json!({})).await;
        if let Err(ClientError::Daemon(err)) = &outcome {
            assert!(
                !matches!(err.kind, ErrorKind::UnknownMethod { .. }),
                "{method} is not routed"
            );
        }
    }

    let err = daemon_error(
        client
            .call::<daemon::Hello>(&daemon::HelloParams {
                client: None,
                protocol_versions: vec![99],
            })
            .await,
    );
    assert_eq!(
        err.kind,
        ErrorKind::UnsupportedVersion {
            supported: vec![PROTOCOL_VERSION]
        }
    );
}

#[tokio::test]
async fn each_bad_input_gets_its_typed_error_and_the_connection_goes_on() {
    let daemon = TestDaemon::start("");
    let mut raw = Raw::connect(&daemon).await;

    let reply = raw.call("this is not json").await;
    assert_eq!(
        (kind(&reply), reply["error"]["code"].as_i64()),
        ("parse_error", Some(-32700))
    );
    assert_eq!(reply["id"], Value::Null);

    let reply = raw
        .call(r#"{"jsonrpc":"2.0","id":1,"method":"daemon.hel"#)
        .await;
    assert_eq!(kind(&reply), "parse_error");

    let reply = raw
        .call(r#"{"jsonrpc":"2.0","id":2,"method":"daemon.fly","params":{}}"#)
        .await;
    assert_eq!(
        (kind(&reply), reply["id"].as_i64()),
        ("unknown_method", Some(2))
    );
    assert_eq!(reply["error"]["data"]["method"], "daemon.fly");

    let reply = raw.call(r#"{"jsonrpc":"2.0","id":3,"method":"daemon.hello","params":{"protocol_versions":"one"}}"#).await;
    assert_eq!(
        (kind(&reply), reply["error"]["code"].as_i64()),
        ("bad_input", Some(-32602))
    );
    assert_eq!(reply["error"]["data"]["field"], "params.protocol_versions");

    let reply = raw.call(r#"{"jsonrpc":"2.0","id":4,"method":"key.unlock","params":{"key_id":"ab","passphrase":424242}}"#).await;
    assert_eq!(reply["error"]["data"]["field"], "params.passphrase");
    assert!(
        !reply.to_string().contains("424242"),
        "the value must not be echoed: {reply}"
    );

    let reply = raw
        .call(r#"{"jsonrpc":"2.0","id":"x","method":"cert.remove","params":{"fingerprint":"00"}}"#)
        .await;
    assert_eq!(
        (kind(&reply), reply["id"].as_str()),
        ("bad_input", Some("x"))
    );

    let reply = raw.call(r#"{"id":5,"method":"daemon.ping"}"#).await;
    assert_eq!(kind(&reply), "invalid_request");

    let reply = raw
        .call(r#"{"jsonrpc":"2.0","id":6,"method":"daemon.ping","params":{}}"#)
        .await;
    assert_eq!(reply["result"], json!({}), "still answering: {reply}");
}

#[tokio::test]
async fn an_oversized_frame_is_refused_and_the_daemon_serves_others() {
    let daemon = TestDaemon::start("max_frame_bytes = 4096\n");
    let mut raw = Raw::connect(&daemon).await;
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"daemon.ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(10_000)
    );
    raw.send(huge.as_bytes()).await;
    let reply = raw.reply().await.expect("an error before closing");
    assert_eq!(kind(&reply), "frame_too_large");
    assert_eq!(reply["error"]["data"]["limit"], 4096);
    assert!(
        raw.reply().await.is_none(),
        "the connection is closed after an oversized frame"
    );
    ping_ok(&daemon).await;
}

#[tokio::test]
async fn idle_connections_are_closed_and_give_their_slot_to_a_new_client() {
    // Every slot taken by clients that send nothing: the newcomer takes the place of the one
    // idle longest. Before, it waited for as long as they liked.
    let daemon = TestDaemon::start("max_connections = 2\nidle_timeout_seconds = 600\n");
    let mut first = Raw::connect(&daemon).await;
    assert_eq!(
        first
            .call(r#"{"jsonrpc":"2.0","id":1,"method":"daemon.ping"}"#)
            .await["result"],
        json!({})
    );
    let mut second = Raw::connect(&daemon).await;
    assert_eq!(
        second
            .call(r#"{"jsonrpc":"2.0","id":1,"method":"daemon.ping"}"#)
            .await["result"],
        json!({})
    );
    let newcomer = tokio::time::timeout(Duration::from_secs(10), async {
        let mut client = daemon.client().await;
        ping(&mut client).await;
    });
    newcomer
        .await
        .expect("a new client is served while idle ones hold every slot");
    assert!(
        first.reply().await.is_none(),
        "the connection idle longest was closed"
    );
    assert_eq!(
        second
            .call(r#"{"jsonrpc":"2.0","id":2,"method":"daemon.ping"}"#)
            .await["result"],
        json!({})
    );
    drop(daemon);

    // The idle timeout, and a request that never arrives whole (a byte every 2 s, the frame
    // timeout 1 s), answered with limit_exceeded.
    let daemon = TestDaemon::start("idle_timeout_seconds = 1\nframe_timeout_seconds = 1\n");
    let mut idle = Raw::connect(&daemon).await;
    let mut slow = Raw::connect(&daemon).await;
    slow.send(b"{").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    slow.send(b"\"").await;
    let cut = slow.reply().await.expect("an error before closing");
    assert_eq!(kind(&cut), "limit_exceeded");
    assert_eq!(cut["error"]["data"]["limit"], "frame_timeout_seconds");
    assert!(slow.reply().await.is_none());
    assert!(
        idle.reply().await.is_none(),
        "closed after a second of nothing"
    );
    ping_ok(&daemon).await;
}

#[tokio::test]
async fn pipelined_requests_run_concurrently_on_one_connection() {
    let daemon = TestDaemon::start("");
    let mut raw = Raw::connect(&daemon).await;
    // A slow request first: the quick one behind it must not wait for it.
    raw.send(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.ping\",\"params\":{\"delay_ms\":3000}}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"daemon.ping\"}\n").await;
    assert_eq!(raw.reply().await.unwrap()["id"], 2);
    assert_eq!(raw.reply().await.unwrap()["id"], 1);
}

#[tokio::test]
async fn the_client_pipelines_and_hands_each_reply_to_its_own_request() {
    let daemon = TestDaemon::start("");
    let mut client = daemon.client().await;
    let slow = client
        .send::<daemon::Ping>(&daemon::PingParams { delay_ms: 1500 })
        .await
        .unwrap();
    let refused = client
        .send::<key::Unlock>(&key::UnlockParams {
            key_id: "ab".repeat(32),
            passphrase: Secret::new("x".into()),
        })
        .await
        .unwrap();
    let status = client.send::<daemon::Status>(&Empty {}).await.unwrap();
    // The slow reply comes last: waiting for it first keeps the two that overtake it.
    let started = std::time::Instant::now();
    client.receive(slow).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1000));
    assert_eq!(
        client.receive(status).await.unwrap().pid,
        daemon.child.as_ref().unwrap().id(),
        "the status reply went to the status request"
    );
    let err = client.receive(refused).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Daemon(e) if matches!(e.kind, ErrorKind::KeyNotFound { .. })),
        "{err}"
    );
    // The connection is still in step for plain calls.
    ping(&mut client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_clients_are_all_answered() {
    let daemon = std::sync::Arc::new(TestDaemon::start(""));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let daemon = std::sync::Arc::clone(&daemon);
        tasks.spawn(async move {
            let mut client = daemon.client().await;
            client
                .call::<daemon::Status>(&Empty {})
                .await
                .map(|s| s.pid)
        });
    }
    let mut answered = 0;
    while let Some(result) = tasks.join_next().await {
        assert!(result.unwrap().is_ok());
        answered += 1;
    }
    assert_eq!(answered, 200);
}

#[tokio::test]
async fn pkcs12_import_with_right_and_wrong_password() {
    let pki = Pki::new();
    pki.user("ann", "ann@example.com", "rsa:2048");
    let p12 = std::fs::read(pki.pkcs12("ann", "correct horse", &[])).unwrap();
    let daemon = TestDaemon::start("");
    let mut client = daemon.client().await;

    let wrong = daemon_error(
        client
            .call::<key::ImportPkcs12>(&key::ImportPkcs12Params {
                data: p12.clone().into(),
                password: Secret::new("wrong".into()),
                passphrase: None,
            })
            .await,
    );
    assert_eq!(wrong.kind, ErrorKind::WrongPassword);
    let stored = || {
        std::fs::read_dir(daemon.data_dir().join("identities"))
            .unwrap()
            .count()
    };
    assert_eq!(stored(), 0, "nothing written on a wrong password");

    let imported = client
        .call::<key::ImportPkcs12>(&key::ImportPkcs12Params {
            data: p12.into(),
            password: Secret::new("correct horse".into()),
            passphrase: None,
        })
        .await
        .unwrap()
        .identity;
    assert_eq!(imported.certificate.emails, vec!["ann@example.com"]);
    assert_eq!(imported.chain.len(), 1);
    assert!(imported.chain[0].subject.contains("Test CA"));
    assert_eq!(
        imported.state,
        mailseal_protocol::methods::KeyState::Unlocked
    );
    assert_eq!(stored(), 1);

    // The key on disk is encrypted: no plaintext PKCS#8 and no password in the file.
    let file = std::fs::read_dir(daemon.data_dir().join("identities"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{text}"
    );
    assert!(!text.contains("BEGIN PRIVATE KEY") && !text.contains("correct horse"));
}

/// A key sealed under an empty passphrase opens for anyone who copies the file: every import
/// refuses it on the field that would protect the key, and writes nothing (issue 16).
#[tokio::test]
async fn an_empty_passphrase_is_refused_on_import() {
    let pki = Pki::new();
    pki.user("ann", "ann@example.com", "ec");
    let p12 = std::fs::read(pki.pkcs12("ann", "p12 pass", &[])).unwrap();
    let unprotected = std::fs::read(pki.pkcs12("ann", "", &[])).unwrap();
    let daemon = TestDaemon::start("");
    let mut client = daemon.client().await;
    let secret = |text: &str| Secret::new(text.into());

    let import = |data: &[u8], password: &str, passphrase: Option<&str>| key::ImportPkcs12Params {
        data: data.to_vec().into(),
        password: secret(password),
        passphrase: passphrase.map(secret),
    };
    for (params, field) in [
        (import(&p12, "p12 pass", Some("")), "params.passphrase"),
        (import(&unprotected, "", None), "params.password"),
    ] {
        let refused = daemon_error(client.call::<key::ImportPkcs12>(&params).await);
        assert_eq!(
            refused.kind,
            ErrorKind::bad_input(field),
            "{}",
            refused.message
        );
        assert!(
            refused.message.contains("non-empty passphrase"),
            "{}",
            refused.message
        );
    }
    let refused = daemon_error(
        client
            .call::<key::ImportPkcs8>(&key::ImportPkcs8Params {
                key: std::fs::read(pki.dir().join("ann.key")).unwrap().into(),
                certificates: std::fs::read(pki.dir().join("ann.pem")).unwrap().into(),
                passphrase: secret(""),
            })
            .await,
    );
    assert_eq!(refused.kind, ErrorKind::bad_input("params.passphrase"));
    assert_eq!(
        std::fs::read_dir(daemon.data_dir().join("identities"))
            .unwrap()
            .count(),
        0,
        "nothing stored"
    );

    // A PKCS#12 file without a password is fine when a passphrase protects the stored key.
    client
        .call::<key::ImportPkcs12>(&import(&unprotected, "", Some("at rest")))
        .await
        .unwrap();
}

#[tokio::test]
async fn identities_survive_a_restart_locked_and_unlock_with_the_passphrase() {
    let pki = Pki::new();
    pki.user("bob", "bob@example.com", "ec");
    let p12 = pki.pkcs12("bob", "p12-pass", &[]);
    let mut daemon = TestDaemon::start("");
    std::fs::write(daemon.home.path().join("pw"), "p12-pass\n").unwrap();
    std::fs::write(daemon.home.path().join("new"), "store-pass\n").unwrap();
    let pw = daemon.home.path().join("pw");
    let new = daemon.home.path().join("new");
    let out = daemon.cli(&[
        "--json",
        "import",
        p12.to_str().unwrap(),
        "--password-file",
        pw.to_str().unwrap(),
        "--passphrase-file",
        new.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key_id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["identity"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();

    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(), Some(0));
    daemon.restart();

    let mut client = daemon.client().await;
    let listed = client
        .call::<identity::List>(&Empty {})
        .await
        .unwrap()
        .identities;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].key_id.as_str(), listed[0].state),
        (
            key_id.as_str(),
            mailseal_protocol::methods::KeyState::Locked
        )
    );
    assert_eq!(listed[0].certificate.key_algorithm, "ec-p256");

    let out = daemon.cli_with_stdin(
        &["unlock", &key_id, "--passphrase-file", "-"],
        b"p12-pass\n",
    );
    assert_eq!(
        out.status.code(),
        Some(5),
        "the old PKCS#12 password no longer opens the key"
    );
    let out = daemon.cli_with_stdin(
        &["unlock", &key_id, "--passphrase-file", "-"],
        b"store-pass\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = client
        .call::<identity::List>(&Empty {})
        .await
        .unwrap()
        .identities;
    assert_eq!(
        listed[0].state,
        mailseal_protocol::methods::KeyState::Unlocked
    );

    let locked = client
        .call::<key::Lock>(&key::LockParams::default())
        .await
        .unwrap();
    assert_eq!(locked.locked, 1);
    let out = daemon.cli(&["lock", &"0".repeat(64)]);
    assert_eq!(out.status.code(), Some(7), "unknown key id");
}

#[tokio::test]
async fn unlocked_keys_expire_after_the_cache_time() {
    let pki = Pki::new();
    pki.user("cat", "cat@example.com", "ec");
    let daemon = TestDaemon::start("key_cache_seconds = 1\n");
    let mut client = daemon.client().await;
    let identity = pki
        .import_pkcs12(&mut client, "cat")
        .await
        .unwrap()
        .identity;
    assert_eq!(
        identity.state,
        mailseal_protocol::methods::KeyState::Unlocked
    );
    let mut state = identity.state;
    // The sweeper runs every second; allow a generous margin on a loaded machine.
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        state = client
            .call::<identity::List>(&Empty {})
            .await
            .unwrap()
            .identities[0]
            .state;
        if state == mailseal_protocol::methods::KeyState::Locked {
            break;
        }
    }
    assert_eq!(state, mailseal_protocol::methods::KeyState::Locked);
    let status = client.call::<daemon::Status>(&Empty {}).await.unwrap();
    assert_eq!(status.unlocked_keys, 0);
}

#[tokio::test]
async fn certificates_are_imported_listed_and_removed_through_the_cli() {
    let pki = Pki::new();
    let dan = pki.user("dan", "Dan@Example.com", "rsa:2048");
    let daemon = TestDaemon::start("");
    let out = daemon.cli(&[
        "--json",
        "certs",
        "import",
        dan.to_str().unwrap(),
        pki.dir().join("ca.pem").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imported: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(imported["certificates"].as_array().unwrap().len(), 2);

    let out = daemon.cli(&["--json", "certs", "list", "--email", "dan@example.com"]);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let certs = listed["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 1);
    let fingerprint = certs[0]["fingerprint"].as_str().unwrap().to_owned();

    let out = daemon.cli(&["certs", "remove", &fingerprint]);
    assert!(out.status.success());
    let out = daemon.cli(&["certs", "remove", &fingerprint]);
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no stored certificate"));

    let garbage = daemon.home.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let out = daemon.cli(&["certs", "import", garbage.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
}

/// A crash must not write the unlocked keys to a core file (issue 16): the real daemon runs
/// with a core-file limit of 0, not dumpable, and says so in `daemon.status` and the CLI.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_daemon_writes_no_core_file_and_reports_its_protection() {
    let daemon = TestDaemon::start("");
    let mut client = daemon.client().await;
    let status = client.call::<daemon::Status>(&Empty {}).await.unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", status.pid)).unwrap();
    let core = limits
        .lines()
        .find(|line| line.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(
        core.split_whitespace().skip(4).take(2).collect::<Vec<_>>(),
        ["0", "0"],
        "{core}"
    );
    assert_eq!(
        status.process,
        daemon::ProcessHygiene {
            core_dumps_off: true,
            not_dumpable: true,
            keys_in_locked_memory: false,
        }
    );
    let out = daemon.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("core dumps off: yes, not dumpable: yes, keys in locked memory: no"),
        "{text}"
    );
}

#[tokio::test]
async fn a_second_daemon_on_the_same_socket_is_refused() {
    let daemon = TestDaemon::start("");
    let out = daemon.command().output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(daemon.log().contains("already running"), "{}", daemon.log());
    ping_ok(&daemon).await;
}

#[tokio::test]
async fn a_stale_socket_left_by_a_crash_is_replaced() {
    let mut daemon = TestDaemon::start("");
    daemon.signal("KILL");
    daemon.wait_exit();
    assert!(
        daemon.socket().exists(),
        "a killed daemon leaves its socket file"
    );
    daemon.restart();
    assert!(daemon.log().contains("stale socket"), "{}", daemon.log());
    ping_ok(&daemon).await;
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_then_exits_cleanly() {
    let mut daemon = TestDaemon::start("");
    let mut raw = Raw::connect(&daemon).await;
    raw.send(b"{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"daemon.ping\",\"params\":{\"delay_ms\":1500}}\n").await;
    // Make sure the request has been read before the stop is asked for.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !daemon.log().contains("daemon.ping") {
        assert!(
            std::time::Instant::now() < deadline,
            "request not seen:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    daemon.signal("TERM");
    let reply = raw
        .reply()
        .await
        .expect("the request in flight is answered");
    assert_eq!(
        (reply["id"].as_i64(), &reply["result"]),
        (Some(9), &json!({}))
    );
    assert_eq!(daemon.wait_exit(), Some(0));
    assert!(!daemon.socket().exists(), "a clean stop removes the socket");
}

#[tokio::test]
async fn the_cli_reports_a_missing_daemon_with_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(binary("mailseal"))
        .args([
            "--socket",
            dir.path().join("none.sock").to_str().unwrap(),
            "status",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the mailseal daemon"));
}

#[test]
fn a_bad_config_file_is_named_with_line_and_key() {
    let daemon_home = tempfile::tempdir().unwrap();
    let config = daemon_home.path().join("config.toml");
    std::fs::write(&config, "log_level = \"info\"\nkey_cache_second = 5\n").unwrap();
    let out = std::process::Command::new(binary("mailseald"))
        .args(["--config", config.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(config.to_str().unwrap())
            && stderr.contains("line 2")
            && stderr.contains("key_cache_second"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_company_policy_wins_over_the_user_configuration() {
    let policy_dir = tempfile::tempdir().unwrap();
    let policy = policy_dir.path().join("policy.toml");
    std::fs::write(&policy, "key_cache_seconds = 42\n").unwrap();
    let daemon = TestDaemon::start_with_env(
        "key_cache_seconds = 5\nmax_connections = 7\n",
        &[("MAILSEAL_POLICY", policy.to_str().unwrap())],
    );
    let mut client = daemon.client().await;
    let status = client.call::<daemon::Status>(&Empty {}).await.unwrap();
    assert_eq!(status.key_cache_seconds, 42);
}

#[tokio::test]
async fn identities_near_expiry_carry_a_warning_and_are_logged() {
    let pki = Pki::new();
    // Test certificates are valid for 30 days: inside the default 30-day warning period.
    pki.user("eve", "eve@example.com", "ec");
    let (mut daemon, mut client) = pki.daemon(&["eve"], &[]).await;
    let listed = client
        .call::<identity::List>(&Empty {})
        .await
        .unwrap()
        .identities;
    let warning = listed[0].expiry_warning.as_deref().expect("a warning");
    assert!(
        warning.contains("eve@example.com") && warning.contains("renew"),
        "{warning}"
    );
    daemon.signal("TERM");
    daemon.wait_exit();
    daemon.restart();
    daemon.wait_for_log("expires in");

    let (_quiet, mut client) = pki
        .daemon_with("expiry_warning_days = 7\n", &["eve"], &[])
        .await;
    let listed = client
        .call::<identity::List>(&Empty {})
        .await
        .unwrap()
        .identities;
    assert_eq!(listed[0].expiry_warning, None);
}

/// Issue 16: a daemon whose accept loop is stuck (out of descriptors) still has connections
/// completed by the OS; `mailseal status` used to wait for the greeting's reply forever. It
/// gives up after `--connect-timeout` with the exit code of an unreachable daemon.
#[test]
fn the_cli_gives_up_on_a_daemon_that_never_answers() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("mailseal.sock");
    let _stuck = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let mailseal = binary("mailseal");
    let started = std::time::Instant::now();
    let mut cli = std::process::Command::new(mailseal)
        .arg("--socket")
        .arg(&socket)
        .arg("status")
        .env("MAILSEAL_CONNECT_TIMEOUT", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while cli.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = cli.kill();
            panic!("mailseal status still waits after 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = cli.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("did not answer within 1s"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}
