//! Issuing: key pairs made here (returned in PKCS#12 files) or public keys from checked
//! requests, certified under a profile, recorded in the database in one transaction.

use super::PkiError;
use super::authority::Authority;
use super::csr::CheckedCsr;
use super::db::{Record, StoredStatus};
use super::profile::{self, KeyFamily, Subject};
use super::signer::CaSigner;
use crate::vocabulary::{IfActive, KeyAlgorithm, Pkcs12Format, RevocationReason, Usage};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use der::{Decode, Encode};
use mailseal_keys::pkcs12::{self, Pkcs12Identity, PrivateKeyDer, WriteEncryption};
use rcgen::{Issuer, KeyPair, PublicKeyData, RsaKeySize};
use std::fmt;
use std::time::SystemTime;
use x509_cert::Certificate;

/// Serial length: 16 bytes, the top bit clear so the INTEGER is positive and the next set so
/// it keeps 16 bytes; 126 bits from the CSPRNG, over the S/MIME BR's 64 (§7.1).
const SERIAL_LEN: usize = 16;

/// A fresh serial number from aws-lc-rs's CSPRNG.
///
/// # Errors
/// [`PkiError::Build`] if the system's random generator fails.
pub fn new_serial() -> Result<[u8; SERIAL_LEN], PkiError> {
    let mut serial = [0; SERIAL_LEN];
    SystemRandom::new()
        .fill(&mut serial)
        .map_err(|_| PkiError::Build {
            what: "serial number",
            source: rcgen::Error::RingUnspecified,
        })?;
    serial[0] = (serial[0] & 0x7f) | 0x40;
    Ok(serial)
}

/// Generates a key pair of `algorithm` with aws-lc-rs.
///
/// # Errors
/// [`PkiError::Build`] if generation fails.
pub fn generate_key(algorithm: KeyAlgorithm) -> Result<KeyPair, PkiError> {
    let rsa = |size| KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size);
    match algorithm {
        KeyAlgorithm::Rsa2048 => rsa(RsaKeySize::_2048),
        KeyAlgorithm::Rsa3072 => rsa(RsaKeySize::_3072),
        KeyAlgorithm::Rsa4096 => rsa(RsaKeySize::_4096),
        KeyAlgorithm::EcP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyAlgorithm::EcP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
    }
    .map_err(PkiError::build("key pair"))
}

fn family(algorithm: KeyAlgorithm) -> KeyFamily {
    match algorithm {
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => KeyFamily::Rsa,
        KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 => KeyFamily::Ec,
    }
}

/// A borrowed PKCS#12 password, never printed (its owner keeps it zeroized).
#[derive(Clone, Copy)]
pub struct Password<'a>(pub &'a str);

impl fmt::Debug for Password<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// Where the certified keys come from.
#[derive(Debug)]
pub enum KeyRequest<'a> {
    /// Generate a key per entry of `usages` (`[Both]`, or `[Signing, Encryption]` for a
    /// dual-key pair) and hand each out in a PKCS#12 file under `password`.
    Generate {
        /// The key type.
        algorithm: KeyAlgorithm,
        /// The PKCS#12 password.
        password: Password<'a>,
        /// One key for each of these usages.
        usages: &'a [Usage],
        /// The PKCS#12 encryption.
        format: Pkcs12Format,
    },
    /// Certify the key of a checked request.
    Csr {
        /// The request's key.
        csr: CheckedCsr,
        /// What it is for.
        usage: Usage,
    },
    /// Certify an already certified public key again (renewal without a new key).
    Existing {
        /// The key, as rcgen takes it.
        public_key: rcgen::SubjectPublicKeyInfo,
        /// RSA or EC.
        family: KeyFamily,
        /// What it is for.
        usage: Usage,
    },
}

/// One certificate made by [`issue`].
#[derive(Debug)]
pub struct Issued {
    /// As recorded.
    pub record: Record,
    /// The PKCS#12 file, when the key was generated here.
    pub pkcs12: Option<Vec<u8>>,
}

/// What [`issue`] did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Newly issued.
    pub issued: Vec<Issued>,
    /// The active certificates that made `IfActive::Skip` issue nothing.
    pub existing: Vec<Record>,
    /// Serials revoked as superseded by `IfActive::Replace`.
    pub replaced: Vec<String>,
}

/// Which earlier certificates a new one replaces, and what becomes of them.
#[derive(Debug, Clone, Copy)]
pub enum Replacing<'a> {
    /// Decide by the address's active certificates and `IfActive`.
    Active(IfActive),
    /// A renewal: this certificate becomes superseded.
    Renewal(&'a str),
}

/// Issues certificates for `subject` and records them.
///
/// # Errors
/// [`PkiError::AlreadyActive`] (with `IfActive::Fail`, or a racing issuer), key generation,
/// signing, PKCS#12 and database errors.
pub fn issue(
    authority: &Authority,
    issuer: &Issuer<'_, CaSigner>,
    subject: &Subject,
    key: KeyRequest<'_>,
    replacing: Replacing<'_>,
) -> Result<Outcome, PkiError> {
    let (replaced, replaced_status) = match replacing {
        Replacing::Renewal(serial) => (vec![serial.to_owned()], StoredStatus::Superseded),
        Replacing::Active(if_active) => {
            let active = authority.db.active(subject.email(), subject.kind())?;
            match (active.first(), if_active) {
                (None, _) => (Vec::new(), StoredStatus::Superseded),
                (Some(first), IfActive::Fail) => {
                    return Err(PkiError::AlreadyActive {
                        email: subject.email().to_owned(),
                        kind: subject.kind().as_str(),
                        serial: first.serial.clone(),
                    });
                }
                (Some(_), IfActive::Skip) => {
                    return Ok(Outcome {
                        existing: active,
                        ..Outcome::default()
                    });
                }
                (Some(_), IfActive::Replace) => (
                    active.into_iter().map(|r| r.serial).collect(),
                    StoredStatus::Revoked {
                        at: unix(SystemTime::now()),
                        reason: RevocationReason::Superseded,
                    },
                ),
            }
        }
    };
    let validity = profile::validity(authority.config.validity_days);
    let mut issued = Vec::new();
    match key {
        KeyRequest::Generate {
            algorithm,
            password,
            usages,
            format,
        } => {
            for &usage in usages {
                let pair = generate_key(algorithm)?;
                let record = certify(
                    authority,
                    issuer,
                    subject,
                    &pair,
                    family(algorithm),
                    usage,
                    validity,
                )?;
                let private_key = PrivateKeyDer::new(pair.serialize_der());
                let friendly_name = match usage {
                    Usage::Both => subject.email().to_owned(),
                    other => format!("{} ({})", subject.email(), other.as_str()),
                };
                let pkcs12 = pkcs12::write(
                    &Pkcs12Identity {
                        key: &private_key,
                        certificate: &record.der,
                        chain: &authority.chain(),
                        friendly_name: &friendly_name,
                        iterations: authority.config.pkcs12_iterations,
                        encryption: match format {
                            Pkcs12Format::Modern => WriteEncryption::Modern,
                            Pkcs12Format::Gnupg22 => WriteEncryption::Gnupg22,
                        },
                    },
                    password.0.as_bytes(),
                )?;
                issued.push(Issued {
                    record,
                    pkcs12: Some(pkcs12),
                });
            }
        }
        KeyRequest::Csr { csr, usage } => {
            let record = certify(
                authority,
                issuer,
                subject,
                &csr.public_key,
                csr.family,
                usage,
                validity,
            )?;
            issued.push(Issued {
                record,
                pkcs12: None,
            });
        }
        KeyRequest::Existing {
            public_key,
            family,
            usage,
        } => {
            let record = certify(
                authority,
                issuer,
                subject,
                &public_key,
                family,
                usage,
                validity,
            )?;
            issued.push(Issued {
                record,
                pkcs12: None,
            });
        }
    }
    let records: Vec<Record> = issued.iter().map(|i| i.record.clone()).collect();
    authority
        .db
        .record_issue(&records, &replaced, replaced_status)?;
    Ok(Outcome {
        replaced: if matches!(replaced_status, StoredStatus::Revoked { .. }) {
            replaced
        } else {
            Vec::new()
        },
        issued,
        existing: Vec::new(),
    })
}

/// Signs one certificate for `public_key` and describes it as a database record.
fn certify(
    authority: &Authority,
    issuer: &Issuer<'_, CaSigner>,
    subject: &Subject,
    public_key: &impl PublicKeyData,
    family: KeyFamily,
    usage: Usage,
    validity: (SystemTime, SystemTime),
) -> Result<Record, PkiError> {
    let serial = new_serial()?;
    let params =
        profile::certificate_params(subject, family, usage, &serial, validity, &authority.urls)?;
    let certificate = params
        .signed_by(public_key, issuer)
        .map_err(PkiError::build("certificate"))?;
    let der = certificate.der().to_vec();
    let parsed = Certificate::from_der(&der).map_err(PkiError::encoding("issued certificate"))?;
    Ok(Record {
        serial: hex::encode(serial),
        email: subject.email().to_owned(),
        kind: subject.kind(),
        usage,
        name: subject.name().map(str::to_owned),
        organization: subject.organization().map(str::to_owned),
        subject: parsed.tbs_certificate().subject().to_string(),
        not_before: unix(validity.0),
        not_after: unix(validity.1),
        status: StoredStatus::Active,
        der,
    })
}

/// The public key a stored certificate certifies, for a renewal that keeps the key.
///
/// # Errors
/// [`PkiError::Encoding`] if the stored certificate does not parse.
pub fn certified_key(
    record: &Record,
) -> Result<(rcgen::SubjectPublicKeyInfo, KeyFamily), PkiError> {
    let cert =
        Certificate::from_der(&record.der).map_err(PkiError::encoding("stored certificate"))?;
    let spki = cert.tbs_certificate().subject_public_key_info();
    let family = if spki.algorithm.oid == const_oid::db::rfc5912::RSA_ENCRYPTION {
        KeyFamily::Rsa
    } else {
        KeyFamily::Ec
    };
    let der = spki
        .to_der()
        .map_err(PkiError::encoding("stored public key"))?;
    let public_key =
        rcgen::SubjectPublicKeyInfo::from_der(&der).map_err(PkiError::build("public key"))?;
    Ok((public_key, family))
}

/// Seconds since the Unix epoch.
pub fn unix(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
