//! Decryption: find which of our keys the message is for, recover the content-encryption key
//! through that RecipientInfo, and decrypt the content as it streams through.

use super::content;
use super::recipients::{self, CertificateRef};
use super::{Decryption, EnvelopeError, OwnKey, kari, ktri, layout};
use cms::enveloped_data::{
    EncryptedKey, KeyAgreeRecipientInfo, KeyTransRecipientInfo, RecipientInfo, RecipientInfos,
};
use std::io::{Read, Seek, Write};

/// Decrypts a DER or BER ContentInfo holding EnvelopedData or AuthEnvelopedData, read from
/// `src`, with the first of `keys` that is among its recipients, and writes the content to
/// `out` as it is decrypted.
///
/// What is written is unauthenticated until this returns `Ok`: the CBC padding and the GCM tag
/// are checked at the end, so `out` must be a private temporary place whose contents are
/// dropped on an error. Every failure that depends on the key or the content is
/// [`EnvelopeError::DecryptionFailed`] (RFC 3218).
///
/// Unlocked keys are tried before locked ones, so that a message for two of our keys opens
/// with the one at hand; only when every key it is for is locked does this return
/// [`EnvelopeError::Locked`], naming the first. Errors come in the order in which they leave
/// the user something to do: [`EnvelopeError::NotForUs`], then an unsupported algorithm (no
/// unlocking helps), then `Locked`. When `authAttrs` are present they are the GCM additional
/// data, DER-encoded with a SET OF tag (RFC 5083 §2.2).
pub fn decrypt<R: Read + Seek, W: Write>(
    src: &mut R,
    keys: &[OwnKey<'_>],
    out: &mut W,
) -> Result<Decryption, EnvelopeError> {
    let envelope = layout::read(src)?;
    let (own, target) = find_recipient(&envelope.recipients, keys)?;
    // The algorithm is checked before the key is required: asking the user to unlock a key for
    // a message that cannot be read anyway would waste their time.
    let algorithm = content::parse(&envelope.algorithm, envelope.authentication.is_some())?;
    let key = own
        .key
        .ok_or(EnvelopeError::Locked { key_id: own.key_id })?;
    let cek = match target {
        Target::Ktri(ktri) => ktri::decrypt_cek(ktri, key, content::key_len(algorithm.algorithm))?,
        Target::Kari(kari, encrypted_key) => kari::decrypt_cek(kari, encrypted_key, key)?,
    };
    let mut opening = algorithm.open(&cek, envelope.authentication.as_ref())?;
    let mut plain = Vec::with_capacity(CHUNK + 16);
    envelope.for_each_chunk(src, CHUNK, |ciphertext| {
        plain.clear();
        opening.update(ciphertext, &mut plain)?;
        Ok(out.write_all(&plain)?)
    })?;
    plain.clear();
    opening.finish(&mut plain)?;
    out.write_all(&plain)?;
    Ok(Decryption {
        algorithm: algorithm.algorithm,
        key_id: own.key_id,
    })
}

/// How much ciphertext is decrypted at a time.
const CHUNK: usize = 64 * 1024;

/// [`decrypt`] of a message in memory, for the tests.
#[cfg(test)]
pub fn decrypt_to_vec(
    content_info: &[u8],
    keys: &[OwnKey<'_>],
) -> Result<super::Decrypted, EnvelopeError> {
    let mut content = Vec::new();
    let decryption = decrypt(&mut std::io::Cursor::new(content_info), keys, &mut content)?;
    Ok(super::Decrypted {
        content,
        algorithm: decryption.algorithm,
        key_id: decryption.key_id,
    })
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
