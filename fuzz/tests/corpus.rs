//! Every seed of `corpus/<target>/` through its target, on stable Rust: the targets compile and
//! none of the seeds (which include every crash a fuzzer ever found) panics.

use std::path::Path;

/// A target: its name (its corpus folder) and its body.
type Target = (&'static str, fn(&[u8]));

const TARGETS: &[Target] = &[
    ("frame", mailseal_fuzz::frame),
    ("mime", mailseal_fuzz::mime),
    ("open", mailseal_fuzz::open),
    ("ber", mailseal_fuzz::ber),
    ("certificates", mailseal_fuzz::certificates),
    ("crl", mailseal_fuzz::crl),
    ("ocsp", mailseal_fuzz::ocsp),
    ("pkcs12", mailseal_fuzz::pkcs12),
    ("config", mailseal_fuzz::config),
    ("native_messaging", mailseal_fuzz::native_messaging),
];

#[test]
fn every_seed_passes_through_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (target, run) in TARGETS {
        let dir = root.join(target);
        let mut seeds = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            run(&std::fs::read(&path).unwrap());
            seeds += 1;
        }
        assert!(seeds > 0, "{target} has no seeds in {}", dir.display());
        println!("{target}: {seeds} seeds");
    }
}
