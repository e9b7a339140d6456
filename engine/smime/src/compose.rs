//! Wrapping CMS objects back into mail (RFC 8551 §3.5): `multipart/signed` and
//! `application/pkcs7-mime`, with the outer message's own headers kept in front.

use mailseal_keys::backend::Hash;
use mailseal_mime::mime::{Entity, encode_base64, new_boundary};

/// A message whose body is `multipart/signed`: the canonical entity that was signed as the
/// first part, byte for byte, and the detached signature as the second (RFC 8551 §3.5.3).
/// Returned as what goes before the entity and what goes after it, so that the entity can be
/// streamed in between.
pub fn multipart_signed_around(
    outer: &Entity<'_>,
    signature: &[u8],
    hash: Hash,
) -> (Vec<u8>, Vec<u8>) {
    let boundary = new_boundary();
    let mut before = outer.outer_headers();
    before.extend_from_slice(
        format!(
            "MIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg={}; boundary=\"{boundary}\"\r\n\r\nThis is a cryptographically signed message in MIME format.\r\n\r\n--{boundary}\r\n",
            hash.micalg()
        )
        .as_bytes(),
    );
    let mut after = format!(
        "\r\n--{boundary}\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7s\"\r\nContent-Description: S/MIME Cryptographic Signature\r\n\r\n"
    )
    .into_bytes();
    after.extend_from_slice(&encode_base64(signature));
    after.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (before, after)
}

/// The headers of a message whose body is a CMS object: `application/pkcs7-mime` with
/// `smime-type` `signed-data`, `enveloped-data` or `authEnveloped-data` (RFC 8551 §3.2,
/// RFC 5083), for the DER that is streamed after them as base64 lines.
pub fn pkcs7_mime_head(outer: &Entity<'_>, smime_type: &str) -> Vec<u8> {
    let mut out = outer.outer_headers();
    out.extend_from_slice(
        format!(
            "MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type={smime_type}; name=\"smime.p7m\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\nContent-Description: S/MIME Cryptographic Message\r\n\r\n"
        )
        .as_bytes(),
    );
    out
}

/// The outer message's own headers in front of an inner entity, which is streamed after them:
/// what the user sees after a layer is taken off (From, To, Subject from outside; content from
/// inside).
pub fn outer_prefix(outer: &Entity<'_>) -> Vec<u8> {
    let mut out = outer.outer_headers();
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    out
}
