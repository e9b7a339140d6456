//! Certificate revocation lists (RFC 5280 §5, §6.3): where a certificate says its CA
//! publishes them, and what a CRL says about the certificate once it is shown to come from the
//! certificate's issuer and to be current.
//!
//! Only complete CRLs signed by the certificate's issuer itself are used: indirect CRLs
//! (cRLIssuer), partitioned ones (a critical issuingDistributionPoint) and delta CRLs are
//! refused as "not supported", so they can never make a revoked certificate look good.

use super::Status;
use crate::algorithms::oid_name;
use crate::path::{check_signature, name};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912;
use der::{Decode, Encode};
use std::time::{Duration, SystemTime};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{CrlDistributionPoints, CrlReason, KeyUsage};

/// How far clocks may disagree: a CRL issued a moment "in the future" is still used.
const SKEW: Duration = Duration::from_secs(300);

/// How old a CRL without nextUpdate may be.
const MAX_AGE_UNBOUNDED: Duration = Duration::from_secs(7 * 24 * 3600);

/// CRL extensions understood; another critical one makes the CRL unusable (RFC 5280 §5.2).
const UNDERSTOOD: [ObjectIdentifier; 2] = [
    rfc5912::ID_CE_CRL_NUMBER,
    rfc5912::ID_CE_AUTHORITY_KEY_IDENTIFIER,
];

/// The http:// URLs of the certificate's CRL distribution points that name no separate CRL
/// issuer.
pub fn distribution_points(cert: &Certificate) -> Vec<String> {
    let Ok(Some((_, points))) = cert
        .tbs_certificate()
        .get_extension::<CrlDistributionPoints>()
    else {
        return Vec::new();
    };
    points
        .0
        .iter()
        .filter(|point| point.crl_issuer.is_none())
        .filter_map(|point| match &point.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(names),
            _ => None,
        })
        .flatten()
        .filter_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.as_str().to_owned()),
            _ => None,
        })
        .filter(|uri| uri.to_ascii_lowercase().starts_with("http://"))
        .collect()
}

/// A CRL as read from its DER, or why it is unreadable; `source` names where it came from.
pub fn parse(der: &[u8], source: &str) -> Result<CertificateList, String> {
    CertificateList::from_der(der).map_err(|e| format!("the CRL from {source} is malformed: {e}"))
}

/// A CRL from a file, DER or PEM (`X509 CRL`).
pub fn parse_file(data: &[u8], source: &str) -> Result<CertificateList, String> {
    match der::pem::decode_vec(data) {
        Ok(("X509 CRL", der)) => parse(&der, source),
        Ok((label, _)) => Err(format!("{source} holds a {label}, not an X509 CRL")),
        Err(_) => parse(data, source),
    }
}

/// Until when a CRL may be reused: its nextUpdate (none: not reused).
pub fn fresh_until(crl: &CertificateList) -> Option<SystemTime> {
    crl.tbs_cert_list.next_update.map(|t| t.to_system_time())
}

/// What `crl` says about `cert`, after checking that `issuer` (the certificate's issuer on
/// the path) signed it and that it is current at `now`. `Err` says why the CRL cannot be
/// relied on.
pub fn status(
    crl: &CertificateList,
    source: &str,
    cert: &Certificate,
    issuer: &Certificate,
    now: SystemTime,
) -> Result<Status, String> {
    let next_update = verified(crl, source, issuer, now)?;
    let tbs = &crl.tbs_cert_list;
    let what = format!("the CRL from {source}");
    let serial = cert.tbs_certificate().serial_number();
    let entry = tbs
        .revoked_certificates
        .iter()
        .flatten()
        .find(|entry| &entry.serial_number == serial);
    let Some(entry) = entry else {
        return Ok(Status::Good(format!(
            "not on the CRL of {} from {source} ({}{next_update})",
            name(issuer),
            tbs.this_update.to_date_time()
        )));
    };
    let extensions = entry.crl_entry_extensions.as_deref();
    if let Some(unknown) = critical(extensions, &[rfc5912::ID_CE_CRL_REASONS]) {
        return Err(format!(
            "{what} lists the certificate with a critical extension that is not supported: {}",
            oid_name(unknown)
        ));
    }
    let reason = extensions
        .into_iter()
        .flatten()
        .find(|e| e.extn_id == rfc5912::ID_CE_CRL_REASONS)
        .and_then(|e| CrlReason::from_der(e.extn_value.as_bytes()).ok());
    if reason == Some(CrlReason::RemoveFromCRL) {
        return Ok(Status::Good(format!(
            "removed from hold on the CRL from {source}"
        )));
    }
    Ok(Status::Revoked(format!(
        "revoked on {}{} (CRL of {} from {source})",
        entry.revocation_date.to_date_time(),
        reason.map_or_else(String::new, |r| format!(", reason: {}", reason_name(r))),
        name(issuer)
    )))
}

/// Checks that `issuer` signed `crl` (issuer name, cRLSign, signature), that it has no critical
/// extension we do not understand, and that it is current at `now`; the words for its next
/// update. A CRL is checked before it is kept (in memory or on disk), so that a forged answer
/// from the network can never stand in for the real one.
pub fn verified(
    crl: &CertificateList,
    source: &str,
    issuer: &Certificate,
    now: SystemTime,
) -> Result<String, String> {
    let tbs = &crl.tbs_cert_list;
    let what = format!("the CRL from {source}");
    if &tbs.issuer != issuer.tbs_certificate().subject() {
        return Err(format!(
            "{what} is issued by '{}', not by {}",
            tbs.issuer,
            name(issuer)
        ));
    }
    match issuer.tbs_certificate().get_extension::<KeyUsage>() {
        Ok(Some((_, usage))) if !usage.crl_sign() => {
            return Err(format!(
                "{} may not sign CRLs (keyUsage lacks cRLSign)",
                name(issuer)
            ));
        }
        Err(e) => return Err(format!("{} has malformed keyUsage: {e}", name(issuer))),
        _ => {}
    }
    if crl.signature_algorithm != tbs.signature {
        return Err(format!("{what} names two different signature algorithms"));
    }
    let signed = tbs
        .to_der()
        .map_err(|e| format!("{what} does not re-encode: {e}"))?;
    let signature = crl
        .signature
        .as_bytes()
        .ok_or_else(|| format!("{what} has a malformed signature"))?;
    check_signature(&what, &crl.signature_algorithm, &signed, signature, issuer)?;
    if let Some(unknown) = critical(tbs.crl_extensions.as_deref(), &UNDERSTOOD) {
        return Err(format!(
            "{what} has a critical extension that is not supported: {}",
            oid_name(unknown)
        ));
    }
    let this_update = tbs.this_update.to_system_time();
    if this_update > now + SKEW {
        return Err(format!(
            "{what} is not valid before {}",
            tbs.this_update.to_date_time()
        ));
    }
    Ok(match tbs.next_update {
        Some(next) if next.to_system_time() + SKEW < now => {
            return Err(format!(
                "{what} is out of date (next update was due {})",
                next.to_date_time()
            ));
        }
        Some(next) => format!(", next update {}", next.to_date_time()),
        // RFC 5280 §5.1.2.5 requires nextUpdate; without it only a recent CRL is believed, so
        // that an old one (from before a revocation) cannot be replayed.
        None if this_update + MAX_AGE_UNBOUNDED < now => {
            return Err(format!(
                "{what} has no nextUpdate and is older than a week ({})",
                tbs.this_update.to_date_time()
            ));
        }
        None => String::new(),
    })
}

/// The first critical extension not in `understood`.
fn critical(
    extensions: Option<&[Extension]>,
    understood: &[ObjectIdentifier],
) -> Option<ObjectIdentifier> {
    extensions
        .into_iter()
        .flatten()
        .find(|e| e.critical && !understood.contains(&e.extn_id))
        .map(|e| e.extn_id)
}

/// The CRLReason's name as RFC 5280 §5.3.1 spells it.
pub fn reason_name(reason: CrlReason) -> &'static str {
    match reason {
        CrlReason::Unspecified => "unspecified",
        CrlReason::KeyCompromise => "keyCompromise",
        CrlReason::CaCompromise => "cACompromise",
        CrlReason::AffiliationChanged => "affiliationChanged",
        CrlReason::Superseded => "superseded",
        CrlReason::CessationOfOperation => "cessationOfOperation",
        CrlReason::CertificateHold => "certificateHold",
        CrlReason::RemoveFromCRL => "removeFromCRL",
        CrlReason::PrivilegeWithdrawn => "privilegeWithdrawn",
        CrlReason::AaCompromise => "aACompromise",
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use mailseal_test_support::pki::{Key, Pki};

    const URL: &str = "http://crl.test/root.crl";

    /// The CRL that `ca` (its `.pem` and `.key`) issues with `index` as its database; its DER
    /// is left in `crl.der`.
    pub(in crate::revocation) fn crl_of(pki: &Pki, ca: &str, index: &str) -> CertificateList {
        pki.write("index.txt", index.as_bytes());
        pki.write("crlnumber", b"01\n");
        pki.write(
            "ca.cnf",
            b"[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
              default_md = sha256\ndefault_crl_days = 1\n",
        );
        let (cert, key) = (format!("{ca}.pem"), format!("{ca}.key"));
        pki.openssl(&[
            "ca", "-gencrl", "-config", "ca.cnf", "-cert", &cert, "-keyfile", &key, "-out",
            "crl.pem",
        ]);
        pki.openssl(&[
            "crl", "-in", "crl.pem", "-outform", "DER", "-out", "crl.der",
        ]);
        parse(&pki.read("crl.der"), URL).unwrap()
    }

    /// An index revoking `cert`.
    fn revoking(cert: &Certificate) -> String {
        let serial = hex::encode_upper(cert.tbs_certificate().serial_number().as_bytes());
        format!("R\t300101000000Z\t250101000000Z,keyCompromise\t{serial}\tunknown\t/CN=x\n")
    }

    #[test]
    fn the_issuers_current_crl_tells_revoked_from_good() {
        let pki = Pki::new();
        let root = pki.root("root", "/CN=Root");
        let bad = pki.user("bad", "root", Key::P256, "bad@example.com");
        let good = pki.user("good", "root", Key::P256, "good@example.com");
        let crl = crl_of(&pki, "root", &revoking(&bad));
        let now = SystemTime::now();
        assert_eq!(
            status(&crl, URL, &bad, &root, now),
            Ok(Status::Revoked(
                "revoked on 2025-01-01T00:00:00Z, reason: keyCompromise \
                 (CRL of 'CN=Root' from http://crl.test/root.crl)"
                    .into()
            ))
        );
        assert!(
            matches!(status(&crl, URL, &good, &root, now), Ok(Status::Good(how))
                if how.starts_with("not on the CRL of 'CN=Root' from http://crl.test/root.crl (")),
        );
        let later = fresh_until(&crl).unwrap() + Duration::from_secs(3600);
        let err = status(&crl, URL, &bad, &root, later).unwrap_err();
        assert!(
            err.starts_with(
                "the CRL from http://crl.test/root.crl is out of date (next update was due "
            ),
            "{err}"
        );
    }

    #[test]
    fn a_crl_from_anyone_but_the_issuer_is_refused() {
        let pki = Pki::new();
        let root = pki.root("root", "/CN=Root");
        let user = pki.user("u", "root", Key::P256, "u@example.com");
        pki.root("other", "/CN=Other");
        pki.root("twin", "/CN=Root");
        let now = SystemTime::now();
        let other = crl_of(&pki, "other", &revoking(&user));
        assert_eq!(
            status(&other, URL, &user, &root, now).unwrap_err(),
            "the CRL from http://crl.test/root.crl is issued by 'CN=Other', not by 'CN=Root'"
        );
        let forged = crl_of(&pki, "twin", "");
        let err = status(&forged, URL, &user, &root, now).unwrap_err();
        assert!(
            err.starts_with("the CRL from http://crl.test/root.crl is not signed by 'CN=Root'"),
            "{err}"
        );
        let ext = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n";
        let no_crl_sign = pki.certify("nocrl", None, Key::P256, "/CN=NoCrl", 30, ext);
        let user = pki.user("v", "nocrl", Key::P256, "v@example.com");
        let crl = crl_of(&pki, "nocrl", "");
        assert_eq!(
            status(&crl, URL, &user, &no_crl_sign, now).unwrap_err(),
            "'CN=NoCrl' may not sign CRLs (keyUsage lacks cRLSign)"
        );
    }
}
