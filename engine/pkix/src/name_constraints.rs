//! Name constraints (RFC 5280 §4.2.1.10): a CA limits the names that certificates below it
//! may carry, which is how a company CA that is cross-certified, or a partner's CA, is kept
//! to its own mail domains.
//!
//! Processed forms: rfc822Name (the SAN mail addresses, and the legacy emailAddress attribute
//! of the subject, which RFC 5280 puts under the same constraints) in its three forms —
//! `user@host` (that mailbox), `host` (every mailbox at that host), `.domain` (every mailbox
//! at a host below the domain) — and directoryName (the subject must begin with the
//! constraint's RDNs, compared as encoded). A constraint on any other form (dNSName, URI,
//! IP address…) fails a certificate that carries a name of that form, since it cannot be
//! checked here (RFC 5280 §4.2.1.10: process it or reject).

use super::describe::emails;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{NameConstraints, SubjectAltName, constraints::name::GeneralSubtrees};
use x509_cert::name::Name;

/// Checks `subject` (a certificate below `ca` on the path) against `ca`'s name constraints;
/// `Err` says which name breaks which constraint.
pub fn check(ca: &Certificate, subject: &Certificate) -> Result<(), String> {
    let constraints = match ca.tbs_certificate().get_extension::<NameConstraints>() {
        Ok(Some((_, constraints))) => constraints,
        Ok(None) => return Ok(()),
        Err(e) => return Err(format!("{} has malformed nameConstraints: {e}", quoted(ca))),
    };
    let names = names_of(subject)?;
    let bases = || {
        let permitted = constraints.permitted_subtrees.iter().flatten();
        permitted
            .chain(constraints.excluded_subtrees.iter().flatten())
            .map(|s| &s.base)
    };
    let violation = |why: String| {
        Err(format!(
            "{} violates the name constraints of {}: {why}",
            quoted(subject),
            quoted(ca)
        ))
    };
    if let Some(name) = names
        .iter()
        .find(|n| !processed(n) && bases().any(|b| same_form(b, n)))
    {
        return violation(format!(
            "{} cannot be checked against its constraints",
            show(name)
        ));
    }
    if let Some(excluded) = &constraints.excluded_subtrees {
        for name in &names {
            if let Some(base) = excluded.iter().map(|s| &s.base).find(|b| matches(b, name)) {
                return violation(format!("{} is excluded ({})", show(name), show(base)));
            }
        }
    }
    if let Some(permitted) = &constraints.permitted_subtrees {
        for name in &names {
            if !permitted_by(permitted, name) {
                return violation(format!("{} is not permitted", show(name)));
            }
        }
    }
    Ok(())
}

/// The names of a certificate that constraints apply to: the subject (unless empty), the
/// subjectAltName entries, and the subject's legacy emailAddress when there is no SAN mail.
fn names_of(cert: &Certificate) -> Result<Vec<GeneralName>, String> {
    let tbs = cert.tbs_certificate();
    let mut names = Vec::new();
    if !tbs.subject().as_ref().is_empty() {
        names.push(GeneralName::DirectoryName(tbs.subject().clone()));
    }
    match tbs.get_extension::<SubjectAltName>() {
        Ok(Some((_, san))) => names.extend(san.0),
        Ok(None) => {}
        Err(e) => {
            return Err(format!(
                "{} has malformed subjectAltName: {e}",
                quoted(cert)
            ));
        }
    }
    if !names
        .iter()
        .any(|n| matches!(n, GeneralName::Rfc822Name(_)))
    {
        for address in emails(cert) {
            let address = der::asn1::Ia5String::new(&address)
                .map_err(|e| format!("{}: bad emailAddress: {e}", quoted(cert)))?;
            names.push(GeneralName::Rfc822Name(address));
        }
    }
    Ok(names)
}

/// Whether the permitted subtrees allow `name`: names of a form they do not mention are not
/// restricted by them.
fn permitted_by(permitted: &GeneralSubtrees, name: &GeneralName) -> bool {
    let same_form: Vec<&GeneralName> = permitted
        .iter()
        .map(|s| &s.base)
        .filter(|b| same_form(b, name))
        .collect();
    same_form.is_empty() || same_form.iter().any(|b| matches(b, name))
}

fn same_form(a: &GeneralName, b: &GeneralName) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// The name forms whose constraints are processed here.
fn processed(name: &GeneralName) -> bool {
    matches!(
        name,
        GeneralName::Rfc822Name(_) | GeneralName::DirectoryName(_)
    )
}

/// Whether `name` lies within the subtree `base` (both of a [`processed`] form).
fn matches(base: &GeneralName, name: &GeneralName) -> bool {
    match (base, name) {
        (GeneralName::Rfc822Name(base), GeneralName::Rfc822Name(address)) => {
            mailbox_within(base.as_str(), address.as_str())
        }
        (GeneralName::DirectoryName(base), GeneralName::DirectoryName(subject)) => {
            directory_within(base, subject)
        }
        _ => false,
    }
}

/// rfc822Name matching (RFC 5280 §4.2.1.10): `user@host` is that mailbox, `host` every
/// mailbox at host, `.domain` every mailbox at a host below domain. Host parts compare
/// without regard to case, and so do local parts: Mailseal matches addresses to people
/// without case everywhere (`CEO@example.com` is used as `ceo@example.com`), so an excluded
/// `ceo@example.com` must also exclude `CEO@example.com`.
fn mailbox_within(constraint: &str, address: &str) -> bool {
    let Some((local, host)) = address.rsplit_once('@') else {
        return false;
    };
    match constraint.rsplit_once('@') {
        Some((c_local, c_host)) => {
            c_local.eq_ignore_ascii_case(local) && c_host.eq_ignore_ascii_case(host)
        }
        None if constraint.starts_with('.') => {
            host.len() > constraint.len()
                && host[host.len() - constraint.len()..].eq_ignore_ascii_case(constraint)
        }
        None => host.eq_ignore_ascii_case(constraint),
    }
}

/// directoryName matching: the subject begins with the constraint's RDNs.
fn directory_within(base: &Name, subject: &Name) -> bool {
    let base: Vec<_> = base.as_ref().iter().collect();
    let subject: Vec<_> = subject.as_ref().iter().collect();
    subject.len() >= base.len() && subject[..base.len()] == base[..]
}

/// A name in words, for the reason.
fn show(name: &GeneralName) -> String {
    match name {
        GeneralName::Rfc822Name(address) => format!("mail address {}", address.as_str()),
        GeneralName::DirectoryName(dn) => format!("name '{dn}'"),
        GeneralName::DnsName(dns) => format!("DNS name {}", dns.as_str()),
        GeneralName::UniformResourceIdentifier(uri) => format!("URI {}", uri.as_str()),
        other => format!("{other:?}"),
    }
}

fn quoted(cert: &Certificate) -> String {
    format!("'{}'", cert.tbs_certificate().subject())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_test_support::pki::{CA, Key, Pki};

    #[test]
    fn mailbox_forms() {
        assert!(mailbox_within("example.com", "ann@example.com"));
        assert!(mailbox_within("example.com", "ann@EXAMPLE.com"));
        assert!(!mailbox_within("example.com", "ann@sub.example.com"));
        assert!(mailbox_within(".example.com", "ann@sub.example.com"));
        assert!(!mailbox_within(".example.com", "ann@example.com"));
        assert!(!mailbox_within(".example.com", "ann@badexample.com"));
        assert!(mailbox_within("ann@example.com", "ann@example.com"));
        assert!(!mailbox_within("ann@example.com", "bob@example.com"));
        assert!(
            mailbox_within("ceo@example.com", "CEO@example.com"),
            "an excluded mailbox is not dodged by case"
        );
        assert!(!mailbox_within("example.com", "not-an-address"));
    }

    /// A CA with `constraints` and a user below it with `email` and `subject`.
    fn below(constraints: &str, subject: &str, email: &str) -> Result<(), String> {
        let pki = Pki::new();
        let ext = format!("{CA}nameConstraints=critical,{constraints}\n");
        let ca = pki.certify("ca", None, Key::P256, "/O=Example/CN=CA", 30, &ext);
        let san = format!("subjectAltName=email:{email}\n");
        let user = pki.certify("u", Some("ca"), Key::P256, subject, 30, &san);
        check(&ca, &user)
    }

    #[test]
    fn constraints_apply_to_mail_addresses_and_subjects() {
        let domain = "permitted;email:example.com";
        assert_eq!(
            below(domain, "/O=Example/CN=Ann", "ann@example.com"),
            Ok(())
        );
        let err = below(domain, "/O=Example/CN=Eve", "eve@evil.test").unwrap_err();
        assert_eq!(
            err,
            "'CN=Eve,O=Example' violates the name constraints of 'CN=CA,O=Example': \
             mail address eve@evil.test is not permitted"
        );
        let excluded = "excluded;email:.partner.test";
        assert!(
            below(excluded, "/CN=P", "p@mail.partner.test")
                .unwrap_err()
                .contains(
                    "mail address p@mail.partner.test is excluded (mail address .partner.test)"
                )
        );
        assert_eq!(below(excluded, "/CN=P", "p@partner.test"), Ok(()));
        let directory = "permitted;email:example.com,excluded;email:boss@example.com";
        assert!(below(directory, "/CN=B", "boss@example.com").is_err());
        assert_eq!(below(directory, "/CN=A", "ann@example.com"), Ok(()));
        assert!(
            below("permitted;DNS:example.com", "/CN=A", "ann@example.com").is_ok(),
            "a constraint on a form the certificate does not carry"
        );
    }

    #[test]
    fn directory_names_must_lie_in_the_permitted_subtree() {
        let pki = Pki::new();
        let ext = format!(
            "{CA}nameConstraints=critical,permitted;dirName:permitted_dn\n\
             [permitted_dn]\nO=Example\n"
        );
        let ca = pki.certify("ca", None, Key::P256, "/O=Example/CN=CA", 30, &ext);
        let inside = pki.certify("in", Some("ca"), Key::P256, "/O=Example/CN=Ann", 30, "");
        let outside = pki.certify("out", Some("ca"), Key::P256, "/O=Other/CN=Eve", 30, "");
        assert_eq!(check(&ca, &inside), Ok(()));
        assert!(
            check(&ca, &outside)
                .unwrap_err()
                .ends_with("name 'CN=Eve,O=Other' is not permitted")
        );
    }
}
