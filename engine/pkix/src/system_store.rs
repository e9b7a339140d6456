//! The operating system's trusted roots, as extra trust anchors when `system_trust_store =
//! true`: for companies whose partners' S/MIME certificates come from public CAs. Off by
//! default, since the company CA is what a company's mail should chain to, and the system
//! bundles are chosen for TLS rather than for mail.
//!
//! Read from the PEM bundle of the first of the usual places that exists (Debian/Ubuntu,
//! Fedora/RHEL, openSUSE, Alpine, macOS and the BSDs); Windows' certificate store is not read
//! yet. Certificates of the bundle that do not parse are skipped.

use super::describe::parse_certificates;
use std::path::{Path, PathBuf};
use x509_cert::Certificate;

/// Where systems keep their bundle of trusted roots, most common first.
const BUNDLES: [&str; 5] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/share/certs/ca-root-nss.crt",
];

/// The system's trusted roots and the bundle they came from; `None` when no bundle exists.
pub fn load() -> Option<(PathBuf, Vec<Certificate>)> {
    let bundle = BUNDLES.iter().map(Path::new).find(|path| path.is_file())?;
    let text = std::fs::read_to_string(bundle).ok()?;
    Some((bundle.to_owned(), parse_bundle(&text)))
}

/// Every certificate of a PEM bundle that parses.
fn parse_bundle(text: &str) -> Vec<Certificate> {
    const END: &str = "-----END CERTIFICATE-----";
    text.split_inclusive(END)
        .filter(|block| block.contains("-----BEGIN CERTIFICATE-----"))
        .filter_map(|block| parse_certificates(block.as_bytes()).ok())
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_test_support::pki::{Key, Pki};

    #[test]
    fn a_bad_certificate_in_the_bundle_costs_only_itself() {
        let pki = Pki::new();
        pki.root("a", "/CN=A");
        pki.certify("b", None, Key::P256, "/CN=B", 30, "");
        let (a, b) = (pki.read("a.pem"), pki.read("b.pem"));
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let bundle = format!(
            "# roots\n{}{broken}{}",
            String::from_utf8(a).unwrap(),
            String::from_utf8(b).unwrap()
        );
        let parsed = parse_bundle(&bundle);
        assert_eq!(parsed, vec![pki.cert("a"), pki.cert("b")]);
    }

    #[test]
    fn this_systems_bundle_loads_when_there_is_one() {
        if let Some((path, roots)) = load() {
            assert!(!roots.is_empty(), "nothing parsed from {}", path.display());
        }
    }
}
