//! Certificates: describing them, and storing other people's.
pub mod describe;
pub mod path;
pub mod store;
