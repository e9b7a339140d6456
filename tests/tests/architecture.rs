//! The workspace's layering, checked: each crate depends only on the crates below it, and the
//! engines link no server, socket or protocol code (README.md, "Architecture").
//!
//! A gateway, a certificate service or a second protocol links the engines alone; a
//! dependency pointing up (or tokio creeping into an engine) would quietly make that
//! impossible, so it fails here instead.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Each workspace crate and the Mailseal crates it may depend on (normal dependencies).
const LAYERS: &[(&str, &[&str])] = &[
    ("mailseal-protocol", &[]),
    ("mailseal-files", &[]),
    ("mailseal-mime", &[]),
    ("mailseal-pkix", &["mailseal-files"]),
    ("mailseal-keys", &["mailseal-files", "mailseal-pkix"]),
    (
        "mailseal-smime",
        &[
            "mailseal-files",
            "mailseal-keys",
            "mailseal-mime",
            "mailseal-pkix",
        ],
    ),
    (
        "mailseal-ca",
        &["mailseal-files", "mailseal-keys", "mailseal-pkix"],
    ),
    ("mailseal-cli", &["mailseal-protocol"]),
];

/// Crates no engine may link, directly or not: the daemon's runtime, transport and wire.
const NOT_IN_ENGINES: &[&str] = &[
    "tokio",
    "interprocess",
    "mailseal-protocol",
    "mailseal-daemon",
];

/// The engine crates.
const ENGINES: &[&str] = &[
    "mailseal-files",
    "mailseal-mime",
    "mailseal-pkix",
    "mailseal-keys",
    "mailseal-smime",
    "mailseal-ca",
];

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// Every workspace crate's direct normal dependencies that are Mailseal crates.
fn mailseal_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut map = BTreeMap::new();
    for package in metadata["packages"].as_array().unwrap() {
        let deps = package["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null() && d["name"].as_str().unwrap().starts_with("mailseal-"))
            .map(|d| d["name"].as_str().unwrap().to_owned())
            .collect();
        map.insert(package["name"].as_str().unwrap().to_owned(), deps);
    }
    map
}

#[test]
fn every_crate_depends_only_on_the_crates_below_it() {
    let actual = mailseal_dependencies();
    for (name, allowed) in LAYERS {
        let deps = actual
            .get(*name)
            .unwrap_or_else(|| panic!("{name} is not in the workspace"));
        let upward: Vec<&String> = deps
            .iter()
            .filter(|d| !allowed.contains(&d.as_str()))
            .collect();
        assert!(
            upward.is_empty(),
            "{name} depends on {upward:?}, which it may not"
        );
    }
}

/// The names of every crate `package` links (normal dependencies, its default features).
fn linked(package: &str) -> BTreeSet<String> {
    let out = cargo()
        .args([
            "tree", "--locked", "-e", "normal", "--prefix", "none", "-p", package,
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    let linked: BTreeSet<String> = tree
        .lines()
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect();
    assert!(
        linked.contains(package),
        "cargo tree of {package} does not list it:\n{tree}"
    );
    linked
}

#[test]
fn no_engine_links_the_daemons_runtime_transport_or_wire() {
    for engine in ENGINES {
        let linked = linked(engine);
        for forbidden in NOT_IN_ENGINES {
            assert!(!linked.contains(*forbidden), "{engine} links {forbidden}");
        }
    }
}

/// The wire types link no runtime: framing, connections and the client are features.
#[test]
fn the_protocols_wire_types_link_no_runtime() {
    let linked = linked("mailseal-protocol");
    for runtime in ["tokio", "interprocess"] {
        assert!(
            !linked.contains(runtime),
            "mailseal-protocol links {runtime} by default"
        );
    }
}
