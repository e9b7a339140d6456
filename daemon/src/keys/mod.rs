//! Private keys: reading PKCS#12 files and keeping keys encrypted at rest.
pub mod pkcs12;
pub mod sealed;
