//! The Mailseal daemon: holds the user's keys and certificates and answers requests of the
//! Mailseal protocol on a local socket that only the user can reach.
//!
//! `server` accepts connections and routes requests to `methods`; the handlers use the stores
//! in `keys` and `certs`. Errors of every subsystem become protocol errors in `rpc_error` only.
#![forbid(unsafe_code)]

pub mod certs;
pub mod compose_policy;
pub mod config;
pub mod display;
pub mod hygiene;
pub mod key_cache;
pub mod methods;
pub mod native_host;
pub mod own_identities;
pub mod rpc_error;
pub mod server;
pub mod state;
pub mod transfer;
pub mod wire;
