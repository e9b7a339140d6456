//! How a RecipientInfo names the recipient's certificate (RFC 5652 §6.2): by issuer and
//! serial number or by subject key identifier, for key transport and key agreement alike.

use cms::cert::IssuerAndSerialNumber;
use cms::enveloped_data::{KeyAgreeRecipientIdentifier, RecipientIdentifier, RecipientInfo};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

/// A reference to a certificate, whichever CHOICE carried it.
#[derive(Clone, Copy)]
pub(super) enum CertificateRef<'a> {
    /// issuerAndSerialNumber.
    IssuerAndSerial(&'a IssuerAndSerialNumber),
    /// subjectKeyIdentifier, or rKeyId's (whose date and other fields name no certificate of
    /// ours and are ignored).
    SubjectKeyId(&'a [u8]),
}

impl<'a> From<&'a RecipientIdentifier> for CertificateRef<'a> {
    fn from(rid: &'a RecipientIdentifier) -> Self {
        match rid {
            RecipientIdentifier::IssuerAndSerialNumber(ias) => Self::IssuerAndSerial(ias),
            RecipientIdentifier::SubjectKeyIdentifier(ski) => Self::SubjectKeyId(ski.0.as_bytes()),
        }
    }
}

impl<'a> From<&'a KeyAgreeRecipientIdentifier> for CertificateRef<'a> {
    fn from(rid: &'a KeyAgreeRecipientIdentifier) -> Self {
        match rid {
            KeyAgreeRecipientIdentifier::IssuerAndSerialNumber(ias) => Self::IssuerAndSerial(ias),
            KeyAgreeRecipientIdentifier::RKeyId(key_id) => {
                Self::SubjectKeyId(key_id.subject_key_identifier.0.as_bytes())
            }
        }
    }
}

impl CertificateRef<'_> {
    /// Whether this names `cert`.
    pub(super) fn matches(self, cert: &Certificate) -> bool {
        let tbs = cert.tbs_certificate();
        match self {
            Self::IssuerAndSerial(ias) => {
                ias.issuer == *tbs.issuer()
                    && ias.serial_number.as_bytes() == tbs.serial_number().as_bytes()
            }
            Self::SubjectKeyId(ski) => match tbs.get_extension::<SubjectKeyIdentifier>() {
                Ok(Some((_, own))) => own.0.as_bytes() == ski,
                _ => false,
            },
        }
    }

    /// The reference in words, for an error listing a message's recipients.
    fn describe(self) -> String {
        match self {
            Self::IssuerAndSerial(ias) => format!(
                "issuer \"{}\", serial number {}",
                ias.issuer,
                hex::encode(ias.serial_number.as_bytes())
            ),
            Self::SubjectKeyId(ski) => format!("subject key identifier {}", hex::encode(ski)),
        }
    }
}

/// The issuerAndSerialNumber of `cert`, how we name recipients: every client understands it,
/// while a subject key identifier needs the extension (RFC 8551 §2.3 allows both).
pub(super) fn issuer_and_serial(cert: &Certificate) -> IssuerAndSerialNumber {
    IssuerAndSerialNumber {
        issuer: cert.tbs_certificate().issuer().clone(),
        serial_number: cert.tbs_certificate().serial_number().clone(),
    }
}

/// The recipients `info` names, in words (a key agreement may name several).
pub(super) fn describe(info: &RecipientInfo) -> Vec<String> {
    match info {
        RecipientInfo::Ktri(ktri) => vec![CertificateRef::from(&ktri.rid).describe()],
        RecipientInfo::Kari(kari) => kari
            .recipient_enc_keys
            .iter()
            .map(|rek| CertificateRef::from(&rek.rid).describe())
            .collect(),
        RecipientInfo::Kekri(kekri) => vec![format!(
            "a pre-shared key-encryption key with identifier {}",
            hex::encode(kekri.kek_id.kek_identifier.as_bytes())
        )],
        RecipientInfo::Pwri(_) => vec!["a password".to_owned()],
        RecipientInfo::Ori(ori) => vec![format!("another kind of recipient ({})", ori.ori_type)],
    }
}
