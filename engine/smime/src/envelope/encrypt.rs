//! Encryption: a fresh content-encryption key, one RecipientInfo per recipient, the content
//! encrypted once as it streams through, all in a DER ContentInfo.

use super::kari::{self, Curve};
use super::{EnvelopeError, Recipient, content, gcm, ktri};
use crate::report::ContentEncryption;
use cms::content_info::CmsVersion;
use cms::enveloped_data::{RecipientInfo, RecipientInfos};
use const_oid::db::{rfc5911, rfc5912, rfc8410};
use der::Encode;
use mailseal_pkix::tlv;
use std::io::{self, Write};
use x509_cert::Certificate;
use x509_cert::ext::pkix::KeyUsage;

/// Starts a DER ContentInfo to `out` that encrypts `content_len` bytes of content (the MIME
/// entity) for every recipient: AuthEnvelopedData for the GCM choices (RFC 5083),
/// EnvelopedData for CBC (RFC 5652 §6). The content is then written to the returned
/// [`Envelope`], which encrypts it on its way to `out`, and [`Envelope::finish`] ends it.
///
/// The content streams through: every length in the DER is known from `content_len` before the
/// first byte of ciphertext (CBC pads to the next block, GCM adds nothing and its 16-byte tag
/// comes after the content), so the result is DER however large the message, and memory stays
/// at one buffer. The content is written rather than read so that the canonicalizer can write
/// straight into the cipher, with no copy of the entity in between. Writing more or fewer
/// bytes than `content_len` is an error.
///
/// RSA recipients get key transport with their [`Recipient::rsa_padding`]; P-256, P-384 and
/// X25519 recipients get ephemeral-static ECDH with the X9.63 KDF and AES-256 key wrap. All are
/// named by issuer and serial number, which every client understands. A recipient whose key
/// cannot be encrypted to (an Ed25519 key, a key usage without key encipherment or key
/// agreement) fails the whole call with [`EnvelopeError::UnsupportedRecipientKey`]: silently
/// leaving someone out is worse than not sending.
pub fn seal<W: Write>(
    content_len: u64,
    recipients: &[Recipient<'_>],
    algorithm: ContentEncryption,
    mut out: W,
) -> Result<Envelope<W>, EnvelopeError> {
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
    let sealing = content::seal(algorithm, &cek)?;
    let authenticated = algorithm.is_authenticated();
    if authenticated && content_len > gcm::MAX_CONTENT {
        return Err(EnvelopeError::TooLarge);
    }
    let (content_type, version) = if authenticated {
        (rfc5911::ID_CT_AUTH_ENVELOPED_DATA, CmsVersion::V0)
    } else if all_ktri {
        (rfc5911::ID_ENVELOPED_DATA, CmsVersion::V0)
    } else {
        (rfc5911::ID_ENVELOPED_DATA, CmsVersion::V2)
    };

    // EncryptedContentInfo ::= SEQUENCE { contentType, contentEncryptionAlgorithm,
    //   encryptedContent [0] IMPLICIT OCTET STRING }
    let ciphertext_len = sealing.ciphertext_len(content_len);
    let mut eci_start = der(&rfc5911::ID_DATA, "the content type")?;
    eci_start.extend(der(
        &sealing.identifier,
        "the content-encryption algorithm",
    )?);
    eci_start.extend(header(0x80, ciphertext_len));
    let eci_len = eci_start.len() as u64 + ciphertext_len;
    // (Auth)EnvelopedData ::= SEQUENCE { version, recipientInfos, (auth)EncryptedContentInfo,
    //   mac OCTET STRING (AuthEnvelopedData only) }
    let mut envelope_start = der(&version, "the version")?;
    envelope_start.extend(der(&recip_infos, "RecipientInfos")?);
    envelope_start.extend(header(0x30, eci_len));
    let mac_len = if authenticated {
        2 + gcm::TAG_LEN as u64
    } else {
        0
    };
    let envelope_len = envelope_start.len() as u64 + eci_len + mac_len;
    // ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT ANY }
    let envelope_header = header(0x30, envelope_len);
    let explicit_len = envelope_header.len() as u64 + envelope_len;
    let explicit_header = header(0xa0, explicit_len);
    let content_type = der(&content_type, "the content type")?;
    let info_len = (content_type.len() + explicit_header.len()) as u64 + explicit_len;

    let mut head = header(0x30, info_len);
    head.extend(content_type);
    head.extend(explicit_header);
    head.extend(envelope_header);
    head.extend(envelope_start);
    head.extend(eci_start);
    out.write_all(&head)?;
    Ok(Envelope {
        sealing,
        out,
        expected: content_len,
        written: 0,
        output: Vec::with_capacity(CHUNK + 32),
    })
}

/// An envelope whose content is being written: what is written to it is encrypted on its way
/// to the inner writer.
pub struct Envelope<W: Write> {
    sealing: content::Sealing,
    out: W,
    /// The content length announced in the DER.
    expected: u64,
    /// The content written so far.
    written: u64,
    /// The ciphertext of one piece; kept from piece to piece.
    output: Vec<u8>,
}

impl<W: Write> Write for Envelope<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() as u64 > self.expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the content is longer than announced in the envelope",
            ));
        }
        for piece in buf.chunks(CHUNK) {
            self.output.clear();
            self.sealing
                .update(piece, &mut self.output)
                .map_err(io::Error::other)?;
            self.out.write_all(&self.output)?;
        }
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write> Envelope<W> {
    /// Writes the end of the envelope (the last CBC block, or the GCM tag as `mac`) and
    /// returns the inner writer; content shorter than announced is an error.
    pub fn finish(mut self) -> Result<W, EnvelopeError> {
        if self.written != self.expected {
            return Err(EnvelopeError::malformed(
                "the content changed length while it was encrypted",
            ));
        }
        self.output.clear();
        if let Some(tag) = self.sealing.finish(&mut self.output)? {
            self.output.extend(header(0x04, tag.len() as u64));
            self.output.extend_from_slice(&tag);
        }
        self.out.write_all(&self.output)?;
        Ok(self.out)
    }
}

/// The DER of `value`, naming `what` on failure.
fn der(value: &impl Encode, what: &'static str) -> Result<Vec<u8>, EnvelopeError> {
    value.to_der().map_err(EnvelopeError::der(what))
}

/// How much content is encrypted at a time.
const CHUNK: usize = 64 * 1024;

/// A DER tag and definite length.
fn header(tag: u8, len: u64) -> Vec<u8> {
    tlv::header(tag, Some(len))
}

/// [`seal`] of a message in memory, for the tests.
#[cfg(test)]
pub fn encrypt_to_vec(
    content: &[u8],
    recipients: &[Recipient<'_>],
    algorithm: ContentEncryption,
) -> Result<Vec<u8>, EnvelopeError> {
    let mut envelope = seal(content.len() as u64, recipients, algorithm, Vec::new())?;
    envelope.write_all(content)?;
    envelope.finish()
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
