//! Certification paths (being written).
