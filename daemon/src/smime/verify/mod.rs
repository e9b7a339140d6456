//! Verifying CMS SignedData (RFC 5652 §5.4–5.6) as S/MIME uses it (RFC 8551, RFC 8550): one
//! report per SignerInfo with every check made and why it passed or failed.
//!
//! The flow: BER is normalized to DER (`smime::ber`, keeping SET OF order), SignedData is taken
//! apart leniently (`parse`), then each SignerInfo is checked on its own (`signer`) — the
//! signature value with aws-lc-rs (`signature`), the message digest, and the signer's
//! certificate (`checks`, with the path to a trust anchor from [`crate::certs::path`] and its
//! revocation from [`crate::certs::revocation`]). A malformed SignerInfo yields a failed
//! report for itself without hiding the others.

mod checks;
mod parse;
mod signature;
mod signer;
#[cfg(test)]
pub(crate) mod test_pki;
#[cfg(test)]
mod tests;

pub(crate) use signature::{Algorithm, weaknesses};

use crate::certs::issuers::Issuers;
use crate::certs::revocation::Revocation;
use const_oid::ObjectIdentifier;
use mailseal_protocol::methods::report::SignatureReport;
use std::time::SystemTime;
use x509_cert::Certificate;

/// What to verify and against what.
#[derive(Debug, Clone, Copy)]
pub struct VerifyInput<'a> {
    /// DER or BER ContentInfo of type id-signedData.
    pub content_info: &'a [u8],
    /// The signed bytes for a detached signature (multipart/signed's first part, canonical
    /// CRLF); None for encapsulated content. When given, it is what is verified even if the
    /// SignedData also encapsulates content, since it is what the user will be shown.
    pub detached_content: Option<&'a [u8]>,
    /// The message's From addresses (addr-spec, any case) for the address check; empty = no
    /// From → address check fails "no From address".
    pub from: &'a [String],
    /// Trust anchors (the company CA(s) from config).
    pub anchors: &'a [Certificate],
    /// The revocation checker with the configured policy.
    pub revocation: &'a Revocation,
    /// Where missing intermediates are fetched from (authorityInfoAccess caIssuers).
    pub issuers: &'a Issuers,
    /// Other certificates we know (stored certs) usable as signer or intermediate when the
    /// message lacks them.
    pub known_certs: &'a [Certificate],
    /// The time "now" for validity checks, passed in so that tests and re-checks of old mail
    /// can choose it.
    pub now: SystemTime,
}

/// The outcome of verifying a SignedData whose structure could be read.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The content that was signed (the encapsulated content, or a copy of the detached
    /// content).
    pub content: Vec<u8>,
    /// One report per SignerInfo, in order.
    pub reports: Vec<SignatureReport>,
    /// For harvesting: each signer's certificate found, with the SMIMECapabilities OIDs it
    /// advertised in its signed attributes (RFC 8551 §2.5.2), and whether its signature
    /// verified mathematically.
    pub signers: Vec<Harvest>,
}

/// A signer's certificate and preferences, for the certificate store to learn from; trust
/// it only as far as `signature_ok` and the matching report say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Harvest {
    /// The certificate that the SignerInfo named (from the message or the known certificates).
    pub certificate: Certificate,
    /// The SMIMECapabilities OIDs in the order the signer prefers them; empty when absent.
    pub capabilities: Vec<ObjectIdentifier>,
    /// Whether the signature value verified with this certificate's key.
    pub signature_ok: bool,
}

/// Why a message could not be verified at all (as opposed to a signature that is invalid,
/// which is a report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The bytes are not a well-formed ContentInfo/SignedData.
    #[error("malformed {what}")]
    Malformed {
        /// Which structure.
        what: &'static str,
        /// The decoder's complaint.
        #[source]
        source: Option<der::Error>,
    },
    /// The ContentInfo holds something other than SignedData (e.g. EnvelopedData).
    #[error("not signed data: the content type is {content_type}")]
    NotSigned {
        /// The content type, with its name when known.
        content_type: String,
    },
    /// The SignedData has no SignerInfo (a certificates-only message, RFC 8551 §3.8).
    #[error("the message carries no signature")]
    NoSigners,
    /// A detached signature without the content it signs.
    #[error("detached signature without its content")]
    MissingContent,
}

/// Verifies every signature of a SignedData.
///
/// Never panics, whatever the input; an `Err` means the structure itself could not be read.
/// A message verifies only if the caller finds every report it cares about `valid`.
pub fn verify(input: &VerifyInput<'_>) -> Result<Verified, VerifyError> {
    let message = parse::parse(input.content_info)?;
    if message.signer_infos.is_empty() {
        return Err(VerifyError::NoSigners);
    }
    let content = match (input.detached_content, message.content) {
        (Some(detached), _) => detached.to_vec(),
        (None, Some(encapsulated)) => encapsulated,
        (None, None) => return Err(VerifyError::MissingContent),
    };
    let mut certificates = message.certificates;
    certificates.extend_from_slice(input.known_certs);
    let cx = signer::Context {
        input,
        content: &content,
        content_type: message.content_type,
        certificates: &certificates,
        crls: &message.crls,
    };
    let mut reports = Vec::with_capacity(message.signer_infos.len());
    let mut signers = Vec::new();
    for raw in &message.signer_infos {
        let (report, harvest) = signer::check(raw, &cx);
        reports.push(report);
        signers.extend(harvest);
    }
    Ok(Verified {
        content,
        reports,
        signers,
    })
}
