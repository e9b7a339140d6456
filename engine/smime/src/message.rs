//! Whole-message operations: sign, encrypt, and open (every layer off, outermost first).
//!
//! These take and return complete RFC 5322 messages; the CMS work is in `sign`, `verify` and
//! `envelope`, the MIME work in `mime`, `canonical` and `compose`.
//!
//! Every operation streams: the message is read from a seekable source and the result written
//! to a writer, with intermediate results (the canonical entity, the decoded CMS, the decrypted
//! or verified content) in [`Scratch`] spools, so a message of any size is processed in bounded
//! memory. Content is hashed and encrypted as it passes; only the small parts of CMS (signer
//! infos, certificates, recipients) are held.

use super::compose::{multipart_signed_around, outer_prefix, pkcs7_mime_head};
use super::envelope::{self, EnvelopeError, OwnKey, Recipient};
use super::sign::{self, SignError, Signer};
use super::verify::{self, Harvest, VerifyError, VerifyInput};
use crate::report::{ContentEncryption, Layer, SignatureMode};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc6268;
use der::{Decode, SliceReader};
use mailseal_mime::canonical::{self, CanonicalError, Span};
use mailseal_mime::encoders::{Base64Decoder, Base64Lines, Crlf, Digesting};
use mailseal_mime::mime::{self, Entity, HeadLine, MimeError};
use mailseal_mime::scratch::{IN_MEMORY, Scratch};
use mailseal_pkix::ber;
use mailseal_pkix::issuers::Issuers;
use mailseal_pkix::revocation::Revocation;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::SystemTime;
use tempfile::SpooledTempFile;
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
    Verify(VerifyError),
    /// The message is not of the kind the method needs.
    #[error("{0}")]
    NotApplicable(&'static str),
    /// More than [`MAX_LAYERS`] layers.
    #[error("the message is nested more than {MAX_LAYERS} layers deep")]
    TooDeep,
}

impl From<VerifyError> for MessageError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Io(e) => Self::Io(e),
            other => Self::Verify(other),
        }
    }
}

impl From<CanonicalError> for MessageError {
    fn from(error: CanonicalError) -> Self {
        match error {
            CanonicalError::Mime(e) => Self::Mime(e),
            CanonicalError::Io(e) => Self::Io(e),
            other => Self::Io(io::Error::other(other)),
        }
    }
}

/// Signs a whole message; headers stay outside, the content entity is canonicalized first:
/// `len` bytes of `input` in, the signed message out to `out`. The entity is hashed as it is
/// canonicalized into a spool; a detached signature then streams the spool into the first part
/// of the `multipart/signed`, an opaque one into the SignedData between the head and tail that
/// the signature's known lengths allow to write first.
pub fn sign_message<R: Read + Seek, W: Write>(
    input: &mut R,
    len: u64,
    signer: &Signer<'_>,
    mode: SignatureMode,
    now: SystemTime,
    scratch: &Scratch,
    out: &mut W,
) -> Result<(), MessageError> {
    let (head, _) = canonical::read_head(input, Span::whole(len))?;
    let outer = mime::parse(&head);
    let (_, hash) = sign::scheme(signer)?;
    let mut entity = scratch.spool();
    let mut digesting = Digesting::new(&mut entity, hash.aws());
    canonical::canonicalize(input, Span::whole(len), &mut digesting)?;
    let digest = digesting.finish();
    let entity_len = entity.stream_position()?;
    entity.rewind()?;
    match mode {
        SignatureMode::Detached => {
            let signature = sign::sign_digest(&digest, None, signer, now)?;
            let content_info = [signature.head, signature.tail].concat();
            let (before, after) = multipart_signed_around(&outer, &content_info, signature.hash);
            out.write_all(&before)?;
            io::copy(&mut entity, out)?;
            out.write_all(&after)?;
        }
        SignatureMode::Opaque => {
            let signature = sign::sign_digest(&digest, Some(entity_len), signer, now)?;
            out.write_all(&pkcs7_mime_head(&outer, "signed-data"))?;
            let mut body = Base64Lines::new(&mut *out);
            body.write_all(&signature.head)?;
            io::copy(&mut entity, &mut body)?;
            body.write_all(&signature.tail)?;
            body.finish()?;
        }
    }
    Ok(())
}

/// Encrypts a whole message's content entity to every recipient: `len` bytes of `input` in,
/// the `application/pkcs7-mime` message out to `out`. The entity is canonicalized twice: once
/// to count it (the envelope's DER lengths come first), then straight into the cipher.
pub fn encrypt_message<R: Read + Seek, W: Write>(
    input: &mut R,
    len: u64,
    recipients: &[Recipient<'_>],
    algorithm: ContentEncryption,
    out: &mut W,
) -> Result<(), MessageError> {
    let (head, _) = canonical::read_head(input, Span::whole(len))?;
    let outer = mime::parse(&head);
    let entity_len = canonical::canonical_len(input, Span::whole(len))?;
    let smime_type = match algorithm {
        ContentEncryption::Aes128Gcm | ContentEncryption::Aes256Gcm => "authEnveloped-data",
        ContentEncryption::Aes128Cbc | ContentEncryption::Aes256Cbc => "enveloped-data",
    };
    out.write_all(&pkcs7_mime_head(&outer, smime_type))?;
    let mut body = Base64Lines::new(&mut *out);
    let mut envelope = envelope::seal(entity_len, recipients, algorithm, &mut body)?;
    canonical::canonicalize(input, Span::whole(len), &mut envelope)?;
    envelope.finish()?;
    body.finish()?;
    Ok(())
}

/// What `open` needs to know: our keys, whom we trust, whom we know, and the time.
#[derive(Debug)]
pub struct OpenContext<'a> {
    /// Our identities' keys (locked ones with `key: None`).
    pub own_keys: &'a [OwnKey<'a>],
    /// Trust anchors.
    pub anchors: &'a [Certificate],
    /// The revocation checker with the configured policy.
    pub revocation: &'a Revocation,
    /// Where missing intermediates are fetched from.
    pub issuers: &'a Issuers,
    /// Certificates we know besides those in the message.
    pub known_certs: &'a [&'a Certificate],
    /// The time to check validity at.
    pub now: SystemTime,
}

/// What was taken off a message (the message itself went to the writer).
#[derive(Debug)]
pub struct Opened {
    /// The layers, outermost first.
    pub layers: Vec<Layer>,
    /// Signers' certificates and capabilities, to remember for later encryption.
    pub harvest: Vec<Harvest>,
}

/// Takes every S/MIME layer off the `len` bytes of `input` and writes the innermost message
/// (outer headers kept) to `out`; a message without S/MIME is written as it was.
///
/// The innermost message goes to `out` as its layer is taken off, before that layer's checks
/// end (the GCM tag, the CBC padding): on an error, `out` holds a partial, unauthenticated
/// message, which the caller must discard (as the daemon's output sink does when dropped
/// unfinished).
pub fn open_message<R: Read + Seek, W: Write>(
    input: &mut R,
    len: u64,
    context: &OpenContext<'_>,
    scratch: &Scratch,
    out: &mut W,
) -> Result<Opened, MessageError> {
    let mut layers = Vec::new();
    let mut harvest = Vec::new();
    let Some(mut step) = open_layer(input, len, context, scratch, out)? else {
        input.seek(SeekFrom::Start(0))?;
        io::copy(&mut Read::by_ref(input).take(len), out)?;
        return Ok(Opened { layers, harvest });
    };
    loop {
        let (next, layer, harvested) = step;
        layers.push(layer);
        harvest.extend(harvested);
        // Written to `out` already, unless another layer follows.
        let Some(mut message) = next else {
            return Ok(Opened { layers, harvest });
        };
        let message_len = message.seek(SeekFrom::End(0))?;
        match open_layer(&mut message, message_len, context, scratch, out)? {
            None => {
                message.rewind()?;
                io::copy(&mut message, out)?;
                return Ok(Opened { layers, harvest });
            }
            Some(_) if layers.len() == MAX_LAYERS => return Err(MessageError::TooDeep),
            Some(next) => step = next,
        }
    }
}

/// One layer taken off: the message inside (outer headers in front) in a spool when it is
/// another layer, `None` when it went to the output; the layer; the signers to harvest.
type Step = (Option<SpooledTempFile>, Layer, Vec<Harvest>);

/// The content types [`open_layer`] takes off.
fn is_layer(mime_type: &str) -> bool {
    matches!(
        mime_type,
        "multipart/signed" | "application/pkcs7-mime" | "application/x-pkcs7-mime"
    )
}

/// Where the message inside a layer goes as the layer is taken off. Its header block is held
/// back until it is complete; then, if it is another S/MIME layer, the message goes into a
/// spool for the next round, else straight to the output: the innermost message is written
/// once, neither spooled nor copied.
struct Inner<'o, W> {
    scratch: &'o Scratch,
    head: HeadScan,
    state: Option<InnerState<'o, W>>,
}

/// How far the header block of the message inside a layer has been read, line by line, so
/// that each byte is looked at once however the message arrives (a constructed BER octet
/// string can bring it a byte at a time): judging all that was held on every write cost the
/// square of its length.
#[derive(Debug, Default)]
struct HeadScan {
    /// Where the first line not yet judged starts.
    line_start: usize,
    /// How far that line has been searched for its end.
    searched: usize,
    /// Whether a field came before it.
    after_field: bool,
}

impl HeadScan {
    /// Where the header block in `held` ends (where its body starts) once a line has ended
    /// it; `None` while it may go on. `held` only grows from one call to the next.
    fn end(&mut self, held: &[u8]) -> Option<usize> {
        while let Some(at) = memchr::memchr(b'\n', &held[self.searched..]) {
            let line_end = self.searched + at + 1;
            match HeadLine::of(&held[self.line_start..line_end], self.after_field) {
                HeadLine::End => return Some(line_end),
                HeadLine::Body => return Some(self.line_start),
                HeadLine::Continuation | HeadLine::Field { .. } => {
                    self.after_field = true;
                    self.line_start = line_end;
                    self.searched = line_end;
                }
            }
        }
        self.searched = held.len();
        None
    }
}

enum InnerState<'o, W> {
    /// Not decided yet: what came so far, and the output.
    Deciding(Vec<u8>, &'o mut W),
    /// Another layer follows.
    Spool(SpooledTempFile),
    /// The message itself.
    Out(&'o mut W),
}

impl<'o, W: Write> Inner<'o, W> {
    /// The inner message, starting with `prefix` (the outer headers), bound for `out` unless
    /// it turns out to be another layer.
    fn new(prefix: Vec<u8>, scratch: &'o Scratch, out: &'o mut W) -> Self {
        Self {
            scratch,
            head: HeadScan::default(),
            state: Some(InnerState::Deciding(prefix, out)),
        }
    }

    /// Sends what is held where it belongs once its header block is complete (judged on
    /// whole lines: a line cut in two could look like the end of the block), or `at_end` of
    /// the message; it is another layer when [`open_layer`] would take it off. More than
    /// [`IN_MEMORY`] without a complete header block goes to the spool, where the next round
    /// reads it as before.
    fn decide(&mut self, at_end: bool) -> io::Result<()> {
        let Some(InnerState::Deciding(held, _)) = &self.state else {
            return Ok(());
        };
        let layer = if held.len() > IN_MEMORY {
            true
        } else {
            let head_end = match self.head.end(held) {
                Some(end) => end,
                None if at_end => held.len(),
                None => return Ok(()),
            };
            is_layer(&mime::parse(&held[..head_end]).content_type().mime_type)
        };
        let Some(InnerState::Deciding(held, out)) = self.state.take() else {
            unreachable!("checked above");
        };
        self.state = Some(if layer {
            let mut spool = self.scratch.spool();
            spool.write_all(&held)?;
            InnerState::Spool(spool)
        } else {
            out.write_all(&held)?;
            InnerState::Out(out)
        });
        Ok(())
    }

    /// Ends the message: the spool of the next layer, or `None` when it went to the output.
    fn finish(mut self) -> io::Result<Option<SpooledTempFile>> {
        self.decide(true)?;
        Ok(match self.state {
            Some(InnerState::Spool(spool)) => Some(spool),
            _ => None,
        })
    }
}

impl<W: Write> Write for Inner<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.state.as_mut().expect("an unfinished message") {
            InnerState::Deciding(held, _) => {
                held.extend_from_slice(buf);
                self.decide(false)?;
            }
            InnerState::Spool(spool) => spool.write_all(buf)?,
            InnerState::Out(out) => out.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.state.as_mut().expect("an unfinished message") {
            InnerState::Deciding(..) => Ok(()),
            InnerState::Spool(spool) => spool.flush(),
            InnerState::Out(out) => out.flush(),
        }
    }
}

/// Takes one layer off the message in `src`, or says there is none; the message inside goes
/// to `out` when it is not another layer.
fn open_layer<R: Read + Seek, W: Write>(
    src: &mut R,
    len: u64,
    context: &OpenContext<'_>,
    scratch: &Scratch,
    out: &mut W,
) -> Result<Option<Step>, MessageError> {
    let (head, body_start) = canonical::read_head(src, Span::whole(len))?;
    let outer = mime::parse(&head);
    let body = Span {
        start: body_start,
        end: len,
    };
    let content_type = outer.content_type();
    if !is_layer(&content_type.mime_type) {
        return Ok(None);
    }
    let from = outer.addresses(&["From"]);
    // Detached and encapsulated signatures are checked against the same addresses, anchors,
    // certificates and time.
    let input = VerifyInput {
        from: &from,
        anchors: context.anchors,
        revocation: context.revocation,
        issuers: context.issuers,
        known_certs: context.known_certs,
        now: context.now,
    };
    let mut inner = Inner::new(outer_prefix(&outer), scratch, out);
    match content_type.mime_type.as_str() {
        "multipart/signed" => {
            let boundary = content_type
                .param("boundary")
                .ok_or(MimeError::Multipart("no boundary parameter"))?;
            let layout = canonical::multipart_parts(src, body, boundary)?;
            let [signed, signature, ..] = layout.parts.as_slice() else {
                return Err(MimeError::Multipart("multipart/signed needs two parts").into());
            };
            let signature = signature_part(src, *signature)?;
            let signed_data = verify::read(&mut io::Cursor::new(&signature))?;
            // The signed part, byte for byte with CRLF line ends (RFC 8551 §3.1.1), is hashed
            // on its way into the next layer.
            let mut crlf = Crlf::new(signed_data.hashing(&mut inner));
            canonical::copy_span(src, *signed, &mut crlf)?;
            let (_, content) = crlf.into_inner().finish();
            let verified = signed_data.check(&content, &input);
            let layer = Layer::Signed {
                mode: SignatureMode::Detached,
                signatures: verified.reports,
            };
            Ok(Some((inner.finish()?, layer, verified.signers)))
        }
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => {
            let mut der = scratch.spool();
            decode_body(src, body, &outer, &mut der)?;
            der.rewind()?;
            let mut start = Vec::with_capacity(32);
            Read::by_ref(&mut der).take(32).read_to_end(&mut start)?;
            der.rewind()?;
            match content_info_type(&start) {
                Some(t) if t == rfc6268::ID_SIGNED_DATA => {
                    let signed_data = verify::read(&mut der)?;
                    let mut hashing = signed_data.hashing(&mut inner);
                    signed_data.copy_content(&mut der, &mut hashing)?;
                    let (_, content) = hashing.finish();
                    let verified = signed_data.check(&content, &input);
                    let layer = Layer::Signed {
                        mode: SignatureMode::Opaque,
                        signatures: verified.reports,
                    };
                    Ok(Some((inner.finish()?, layer, verified.signers)))
                }
                Some(t)
                    if t == rfc6268::ID_ENVELOPED_DATA
                        || t == rfc6268::ID_CT_AUTH_ENVELOPED_DATA =>
                {
                    // The decrypted content is not authenticated until decryption has checked
                    // the padding or the tag: an error here leaves the caller to discard what
                    // went to the output.
                    let decrypted = envelope::decrypt(&mut der, context.own_keys, &mut inner)?;
                    let layer = Layer::Encrypted {
                        algorithm: decrypted.algorithm,
                        key_id: decrypted.key_id,
                    };
                    Ok(Some((inner.finish()?, layer, Vec::new())))
                }
                _ => Err(MessageError::NotApplicable(
                    "the application/pkcs7-mime body is not a CMS signed or encrypted message",
                )),
            }
        }
        _ => unreachable!("is_layer lets only these through"),
    }
}

/// The most bytes a detached signature's part may have: it holds certificates and signatures,
/// never content, so more is refused rather than held in memory.
const MAX_SIGNATURE_PART: u64 = 32 << 20;

/// The DER or BER of the detached signature in the part at `span`, its transfer encoding undone.
fn signature_part<R: Read + Seek>(src: &mut R, span: Span) -> Result<Vec<u8>, MessageError> {
    if span.end - span.start > MAX_SIGNATURE_PART {
        return Err(MessageError::NotApplicable(
            "the signature part of the multipart/signed is too large",
        ));
    }
    let part = read_span(src, span)?;
    Ok(mime::parse(&part).decoded_body()?)
}

/// The bytes of `span`, for the parts checked in memory.
fn read_span<R: Read + Seek>(src: &mut R, span: Span) -> io::Result<Vec<u8>> {
    src.seek(SeekFrom::Start(span.start))?;
    let mut data = Vec::new();
    Read::by_ref(src)
        .take(span.end - span.start)
        .read_to_end(&mut data)?;
    Ok(data)
}

/// Writes the body in `body` with its Content-Transfer-Encoding undone: base64 as it streams,
/// quoted-printable (which nobody uses for CMS) in memory, anything else as it is.
fn decode_body<R: Read + Seek, W: Write>(
    src: &mut R,
    body: Span,
    outer: &Entity<'_>,
    out: &mut W,
) -> Result<(), MessageError> {
    let encoding = outer
        .header("Content-Transfer-Encoding")
        .map(str::to_ascii_lowercase);
    match encoding.as_deref() {
        Some("base64") => {
            let mut decoder = Base64Decoder::new(&mut *out);
            let decoded = canonical::copy_span(src, body, &mut decoder)
                .and_then(|()| decoder.finish().map(drop));
            match decoded {
                Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(MimeError::Base64.into()),
                other => Ok(other?),
            }
        }
        Some("quoted-printable") => {
            let raw = read_span(src, body)?;
            let entity = Entity {
                headers: outer.headers.clone(),
                body: &raw,
            };
            Ok(out.write_all(&entity.decoded_body()?)?)
        }
        _ => {
            src.seek(SeekFrom::Start(body.start))?;
            io::copy(&mut Read::by_ref(src).take(body.end - body.start), out)?;
            Ok(())
        }
    }
}

/// The contentType of a DER/BER ContentInfo, read without decoding the rest.
///
/// ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY } (RFC 5652 §3): skip
/// the SEQUENCE header (definite or BER indefinite length, read by the one header reader of
/// `tlv` and `ber`; `start` holds only the first bytes, so the length is not held against it)
/// and decode the OID after it.
fn content_info_type(start: &[u8]) -> Option<ObjectIdentifier> {
    let sequence = ber::decode_header(start.iter().copied(), false).ok()?;
    if sequence.tag != 0x30 {
        return None;
    }
    ObjectIdentifier::decode(&mut SliceReader::new(start.get(sequence.octets..)?).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;
    use mailseal_pkix::revocation::RevocationPolicy;
    use mailseal_test_support::pki::{Key, Pki};
    use std::time::Duration;

    /// Opens `message` in memory, trusting `anchors`: the layers and the message inside.
    fn open(message: &[u8], anchors: &[Certificate]) -> (Vec<Layer>, Vec<u8>) {
        let scratch_dir = tempfile::tempdir().unwrap();
        let context = OpenContext {
            own_keys: &[],
            anchors,
            revocation: &Revocation::new(RevocationPolicy::SoftFail, Duration::from_secs(5)),
            issuers: &Issuers::new(Duration::from_secs(5), false),
            known_certs: &[],
            now: SystemTime::now(),
        };
        let mut out = Vec::new();
        let opened = open_message(
            &mut io::Cursor::new(message),
            message.len() as u64,
            &context,
            &Scratch::new(scratch_dir.path().to_owned()),
            &mut out,
        )
        .unwrap();
        (opened.layers, out)
    }

    fn verdict(layers: &[Layer]) -> Verdict {
        match layers {
            [Layer::Signed { signatures, .. }] => signatures[0].verdict(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_multipart_signed_stored_with_lf_line_ends_verifies_as_sent() {
        let pki = Pki::new();
        let anchors = [pki.root("ca", "/CN=Test CA")];
        pki.user("alice", "ca", Key::P256, "alice@example.com");
        let entity = b"Content-Type: text/plain\r\n\r\nHello,\r\nsigned world.\r\n";
        let signature = mime::encode_base64(&pki.sign("alice", entity, &[]));
        let message = |entity: &[u8]| {
            [
                &b"From: alice@example.com\r\nContent-Type: multipart/signed; boundary=\"b\"; protocol=\"application/pkcs7-signature\"\r\n\r\n--b\r\n"[..],
                entity,
                b"\r\n--b\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                &signature,
                b"\r\n--b--\r\n",
            ]
            .concat()
        };
        let as_sent = message(entity);
        // A mail store that keeps lone LFs: the signed part is made CRLF again before hashing.
        let stored: Vec<u8> = as_sent.iter().copied().filter(|&b| b != b'\r').collect();
        for raw in [as_sent, stored] {
            let (layers, inner) = open(&raw, &anchors);
            assert_eq!(verdict(&layers), Verdict::Valid);
            assert!(
                inner.ends_with(entity),
                "{}",
                String::from_utf8_lossy(&inner)
            );
        }
        let changed = message(b"Content-Type: text/plain\r\n\r\nHello,\r\nchanged world.\r\n");
        assert_eq!(verdict(&open(&changed, &anchors).0), Verdict::Invalid);
    }

    #[test]
    fn sign_and_encrypt_refuse_deep_nesting_rather_than_overflow_the_stack() {
        use mailseal_keys::backend::RsaPadding;
        use mailseal_keys::pkcs12::PrivateKeyDer;
        use mailseal_keys::software::SoftwareKey;
        use mailseal_mime::mime::MAX_DEPTH;
        use mailseal_test_support::hostile::nested_multipart;
        use mailseal_test_support::{TempPki, openssl};

        let pki = TempPki::new();
        let certificate = pki.self_signed("ec", "/CN=Ann", Some("ann@example.com"));
        let key_der = openssl(
            pki.dir(),
            &[
                "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER",
            ],
        );
        let key = SoftwareKey::from_pkcs8(&PrivateKeyDer::new(key_der)).unwrap();
        let signer = Signer {
            key: &key,
            certificate: &certificate,
            chain: &[],
            rsa_pss: false,
        };
        let recipients = [Recipient {
            certificate: &certificate,
            rsa_padding: RsaPadding::Pkcs1v15,
        }];
        let scratch_dir = tempfile::tempdir().unwrap();
        let scratch = Scratch::new(scratch_dir.path().to_owned());
        let sign = |raw: &[u8], mode| {
            let mut out = Vec::new();
            sign_message(
                &mut io::Cursor::new(raw),
                raw.len() as u64,
                &signer,
                mode,
                SystemTime::now(),
                &scratch,
                &mut out,
            )
        };
        let encrypt = |raw: &[u8]| {
            let mut out = Vec::new();
            let len = raw.len() as u64;
            encrypt_message(
                &mut io::Cursor::new(raw),
                len,
                &recipients,
                ContentEncryption::Aes256Gcm,
                &mut out,
            )
        };
        let deepest = nested_multipart(MAX_DEPTH);
        sign(&deepest, SignatureMode::Detached).unwrap();
        encrypt(&deepest).unwrap();
        let too_deep = nested_multipart(5_000);
        for mode in [SignatureMode::Detached, SignatureMode::Opaque] {
            assert!(matches!(
                sign(&too_deep, mode),
                Err(MessageError::Mime(MimeError::TooDeep))
            ));
        }
        assert!(matches!(
            encrypt(&too_deep),
            Err(MessageError::Mime(MimeError::TooDeep))
        ));
    }

    /// Where `message`, written to an [`Inner`] in pieces of `piece` bytes, goes: `Some(true)`
    /// into a spool as another layer, `Some(false)` to the output, `None` undecided; and with
    /// `at_end`, where it goes once it is finished.
    fn judged(message: &[u8], piece: usize, at_end: bool) -> Option<bool> {
        let scratch_dir = tempfile::tempdir().unwrap();
        let scratch = Scratch::new(scratch_dir.path().to_owned());
        let mut out = Vec::new();
        let mut inner = Inner::new(Vec::new(), &scratch, &mut out);
        for piece in message.chunks(piece) {
            inner.write_all(piece).unwrap();
        }
        if at_end {
            let spool = inner.finish().unwrap();
            assert_eq!(spool.is_none(), out == message);
            return Some(spool.is_some());
        }
        match inner.state {
            Some(InnerState::Deciding(..)) => None,
            Some(InnerState::Spool(_)) => Some(true),
            Some(InnerState::Out(_)) => Some(false),
            None => unreachable!("set until finished"),
        }
    }

    #[test]
    fn the_inner_message_is_judged_on_whole_lines_of_a_complete_head() {
        let pkcs7 = b"From: a@x\r\nContent-Type: application/pkcs7-mime\r\n";
        for piece in [1, 7, 1 << 20] {
            // A line cut in two, or a head that may go on, decides nothing yet.
            assert_eq!(judged(b"From: a@x\r\nContent-Ty", piece, false), None);
            assert_eq!(judged(pkcs7, piece, false), None);
            assert_eq!(
                judged(&[&pkcs7[..], b"\r\n"].concat(), piece, false),
                Some(true)
            );
            assert_eq!(
                judged(
                    b"From: a@x\r\nContent-Type: text/plain\r\n\r\nhi\r\n",
                    piece,
                    false
                ),
                Some(false)
            );
            assert_eq!(
                judged(b"From: a@x\r\nnot a header\r\n", piece, false),
                Some(false)
            );
            // At the end, whatever is there decides.
            assert_eq!(judged(pkcs7, piece, true), Some(true));
            assert_eq!(
                judged(
                    b"From: a@x\r\nContent-Type: application/pkcs7-mime",
                    piece,
                    true
                ),
                Some(true)
            );
            assert_eq!(judged(b"Subject: no body", piece, true), Some(false));
            assert_eq!(judged(b"", piece, true), Some(false));
        }
    }

    #[test]
    fn a_long_inner_head_arriving_a_byte_at_a_time_is_read_once() {
        // 720 KB of folded Subject, under IN_MEMORY: judging all that is held on each of
        // its 720,000 writes took hours; read once, it takes a moment.
        let lines = 80_000;
        let text = mailseal_test_support::hostile::folded_subject(lines);
        assert!(text.len() < IN_MEMORY);
        assert_eq!(judged(&text, 1, false), Some(false));
        let layer = String::from_utf8(text).unwrap().replacen(
            "Content-Type: text/plain",
            "Content-Type: application/pkcs7-mime",
            1,
        );
        assert_eq!(judged(layer.as_bytes(), 1, false), Some(true));
    }

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

    #[test]
    fn content_type_is_read_after_a_long_length_cut_off_by_the_sniff() {
        let mut start = vec![0x30, 0x83, 0x10, 0x00, 0x00];
        start.extend([
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03,
        ]);
        assert_eq!(content_info_type(&start), Some(rfc6268::ID_ENVELOPED_DATA));
        start[1] = 0xff;
        assert_eq!(content_info_type(&start), None);
        assert_eq!(content_info_type(&[0x31, 0x80, 0x06, 0x01, 0x2a]), None);
    }
}
