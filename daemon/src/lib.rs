//! The Mailseal daemon library: everything `mailseald` does, split by concern.
pub mod keys;
