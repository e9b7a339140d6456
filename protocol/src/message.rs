//! JSON-RPC 2.0 request and response envelopes (<https://www.jsonrpc.org/specification>).

use crate::error::{ErrorKind, RpcError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// A request id, chosen by the client and echoed in the reply so that replies to pipelined
/// requests, which may come back in any order, can be matched.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    /// A numeric id (what [`crate::Client`] sends).
    Number(i64),
    /// A string id.
    String(String),
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// One request: `{"jsonrpc": "2.0", "id": 1, "method": "daemon.hello", "params": {…}}`.
///
/// Every request must carry an id: this protocol has no notifications, and a request without
/// an id is refused with `invalid_request` rather than silently dropped.
#[derive(Clone, Serialize, Deserialize)]
pub struct Request {
    /// Always `"2.0"`.
    pub jsonrpc: String,
    /// The client's id for this request.
    pub id: Id,
    /// The namespaced method name, e.g. `key.import_pkcs12`.
    pub method: String,
    /// The method's parameters (an object); absent means `{}`.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub params: Value,
}

impl Request {
    /// A request for `method` with `params`.
    pub fn new(id: Id, method: impl Into<String>, params: Value) -> Self {
        Self {
            jsonrpc: "2.0".into(),
            id,
            method: method.into(),
            params,
        }
    }

    /// Parses one frame, telling apart the two JSON-RPC failures: not JSON at all
    /// (`parse_error`) and JSON that is not a request (`invalid_request`). The id is recovered
    /// whenever the frame has one, so that even a refused request gets a matching reply.
    pub fn parse(frame: &[u8]) -> Result<Self, (Option<Id>, RpcError)> {
        let value: Value = serde_json::from_slice(frame).map_err(|e| {
            let what = if e.is_eof() {
                "the request ends before the JSON is complete"
            } else {
                "the request is not valid JSON"
            };
            (
                None,
                RpcError::new(
                    ErrorKind::ParseError,
                    format!("{what} (line {}, column {})", e.line(), e.column()),
                ),
            )
        })?;
        let id = value.get("id").and_then(|id| Id::deserialize(id).ok());
        let invalid = |why: &str| {
            RpcError::new(
                ErrorKind::InvalidRequest,
                format!("not a JSON-RPC 2.0 request: {why}"),
            )
        };
        if !value.is_object() {
            return Err((id, invalid("expected a JSON object")));
        }
        if value.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err((id, invalid("\"jsonrpc\" must be \"2.0\"")));
        }
        if id.is_none() {
            return Err((None, invalid("\"id\" must be a number or a string")));
        }
        if !value.get("method").is_some_and(Value::is_string) {
            return Err((id, invalid("\"method\" must be a string")));
        }
        if value
            .get("params")
            .is_some_and(|p| !p.is_object() && !p.is_null())
        {
            return Err((id, invalid("\"params\" must be an object")));
        }
        serde_json::from_value(value).map_err(|e| (id, invalid(&e.to_string())))
    }
}

impl fmt::Debug for Request {
    // Params can hold passwords and whole messages: show only what identifies the request.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("id", &self.id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// What a response carries: a result or an error, never both.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseBody {
    /// The method's result object.
    Result(Value),
    /// Why the request failed.
    Error(RpcError),
}

/// One response: `{"jsonrpc": "2.0", "id": 1, "result": {…}}` or `… "error": {…}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The id of the request answered; `None` (JSON `null`) when the request was unreadable.
    pub id: Option<Id>,
    /// The result or the error.
    pub body: ResponseBody,
}

impl Response {
    /// A successful response.
    pub fn result(id: Id, result: Value) -> Self {
        Self {
            id: Some(id),
            body: ResponseBody::Result(result),
        }
    }

    /// An error response.
    pub fn error(id: Option<Id>, error: RpcError) -> Self {
        Self {
            id,
            body: ResponseBody::Error(error),
        }
    }
}

#[derive(Serialize)]
struct WireResponse<'a> {
    jsonrpc: &'static str,
    id: &'a Option<Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RpcError>,
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (result, error) = match &self.body {
            ResponseBody::Result(value) => (Some(value), None),
            ResponseBody::Error(err) => (None, Some(err)),
        };
        WireResponse {
            jsonrpc: "2.0",
            id: &self.id,
            result,
            error,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Response {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Incoming {
            id: Option<Id>,
            result: Option<Value>,
            error: Option<RpcError>,
        }
        let incoming = Incoming::deserialize(deserializer)?;
        Self::from_parts(incoming.id, incoming.result, incoming.error)
            .map_err(serde::de::Error::custom)
    }
}

impl Response {
    /// A response from the members read off the wire: an error wins over a result, and one of
    /// the two must be there.
    pub(crate) fn from_parts(
        id: Option<Id>,
        result: Option<Value>,
        error: Option<RpcError>,
    ) -> Result<Self, &'static str> {
        let body = match (result, error) {
            (_, Some(error)) => ResponseBody::Error(error),
            (Some(result), None) => ResponseBody::Result(result),
            (None, None) => return Err("a response needs \"result\" or \"error\""),
        };
        Ok(Self { id, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind_of(frame: &str) -> (Option<Id>, ErrorKind) {
        let (id, err) = Request::parse(frame.as_bytes()).unwrap_err();
        (id, err.kind)
    }

    #[test]
    fn parses_a_request() {
        let req = Request::parse(br#"{"jsonrpc":"2.0","id":7,"method":"daemon.hello"}"#).unwrap();
        assert_eq!(req.id, Id::Number(7));
        assert_eq!(req.method, "daemon.hello");
        assert!(req.params.is_null());
    }

    #[test]
    fn tells_parse_errors_from_invalid_requests() {
        assert_eq!(kind_of("garbage"), (None, ErrorKind::ParseError));
        assert_eq!(
            kind_of(r#"{"jsonrpc":"2.0","id":1"#),
            (None, ErrorKind::ParseError)
        );
        assert_eq!(kind_of("[1,2]"), (None, ErrorKind::InvalidRequest));
        assert_eq!(
            kind_of(r#"{"jsonrpc":"1.0","id":"a","method":"m"}"#),
            (Some(Id::String("a".into())), ErrorKind::InvalidRequest)
        );
        assert_eq!(
            kind_of(r#"{"jsonrpc":"2.0","method":"m"}"#),
            (None, ErrorKind::InvalidRequest)
        );
        assert_eq!(
            kind_of(r#"{"jsonrpc":"2.0","id":2,"method":5}"#),
            (Some(Id::Number(2)), ErrorKind::InvalidRequest)
        );
        assert_eq!(
            kind_of(r#"{"jsonrpc":"2.0","id":3,"method":"m","params":[1]}"#),
            (Some(Id::Number(3)), ErrorKind::InvalidRequest)
        );
    }

    #[test]
    fn debug_hides_params() {
        let req = Request::new(
            Id::Number(1),
            "key.unlock",
            json!({"passphrase": "hunter2"}),
        );
        assert!(!format!("{req:?}").contains("hunter2"));
    }

    #[test]
    fn responses_round_trip() {
        let ok = Response::result(Id::Number(1), json!({"a": 1}));
        let text = serde_json::to_string(&ok).unwrap();
        assert_eq!(text, r#"{"jsonrpc":"2.0","id":1,"result":{"a":1}}"#);
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), ok);
        let err = Response::error(None, RpcError::new(ErrorKind::ParseError, "bad"));
        let text = serde_json::to_string(&err).unwrap();
        assert!(text.contains(r#""id":null"#), "{text}");
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), err);
    }
}
