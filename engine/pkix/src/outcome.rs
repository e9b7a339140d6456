//! How one check of a certificate or signature came out, shared by path validation,
//! revocation and the S/MIME reports built on them.

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Pass,
    /// It failed.
    Fail,
    /// It could not be decided; never counts as a pass.
    Unknown,
    /// Deliberately not checked, by the company's policy: only a revocation check may be
    /// `NotChecked` (revocation `off`, or `soft-fail` when no CRL or OCSP answer could be had),
    /// and then a signature may still be valid, as with S/MIME clients that soft-fail. On any
    /// other check it counts as `Unknown`, so that no other check can be skipped into a valid
    /// verdict.
    NotChecked,
}
