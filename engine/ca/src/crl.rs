//! Signing the issuing CA's CRL (RFC 5280 §5) and writing it where IT's web server publishes
//! it (`[ca] crl_url`, the cRLDistributionPoint of every certificate).
//!
//! Every CRL lists the revoked certificates that have not expired, with reason codes, carries
//! a cRLNumber that never repeats (counted in the database) and a nextUpdate `crl_days` ahead,
//! and its authorityKeyIdentifier is the issuing certificate's subjectKeyIdentifier, so
//! verifiers match it to the CA whatever way they compute key identifiers.

use super::PkiError;
use super::authority::{Authority, CRL_FILE};
use super::db::StoredStatus;
use super::issue::{Outcome, unix};
use super::signer::CaSigner;
use crate::vocabulary::RevocationReason;
use mailseal_files::StoreError;
use mailseal_files::write_atomically;
use rcgen::{
    CertificateRevocationListParams, Issuer, KeyIdMethod, RevokedCertParams, SerialNumber,
};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use x509_cert::ext::pkix::SubjectKeyIdentifier;

/// A CRL just signed and written.
#[derive(Debug)]
pub struct Published {
    /// The CRL, DER.
    pub der: Vec<u8>,
    /// Its cRLNumber.
    pub number: u64,
    /// thisUpdate.
    pub this_update: SystemTime,
    /// nextUpdate.
    pub next_update: SystemTime,
    /// How many certificates it lists.
    pub revoked: usize,
    /// Where it was written.
    pub path: PathBuf,
}

/// Signs a CRL of every revoked, unexpired certificate and writes it to the CA directory.
///
/// # Errors
/// Database, signing and file errors.
pub fn publish(
    authority: &Authority,
    issuer: &Issuer<'_, CaSigner>,
) -> Result<Published, PkiError> {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(unix(SystemTime::now()).unsigned_abs());
    let next_update = now + Duration::from_secs(u64::from(authority.config.crl_days) * 86_400);
    let mut revoked_certs = Vec::new();
    for record in authority.db.revoked(unix(now))? {
        let StoredStatus::Revoked { at, reason } = record.status else {
            continue;
        };
        let serial = hex::decode(&record.serial).map_err(|_| PkiError::UnknownSerial {
            serial: record.serial.clone(),
        })?;
        revoked_certs.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(&serial),
            revocation_time: (SystemTime::UNIX_EPOCH + Duration::from_secs(at.unsigned_abs()))
                .into(),
            reason_code: Some(reason_code(reason)),
            invalidity_date: None,
        });
    }
    let ski = authority
        .issuing()
        .tbs_certificate()
        .get_extension::<SubjectKeyIdentifier>()
        .map_err(PkiError::encoding("issuing CA key identifier"))?
        .map(|(_, ski)| ski.0.as_bytes().to_vec());
    let number = authority.db.next_crl_number()?;
    let params = CertificateRevocationListParams {
        this_update: now.into(),
        next_update: next_update.into(),
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: ski.map_or(KeyIdMethod::Sha256, KeyIdMethod::PreSpecified),
    };
    let revoked = params.revoked_certs.len();
    let crl = params.signed_by(issuer).map_err(PkiError::build("CRL"))?;
    let der = crl.der().to_vec();
    let path = authority.dir().join(CRL_FILE);
    write_atomically(&path, &der).map_err(StoreError::io("write", &path))?;
    Ok(Published {
        der,
        number,
        this_update: now,
        next_update,
        revoked,
        path,
    })
}

/// Publishes a fresh CRL when an issuance revoked the certificates it replaced
/// (`IfActive::Replace`), so that they are listed at once rather than at the next CRL.
///
/// # Errors
/// As [`publish`].
pub fn publish_if_replaced(
    authority: &Authority,
    issuer: &Issuer<'_, CaSigner>,
    outcome: &Outcome,
) -> Result<(), PkiError> {
    if !outcome.replaced.is_empty() {
        publish(authority, issuer)?;
    }
    Ok(())
}

fn reason_code(reason: RevocationReason) -> rcgen::RevocationReason {
    match reason {
        RevocationReason::Unspecified => rcgen::RevocationReason::Unspecified,
        RevocationReason::KeyCompromise => rcgen::RevocationReason::KeyCompromise,
        RevocationReason::AffiliationChanged => rcgen::RevocationReason::AffiliationChanged,
        RevocationReason::Superseded => rcgen::RevocationReason::Superseded,
        RevocationReason::CessationOfOperation => rcgen::RevocationReason::CessationOfOperation,
        RevocationReason::PrivilegeWithdrawn => rcgen::RevocationReason::PrivilegeWithdrawn,
    }
}
