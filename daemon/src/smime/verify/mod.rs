//! Verifying CMS SignedData (being written).
