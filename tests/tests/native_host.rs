//! The Thunderbird bridge end to end: the real `mailseald native-host` process between a
//! stand-in for the add-on (Mozilla framing on its stdin/stdout) and the real daemon.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mailseal_test_support::openssl;
use mailseal_tests::{Pki, TestDaemon, binary};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The add-on's end of the port.
struct Port {
    child: Child,
    input: ChildStdin,
    output: ChildStdout,
}

impl Port {
    fn open(daemon: &TestDaemon) -> Self {
        // Thunderbird passes the manifest path and the add-on id; the host ignores them.
        let mut child = Command::new(binary("mailseald"))
            .args(["native-host", "--socket"])
            .arg(daemon.socket())
            .args([
                "/usr/lib/mozilla/native-messaging-hosts/mailseal.json",
                "mailseal@example.com",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the native host");
        let (input, output) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
        Self {
            child,
            input,
            output,
        }
    }

    fn send(&mut self, message: &Value) {
        let bytes = serde_json::to_vec(message).unwrap();
        self.input
            .write_all(&(bytes.len() as u32).to_ne_bytes())
            .unwrap();
        self.input.write_all(&bytes).unwrap();
        self.input.flush().unwrap();
    }

    fn frame(&mut self) -> Vec<u8> {
        let mut length = [0u8; 4];
        self.output.read_exact(&mut length).unwrap();
        let length = u32::from_ne_bytes(length) as usize;
        assert!(
            length <= 1024 * 1024,
            "a {length}-byte message would close Thunderbird's port"
        );
        let mut frame = vec![0u8; length];
        self.output.read_exact(&mut frame).unwrap();
        frame
    }

    /// The next reply, reassembled from chunks when it came in several; and how many frames.
    fn reply(&mut self) -> (Value, usize) {
        let first: Value = serde_json::from_slice(&self.frame()).unwrap();
        let Some(count) = first["chunk"]["count"].as_u64() else {
            return (first, 1);
        };
        let mut base64 = first["chunk"]["data"].as_str().unwrap().to_owned();
        for index in 1..count {
            let next: Value = serde_json::from_slice(&self.frame()).unwrap();
            assert_eq!(next["chunk"]["index"].as_u64(), Some(index));
            base64.push_str(next["chunk"]["data"].as_str().unwrap());
        }
        (
            serde_json::from_slice(&STANDARD.decode(base64).unwrap()).unwrap(),
            count as usize,
        )
    }

    fn call(&mut self, id: u64, method: &str, params: Value) -> (Value, usize) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let (reply, frames) = self.reply();
        assert_eq!(reply["id"], id, "{reply}");
        (reply, frames)
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn requests_relay_and_large_replies_arrive_in_chunks() {
    let pki = Pki::new();
    pki.user("ann", "ann@example.com", "ec");
    let p12 = pki.pkcs12("ann", "pw", &[]);
    let daemon = TestDaemon::start("");
    let imported = daemon.cli_with_stdin(
        &["import", p12.to_str().unwrap(), "--password-file", "-"],
        b"pw\n",
    );
    assert!(imported.status.success(), "{imported:?}");
    let mut port = Port::open(&daemon);

    let (hello, _) = port.call(1, "daemon.hello", json!({"protocol_versions": [1]}));
    assert_eq!(hello["result"]["protocol_version"], 1);
    // What an add-on has no business with is refused by the host: IT's and key management
    // methods, and file paths (it would read or write any of the user's files).
    let p12_data = STANDARD.encode(std::fs::read(&p12).unwrap());
    let (refused, _) = port.call(
        2,
        "key.import_pkcs12",
        json!({"data": p12_data, "password": "pw"}),
    );
    assert_eq!(
        refused["error"]["data"]["kind"], "unknown_method",
        "{refused}"
    );
    let (refused, _) = port.call(
        5,
        "smime.sign",
        json!({"message": {"path": p12.to_str().unwrap()}}),
    );
    assert_eq!(
        refused["error"]["data"]["field"], "params.message",
        "{refused}"
    );

    // A 1.5 MB message signs into a reply over Thunderbird's 1 MiB limit.
    let body = "All work and no play makes Ann a dull girl.\r\n".repeat(35_000);
    let message =
        format!("From: ann@example.com\r\nTo: bob@example.com\r\nSubject: big\r\n\r\n{body}");
    let (signed, frames) = port.call(
        3,
        "smime.sign",
        json!({"message": STANDARD.encode(message)}),
    );
    assert!(frames > 1, "the reply was chunked");
    let signed = STANDARD
        .decode(signed["result"]["message"].as_str().unwrap())
        .unwrap();
    let file = pki.write("signed.eml", &signed);
    let content = openssl(pki.dir(), &["cms", "-verify", "-in", &file, "-noverify"]);
    assert!(String::from_utf8_lossy(&content).contains("makes Ann a dull girl"));

    // Errors come back as the daemon sent them.
    let (unknown, _) = port.call(4, "daemon.fly", json!({}));
    assert_eq!(unknown["error"]["data"]["kind"], "unknown_method");
}

#[test]
fn a_stopped_daemon_is_reported_and_a_restarted_one_is_found_again() {
    let mut daemon = TestDaemon::start("");
    let mut port = Port::open(&daemon);
    let (ping, _) = port.call(1, "daemon.ping", json!({}));
    assert_eq!(ping["result"], json!({}));

    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(), Some(0));
    let (down, _) = port.call(2, "daemon.ping", json!({}));
    assert_eq!(
        down["error"]["data"]["kind"], "daemon_unavailable",
        "{down}"
    );
    assert!(
        down["error"]["message"]
            .as_str()
            .unwrap()
            .contains("start it")
    );

    daemon.restart();
    let (again, _) = port.call(3, "daemon.ping", json!({}));
    assert_eq!(again["result"], json!({}), "{again}");
}

/// `--register` writes the manifest where Thunderbird looks for it on this platform (Linux:
/// under the user's HOME), naming the wrapper and the add-on, and says where it wrote it; a
/// relative wrapper is refused, as Thunderbird would not find it.
#[test]
fn register_writes_the_host_manifest_for_the_user() {
    let home = tempfile::tempdir().unwrap();
    let register = |args: &[&str]| {
        Command::new(binary("mailseald"))
            .args([
                "--policy",
                "/nonexistent/policy.toml",
                "native-host",
                "--register",
            ])
            .args(args)
            .env("HOME", home.path())
            .env_remove("MAILSEAL_CONFIG")
            .output()
            .unwrap()
    };
    let done = register(&[
        "--wrapper",
        "/opt/mailseal/host",
        "--extension-id",
        "it@corp.example",
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let path = home
        .path()
        .join(".mozilla/native-messaging-hosts/mailseal.json");
    assert_eq!(
        String::from_utf8(done.stdout).unwrap().trim(),
        path.to_str().unwrap()
    );
    let manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(manifest["name"], "mailseal");
    assert_eq!(manifest["type"], "stdio");
    assert_eq!(manifest["path"], "/opt/mailseal/host");
    assert_eq!(manifest["allowed_extensions"], json!(["it@corp.example"]));

    let relative = register(&["--wrapper", "host"]);
    assert_eq!(relative.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&relative.stderr).contains("absolute path"));
}

#[test]
fn the_bridge_connects_again_when_the_daemon_closed_its_idle_connection() {
    let daemon = TestDaemon::start("idle_timeout_seconds = 1\n");
    let mut port = Port::open(&daemon);
    let (hello, _) = port.call(1, "daemon.hello", json!({"protocol_versions": [1]}));
    assert_eq!(hello["result"]["protocol_version"], 1);
    // The add-on is quiet for longer than the idle timeout: the daemon closes the bridge's
    // connection, and the next request still gets its answer, not daemon_unavailable.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (pong, _) = port.call(2, "daemon.ping", json!({}));
    assert_eq!(pong["result"], json!({}), "{pong}");
}
