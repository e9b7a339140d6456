//! The S/MIME engine (RFC 8551): MIME handling, signing, verification, encryption and
//! decryption of whole messages, on CMS (RFC 5652) structures.
pub mod algorithms;
pub mod envelope;
pub mod mime;
pub mod sign;
pub mod verify;
