//! Reading a SignedData ContentInfo (DER or BER) by position (with `smime::tlv`, as decryption
//! reads envelopes), so that an opaque-signed message of any size is verified in bounded
//! memory: every field but the encapsulated content is read into memory, the content is
//! remembered by position and streamed later.
//!
//! ```text
//! ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT
//!   SignedData ::= SEQUENCE { version, digestAlgorithms,
//!     EncapsulatedContentInfo ::= SEQUENCE { eContentType,
//!                                            eContent [0] EXPLICIT OCTET STRING OPTIONAL },
//!     certificates [0] IMPLICIT OPTIONAL, crls [1] IMPLICIT OPTIONAL, signerInfos } }
//! ```

use super::VerifyError;
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911;
use der::{Any, Decode};
use mailseal_pkix::algorithms::oid_name;
use mailseal_pkix::ber::Profile;
use mailseal_pkix::tlv::{
    self, BUFFER, TlvError, end_of, expect, has_more, header, read_header, read_raw,
};
use std::io::{BufReader, Read, Seek, SeekFrom};

/// A SignedData as read, its content left in the source.
pub(super) struct Layout {
    /// The ContentInfo with everything but eContent (as a detached signature has it), BER.
    pub skeleton: Vec<u8>,
    /// Where the encapsulated content is, if there is any.
    pub content: Option<Encapsulated>,
}

/// The encapsulated content.
pub(super) enum Encapsulated {
    /// An OCTET STRING (RFC 5652 §5.2), primitive or in chunks, whose header starts here.
    At(u64),
    /// The content octets of another type, which PKCS #7 v1.5 allowed (RFC 5652 §5.2.1: they
    /// are what was digested), read whole: only old and small messages have them.
    Other(Vec<u8>),
}

/// A fault found while reading the SignedData by position.
impl From<TlvError> for VerifyError {
    fn from(error: TlvError) -> Self {
        match error {
            TlvError::Malformed(what) => Self::Malformed { what, source: None },
            TlvError::Ber(error) => Self::Malformed {
                what: "BER encoding",
                source: Some(error.into()),
            },
            TlvError::Io(error) => Self::Io(error),
        }
    }
}

/// Reads the layout of the ContentInfo in `src`, which must hold nothing else.
pub(super) fn read<R: Read + Seek>(src: &mut R) -> Result<Layout, VerifyError> {
    let mut src = BufReader::with_capacity(BUFFER, src);
    let total = src.seek(SeekFrom::End(0))?;
    src.seek(SeekFrom::Start(0))?;
    let src = &mut src;
    let info = expect(src, 0x30, "the ContentInfo is not a SEQUENCE")?;
    let info_end = end_of(src, info)?;
    let oid = read_header(src)?;
    let oid_der = tlv::read_field(src, oid, Profile::SIGNED_DATA)?;
    let content_type =
        ObjectIdentifier::from_der(&oid_der).map_err(|source| VerifyError::Malformed {
            what: "ContentInfo",
            source: Some(source),
        })?;
    if content_type != rfc5911::ID_SIGNED_DATA {
        return Err(VerifyError::NotSigned {
            content_type: oid_name(content_type),
        });
    }
    let explicit = expect(src, 0xa0, "the ContentInfo has no content")?;
    let explicit_end = end_of(src, explicit)?;
    let signed = expect(src, 0x30, "the SignedData is not a SEQUENCE")?;
    let signed_end = end_of(src, signed)?;
    // version and digestAlgorithms, kept as sent.
    let mut fields = Vec::new();
    for _ in 0..2 {
        let field = read_header(src)?;
        fields.extend(read_raw(src, field)?);
    }
    let encap = expect(src, 0x30, "the EncapsulatedContentInfo is not a SEQUENCE")?;
    let encap_end = end_of(src, encap)?;
    let econtent_type = read_header(src)?;
    let econtent_type = read_raw(src, econtent_type)?;
    fields.extend(header(0x30, Some(econtent_type.len() as u64)));
    fields.extend(econtent_type);
    let mut content = None;
    if has_more(src, encap_end)? {
        let explicit = expect(src, 0xa0, "eContent is not [0] EXPLICIT")?;
        let explicit_end = end_of(src, explicit)?;
        let at = src.stream_position()?;
        let inner = read_header(src)?;
        content = Some(if inner.tag & !0x20 == 0x04 {
            tlv::skip_body(src, inner, 0)?;
            Encapsulated::At(at)
        } else {
            let der = tlv::read_field(src, inner, Profile::SIGNED_DATA)?;
            let any = Any::from_der(&der).map_err(|source| VerifyError::Malformed {
                what: "eContent",
                source: Some(source),
            })?;
            Encapsulated::Other(any.value().to_vec())
        });
        tlv::expect_end_within(src, &[explicit_end, encap_end])?;
    }
    // certificates, crls and signerInfos, kept as sent.
    while has_more(src, signed_end)? {
        let field = read_header(src)?;
        fields.extend(read_raw(src, field)?);
    }
    tlv::expect_end_within(src, &[explicit_end, info_end])?;
    tlv::expect_end(src, total)?;

    let mut signed = header(0x30, Some(fields.len() as u64));
    signed.extend(fields);
    let mut explicit = header(0xa0, Some(signed.len() as u64));
    explicit.extend(signed);
    let mut body = oid_der;
    body.extend(explicit);
    let mut skeleton = header(0x30, Some(body.len() as u64));
    skeleton.extend(body);
    Ok(Layout { skeleton, content })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skeleton_leaves_out_only_the_content() {
        // SignedData { 1, {}, { id-data, [0] { OCTET STRING "hi" } }, {} }, with indefinite
        // lengths on the outside.
        let mut ber = vec![0x30, 0x80, 0x06, 0x09];
        ber.extend(rfc5911::ID_SIGNED_DATA.as_bytes());
        ber.extend([0xa0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0x31, 0x00]);
        ber.extend([0x30, 0x80, 0x06, 0x09]);
        ber.extend(rfc5911::ID_DATA.as_bytes());
        ber.extend([
            0xa0, 0x80, 0x24, 0x80, 0x04, 0x01, b'h', 0x04, 0x01, b'i', 0, 0, 0, 0,
        ]);
        ber.extend([0, 0, 0x31, 0x00, 0, 0, 0, 0, 0, 0]);
        let layout = read(&mut std::io::Cursor::new(&ber)).unwrap();
        let Some(Encapsulated::At(at)) = layout.content else {
            panic!("no content found");
        };
        let mut content = Vec::new();
        tlv::for_each_chunk(&mut std::io::Cursor::new(&ber), at, 1, |chunk| {
            content.extend_from_slice(chunk);
            Ok::<_, TlvError>(())
        })
        .unwrap();
        assert_eq!(content, b"hi");
        let mut expected = vec![0x30, 0x23, 0x06, 0x09];
        expected.extend(rfc5911::ID_SIGNED_DATA.as_bytes());
        expected.extend([0xa0, 0x16, 0x30, 0x14, 0x02, 0x01, 0x01, 0x31, 0x00]);
        expected.extend([0x30, 0x0b, 0x06, 0x09]);
        expected.extend(rfc5911::ID_DATA.as_bytes());
        expected.extend([0x31, 0x00]); // signerInfos
        assert_eq!(layout.skeleton, expected);

        ber.push(0);
        assert!(matches!(
            read(&mut std::io::Cursor::new(&ber)),
            Err(VerifyError::Malformed { .. })
        ));
    }
}
