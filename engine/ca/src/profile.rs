//! The three S/MIME Baseline Requirements profiles, strict variants (CA/Browser Forum S/MIME
//! BR §7.1.2.3 and Appendix on subject attributes): which subject fields each allows, which key
//! usages each key type gets, the policy OID, the validity cap and the extensions every
//! certificate carries. Everything that makes a certificate "strict" is decided here, once.

use super::PkiError;
use crate::vocabulary::{CertificateKind, Usage};
use der::Encode;
use der::asn1::{Ia5String, ObjectIdentifier};
use rcgen::{
    CertificateParams, CrlDistributionPoint, CustomExtension, DnType, ExtendedKeyUsagePurpose,
    KeyUsagePurpose, SanType, SerialNumber,
};
use std::time::{Duration, SystemTime};
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax, CertificatePolicies};

/// `id-pe-authorityInfoAccess` (RFC 5280 §4.2.2.1).
const AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
/// `id-ad-caIssuers`.
const CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");
/// `id-ce-certificatePolicies` (RFC 5280 §4.2.1.4).
const CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];
/// Longest name or organization the X.520 upper bounds allow (ub-common-name,
/// ub-organization-name).
const MAX_NAME_LEN: usize = 64;

/// The policy OID of a profile's strict variant (S/MIME BR §7.1.6.1).
pub fn policy_oid(kind: CertificateKind) -> ObjectIdentifier {
    match kind {
        CertificateKind::Mailbox => ObjectIdentifier::new_unwrap("2.23.140.1.5.1.3"),
        CertificateKind::Organization => ObjectIdentifier::new_unwrap("2.23.140.1.5.3.3"),
        CertificateKind::Individual => ObjectIdentifier::new_unwrap("2.23.140.1.5.4.3"),
    }
}

/// A certificate subject that fits its profile: built only by [`Subject::new`], so a
/// mailbox certificate with a name, or an organization certificate without a company,
/// cannot exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    kind: CertificateKind,
    email: String,
    name: Option<String>,
    organization: Option<String>,
}

impl Subject {
    /// Checks the fields against the profile of `kind`: mailbox takes the address only,
    /// individual the address and a name, organization (sponsor-validated) the address, a
    /// name and the company. The address is kept lowercase.
    ///
    /// # Errors
    /// [`PkiError::Profile`] naming the field that is missing, not allowed or malformed.
    pub fn new(
        kind: CertificateKind,
        email: &str,
        name: Option<&str>,
        organization: Option<&str>,
    ) -> Result<Self, PkiError> {
        let email = check_email(email)?;
        let (needs_name, needs_org) = match kind {
            CertificateKind::Mailbox => (false, false),
            CertificateKind::Individual => (true, false),
            CertificateKind::Organization => (true, true),
        };
        let name = check_text("name", name, needs_name, kind)?;
        let organization = check_text("organization", organization, needs_org, kind)?;
        Ok(Self {
            kind,
            email,
            name,
            organization,
        })
    }

    /// The profile.
    pub fn kind(&self) -> CertificateKind {
        self.kind
    }

    /// The address, lowercase.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// The person's name, for individual and organization certificates.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The company, for organization certificates.
    pub fn organization(&self) -> Option<&str> {
        self.organization.as_deref()
    }
}

fn check_email(email: &str) -> Result<String, PkiError> {
    let bad = || PkiError::Profile {
        field: "email",
        reason: "is not a mail address (local@domain, ASCII, no spaces)".into(),
    };
    let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.is_empty()
        || email.len() > 254
        || !domain.contains('.')
        || !email.is_ascii()
        || email.chars().any(|c| c.is_ascii_control() || c == ' ')
        || domain.contains('@')
    {
        return Err(bad());
    }
    Ok(email.to_ascii_lowercase())
}

fn check_text(
    field: &'static str,
    value: Option<&str>,
    required: bool,
    kind: CertificateKind,
) -> Result<Option<String>, PkiError> {
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    match (value, required) {
        (None, true) => Err(PkiError::Profile {
            field,
            reason: format!("is required for a {} certificate", kind.as_str()),
        }),
        (Some(_), false) => Err(PkiError::Profile {
            field,
            reason: format!(
                "is not allowed in a {} certificate (S/MIME BR strict profile)",
                kind.as_str()
            ),
        }),
        (None, false) => Ok(None),
        (Some(v), true) if v.chars().count() > MAX_NAME_LEN || v.chars().any(char::is_control) => {
            Err(PkiError::Profile {
                field,
                reason: format!(
                    "must be at most {MAX_NAME_LEN} characters, without control characters"
                ),
            })
        }
        (Some(v), true) => Ok(Some(v.to_owned())),
    }
}

/// The family of a certified key, which decides its key usages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    /// RSA: key transport.
    Rsa,
    /// EC: key agreement.
    Ec,
}

/// keyUsage per S/MIME BR §7.1.2.3(e), strict: RSA digitalSignature (signing) and
/// keyEncipherment (key management); EC digitalSignature and keyAgreement; a dual-use key gets
/// both of its family, a single-use key one.
pub fn key_usages(family: KeyFamily, usage: Usage) -> Vec<KeyUsagePurpose> {
    let encryption = match family {
        KeyFamily::Rsa => KeyUsagePurpose::KeyEncipherment,
        KeyFamily::Ec => KeyUsagePurpose::KeyAgreement,
    };
    match usage {
        Usage::Both => vec![KeyUsagePurpose::DigitalSignature, encryption],
        Usage::Signing => vec![KeyUsagePurpose::DigitalSignature],
        Usage::Encryption => vec![encryption],
    }
}

/// What the CA's configuration puts into every certificate.
#[derive(Debug, Clone, Default)]
pub struct Urls {
    /// authorityInfoAccess caIssuers.
    pub aia: Option<String>,
    /// cRLDistributionPoints.
    pub crl: Option<String>,
}

/// The validity of a new certificate: from now, `days` long, capped at what the BR allow.
pub fn validity(days: u32) -> (SystemTime, SystemTime) {
    let days = days.min(crate::authority::MAX_VALIDITY_DAYS);
    let now = SystemTime::now();
    // Whole seconds: a certificate's times have no fractions.
    let now = SystemTime::UNIX_EPOCH
        + Duration::from_secs(
            now.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        );
    (now, now + Duration::from_secs(u64::from(days) * 86_400))
}

/// The full parameters of an end-entity certificate for `subject`.
///
/// # Errors
/// [`PkiError::Profile`] if the address cannot be an rfc822Name, [`PkiError::Encoding`] if an
/// extension cannot be encoded.
pub fn certificate_params(
    subject: &Subject,
    family: KeyFamily,
    usage: Usage,
    serial: &[u8],
    (not_before, not_after): (SystemTime, SystemTime),
    urls: &Urls,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.not_before = not_before.into();
    params.not_after = not_after.into();
    params.serial_number = Some(SerialNumber::from_slice(serial));
    match subject.kind {
        CertificateKind::Mailbox => {
            params
                .distinguished_name
                .push(DnType::CommonName, subject.email.as_str());
        }
        CertificateKind::Individual | CertificateKind::Organization => {
            if let Some(org) = &subject.organization {
                params
                    .distinguished_name
                    .push(DnType::OrganizationName, org.as_str());
            }
            if let Some(name) = &subject.name {
                params
                    .distinguished_name
                    .push(DnType::CommonName, name.as_str());
            }
        }
    }
    params.subject_alt_names = vec![SanType::Rfc822Name(
        subject
            .email
            .clone()
            .try_into()
            .map_err(|_| PkiError::Profile {
                field: "email",
                reason: "is not an IA5 string".into(),
            })?,
    )];
    params.key_usages = key_usages(family, usage);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
    params.use_authority_key_identifier_extension = true;
    if let Some(url) = &urls.crl {
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![url.clone()],
        }];
    }
    params
        .custom_extensions
        .push(policies_extension(subject.kind)?);
    if let Some(url) = &urls.aia {
        params.custom_extensions.push(aia_extension(url)?);
    }
    Ok(params)
}

/// certificatePolicies naming the profile's strict policy, not critical (BR §7.1.2.3(a)).
fn policies_extension(kind: CertificateKind) -> Result<CustomExtension, PkiError> {
    let policies = CertificatePolicies(vec![PolicyInformation {
        policy_identifier: policy_oid(kind),
        policy_qualifiers: None,
    }]);
    let der = policies
        .to_der()
        .map_err(PkiError::encoding("certificatePolicies"))?;
    Ok(CustomExtension::from_oid_content(CERTIFICATE_POLICIES, der))
}

/// authorityInfoAccess with the caIssuers URL, not critical (BR §7.1.2.3(c)).
fn aia_extension(url: &str) -> Result<CustomExtension, PkiError> {
    let location = Ia5String::new(url).map_err(PkiError::encoding("caIssuers URL"))?;
    let aia = AuthorityInfoAccessSyntax(vec![AccessDescription {
        access_method: CA_ISSUERS,
        access_location: GeneralName::UniformResourceIdentifier(location),
    }]);
    let der = aia
        .to_der()
        .map_err(PkiError::encoding("authorityInfoAccess"))?;
    Ok(CustomExtension::from_oid_content(
        AUTHORITY_INFO_ACCESS,
        der,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_profile_takes_exactly_its_fields() {
        let ok = Subject::new(CertificateKind::Mailbox, "Ann@Example.com", None, None).unwrap();
        assert_eq!(ok.email(), "ann@example.com");
        for (kind, name, org, field) in [
            (CertificateKind::Mailbox, Some("Ann"), None, "name"),
            (CertificateKind::Mailbox, None, Some("Corp"), "organization"),
            (CertificateKind::Individual, None, None, "name"),
            (
                CertificateKind::Individual,
                Some("Ann"),
                Some("Corp"),
                "organization",
            ),
            (
                CertificateKind::Organization,
                Some("Ann"),
                None,
                "organization",
            ),
            (CertificateKind::Organization, None, Some("Corp"), "name"),
        ] {
            match Subject::new(kind, "ann@example.com", name, org) {
                Err(PkiError::Profile { field: got, .. }) => assert_eq!(got, field, "{kind:?}"),
                other => panic!("{kind:?} {name:?} {org:?}: {other:?}"),
            }
        }
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "a b@example.com",
            "ann@localhost",
            "ä@example.com",
        ] {
            assert!(
                Subject::new(CertificateKind::Mailbox, bad, None, None).is_err(),
                "{bad}"
            );
        }
        assert!(
            Subject::new(
                CertificateKind::Individual,
                "a@example.com",
                Some(&"x".repeat(65)),
                None
            )
            .is_err()
        );
    }

    #[test]
    fn key_usages_follow_the_key_type_and_the_role() {
        use KeyUsagePurpose::*;
        assert_eq!(
            key_usages(KeyFamily::Rsa, Usage::Both),
            [DigitalSignature, KeyEncipherment]
        );
        assert_eq!(
            key_usages(KeyFamily::Ec, Usage::Both),
            [DigitalSignature, KeyAgreement]
        );
        assert_eq!(
            key_usages(KeyFamily::Rsa, Usage::Signing),
            [DigitalSignature]
        );
        assert_eq!(key_usages(KeyFamily::Ec, Usage::Encryption), [KeyAgreement]);
    }

    #[test]
    fn validity_is_capped_at_825_days() {
        let (from, to) = validity(5000);
        assert_eq!(to.duration_since(from).unwrap().as_secs(), 825 * 86_400);
    }
}
