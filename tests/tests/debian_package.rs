//! The Debian package IT pushes (installer/debian/build-deb), built from the binaries under
//! test and taken apart with dpkg-deb: what lands where, with which modes, and that what it
//! registers (the systemd user unit, the Thunderbird native-messaging host) names files the
//! package really installs.

use mailseal_tests::binary;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_package_installs_daemon_unit_host_and_addon() {
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        eprintln!("skipped: dpkg-deb is not installed");
        return;
    }
    let bin_dir = binary("mailseald").parent().unwrap().to_owned();
    let out = tempfile::tempdir().unwrap();
    let package = run(Command::new(repo().join("installer/debian/build-deb"))
        .arg("--bin-dir")
        .arg(&bin_dir)
        .arg("--out")
        .arg(out.path())
        .arg("--fast"));
    let package = PathBuf::from(package.trim());
    assert!(package.starts_with(out.path()), "{}", package.display());

    let info = run(Command::new("dpkg-deb")
        .arg("--field")
        .arg(&package)
        .args(["Package", "Version"]));
    assert!(info.contains("Package: mailseal"), "{info}");
    assert!(
        info.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "{info}"
    );

    let root = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&package)
        .arg(root.path()));
    let file = |path: &str| root.path().join(path.trim_start_matches('/'));
    for (path, mode) in [
        ("/usr/bin/mailseald", 0o755),
        ("/usr/bin/mailseal", 0o755),
        ("/usr/lib/mailseal/mailseal-native-host", 0o755),
        ("/usr/lib/systemd/user/mailseald.service", 0o644),
        (
            "/usr/lib/mozilla/native-messaging-hosts/mailseal.json",
            0o644,
        ),
        ("/usr/share/mailseal/mailseal@example.com.xpi", 0o644),
        ("/usr/share/doc/mailseal/policy.toml.example", 0o644),
    ] {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(file(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(meta.permissions().mode() & 0o777, mode, "{path}");
    }

    // What the unit and the host manifest name is in the package.
    let unit = std::fs::read_to_string(file("/usr/lib/systemd/user/mailseald.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/mailseald serve"),
        "{unit}"
    );
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(file(
            "/usr/lib/mozilla/native-messaging-hosts/mailseal.json",
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["name"], "mailseal");
    assert_eq!(manifest["path"], "/usr/lib/mailseal/mailseal-native-host");
    assert_eq!(manifest["allowed_extensions"][0], "mailseal@example.com");
    let wrapper = std::fs::read_to_string(file("/usr/lib/mailseal/mailseal-native-host")).unwrap();
    assert!(wrapper.contains("exec mailseald native-host"), "{wrapper}");

    // The packaged binaries run.
    let version = run(Command::new(file("/usr/bin/mailseald")).arg("--version"));
    assert!(version.starts_with("mailseald "), "{version}");

    // The add-on: its manifest and every script it loads, without the tests.
    let listing = run(Command::new("python3")
        .args(["-m", "zipfile", "-l"])
        .arg(file("/usr/share/mailseal/mailseal@example.com.xpi")));
    for entry in [
        "manifest.json",
        "background.js",
        "lib/daemon.js",
        "display/render.js",
        "experiments/composeSecurity/implementation.js",
    ] {
        assert!(
            listing.lines().any(|l| l.starts_with(entry)),
            "{entry} missing:\n{listing}"
        );
    }
    assert!(
        !listing.contains("test/"),
        "the add-on's tests are not shipped:\n{listing}"
    );
}
