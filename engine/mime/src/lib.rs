//! Just enough MIME for S/MIME (RFC 2045–2047, RFC 5322, RFC 8551 §3.1), with no cryptography
//! but a digest pass-through.
//!
//! `mime` splits headers from bodies, reads Content-Type parameters and addresses and cuts
//! multipart bodies at their boundaries without touching the bytes between; `canonical`
//! prepares the entity to sign or encrypt, streamed in bounded memory; `encoders` holds the
//! transfer encodings as [`std::io::Write`] adapters; `scratch` is where one request's
//! intermediate results go (memory while small, a private temporary file beyond).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod canonical;
pub mod encoders;
pub mod mime;
pub mod scratch;
