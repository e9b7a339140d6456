//! Only the daemon's own user may talk to it: the OS refuses others at the socket's directory,
//! and if permissions were loosened by mistake, the daemon refuses them by their credentials.

use mailseal_tests::rpc::ping;
use mailseal_tests::{TestDaemon, binary};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// Runs `mailseal status` as `nobody` against `daemon`, which must fail to reach the daemon
/// (exit code 3); its standard error.
fn refused_as_nobody(daemon: &TestDaemon) -> String {
    let out = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(binary("mailseal"))
        .arg("--socket")
        .arg(daemon.socket())
        .arg("status")
        .output()
        .expect("setpriv runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    stderr
}

#[tokio::test]
async fn a_client_running_as_another_user_is_refused() {
    let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
    if uid.trim() != "0" {
        eprintln!(
            "skipped: switching to another uid needs root (running as uid {})",
            uid.trim()
        );
        return;
    }
    let daemon = TestDaemon::start("");
    let open = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    // The binary must be reachable for nobody; the daemon's own directory stays as it made it.
    open(daemon.home.path(), 0o755);
    assert_eq!(
        std::fs::metadata(daemon.socket().parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(daemon.socket())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    assert!(refused_as_nobody(&daemon).contains("Permission denied"));

    // Loosened by mistake: the OS lets the connection through, the daemon's peer check does not.
    open(daemon.socket().parent().unwrap(), 0o755);
    open(&daemon.socket(), 0o666);
    refused_as_nobody(&daemon);
    assert!(
        daemon
            .log()
            .contains("refused a connection: peer uid 65534"),
        "{}",
        daemon.log()
    );

    ping(&mut daemon.client().await).await;
}
