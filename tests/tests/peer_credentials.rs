//! Only the daemon's own user may talk to it, and its clients talk only to it: the OS refuses
//! others at the socket's directory, the daemon refuses them by their credentials, and a
//! client sends nothing to a socket another user could have put there or listens on.
//!
//! The other user is `nobody`, reached with `setpriv` (so these tests need root and are skipped
//! otherwise). What runs as `nobody` is this test executable again, in one of the [`Role`]s of
//! [`as_nobody`].

use mailseal_tests::rpc::ping;
use mailseal_tests::{TestDaemon, binary};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `nobody`'s uid, as `setpriv` becomes it.
const NOBODY: u32 = 65534;

/// The environment variable that makes this executable play a [`Role`] instead of testing.
const ROLE: &str = "MAILSEAL_TEST_ROLE";

/// Whether the tests can switch users; says why not when they cannot.
fn is_root() -> bool {
    let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
    if uid.trim() != "0" {
        eprintln!(
            "skipped: switching to another uid needs root (running as uid {})",
            uid.trim()
        );
    }
    uid.trim() == "0"
}

/// `command` prefixed with `setpriv`, to run as `nobody`.
fn setpriv_nobody(program: &Path) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(program);
    command
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A directory only its owner (root) may enter, as the daemon makes its own.
fn private_dir(path: &Path) {
    std::fs::create_dir(path).unwrap();
    chmod(path, 0o700);
}

/// Runs `mailseal status` as `nobody` against `daemon`, which must fail to reach the daemon
/// (exit code 3); its standard error.
fn refused_as_nobody(daemon: &TestDaemon) -> String {
    let out = setpriv_nobody(&binary("mailseal"))
        .arg("--socket")
        .arg(daemon.socket())
        .arg("status")
        .output()
        .expect("setpriv runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    stderr
}

/// What this executable does when run as `nobody` with [`ROLE`] set.
enum Role {
    /// A raw client, which checks nothing: connects, sends a `daemon.hello` line and reports
    /// what came back (`answered <bytes>`) or why it could not connect (`refused <error>`).
    Connect(PathBuf),
    /// An impostor daemon: listens, says `listening`, and reports each connection's bytes
    /// (`received <bytes>`, read for up to 2 s); a connection that sends `stop` ends it.
    Listen(PathBuf),
}

/// Not a test of its own: the [`Role`] played as `nobody` when [`ROLE`] is set (a no-op
/// otherwise).
#[test]
fn as_nobody() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let role = match role.split_once(':') {
        Some(("connect", path)) => Role::Connect(path.into()),
        Some(("listen", path)) => Role::Listen(path.into()),
        _ => panic!("unknown role {role}"),
    };
    match role {
        Role::Connect(path) => match UnixStream::connect(path) {
            Err(e) => println!("refused {e}"),
            Ok(mut stream) => {
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let _ = stream.write_all(
                    b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.hello\",\"params\":{\"protocol_versions\":[1]}}\n",
                );
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer);
                println!("answered {}", answer.len());
            }
        },
        Role::Listen(path) => {
            let listener = UnixListener::bind(path).unwrap();
            println!("listening");
            let deadline = Instant::now() + Duration::from_secs(60);
            listener.set_nonblocking(true).unwrap();
            while Instant::now() < deadline {
                let mut stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    Err(e) => panic!("accept: {e}"),
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .unwrap();
                let mut received = Vec::new();
                let _ = stream.read_to_end(&mut received);
                if received == b"stop" {
                    return;
                }
                println!("received {}", received.len());
            }
        }
    }
}

/// This executable as `nobody`, playing `role` (`connect:PATH` or `listen:PATH`).
fn play_as_nobody(role: &str) -> Command {
    let mut command = setpriv_nobody(&std::env::current_exe().unwrap());
    command
        .args(["--exact", "as_nobody", "--nocapture", "--test-threads=1"])
        .env(ROLE, role);
    command
}

/// The lines of a role's report (libtest's own output left out; its `test as_nobody ... `
/// precedes the first line).
fn report(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            ["refused ", "answered ", "received "]
                .iter()
                .find_map(|p| line.find(p))
                .map(|at| line[at..].to_owned())
        })
        .collect()
}

/// An impostor daemon of `nobody`'s at `socket`, listening once this returns.
struct Impostor {
    child: Child,
}

impl Impostor {
    fn listen(socket: &Path) -> Self {
        let mut child = play_as_nobody(&format!("listen:{}", socket.display()))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut seen = Vec::new();
        let stdout = child.stdout.as_mut().unwrap();
        while !String::from_utf8_lossy(&seen).contains("listening\n") {
            let mut byte = [0u8];
            assert_eq!(stdout.read(&mut byte).unwrap(), 1, "the impostor died");
            seen.push(byte[0]);
        }
        Self { child }
    }

    /// Stops the impostor, now at `socket`; the bytes of each connection it received.
    fn received(self, socket: &Path) -> Vec<String> {
        UnixStream::connect(socket)
            .unwrap()
            .write_all(b"stop")
            .unwrap();
        let output = self.child.wait_with_output().unwrap();
        assert!(output.status.success());
        report(&output)
    }
}

/// `mailseal unlock` with `passphrase` on stdin and `env`; fails the test after 60 s rather
/// than hang.
fn unlock(socket: Option<&Path>, env: &[(&str, &Path)], passphrase: &str) -> Output {
    let mut command = Command::new(binary("mailseal"));
    command
        .env_remove("MAILSEAL_SOCKET")
        .env_remove("XDG_RUNTIME_DIR")
        .envs(env.iter().copied());
    if let Some(socket) = socket {
        command.arg("--socket").arg(socket);
    }
    let mut child = command
        .args(["unlock", "00", "--passphrase-file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{passphrase}\n").as_bytes())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mailseal unlock hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn a_client_running_as_another_user_is_refused() {
    if !is_root() {
        return;
    }
    let daemon = TestDaemon::start("");
    // The binary must be reachable for nobody; the daemon's own directory stays as it made it.
    chmod(daemon.home.path(), 0o755);
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let run = daemon.socket().parent().unwrap().to_owned();
    assert_eq!(mode(&run), 0o700);
    assert_eq!(mode(&daemon.socket()), 0o600);
    let raw_as_nobody = || {
        report(
            &play_as_nobody(&format!("connect:{}", daemon.socket().display()))
                .output()
                .unwrap(),
        )
    };

    // The CLI sees that the directory is not nobody's before trying; the OS would refuse.
    let stderr = refused_as_nobody(&daemon);
    assert!(
        stderr.contains("belongs to uid 0, not to uid 65534"),
        "{stderr}"
    );
    let refused = raw_as_nobody();
    assert!(refused[0].contains("Permission denied"), "{refused:?}");

    // Loosened by mistake: the OS lets the connection through, the daemon's peer check does not.
    chmod(&run, 0o755);
    chmod(&daemon.socket(), 0o666);
    refused_as_nobody(&daemon);
    assert_eq!(raw_as_nobody(), ["answered 0"]);
    assert!(
        daemon
            .log()
            .contains("refused a connection: peer uid 65534"),
        "{}",
        daemon.log()
    );

    ping(&mut daemon.client().await).await;
}

/// The attack of issue 16: without `XDG_RUNTIME_DIR`, another user creates the user's
/// `$TMPDIR/mailseal-<uid>/` (0777) first and listens in it. `mailseal unlock` must not send
/// the passphrase there, nor anything else: the impostor receives no byte.
#[test]
fn unlock_sends_nothing_to_a_socket_in_another_users_directory() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o755);
    let dir = tmp.path().join("mailseal-0");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    chmod(&dir, 0o777);
    let socket = dir.join("mailseal.sock");
    let impostor = Impostor::listen(&socket);

    // The default socket path leads there.
    let out = unlock(None, &[("TMPDIR", tmp.path())], "the passphrase");
    let received = impostor.received(&socket);
    assert!(received.is_empty(), "the impostor got {received:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the socket directory {} belongs to uid 65534, not to uid 0",
            dir.display()
        )) && stderr.contains("impersonating your daemon"),
        "{stderr}"
    );
}

/// A socket of another user's in a directory of the user's own (root put it there, or moved
/// it in): the client connects, sees who listens, and sends nothing.
#[test]
fn unlock_sends_nothing_to_a_socket_another_user_listens_on() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o755);
    let theirs = tmp.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(NOBODY), Some(NOBODY)).unwrap();
    let impostor = Impostor::listen(&theirs.join("mailseal.sock"));
    let mine = tmp.path().join("mine");
    private_dir(&mine);
    let socket = mine.join("mailseal.sock");
    std::fs::rename(theirs.join("mailseal.sock"), &socket).unwrap();

    let out = unlock(Some(&socket), &[], "the passphrase");
    let received = impostor.received(&socket);
    assert_eq!(received, ["received 0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("the process listening on it runs as uid 65534, not as uid 0"),
        "{stderr}"
    );
}

/// Issue 16: a socket directory that is a symbolic link owned by another user, who could
/// re-point it later. The daemon refuses to start there and says why.
#[test]
fn the_daemon_refuses_a_symlinked_socket_directory_of_another_user() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("target");
    private_dir(&target);
    let link = tmp.path().join("mailseal-0");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::write(tmp.path().join("config.toml"), "").unwrap();

    let mut daemon = Command::new(binary("mailseald"))
        .arg("--config")
        .arg(tmp.path().join("config.toml"))
        .arg("--policy")
        .arg(tmp.path().join("policy.toml"))
        .arg("serve")
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .env_remove("MAILSEAL_SOCKET")
        .env_remove("XDG_RUNTIME_DIR")
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = daemon.kill();
            let _ = daemon.wait();
            panic!(
                "the daemon serves on {}, a link of another user's",
                link.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut log = String::new();
    daemon
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(!status.success(), "{log}");
    assert!(
        log.contains(&format!(
            "the socket directory {} is a symbolic link",
            link.display()
        )),
        "{log}"
    );
    assert!(!target.join("mailseal.sock").exists());
}
