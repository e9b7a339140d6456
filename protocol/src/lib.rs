//! The Mailseal protocol: what the daemon and its clients say to each other on the local socket.
//!
//! Every front-end (the `mailseal` CLI, the native-messaging host of the Thunderbird add-on, the
//! tests) and the daemon itself use this crate, so the wire format is defined exactly once.
//! It carries no cryptography: only message types, the error table and the method table; with
//! the `transport` feature framing and connections on the local socket, with `client` a client.
//!
//! The format is JSON-RPC 2.0, one JSON object per `\n`-terminated line; binary payloads are
//! base64 strings ([`Base64Bytes`]) and secrets are [`Secret`]s that never print. The
//! human-readable specification with an example of every method is `protocol/README.md`.
#![forbid(unsafe_code)]

mod bytes;
#[cfg(feature = "client")]
mod client;
mod error;
#[cfg(feature = "transport")]
mod framing;
mod message;
pub mod methods;
mod progress;
mod secret;
#[cfg(feature = "transport")]
mod socket;
#[cfg(feature = "transport")]
mod transport;
mod version;

pub use bytes::Base64Bytes;
#[cfg(feature = "client")]
pub use client::{CONNECT_TIMEOUT, Client, ClientError};
pub use error::{ErrorKind, RpcError};
#[cfg(feature = "transport")]
pub use framing::{DEFAULT_MAX_FRAME, FrameError, FrameReader, READ_BUFFER, write_frame};
pub use message::{Id, Request, Response, ResponseBody};
pub use methods::Method;
pub use progress::{PROGRESS, Progress, ServerMessage};
pub use secret::Secret;
#[cfg(all(feature = "transport", unix))]
pub use socket::check_socket_dir;
#[cfg(feature = "transport")]
pub use socket::{UntrustedSocket, default_socket_path, socket_dir};
#[cfg(feature = "transport")]
pub use transport::{Connection, Detached};
pub use version::{PROTOCOL_VERSION, SUPPORTED_VERSIONS};
