//! Decrypts what a PKCS#12 file protects with its password: PBES2 (RFC 8018, OpenSSL 3's
//! default), or a legacy `pbeWithSHAAnd…` scheme of RFC 7292 Appendix C (Windows, OpenSSL 1.x,
//! `openssl pkcs12 -legacy`), whose key and IV come from the PKCS#12 KDF.

use super::cbc::BlockCipher;
use super::kdf::{self, Purpose};
use super::pbes2::{self, PBES2_OID, PbeError, Pbes2Scheme};
use aws_lc_rs::digest;
use const_oid::db::rfc7292;
use der::Sequence;
use der::asn1::OctetString;
use spki::AlgorithmIdentifierOwned;
use zeroize::Zeroizing;

/// The password in the two encodings a PKCS#12 file may need.
pub(super) struct Password<'a> {
    /// The bytes as given (UTF-8), for PBES2.
    pub(super) utf8: &'a [u8],
    /// For the PKCS#12 KDF: the BMPString form (see [`kdf::bmp_password`]), or no bytes at all
    /// for files written with an absent rather than an empty password.
    pub(super) bmp: Zeroizing<Vec<u8>>,
}

/// RFC 7292 Appendix C:
/// ```text
/// pkcs-12PbeParams ::= SEQUENCE {
///     salt        OCTET STRING,
///     iterations  INTEGER
/// }
/// ```
#[derive(Sequence)]
struct Pkcs12PbeParams {
    salt: OctetString,
    iterations: u32,
}

/// Decrypts `ciphertext`, protected by `algorithm` under `password`.
pub(super) fn decrypt(
    algorithm: &AlgorithmIdentifierOwned,
    password: &Password<'_>,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PbeError> {
    let parameters = algorithm.parameters.as_ref();
    let cipher = match algorithm.oid {
        PBES2_OID => {
            return Pbes2Scheme::from_parameters(parameters)?.decrypt(password.utf8, ciphertext);
        }
        rfc7292::PBE_WITH_SHA_AND_3_KEY_TRIPLE_DES_CBC => BlockCipher::DesEde3,
        rfc7292::PBE_WITH_SHA_AND_2_KEY_TRIPLE_DES_CBC => BlockCipher::DesEde2,
        rfc7292::PBE_WITH_SHA_AND_128_BIT_RC_2_CBC => BlockCipher::Rc2 { bits: 128 },
        rfc7292::PBEWITH_SHA_AND_40_BIT_RC_2_CBC => BlockCipher::Rc2 { bits: 40 },
        oid => {
            return Err(PbeError::Unsupported {
                oid,
                purpose: "password-based encryption scheme",
            });
        }
    };
    let params: Pkcs12PbeParams = pbes2::decode_parameters(parameters, "PKCS#12 PBE parameters")?;
    pbes2::check_iterations(params.iterations)?;
    let derive = |purpose, len| {
        kdf::derive(
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            &password.bmp,
            params.salt.as_bytes(),
            params.iterations,
            purpose,
            len,
        )
    };
    let key = derive(Purpose::Key, cipher.key_len());
    let iv = derive(Purpose::Iv, cipher.iv_len());
    cipher.decrypt(&key, &iv, ciphertext)
}
