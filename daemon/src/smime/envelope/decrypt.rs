//! Decryption: find which of our keys the message is for, recover the content-encryption key
//! through that RecipientInfo, and decrypt the content.

use super::content::{self, Authentication};
use super::recipients::{self, CertificateRef};
use super::{Decrypted, EnvelopeError, OwnKey, kari, ktri};
use crate::smime::algorithms::oid_name;
use crate::smime::ber::{self, Profile};
use cms::authenveloped_data::AuthEnvelopedData;
use cms::content_info::ContentInfo;
use cms::enveloped_data::{
    EncryptedContentInfo, EncryptedKey, EnvelopedData, KeyAgreeRecipientInfo,
    KeyTransRecipientInfo, RecipientInfo, RecipientInfos,
};
use const_oid::db::rfc5911;
use der::{Decode, Encode};

/// Decrypts a DER or BER ContentInfo holding EnvelopedData or AuthEnvelopedData with the first
/// of `keys` that is among its recipients.
///
/// Unlocked keys are tried before locked ones, so that a message for two of our keys opens
/// with the one at hand; only when every key it is for is locked does this return
/// [`EnvelopeError::Locked`], naming the first. Errors come in the order in which they leave
/// the user something to do: [`EnvelopeError::NotForUs`], then an unsupported algorithm (no
/// unlocking helps), then `Locked`. When `authAttrs` are present they are the GCM additional
/// data, DER-encoded with a SET OF tag (RFC 5083 §2.2).
pub fn decrypt(content_info: &[u8], keys: &[OwnKey<'_>]) -> Result<Decrypted, EnvelopeError> {
    let der = ber::to_der(content_info, Profile::ENVELOPED_DATA)?;
    let info = ContentInfo::from_der(&der).map_err(EnvelopeError::der("ContentInfo"))?;
    let envelope = Envelope::read(&info)?;
    let (own, target) = find_recipient(&envelope.recipients, keys)?;
    // The algorithm is checked before the key is required: asking the user to unlock a key for
    // a message that cannot be read anyway would waste their time.
    let algorithm = content::parse(
        &envelope.encrypted.content_enc_alg,
        envelope.authentication.is_some(),
    )?;
    let key = own
        .key
        .ok_or(EnvelopeError::Locked { key_id: own.key_id })?;
    let cek = match target {
        Target::Ktri(ktri) => ktri::decrypt_cek(ktri, key, content::key_len(algorithm.algorithm))?,
        Target::Kari(kari, encrypted_key) => kari::decrypt_cek(kari, encrypted_key, key)?,
    };
    let ciphertext =
        envelope
            .encrypted
            .encrypted_content
            .as_ref()
            .ok_or(EnvelopeError::malformed(
                "the encrypted content is absent (detached content is not supported)",
            ))?;
    let mut opening = algorithm.open(&cek, envelope.authentication.as_ref())?;
    let mut content = Vec::with_capacity(ciphertext.as_bytes().len());
    opening.update(ciphertext.as_bytes(), &mut content)?;
    opening.finish(&mut content)?;
    Ok(Decrypted {
        content,
        algorithm: algorithm.algorithm,
        key_id: own.key_id,
    })
}

/// What EnvelopedData and AuthEnvelopedData have in common for decryption.
struct Envelope {
    recipients: RecipientInfos,
    encrypted: EncryptedContentInfo,
    /// The tag and AAD, for AuthEnvelopedData only.
    authentication: Option<Authentication>,
}

impl Envelope {
    fn read(info: &ContentInfo) -> Result<Self, EnvelopeError> {
        match info.content_type {
            rfc5911::ID_ENVELOPED_DATA => {
                let data: EnvelopedData = info
                    .content
                    .decode_as()
                    .map_err(EnvelopeError::der("EnvelopedData"))?;
                Ok(Self {
                    recipients: data.recip_infos,
                    encrypted: data.encrypted_content,
                    authentication: None,
                })
            }
            rfc5911::ID_CT_AUTH_ENVELOPED_DATA => {
                let data: AuthEnvelopedData = info
                    .content
                    .decode_as()
                    .map_err(EnvelopeError::der("AuthEnvelopedData"))?;
                let aad = match &data.auth_attrs {
                    Some(attrs) => attrs.to_der().map_err(EnvelopeError::der("authAttrs"))?,
                    None => Vec::new(),
                };
                Ok(Self {
                    recipients: data.recip_infos,
                    encrypted: data.auth_encrypted_content_info,
                    authentication: Some(Authentication {
                        mac: data.mac.into_bytes(),
                        aad,
                    }),
                })
            }
            other => Err(EnvelopeError::NotEncrypted {
                content_type: oid_name(other),
            }),
        }
    }
}

/// The RecipientInfo (and, for key agreement, the encrypted key within it) for one of ours.
#[derive(Clone, Copy)]
enum Target<'m> {
    Ktri(&'m KeyTransRecipientInfo),
    Kari(&'m KeyAgreeRecipientInfo, &'m EncryptedKey),
}

/// Every certificate a RecipientInfo names, with where its key is; none for the kinds of
/// recipient we have no keys for (KEK, password, other).
fn targets(info: &RecipientInfo) -> Vec<(CertificateRef<'_>, Target<'_>)> {
    match info {
        RecipientInfo::Ktri(ktri) => vec![((&ktri.rid).into(), Target::Ktri(ktri))],
        RecipientInfo::Kari(kari) => kari
            .recipient_enc_keys
            .iter()
            .map(|rek| ((&rek.rid).into(), Target::Kari(kari, &rek.enc_key)))
            .collect(),
        RecipientInfo::Kekri(_) | RecipientInfo::Pwri(_) | RecipientInfo::Ori(_) => Vec::new(),
    }
}

/// Which of our keys the message is for, and where its key is: unlocked keys are tried
/// before locked ones, each in the order given.
fn find_recipient<'k, 'm>(
    recipients: &'m RecipientInfos,
    keys: &[OwnKey<'k>],
) -> Result<(OwnKey<'k>, Target<'m>), EnvelopeError> {
    let unlocked = keys.iter().filter(|own| own.key.is_some());
    let locked = keys.iter().filter(|own| own.key.is_none());
    unlocked
        .chain(locked)
        .find_map(|own| {
            recipients
                .0
                .iter()
                .flat_map(targets)
                .find(|(reference, _)| reference.matches(own.certificate))
                .map(|(_, target)| (*own, target))
        })
        .ok_or_else(|| EnvelopeError::NotForUs {
            recipients: recipients.0.iter().flat_map(recipients::describe).collect(),
        })
}
