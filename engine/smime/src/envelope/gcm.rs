//! AES-GCM (NIST SP 800-38D) as a stream, for content of any size in bounded memory.
//!
//! aws-lc-rs offers GCM only in one shot (the whole content in one buffer) but AES-CTR as a
//! stream, so GCM is put together from its definition: H = E_K(0^128), J0 = nonce ‖ 0^31 ‖ 1,
//! the content encrypted with CTR from inc32(J0), and the tag GHASH_H(A, C) ⊕ E_K(J0), with
//! GHASH from RustCrypto's `ghash` crate. The counter of aws-lc's CTR carries over 128 bits
//! where GCM's inc32 wraps at 32; the two agree for the first 2^32 − 2 blocks, and GCM allows
//! no more than that anyway ([`MAX_CONTENT`]). The tests hold this against aws-lc-rs's
//! one-shot GCM for many lengths, and the end-to-end tests against OpenSSL.

use aws_lc_rs::cipher::{Algorithm, EncryptionContext, StreamingEncryptingKey, UnboundCipherKey};
use aws_lc_rs::error::Unspecified;
use aws_lc_rs::iv::FixedLength;
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use zeroize::Zeroizing;

/// The tag length this engine writes and reads (RFC 5084 §3.2 recommends 12; 16 is what every
/// client writes).
pub const TAG_LEN: usize = 16;
/// The nonce length (RFC 5084 recommends 12, the only length with J0 = nonce ‖ 1).
pub const NONCE_LEN: usize = 12;
/// The longest content GCM allows: 2^32 − 2 blocks (SP 800-38D §5.2.1.1).
pub const MAX_CONTENT: u64 = ((1 << 32) - 2) * 16;

const BLOCK: usize = 16;

/// Whether the stream encrypts or decrypts: GHASH always runs over the ciphertext, which is
/// the output when sealing and the input when opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Plaintext in, ciphertext out.
    Seal,
    /// Ciphertext in, plaintext out.
    Open,
}

/// One GCM operation in progress.
pub struct Gcm {
    direction: Direction,
    ctr: StreamingEncryptingKey,
    ghash: GHash,
    /// Ciphertext bytes not yet a whole block for GHASH.
    partial: [u8; BLOCK],
    filled: usize,
    aad_len: u64,
    text_len: u64,
    /// E_K(J0), which masks the tag.
    mask: Zeroizing<[u8; BLOCK]>,
}

/// E_K(block): the first block of CTR key stream from counter `block`.
fn encrypt_block(
    aes: &'static Algorithm,
    key: &[u8],
    block: [u8; BLOCK],
) -> Result<[u8; BLOCK], Unspecified> {
    let mut ctr = StreamingEncryptingKey::less_safe_ctr(
        UnboundCipherKey::new(aes, key)?,
        EncryptionContext::Iv128(FixedLength::from(block)),
    )?;
    let mut out = [0u8; 2 * BLOCK];
    let written = ctr.update(&[0; BLOCK], &mut out)?.written().len();
    let mut tail = [0u8; BLOCK];
    let (_, rest) = ctr.finish(&mut tail)?;
    let rest = rest.written().len();
    out[written..written + rest].copy_from_slice(&tail[..rest]);
    if written + rest != BLOCK {
        return Err(Unspecified);
    }
    let mut result = [0u8; BLOCK];
    result.copy_from_slice(&out[..BLOCK]);
    Ok(result)
}

fn counter_block(nonce: &[u8; NONCE_LEN], counter: u32) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    block[..NONCE_LEN].copy_from_slice(nonce);
    block[NONCE_LEN..].copy_from_slice(&counter.to_be_bytes());
    block
}

impl Gcm {
    /// Starts GCM with AES `aes` (AES-128 or AES-256) under `key`, with `nonce` and the
    /// additional authenticated data `aad`.
    pub fn new(
        aes: &'static Algorithm,
        key: &[u8],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        direction: Direction,
    ) -> Result<Self, Unspecified> {
        let h = Zeroizing::new(encrypt_block(aes, key, [0; BLOCK])?);
        let mask = Zeroizing::new(encrypt_block(aes, key, counter_block(nonce, 1))?);
        let ctr = StreamingEncryptingKey::less_safe_ctr(
            UnboundCipherKey::new(aes, key)?,
            EncryptionContext::Iv128(FixedLength::from(counter_block(nonce, 2))),
        )?;
        let mut ghash = GHash::new(&ghash::Key::from(*h));
        ghash.update_padded(aad);
        Ok(Self {
            direction,
            ctr,
            ghash,
            partial: [0; BLOCK],
            filled: 0,
            aad_len: aad.len() as u64,
            text_len: 0,
            mask,
        })
    }

    /// Encrypts or decrypts `input`, appending the result to `output`.
    pub fn update(&mut self, input: &[u8], output: &mut Vec<u8>) -> Result<(), Unspecified> {
        self.text_len = self
            .text_len
            .checked_add(input.len() as u64)
            .filter(|len| *len <= MAX_CONTENT)
            .ok_or(Unspecified)?;
        let start = output.len();
        output.resize(start + input.len() + BLOCK - 1, 0);
        let written = self
            .ctr
            .update(input, &mut output[start..])?
            .written()
            .len();
        output.truncate(start + written);
        // CTR is a stream cipher: every input byte comes out at once.
        if written != input.len() {
            return Err(Unspecified);
        }
        match self.direction {
            Direction::Seal => self.absorb(&output[start..]),
            Direction::Open => self.absorb(input),
        }
        Ok(())
    }

    /// Feeds ciphertext to GHASH in whole blocks, keeping a partial block for the next call.
    fn absorb(&mut self, mut data: &[u8]) {
        if self.filled > 0 {
            let take = (BLOCK - self.filled).min(data.len());
            self.partial[self.filled..self.filled + take].copy_from_slice(&data[..take]);
            self.filled += take;
            data = &data[take..];
            if self.filled < BLOCK {
                return;
            }
            self.ghash.update(&[ghash::Block::from(self.partial)]);
            self.filled = 0;
        }
        let whole = data.len() / BLOCK * BLOCK;
        // Whole blocks need no padding: this is GHASH over them, in the crate's own loop.
        self.ghash.update_padded(&data[..whole]);
        let rest = &data[whole..];
        self.partial[..rest.len()].copy_from_slice(rest);
        self.filled = rest.len();
    }

    /// The tag over everything processed.
    pub fn tag(mut self) -> [u8; TAG_LEN] {
        if self.filled > 0 {
            self.ghash.update_padded(&self.partial[..self.filled]);
        }
        let mut lengths = [0u8; BLOCK];
        lengths[..8].copy_from_slice(&(self.aad_len * 8).to_be_bytes());
        lengths[8..].copy_from_slice(&(self.text_len * 8).to_be_bytes());
        self.ghash.update(&[ghash::Block::from(lengths)]);
        let mut tag: [u8; TAG_LEN] = self.ghash.finalize().into();
        for (t, m) in tag.iter_mut().zip(self.mask.iter()) {
            *t ^= m;
        }
        tag
    }

    /// Checks the tag of what was opened against `expected`, in constant time.
    pub fn verify(self, expected: &[u8]) -> Result<(), Unspecified> {
        aws_lc_rs::constant_time::verify_slices_are_equal(&self.tag(), expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    use aws_lc_rs::cipher::{AES_128, AES_256};

    /// Seals with this stream and with aws-lc-rs's one-shot GCM and compares; then opens.
    fn check(
        aes: &'static Algorithm,
        aead: &'static aws_lc_rs::aead::Algorithm,
        len: usize,
        piece: usize,
    ) {
        let key: Vec<u8> = (0..aead.key_len() as u8).collect();
        let nonce = [7u8; NONCE_LEN];
        let aad = b"authenticated attributes";
        let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();

        let mut expected = plain.clone();
        let one_shot = LessSafeKey::new(UnboundKey::new(aead, &key).unwrap());
        let expected_tag = one_shot
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut expected,
            )
            .unwrap();

        let mut sealer = Gcm::new(aes, &key, &nonce, aad, Direction::Seal).unwrap();
        let mut sealed = Vec::new();
        for chunk in plain.chunks(piece) {
            sealer.update(chunk, &mut sealed).unwrap();
        }
        assert_eq!(
            sealed, expected,
            "ciphertext of {len} bytes in pieces of {piece}"
        );
        assert_eq!(sealer.tag(), expected_tag.as_ref(), "tag of {len} bytes");

        let mut opener = Gcm::new(aes, &key, &nonce, aad, Direction::Open).unwrap();
        let mut opened = Vec::new();
        for chunk in sealed.chunks(piece) {
            opener.update(chunk, &mut opened).unwrap();
        }
        assert_eq!(opened, plain);
        opener.verify(expected_tag.as_ref()).unwrap();
    }

    #[test]
    fn matches_one_shot_gcm_on_many_lengths() {
        for len in (0..70).chain([255, 256, 257, 1000, 4096, 65_537]) {
            for piece in [1, 5, 16, 17, 64, 1000] {
                check(&AES_128, &AES_128_GCM, len, piece);
            }
            check(&AES_256, &AES_256_GCM, len, 7);
        }
    }

    #[test]
    fn a_changed_byte_fails_the_tag() {
        let key = [3u8; 32];
        let nonce = [9u8; NONCE_LEN];
        let mut sealer = Gcm::new(&AES_256, &key, &nonce, b"", Direction::Seal).unwrap();
        let mut sealed = Vec::new();
        sealer.update(b"attack at dawn", &mut sealed).unwrap();
        let tag = sealer.tag();
        sealed[3] ^= 1;
        let mut opener = Gcm::new(&AES_256, &key, &nonce, b"", Direction::Open).unwrap();
        opener.update(&sealed, &mut Vec::new()).unwrap();
        assert!(opener.verify(&tag).is_err());
    }
}
