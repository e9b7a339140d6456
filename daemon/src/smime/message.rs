//! Whole-message operations: sign, encrypt, and open (every layer off, outermost first).
//!
//! These take and return complete RFC 5322 messages; the CMS work is in `sign`, `verify` and
//! `envelope`, the MIME work in `mime` and `compose`.

use super::canonical::{self, CanonicalError};
use super::compose::{multipart_signed, pkcs7_mime, with_outer_headers};
use super::envelope::{self, EnvelopeError, OwnKey, Recipient};
use super::mime::{self, Entity, MimeError};
use super::sign::{self, SignError, Signer};
use super::verify::{self, Harvest, VerifyError, VerifyInput};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc6268;
use der::Decode;
use mailseal_protocol::methods::smime::{ContentEncryption, Layer, SignatureMode};
use std::time::SystemTime;
use x509_cert::Certificate;

/// The most layers `open` takes off; deeper nesting is refused as a likely attack.
pub const MAX_LAYERS: usize = 10;

/// Why a message could not be processed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The MIME structure is broken.
    #[error("malformed message: {0}")]
    Mime(#[from] MimeError),
    /// Reading the message, or writing the result or a temporary file, failed.
    #[error("cannot read or write the message: {0}")]
    Io(#[from] std::io::Error),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// Encryption or decryption failed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The signature structure could not be read.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The message is not of the kind the method needs.
    #[error("{0}")]
    NotApplicable(&'static str),
    /// More than [`MAX_LAYERS`] layers.
    #[error("the message is nested more than {MAX_LAYERS} layers deep")]
    TooDeep,
}

impl From<CanonicalError> for MessageError {
    fn from(error: CanonicalError) -> Self {
        match error {
            CanonicalError::Mime(e) => Self::Mime(e),
            CanonicalError::Io(e) => Self::Io(e),
        }
    }
}

/// Signs a whole message; headers stay outside, the content entity is canonicalized first.
pub fn sign_message(
    raw: &[u8],
    signer: &Signer<'_>,
    mode: SignatureMode,
    now: SystemTime,
) -> Result<Vec<u8>, MessageError> {
    let outer = mime::parse(raw);
    let entity = canonical::canonical_entity(raw)?;
    Ok(match mode {
        SignatureMode::Detached => {
            let signature = sign::sign(&entity, signer, true, now)?;
            multipart_signed(&outer, &entity, &signature.content_info, signature.hash)
        }
        SignatureMode::Opaque => {
            let signature = sign::sign(&entity, signer, false, now)?;
            pkcs7_mime(&outer, "signed-data", &signature.content_info)
        }
    })
}

/// Encrypts a whole message's content entity to every recipient.
pub fn encrypt_message(
    raw: &[u8],
    recipients: &[Recipient<'_>],
    algorithm: ContentEncryption,
) -> Result<Vec<u8>, MessageError> {
    let outer = mime::parse(raw);
    let entity = canonical::canonical_entity(raw)?;
    let mut der = Vec::new();
    envelope::encrypt(
        &mut std::io::Cursor::new(&entity),
        entity.len() as u64,
        recipients,
        algorithm,
        &mut der,
    )?;
    let smime_type = match algorithm {
        ContentEncryption::Aes128Gcm | ContentEncryption::Aes256Gcm => "authEnveloped-data",
        ContentEncryption::Aes128Cbc | ContentEncryption::Aes256Cbc => "enveloped-data",
    };
    Ok(pkcs7_mime(&outer, smime_type, &der))
}

/// What `open` needs to know: our keys, whom we trust, whom we know, and the time.
#[derive(Debug)]
pub struct OpenContext<'a> {
    /// Our identities' keys (locked ones with `key: None`).
    pub own_keys: &'a [OwnKey<'a>],
    /// Trust anchors.
    pub anchors: &'a [Certificate],
    /// Certificates we know besides those in the message.
    pub known_certs: &'a [Certificate],
    /// The time to check validity at.
    pub now: SystemTime,
}

/// A message with its layers taken off.
#[derive(Debug)]
pub struct Opened {
    /// The innermost message, outer headers kept.
    pub message: Vec<u8>,
    /// The layers, outermost first.
    pub layers: Vec<Layer>,
    /// Signers' certificates and capabilities, to remember for later encryption.
    pub harvest: Vec<Harvest>,
}

/// Takes every S/MIME layer off `raw`; a message without S/MIME comes back as it was.
pub fn open_message(raw: &[u8], context: &OpenContext<'_>) -> Result<Opened, MessageError> {
    let mut message = raw.to_vec();
    let mut layers = Vec::new();
    let mut harvest = Vec::new();
    loop {
        let outer = mime::parse(&message);
        let Some(step) = open_layer(&outer, context)? else {
            break;
        };
        if layers.len() == MAX_LAYERS {
            return Err(MessageError::TooDeep);
        }
        let (inner, layer, harvested) = step;
        layers.push(layer);
        harvest.extend(harvested);
        message = with_outer_headers(&outer, &inner);
    }
    Ok(Opened {
        message,
        layers,
        harvest,
    })
}

type Step = (Vec<u8>, Layer, Vec<Harvest>);

/// Takes one layer off, or says there is none.
fn open_layer(outer: &Entity<'_>, context: &OpenContext<'_>) -> Result<Option<Step>, MessageError> {
    let content_type = outer.content_type();
    let from = outer.addresses(&["From"]);
    // Detached and encapsulated signatures are checked against the same addresses, anchors,
    // certificates and time.
    let verify = |content_info: &[u8], detached_content: Option<&[u8]>| {
        verify::verify(&VerifyInput {
            content_info,
            detached_content,
            from: &from,
            anchors: context.anchors,
            known_certs: context.known_certs,
            now: context.now,
        })
    };
    match content_type.mime_type.as_str() {
        "multipart/signed" => {
            let boundary = content_type
                .param("boundary")
                .ok_or(MimeError::Multipart("no boundary parameter"))?;
            let parts = mime::multipart_parts(outer.body, boundary)?;
            let [signed, signature, ..] = parts.as_slice() else {
                return Err(MimeError::Multipart("multipart/signed needs two parts").into());
            };
            let signed = mime::crlf(signed);
            let signature = mime::parse(signature).decoded_body()?;
            let verified = verify(&signature, Some(&signed))?;
            let layer = Layer::Signed {
                mode: SignatureMode::Detached,
                signatures: verified.reports,
            };
            Ok(Some((signed, layer, verified.signers)))
        }
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => {
            let der = outer.decoded_body()?;
            match content_info_type(&der) {
                Some(t) if t == rfc6268::ID_SIGNED_DATA => {
                    let verified = verify(&der, None)?;
                    let layer = Layer::Signed {
                        mode: SignatureMode::Opaque,
                        signatures: verified.reports,
                    };
                    Ok(Some((verified.content, layer, verified.signers)))
                }
                Some(t)
                    if t == rfc6268::ID_ENVELOPED_DATA
                        || t == rfc6268::ID_CT_AUTH_ENVELOPED_DATA =>
                {
                    let decrypted = envelope::decrypt(&der, context.own_keys)?;
                    let layer = Layer::Encrypted {
                        algorithm: decrypted.algorithm,
                        key_id: decrypted.key_id.to_string(),
                    };
                    Ok(Some((decrypted.content, layer, Vec::new())))
                }
                _ => Err(MessageError::NotApplicable(
                    "the application/pkcs7-mime body is not a CMS signed or encrypted message",
                )),
            }
        }
        _ => Ok(None),
    }
}

/// The contentType of a DER/BER ContentInfo, read without decoding the rest.
///
/// ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY } (RFC 5652 §3): skip
/// the SEQUENCE header (definite or BER indefinite length) and decode the OID after it.
fn content_info_type(der: &[u8]) -> Option<ObjectIdentifier> {
    let (&tag, rest) = der.split_first()?;
    let (&first_length, rest) = rest.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let length_octets = if first_length & 0x80 != 0 && first_length != 0x80 {
        usize::from(first_length & 0x7f)
    } else {
        0
    };
    let oid = rest.get(length_octets..)?;
    let oid_len = usize::from(*oid.get(1)?);
    ObjectIdentifier::from_der(oid.get(..2 + oid_len)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_is_read_from_der_and_ber() {
        let der = [
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0,
            0x00,
        ];
        assert_eq!(content_info_type(&der), Some(rfc6268::ID_SIGNED_DATA));
        let mut ber = der;
        ber[1] = 0x80;
        assert_eq!(content_info_type(&ber), Some(rfc6268::ID_SIGNED_DATA));
        assert_eq!(content_info_type(b"garbage"), None);
        assert_eq!(content_info_type(&[0x30]), None);
    }
}
