//! Certificates: describing them, storing other people's, finding the one to encrypt to
//! (locally or in the company directory), and checking paths.
pub mod describe;
pub mod directory;
pub mod fetch;
pub mod find;
pub mod issuers;
pub mod name_constraints;
pub mod path;
pub mod revocation;
pub mod store;
pub mod system_store;
