//! The block ciphers, all in CBC mode with PKCS#7 padding, that password-protected keys use.
//!
//! AES runs on aws-lc-rs, the project's crypto backend. Triple DES and RC2 exist only to read
//! old PKCS#12 files: aws-lc-rs has no RC2 at all, and its DES needs the `legacy-des` feature,
//! which switches the whole workspace's `aws-lc-sys` to other bindings; so both come from the
//! small RustCrypto `des` and `rc2` crates behind one generic CBC routine, decryption only.

use super::pbes2::PbeError;
use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockCipherDecrypt, BlockModeDecrypt, InnerIvInit, KeyInit};
use zeroize::Zeroizing;

/// A block cipher with the key size a scheme fixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BlockCipher {
    /// AES with a 128-bit key.
    Aes128,
    /// AES with a 192-bit key.
    Aes192,
    /// AES with a 256-bit key.
    Aes256,
    /// Three-key Triple DES (EDE3, 24-byte key).
    DesEde3,
    /// Two-key Triple DES (EDE2, 16-byte key: K3 = K1).
    DesEde2,
    /// RC2 with this many effective key bits, and a key of as many bits.
    Rc2 {
        /// Effective key bits (40 or 128 in RFC 7292 Appendix C).
        bits: usize,
    },
}

impl BlockCipher {
    /// Key length in bytes.
    pub(super) fn key_len(self) -> usize {
        match self {
            Self::Aes128 | Self::DesEde2 => 16,
            Self::Aes192 | Self::DesEde3 => 24,
            Self::Aes256 => 32,
            Self::Rc2 { bits } => bits / 8,
        }
    }

    /// IV length in bytes: one block.
    pub(super) fn iv_len(self) -> usize {
        match self {
            Self::Aes128 | Self::Aes192 | Self::Aes256 => 16,
            Self::DesEde3 | Self::DesEde2 | Self::Rc2 { .. } => 8,
        }
    }

    /// Decrypts `ciphertext` and strips its padding.
    ///
    /// A padding error is [`PbeError::BadDecrypt`]: with a password-derived key it almost
    /// always means a wrong password. A length that is no multiple of the block size is
    /// malformed input whatever the password.
    pub(super) fn decrypt(
        self,
        key: &[u8],
        iv: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, PbeError> {
        let block_len = self.iv_len();
        if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(block_len) {
            return Err(PbeError::malformed("encrypted data length"));
        }
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        let plaintext_len = match self {
            Self::Aes128 | Self::Aes192 | Self::Aes256 => {
                let key = PaddedBlockDecryptingKey::cbc_pkcs7(self.aes_key(key)?)
                    .map_err(|_| PbeError::malformed("AES key"))?;
                let iv = FixedLength::try_from(iv).map_err(|_| PbeError::malformed("AES IV"))?;
                key.decrypt(&mut buffer, DecryptionContext::Iv128(iv))
                    .map_err(|_| PbeError::BadDecrypt)?
                    .len()
            }
            Self::DesEde3 => legacy_decrypt(new_legacy::<des::TdesEde3>(key)?, iv, &mut buffer)?,
            Self::DesEde2 => legacy_decrypt(new_legacy::<des::TdesEde2>(key)?, iv, &mut buffer)?,
            Self::Rc2 { bits } => {
                if key.len() != self.key_len() {
                    return Err(PbeError::malformed("RC2 key length"));
                }
                legacy_decrypt(rc2::Rc2::new_with_eff_key_len(key, bits), iv, &mut buffer)?
            }
        };
        buffer.truncate(plaintext_len);
        Ok(buffer)
    }

    /// Pads and encrypts `plaintext` under `key` and `iv`. Only AES encrypts: nothing new is
    /// ever written with the legacy ciphers.
    pub(super) fn encrypt(
        self,
        key: &[u8],
        iv: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, PbeError> {
        let key = PaddedBlockEncryptingKey::cbc_pkcs7(self.aes_key(key)?)
            .map_err(|_| PbeError::malformed("AES key"))?;
        let iv = FixedLength::try_from(iv).map_err(|_| PbeError::malformed("AES IV"))?;
        // Room for the padding up front, so the plaintext is never copied by a reallocation.
        let mut buffer = Zeroizing::new(Vec::with_capacity(plaintext.len() + self.iv_len()));
        buffer.extend_from_slice(plaintext);
        key.less_safe_encrypt(&mut *buffer, EncryptionContext::Iv128(iv))
            .map_err(|_| PbeError::malformed("AES encryption"))?;
        // Ciphertext from here on: nothing secret is left to wipe.
        Ok(std::mem::take(&mut *buffer))
    }

    /// The aws-lc-rs key for the AES variants; the legacy ciphers have none.
    fn aes_key(self, key: &[u8]) -> Result<UnboundCipherKey, PbeError> {
        let algorithm = match self {
            Self::Aes128 => &AES_128,
            Self::Aes192 => &AES_192,
            Self::Aes256 => &AES_256,
            Self::DesEde3 | Self::DesEde2 | Self::Rc2 { .. } => {
                return Err(PbeError::malformed("cipher for encryption (AES only)"));
            }
        };
        UnboundCipherKey::new(algorithm, key).map_err(|_| PbeError::malformed("AES key length"))
    }
}

/// A legacy block cipher keyed with `key`, which must have the cipher's exact length.
fn new_legacy<C: KeyInit>(key: &[u8]) -> Result<C, PbeError> {
    C::new_from_slice(key).map_err(|_| PbeError::malformed("legacy cipher key length"))
}

/// CBC-decrypts `buffer` in place with a RustCrypto block cipher; returns the unpadded length.
fn legacy_decrypt<C: BlockCipherDecrypt>(
    cipher: C,
    iv: &[u8],
    buffer: &mut [u8],
) -> Result<usize, PbeError> {
    let mode = cbc::Decryptor::inner_iv_slice_init(cipher, iv)
        .map_err(|_| PbeError::malformed("legacy cipher IV length"))?;
    mode.decrypt_padded::<Pkcs7>(buffer)
        .map(<[u8]>::len)
        .map_err(|_| PbeError::BadDecrypt)
}
