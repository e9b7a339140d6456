//! Every method of the protocol, one module per namespace, each with its parameters and result.
//!
//! A method is a zero-sized type implementing [`Method`]; the daemon dispatches on
//! [`Method::NAME`] and the client is generic over the trait, so a method's name, parameters and
//! result cannot disagree between the two ends. Every method is listed once, with who may call
//! it, in the method table ([`for_each_method!`](crate::for_each_method), [`METHODS`]).

use serde::Serialize;
use serde::de::DeserializeOwned;

pub mod ca;
pub mod cert;
pub mod daemon;
pub mod identity;
pub mod key;
pub mod mime;
pub mod policy;
pub mod report;
mod shared;
pub mod smime;
pub mod stream;
mod table;
pub mod token;
pub mod transfer;

pub use shared::{CertificateInfo, KeyLocation, KeyState};
pub use table::{Audience, Bridge, METHODS, MethodInfo};

/// A protocol method: its wire name and the types of its parameters and result.
pub trait Method {
    /// The namespaced wire name, e.g. `daemon.hello`.
    const NAME: &'static str;
    /// The `params` object.
    type Params: Serialize + DeserializeOwned + Send + 'static;
    /// The `result` object.
    type Result: Serialize + DeserializeOwned + Send + 'static;
}

/// An empty parameter or result object (`{}`), for methods that need none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}
