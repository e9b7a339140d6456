//! Key transport to RSA keys (RFC 5652 §6.2.1): the content-encryption key encrypted with
//! RSAES-PKCS1-v1_5 (RFC 3370 §4.2.1) or RSAES-OAEP (RFC 3560), with the RFC 3218
//! countermeasure when decrypting.

use super::{EnvelopeError, content, recipients};
use aws_lc_rs::rsa::{
    self, OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey, PublicEncryptingKey,
};
use cms::content_info::CmsVersion;
use cms::enveloped_data::{KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo};
use const_oid::db::rfc5912;
use der::asn1::{Any, OctetString};
use der::{Encode, Sequence};
use mailseal_keys::backend::{Hash, KeyError, PrivateKeyOps, RsaPadding};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use zeroize::Zeroizing;

/// RSAES-OAEP parameters (RFC 4055 §4.1, used in CMS by RFC 3560 §3). Every field has a
/// default, so SHA-1 with MGF1-SHA-1 and an empty label is the empty SEQUENCE.
///
/// ```text
/// RSAES-OAEP-params  ::=  SEQUENCE  {
///    hashFunc          [0] AlgorithmIdentifier DEFAULT sha1Identifier,
///    maskGenFunc       [1] AlgorithmIdentifier DEFAULT mgf1SHA1Identifier,
///    pSourceFunc       [2] AlgorithmIdentifier DEFAULT
///                          pSpecifiedEmptyIdentifier  }
/// ```
#[derive(Sequence, Default)]
struct OaepParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash_func: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen_func: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    p_source_func: Option<AlgorithmIdentifierOwned>,
}

/// A hash identifier as OAEP parameters carry it: with NULL parameters, as OpenSSL writes them
/// (RFC 4055 §2.1 asks readers to accept NULL and absent alike).
fn hash_identifier(hash: Hash) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: hash.oid(),
        parameters: Some(Any::null()),
    }
}

/// keyEncryptionAlgorithm for `padding`: `rsaEncryption` with NULL parameters (RFC 3370
/// §4.2.1) or `id-RSAES-OAEP` with MGF1 of the same hash and no label.
fn identifier(padding: RsaPadding) -> Result<AlgorithmIdentifierOwned, EnvelopeError> {
    let (oid, parameters) = match padding {
        RsaPadding::Pkcs1v15 => (rfc5912::RSA_ENCRYPTION, Any::null()),
        RsaPadding::Oaep(hash) => {
            let params = match hash {
                Hash::Sha1 => OaepParams::default(),
                _ => OaepParams {
                    hash_func: Some(hash_identifier(hash)),
                    mask_gen_func: Some(AlgorithmIdentifierOwned {
                        oid: rfc5912::ID_MGF_1,
                        parameters: Some(
                            Any::encode_from(&hash_identifier(hash))
                                .map_err(EnvelopeError::der("MGF1 parameters"))?,
                        ),
                    }),
                    p_source_func: None,
                },
            };
            (
                rfc5912::ID_RSAES_OAEP,
                Any::encode_from(&params).map_err(EnvelopeError::der("RSAES-OAEP-params"))?,
            )
        }
    };
    Ok(AlgorithmIdentifierOwned {
        oid,
        parameters: Some(parameters),
    })
}

/// The padding keyEncryptionAlgorithm names. OAEP is accepted with MGF1 of its own hash and
/// an empty label, the only forms anyone sends and all that aws-lc-rs and tokens offer.
fn padding(identifier: &AlgorithmIdentifierOwned) -> Result<RsaPadding, EnvelopeError> {
    const PURPOSE: &str = "RSA key transport";
    let unsupported = || EnvelopeError::unsupported(identifier.oid, PURPOSE);
    if identifier.oid == rfc5912::RSA_ENCRYPTION {
        return Ok(RsaPadding::Pkcs1v15);
    }
    if identifier.oid != rfc5912::ID_RSAES_OAEP {
        return Err(unsupported());
    }
    let params = match &identifier.parameters {
        Some(any) => any
            .decode_as::<OaepParams>()
            .map_err(EnvelopeError::der("RSAES-OAEP-params"))?,
        None => OaepParams::default(),
    };
    let hash = match &params.hash_func {
        Some(id) => Hash::from_oid(id.oid).ok_or_else(unsupported)?,
        None => Hash::Sha1,
    };
    let mgf_hash = match &params.mask_gen_func {
        Some(mgf) if mgf.oid == rfc5912::ID_MGF_1 => mgf
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<AlgorithmIdentifierOwned>().ok())
            .and_then(|id| Hash::from_oid(id.oid)),
        Some(_) => None,
        None => Some(Hash::Sha1),
    };
    let empty_label = match &params.p_source_func {
        Some(source) => {
            source.oid == rfc5912::ID_P_SPECIFIED
                && source
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<OctetString>().ok())
                    .is_some_and(|label| label.as_bytes().is_empty())
        }
        None => true,
    };
    if mgf_hash != Some(hash) || !empty_label {
        return Err(unsupported());
    }
    Ok(RsaPadding::Oaep(hash))
}

/// The KeyTransRecipientInfo carrying `cek` to `recipient`'s RSA key.
pub(super) fn recipient_info(
    recipient: &Certificate,
    padding: RsaPadding,
    cek: &[u8],
) -> Result<RecipientInfo, EnvelopeError> {
    let unusable =
        || EnvelopeError::unsupported_recipient(recipient, "its RSA public key is unusable");
    let spki = recipient
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(EnvelopeError::der("the recipient's public key"))?;
    let public = PublicEncryptingKey::from_der(&spki).map_err(|_| unusable())?;
    let mut out = vec![0; public.key_size_bytes()];
    let encrypted = match padding {
        RsaPadding::Pkcs1v15 => Pkcs1PublicEncryptingKey::new(public)
            .and_then(|key| key.encrypt(cek, &mut out).map(|ct| ct.to_vec())),
        RsaPadding::Oaep(hash) => OaepPublicEncryptingKey::new(public).and_then(|key| {
            key.encrypt(oaep_algorithm(hash), cek, &mut out, None)
                .map(|ct| ct.to_vec())
        }),
    }
    .map_err(|_| unusable())?;
    Ok(RecipientInfo::Ktri(KeyTransRecipientInfo {
        version: CmsVersion::V0,
        rid: RecipientIdentifier::IssuerAndSerialNumber(recipients::issuer_and_serial(recipient)),
        key_enc_alg: identifier(padding)?,
        enc_key: OctetString::new(encrypted).map_err(EnvelopeError::der("encryptedKey"))?,
    }))
}

fn oaep_algorithm(hash: Hash) -> &'static rsa::OaepAlgorithm {
    match hash {
        Hash::Sha1 => &rsa::OAEP_SHA1_MGF1SHA1,
        Hash::Sha256 => &rsa::OAEP_SHA256_MGF1SHA256,
        Hash::Sha384 => &rsa::OAEP_SHA384_MGF1SHA384,
        Hash::Sha512 => &rsa::OAEP_SHA512_MGF1SHA512,
    }
}

/// Recovers the content-encryption key of length `cek_len` from `ktri` with `key`.
///
/// RFC 3218 §2.3.2: when the RSA decryption fails, or yields a key of the wrong length, a
/// random key takes its place, so that the failure shows only when the content fails to
/// decrypt, as the same [`EnvelopeError::DecryptionFailed`] as a damaged message; the random
/// key is drawn before decrypting so that both outcomes take the same steps. This is done for
/// OAEP too: it costs nothing and leaves no second path to reason about. Key errors that do not
/// depend on the ciphertext (wrong key type, unsupported hash on a token) are reported as such.
pub(super) fn decrypt_cek(
    ktri: &KeyTransRecipientInfo,
    key: &dyn PrivateKeyOps,
    cek_len: usize,
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let padding = padding(&ktri.key_enc_alg)?;
    let stand_in = content::random_key(cek_len)?;
    match key.rsa_decrypt(padding, ktri.enc_key.as_bytes()) {
        Ok(cek) if cek.len() == cek_len => Ok(cek),
        Ok(_) | Err(KeyError::Failed { .. }) => Ok(stand_in),
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paddings_round_trip_through_their_identifiers() {
        for padding in [
            RsaPadding::Pkcs1v15,
            RsaPadding::Oaep(Hash::Sha1),
            RsaPadding::Oaep(Hash::Sha256),
            RsaPadding::Oaep(Hash::Sha384),
            RsaPadding::Oaep(Hash::Sha512),
        ] {
            assert_eq!(
                super::padding(&identifier(padding).unwrap()).unwrap(),
                padding
            );
        }
        // SHA-1 OAEP is the all-default, empty SEQUENCE.
        let sha1 = identifier(RsaPadding::Oaep(Hash::Sha1)).unwrap();
        assert_eq!(sha1.parameters.unwrap().value(), b"");
    }

    #[test]
    fn oaep_with_a_mismatched_mgf_or_a_label_is_unsupported() {
        let mut params = OaepParams {
            hash_func: Some(hash_identifier(Hash::Sha256)),
            mask_gen_func: None,
            p_source_func: None,
        };
        let with = |params: &OaepParams| AlgorithmIdentifierOwned {
            oid: rfc5912::ID_RSAES_OAEP,
            parameters: Some(Any::encode_from(params).unwrap()),
        };
        // SHA-256 with the default MGF1-SHA-1.
        assert!(matches!(
            padding(&with(&params)),
            Err(EnvelopeError::UnsupportedAlgorithm { .. })
        ));
        params.hash_func = None;
        params.p_source_func = Some(AlgorithmIdentifierOwned {
            oid: rfc5912::ID_P_SPECIFIED,
            parameters: Some(Any::encode_from(&OctetString::new(*b"label").unwrap()).unwrap()),
        });
        assert!(matches!(
            padding(&with(&params)),
            Err(EnvelopeError::UnsupportedAlgorithm { .. })
        ));
    }
}
