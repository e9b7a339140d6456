//! Progress notifications: how far a long request has got, sent before its reply to clients
//! that asked with `"progress": true`.
//!
//! ```text
//! ← {"jsonrpc":"2.0","method":"progress","params":{"id":7,"done":8388608,"total":1073741824}}
//! ```
//! A JSON-RPC 2.0 notification (no `id` of its own); `params.id` is the id of the request it is
//! about, so a client with requests in flight knows which one moved.

use crate::error::RpcError;
use crate::message::{Id, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The method name of progress notifications.
pub const PROGRESS: &str = "progress";

/// How far one request has got: bytes of the input for `smime.*`, users for `ca.batch`;
/// `done` never decreases and never exceeds `total`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The request this is about.
    pub id: Id,
    /// Units (bytes, users) done so far.
    pub done: u64,
    /// Units in all.
    pub total: u64,
}

#[derive(Serialize)]
struct WireNotification<'a> {
    jsonrpc: &'static str,
    method: &'static str,
    params: &'a Progress,
}

impl Progress {
    /// The notification as one frame (without the line end).
    pub fn to_frame(&self) -> Vec<u8> {
        serde_json::to_vec(&WireNotification {
            jsonrpc: "2.0",
            method: PROGRESS,
            params: self,
        })
        .expect("progress always serializes")
    }
}

/// Anything the daemon sends on a connection: a reply, or a notification before one.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// The reply to a request.
    Reply(Response),
    /// Progress of a request still running.
    Progress(Progress),
}

impl ServerMessage {
    /// Reads one frame from the daemon in a single pass (a reply may hold many MiB).
    pub fn parse(frame: &[u8]) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        struct Incoming {
            #[serde(default)]
            id: Option<Id>,
            method: Option<String>,
            params: Option<Value>,
            result: Option<Value>,
            error: Option<RpcError>,
        }
        let incoming: Incoming = serde_json::from_slice(frame)?;
        match (incoming.method.as_deref(), incoming.params) {
            (Some(PROGRESS), Some(params)) => Ok(Self::Progress(serde_json::from_value(params)?)),
            _ => Response::from_parts(incoming.id, incoming.result, incoming.error)
                .map(Self::Reply)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn progress_is_a_notification_about_a_request() {
        let progress = Progress {
            id: Id::Number(7),
            done: 1,
            total: 2,
        };
        let frame = progress.to_frame();
        assert_eq!(
            serde_json::from_slice::<Value>(&frame).unwrap(),
            json!({"jsonrpc":"2.0","method":"progress","params":{"id":7,"done":1,"total":2}})
        );
        assert_eq!(
            ServerMessage::parse(&frame).unwrap(),
            ServerMessage::Progress(progress)
        );
        let reply = br#"{"jsonrpc":"2.0","id":7,"result":{}}"#;
        assert_eq!(
            ServerMessage::parse(reply).unwrap(),
            ServerMessage::Reply(Response::result(Id::Number(7), json!({})))
        );
    }
}
