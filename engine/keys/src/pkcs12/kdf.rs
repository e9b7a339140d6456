//! The PKCS#12 key derivation function (RFC 7292 Appendix B) and the password encoding it takes.
//!
//! Only the MAC and the legacy `pbeWithSHAAnd…` schemes use it; PBES2 inside a PKCS#12 file
//! uses PBKDF2 or scrypt on the password's UTF-8 bytes instead (see `pbes2`).

use aws_lc_rs::digest;
use zeroize::Zeroizing;

/// What a derived value is for: the diversifier `ID` of RFC 7292 Appendix B.3, so that the
/// key, the IV and the MAC key differ even with the same password, salt and iteration count.
#[derive(Clone, Copy, Debug)]
pub(super) enum Purpose {
    /// Key material for a cipher (`ID = 1`).
    Key = 1,
    /// An initialisation vector (`ID = 2`).
    Iv = 2,
    /// An HMAC key for the integrity MAC (`ID = 3`).
    Mac = 3,
}

/// The password as RFC 7292 Appendix B.1 wants it: a BMPString (UTF-16BE) with a two-byte
/// NUL terminator, so that "" becomes `00 00`.
///
/// Bytes that are not UTF-8 are widened one by one (Latin-1), as OpenSSL does
/// (`OPENSSL_utf82uni` falls back to `OPENSSL_asc2uni`), so such files still open here.
pub(super) fn bmp_password(password: &[u8]) -> Zeroizing<Vec<u8>> {
    // UTF-16 never needs more than two bytes per UTF-8 byte: reserving up front means the
    // buffer never reallocates and leaves no copy of the password behind.
    let mut bmp = Zeroizing::new(Vec::with_capacity(password.len() * 2 + 2));
    match std::str::from_utf8(password) {
        Ok(text) => text
            .encode_utf16()
            .for_each(|unit| bmp.extend_from_slice(&unit.to_be_bytes())),
        Err(_) => password
            .iter()
            .for_each(|&byte| bmp.extend_from_slice(&[0, byte])),
    }
    bmp.extend_from_slice(&[0, 0]);
    bmp
}

/// Derives `len` bytes from a BMPString `password` (see [`bmp_password`]) and `salt` with
/// `iterations` rounds of `hash`, following RFC 7292 Appendix B.2 step by step.
///
/// `iterations` of 0 is treated as 1; callers bound it from above, since a hostile file may
/// ask for billions of rounds.
pub(super) fn derive(
    hash: &'static digest::Algorithm,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    purpose: Purpose,
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let (u, v) = (hash.output_len(), hash.block_len());
    // Steps 1-4: D is ID repeated v times; I = S || P, each repeated to a multiple of v.
    let diversifier = vec![purpose as u8; v];
    let extended_len = |part: &[u8]| part.len().div_ceil(v) * v;
    // Reserved up front so that no reallocation leaves a copy of the password behind.
    let mut input = Zeroizing::new(Vec::with_capacity(
        extended_len(salt) + extended_len(password),
    ));
    for part in [salt, password] {
        input.extend(part.iter().cycle().take(extended_len(part)));
    }

    let mut out = Zeroizing::new(Vec::with_capacity(len.div_ceil(u) * u));
    let mut block = Zeroizing::new([0u8; digest::MAX_OUTPUT_LEN]);
    loop {
        // Step 6a: A_i = H^r(D || I).
        let mut context = digest::Context::new(hash);
        context.update(&diversifier);
        context.update(&input);
        block[..u].copy_from_slice(context.finish().as_ref());
        for _ in 1..iterations {
            let next = digest::digest(hash, &block[..u]);
            block[..u].copy_from_slice(next.as_ref());
        }
        out.extend_from_slice(&block[..u]);
        if out.len() >= len {
            break;
        }
        // Steps 6b-6c: B = A_i repeated to v bytes; every v-byte block I_j of I becomes
        // (I_j + B + 1) mod 2^(8v), read as big-endian integers.
        let mut addend = Zeroizing::new(vec![0u8; v]);
        addend
            .iter_mut()
            .zip(block[..u].iter().cycle())
            .for_each(|(b, a)| *b = *a);
        for chunk in input.chunks_mut(v) {
            let mut carry = 1u16;
            for (byte, add) in chunk.iter_mut().zip(addend.iter()).rev() {
                let sum = u16::from(*byte) + u16::from(*add) + carry;
                *byte = sum.to_be_bytes()[1];
                carry = sum >> 8;
            }
        }
    }
    out.truncate(len);
    out
}
