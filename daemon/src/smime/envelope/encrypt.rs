//! Encryption: a fresh content-encryption key, one RecipientInfo per recipient, the content
//! encrypted once, all in a DER ContentInfo.

use super::kari::{self, Curve};
use super::{EnvelopeError, Recipient, content, ktri};
use cms::authenveloped_data::AuthEnvelopedData;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::enveloped_data::{EncryptedContentInfo, EnvelopedData, RecipientInfo, RecipientInfos};
use const_oid::db::{rfc5911, rfc5912, rfc8410};
use der::Encode;
use der::asn1::{Any, OctetString};
use mailseal_protocol::methods::smime::ContentEncryption;
use x509_cert::Certificate;
use x509_cert::ext::pkix::KeyUsage;

/// Encrypts `content` (the MIME entity bytes) for every recipient and returns the DER
/// ContentInfo: AuthEnvelopedData for the GCM choices (RFC 5083), EnvelopedData for CBC
/// (RFC 5652 §6).
///
/// RSA recipients get key transport with their [`Recipient::rsa_padding`]; P-256, P-384 and
/// X25519 recipients get ephemeral-static ECDH with the X9.63 KDF and AES-256 key wrap. All are
/// named by issuer and serial number, which every client understands. A recipient whose key
/// cannot be encrypted to (an Ed25519 key, a key usage without key encipherment or key
/// agreement) fails the whole call with [`EnvelopeError::UnsupportedRecipientKey`]: silently
/// leaving someone out is worse than not sending.
pub fn encrypt(
    content: &[u8],
    recipients: &[Recipient<'_>],
    algorithm: ContentEncryption,
) -> Result<Vec<u8>, EnvelopeError> {
    if recipients.is_empty() {
        return Err(EnvelopeError::malformed(
            "an envelope needs at least one recipient",
        ));
    }
    let cek = content::random_key(content::key_len(algorithm))?;
    let infos = recipients
        .iter()
        .map(|recipient| recipient_info(recipient, &cek))
        .collect::<Result<Vec<_>, _>>()?;
    // RFC 5652 §6.1: version 0 when every RecipientInfo is version 0 (key transport by issuer
    // and serial), else 2 (key agreement is version 3). AuthEnvelopedData is always 0.
    let all_ktri = infos
        .iter()
        .all(|info| matches!(info, RecipientInfo::Ktri(_)));
    let recip_infos =
        RecipientInfos::try_from(infos).map_err(EnvelopeError::der("RecipientInfos"))?;
    let sealed = content::seal(algorithm, &cek, content)?;
    let encrypted_content = EncryptedContentInfo {
        content_type: rfc5911::ID_DATA,
        content_enc_alg: sealed.identifier,
        encrypted_content: Some(
            OctetString::new(sealed.ciphertext)
                .map_err(EnvelopeError::der("the encrypted content"))?,
        ),
    };
    let (content_type, body) = match sealed.tag {
        Some(tag) => (
            rfc5911::ID_CT_AUTH_ENVELOPED_DATA,
            Any::encode_from(&AuthEnvelopedData {
                version: CmsVersion::V0,
                originator_info: None,
                recip_infos,
                auth_encrypted_content_info: encrypted_content,
                auth_attrs: None,
                mac: OctetString::new(tag).map_err(EnvelopeError::der("the mac"))?,
                unauth_attrs: None,
            }),
        ),
        None => (
            rfc5911::ID_ENVELOPED_DATA,
            Any::encode_from(&EnvelopedData {
                version: if all_ktri {
                    CmsVersion::V0
                } else {
                    CmsVersion::V2
                },
                originator_info: None,
                recip_infos,
                encrypted_content,
                unprotected_attrs: None,
            }),
        ),
    };
    ContentInfo {
        content_type,
        content: body.map_err(EnvelopeError::der("the envelope"))?,
    }
    .to_der()
    .map_err(EnvelopeError::der("the ContentInfo"))
}

/// The RecipientInfo for one recipient, by the type of its key.
fn recipient_info(recipient: &Recipient<'_>, cek: &[u8]) -> Result<RecipientInfo, EnvelopeError> {
    let cert = recipient.certificate;
    let refuse = |reason| EnvelopeError::unsupported_recipient(cert, reason);
    let spki = cert.tbs_certificate().subject_public_key_info();
    match spki.algorithm.oid {
        rfc5912::RSA_ENCRYPTION => {
            if !key_usage_allows(cert, KeyUsage::key_encipherment).map_err(refuse)? {
                return Err(refuse("its key usage does not allow key encipherment"));
            }
            ktri::recipient_info(cert, recipient.rsa_padding, cek)
        }
        rfc5912::ID_EC_PUBLIC_KEY | rfc8410::ID_X_25519 => {
            let curve =
                Curve::of(spki).ok_or_else(|| refuse("its elliptic curve is not supported"))?;
            if !key_usage_allows(cert, KeyUsage::key_agreement).map_err(refuse)? {
                return Err(refuse("its key usage does not allow key agreement"));
            }
            kari::recipient_info(cert, curve, cek)
        }
        rfc8410::ID_ED_25519 => Err(refuse("an Ed25519 key can only sign")),
        _ => Err(refuse("its key type cannot be encrypted to")),
    }
}

/// Whether the certificate's key usage, if it has one, includes the bit `allows` checks
/// (RFC 8550 §4.4.2: a certificate without the extension may be used for anything).
fn key_usage_allows(
    cert: &Certificate,
    allows: fn(&KeyUsage) -> bool,
) -> Result<bool, &'static str> {
    match cert.tbs_certificate().get_extension::<KeyUsage>() {
        Ok(Some((_, usage))) => Ok(allows(&usage)),
        Ok(None) => Ok(true),
        Err(_) => Err("its key usage extension is unreadable"),
    }
}
