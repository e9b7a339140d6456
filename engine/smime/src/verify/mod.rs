//! Verifying CMS SignedData (RFC 5652 §5.4–5.6) as S/MIME uses it (RFC 8551, RFC 8550): one
//! report per SignerInfo with every check made and why it passed or failed.
//!
//! The flow streams, so that a message of any size is verified in bounded memory: the
//! ContentInfo is read by position (`layout`), everything but the encapsulated content into
//! memory; its BER is normalized to DER (`mailseal_pkix::ber`, keeping SET OF order) and SignedData is
//! taken apart leniently (`parse`). The content — encapsulated, or the detached signed part —
//! then streams once through [`Hashing`] (`content`) on its way to the next layer, hashed by
//! every digest algorithm the SignerInfos name. Last, each SignerInfo is checked on its own
//! against those digests (`signer`) — the signature value with aws-lc-rs
//! ([`mailseal_pkix::signature`]), the
//! message digest, and the signer's certificate (`checks`, with the path to a trust anchor from
//! [`mailseal_pkix::path`] and its revocation from [`mailseal_pkix::revocation`]). A malformed
//! SignerInfo yields a failed report for itself without hiding the others.

mod checks;
mod content;
mod layout;
mod parse;
mod signer;
#[cfg(test)]
mod tests;

pub use content::{Hashing, SignedContent};

use crate::report::SignatureReport;
use const_oid::ObjectIdentifier;
use content::Needs;
use layout::Encapsulated;
use mailseal_pkix::issuers::Issuers;
use mailseal_pkix::revocation::Revocation;
use mailseal_pkix::tlv::{self, TlvError};
use std::io::{Read, Seek, Write};
use std::time::SystemTime;
use x509_cert::Certificate;

/// Against what signatures are checked: the message's sender, whom we trust, whom we know,
/// and when.
#[derive(Debug, Clone, Copy)]
pub struct VerifyInput<'a> {
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
    /// message lacks them; borrowed, as the store is not copied for each message.
    pub known_certs: &'a [&'a Certificate],
    /// The time "now" for validity checks, passed in so that tests and re-checks of old mail
    /// can choose it.
    pub now: SystemTime,
}

/// The outcome of verifying a SignedData whose structure could be read.
#[derive(Debug, Clone)]
pub struct Verified {
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
    /// Reading the message or writing its content failed.
    #[error("cannot read or write the message: {0}")]
    Io(#[from] std::io::Error),
}

/// A SignedData read and taken apart, its content not yet seen: the content streams past
/// [`Signed::hashing`] (from [`Signed::copy_content`] or, for a detached signature, from the
/// signed part), then [`Signed::check`] checks every SignerInfo against what was learned.
pub struct Signed {
    message: parse::Message,
    content: Option<Encapsulated>,
    needs: Needs,
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("signer_infos", &self.message.signer_infos.len())
            .field("encapsulated", &self.content.is_some())
            .field("needs", &self.needs)
            .finish()
    }
}

/// How much encapsulated content is copied at a time.
const CHUNK: usize = 64 * 1024;

/// Reads the DER or BER ContentInfo of type id-signedData that is the whole of `src`, leaving
/// any encapsulated content there to be streamed.
///
/// An `Err` means the structure itself could not be read (or carries no signature); a
/// signature that does not verify is a report of [`Signed::check`].
pub fn read<R: Read + Seek>(src: &mut R) -> Result<Signed, VerifyError> {
    let layout = layout::read(src)?;
    let message = parse::parse(&layout.skeleton)?;
    if message.signer_infos.is_empty() {
        return Err(VerifyError::NoSigners);
    }
    let mut needs = Needs::default();
    for info in message.signer_infos.iter().flatten() {
        signer::add_needs(info, &mut needs);
    }
    Ok(Signed {
        message,
        content: layout.content,
        needs,
    })
}

impl Signed {
    /// A writer that passes the content on to `out` and learns what [`Signed::check`] needs
    /// of it: the signed content must go through it whole, byte for byte.
    pub fn hashing<W: Write>(&self, out: W) -> Hashing<W> {
        Hashing::new(out, &self.needs)
    }

    /// Writes the encapsulated content, read from `src` (the source [`read`] read), to `out`;
    /// [`VerifyError::MissingContent`] when the signature is detached.
    pub fn copy_content<R: Read + Seek, W: Write>(
        &self,
        src: &mut R,
        out: &mut W,
    ) -> Result<(), VerifyError> {
        match &self.content {
            None => Err(VerifyError::MissingContent),
            Some(Encapsulated::Other(content)) => Ok(out.write_all(content)?),
            Some(Encapsulated::At(at)) => tlv::for_each_chunk(src, *at, CHUNK, |chunk| {
                out.write_all(chunk).map_err(TlvError::Io)
            })
            .map_err(VerifyError::from),
        }
    }

    /// Checks every SignerInfo against the content learned by [`Signed::hashing`].
    ///
    /// Never panics, whatever the input. A message verifies only if the caller finds every
    /// report it cares about `valid`.
    pub fn check(&self, content: &SignedContent, input: &VerifyInput<'_>) -> Verified {
        let mut certificates: Vec<&Certificate> = self.message.certificates.iter().collect();
        certificates.extend_from_slice(input.known_certs);
        let cx = signer::Context {
            input,
            content,
            content_type: self.message.content_type,
            certificates: &certificates,
            crls: &self.message.crls,
        };
        let mut reports = Vec::with_capacity(self.message.signer_infos.len());
        let mut signers = Vec::new();
        for info in &self.message.signer_infos {
            let (report, harvest) = signer::check(info, &cx);
            reports.push(report);
            signers.extend(harvest);
        }
        Verified { reports, signers }
    }
}
