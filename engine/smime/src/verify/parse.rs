//! Taking a SignedData ContentInfo apart (RFC 5652 §3, §5.1–5.2) leniently: certificates that do
//! not decode are skipped and SignerInfos are decoded one by one later, so that one bad element
//! costs a report, not the whole message.

use super::VerifyError;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{EncapsulatedContentInfo, SignerInfo};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911;
use der::asn1::SetOfVec;
use der::{Any, Decode, Encode, EncodingRules};
use mailseal_pkix::algorithms::oid_name;
use mailseal_pkix::ber::{self, Profile};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;

/// RFC 5652 §5.1 `SignedData`, with the certificate, CRL and SignerInfo sets kept as raw
/// elements so that each can be decoded (or fail) on its own.
///
/// ```text
/// SignedData ::= SEQUENCE {
///   version CMSVersion,
///   digestAlgorithms DigestAlgorithmIdentifiers,
///   encapContentInfo EncapsulatedContentInfo,
///   certificates [0] IMPLICIT CertificateSet OPTIONAL,
///   crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
///   signerInfos SignerInfos }
/// ```
#[derive(der::Sequence)]
pub(super) struct LenientSignedData {
    /// CMSVersion; not acted on (RFC 5652 §5.1 sets it from the contents).
    pub version: CmsVersion,
    /// The digest algorithms of all signers; each SignerInfo names its own.
    pub digest_algorithms: SetOfVec<Any>,
    /// eContentType and, unless detached, eContent.
    pub encap_content_info: EncapsulatedContentInfo,
    /// CertificateChoices, raw.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub certificates: Option<SetOfVec<Any>>,
    /// RevocationInfoChoices, raw; the CRLs among them go to revocation checking.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub crls: Option<SetOfVec<Any>>,
    /// SignerInfos, raw.
    pub signer_infos: SetOfVec<Any>,
}

/// What verification needs from a SignedData.
pub(super) struct Message {
    /// eContentType.
    pub content_type: ObjectIdentifier,
    /// The certificates that decoded (CertificateChoices other than `certificate` are skipped).
    pub certificates: Vec<Certificate>,
    /// The CRLs the sender included (RevocationInfoChoice `crl`; `other` formats are skipped),
    /// for revocation checking without asking the network.
    pub crls: Vec<CertificateList>,
    /// Each SignerInfo, in the order sent, or why it does not decode.
    pub signer_infos: Vec<Result<SignerInfo, der::Error>>,
}

/// Normalizes the BER, checks the content type and splits SignedData into its parts. The
/// content is not read here: `content_info` is the skeleton `layout` made, or a detached
/// signature.
///
/// Everything is decoded with BER rules over the normalized (DER-shaped) bytes: that keeps
/// SET OF elements in the order sent (DER rules would re-sort them, which breaks signatures
/// over the re-encoded attributes and certificates of senders who did not sort).
pub(super) fn parse(content_info: &[u8]) -> Result<Message, VerifyError> {
    let malformed = |what| {
        move |source| VerifyError::Malformed {
            what,
            source: Some(source),
        }
    };
    let der = ber::to_der(content_info, Profile::SIGNED_DATA)
        .map_err(|error| malformed("BER encoding")(error.into()))?;
    let info = ContentInfo::from_ber(&der).map_err(malformed("ContentInfo"))?;
    if info.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(VerifyError::NotSigned {
            content_type: oid_name(info.content_type),
        });
    }
    let signed = info
        .content
        .decode_as_encoding::<LenientSignedData>(EncodingRules::Ber)
        .map_err(malformed("SignedData"))?;
    let encap = signed.encap_content_info;
    let certificates = signed
        .certificates
        .map(SetOfVec::into_vec)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|any| decode_ber::<Certificate>(&any).ok())
        .collect();
    let crls = signed
        .crls
        .map(SetOfVec::into_vec)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|any| decode_ber::<CertificateList>(&any).ok())
        .collect();
    Ok(Message {
        content_type: encap.econtent_type,
        certificates,
        crls,
        signer_infos: signed
            .signer_infos
            .into_vec()
            .iter()
            .map(decode_ber::<SignerInfo>)
            .collect(),
    })
}

/// Decodes a raw element with BER rules (see [`parse`] for why not DER).
fn decode_ber<T: for<'a> Decode<'a, Error = der::Error>>(any: &Any) -> der::Result<T> {
    T::from_ber(&any.to_der()?)
}
