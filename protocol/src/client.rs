//! An async client for the daemon, used by the CLI, the native-messaging host and the tests.

use crate::error::RpcError;
use crate::framing::{DEFAULT_MAX_FRAME, FrameError, FrameReader, READ_BUFFER, write_frame};
use crate::message::{Id, Response, ResponseBody};
use crate::methods::Method;
use crate::methods::daemon::{Hello, HelloParams, HelloResult};
use crate::progress::{Progress, ServerMessage};
use crate::transport::{Connection, Detached};
use crate::version::SUPPORTED_VERSIONS;
use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use tokio::io::BufReader;

/// Why a call did not produce a result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No daemon is listening at the socket (not started, or stopped).
    #[error("cannot reach the mailseal daemon at {}: {source}", path.display())]
    Connect {
        /// The socket path tried.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The connection broke or a reply could not be read.
    #[error("lost the connection to the daemon: {0}")]
    Frame(#[from] FrameError),
    /// The daemon closed the connection without answering.
    #[error("the daemon closed the connection without answering")]
    Closed,
    /// The daemon answered with an error.
    #[error("{0}")]
    Daemon(#[from] RpcError),
    /// The reply did not have the expected shape (a daemon of another version?).
    #[error("unexpected reply from the daemon: {what}")]
    Protocol {
        /// What was wrong with it.
        what: String,
    },
}

/// A connection to the daemon.
///
/// [`Client::call`] waits for each reply before the next request. A client with many small
/// messages can instead pipeline them: [`Client::send`] several requests, then
/// [`Client::receive`] each reply, so that the daemon works on the next message while this side
/// is still reading the last answer (the daemon runs up to 32 requests of a connection at once).
#[derive(Debug)]
pub struct Client {
    connection: FrameReader<BufReader<Connection>>,
    next_id: i64,
    frame: Vec<u8>,
    /// Replies read while waiting for another one, by request id.
    early: HashMap<i64, ResponseBody>,
    /// Why the last write failed: reported once no reply explains it (a daemon refusing an
    /// oversized request answers, then closes while the request is still being written).
    write_failed: Option<io::Error>,
}

/// A request sent with [`Client::send`] whose reply has not been taken yet.
///
/// Keeps the method's type, so that [`Client::receive`] decodes the reply as that method's
/// result. Take every reply: one left unread holds its slot among the daemon's 32 requests in
/// flight, and a client that keeps sending without reading will stall once they are used up.
#[must_use = "the reply stays unread until it is received"]
#[derive(Debug)]
pub struct Pending<M> {
    id: i64,
    method: PhantomData<fn() -> M>,
}

/// The request line, written without building a JSON tree of the parameters first (they may
/// hold a message of many MiB in base64).
#[derive(Serialize)]
struct Outgoing<'a, P: ?Sized> {
    jsonrpc: &'static str,
    id: i64,
    method: &'a str,
    params: &'a P,
}

impl Client {
    /// Connects to the daemon's socket (see [`crate::default_socket_path`]).
    pub async fn connect(path: &Path) -> Result<Self, ClientError> {
        let connect_error = |source| ClientError::Connect {
            path: path.to_owned(),
            source,
        };
        let name = path
            .to_fs_name::<GenericFilePath>()
            .map_err(connect_error)?;
        let stream = LocalSocketStream::connect(name)
            .await
            .and_then(Detached::new)
            .and_then(Detached::attach)
            .map_err(connect_error)?;
        Ok(Self {
            connection: FrameReader::new(
                BufReader::with_capacity(READ_BUFFER, stream),
                DEFAULT_MAX_FRAME,
            ),
            next_id: 1,
            frame: Vec::new(),
            early: HashMap::new(),
            write_failed: None,
        })
    }

    /// Connects and negotiates the protocol version with `daemon.hello`.
    pub async fn connect_and_hello(
        path: &Path,
        client_name: &str,
    ) -> Result<(Self, HelloResult), ClientError> {
        let mut client = Self::connect(path).await?;
        let hello = client
            .call::<Hello>(&HelloParams {
                client: Some(client_name.to_owned()),
                protocol_versions: SUPPORTED_VERSIONS.to_vec(),
            })
            .await?;
        Ok((client, hello))
    }

    /// Calls a method with typed parameters and result.
    pub async fn call<M: Method>(&mut self, params: &M::Params) -> Result<M::Result, ClientError> {
        self.call_with_progress::<M>(params, |_| {}).await
    }

    /// Calls a method and hands every `progress` notification for it to `on_progress` as it
    /// arrives (the method's `progress` parameter asks the daemon for them).
    pub async fn call_with_progress<M: Method>(
        &mut self,
        params: &M::Params,
        on_progress: impl FnMut(&Progress),
    ) -> Result<M::Result, ClientError> {
        let pending = self.send::<M>(params).await?;
        self.receive_with_progress(pending, on_progress).await
    }

    /// Calls a method by name with raw JSON parameters, for tools that relay requests.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        let id = self.write_request(method, &params).await?;
        self.read_reply(id, |_| {}).await
    }

    /// Sends a request without waiting for its reply (see [`Client`] on pipelining).
    ///
    /// Fails only when the parameters cannot be encoded; a broken connection is reported by
    /// the matching [`Client::receive`], after any reply the daemon sent before closing.
    pub async fn send<M: Method>(&mut self, params: &M::Params) -> Result<Pending<M>, ClientError> {
        let id = self.write_request(M::NAME, params).await?;
        Ok(Pending {
            id,
            method: PhantomData,
        })
    }

    /// Waits for the reply to a request sent with [`Client::send`]; replies to other requests
    /// that arrive first are kept for their own `receive`.
    pub async fn receive<M: Method>(
        &mut self,
        pending: Pending<M>,
    ) -> Result<M::Result, ClientError> {
        self.receive_with_progress(pending, |_| {}).await
    }

    /// [`Client::receive`], handing the request's `progress` notifications to `on_progress`.
    pub async fn receive_with_progress<M: Method>(
        &mut self,
        pending: Pending<M>,
        on_progress: impl FnMut(&Progress),
    ) -> Result<M::Result, ClientError> {
        let result = self.read_reply(pending.id, on_progress).await?;
        serde_json::from_value(result).map_err(|e| ClientError::Protocol {
            what: format!("result of {} has an unexpected shape: {e}", M::NAME),
        })
    }

    async fn write_request<P: Serialize + ?Sized>(
        &mut self,
        method: &str,
        params: &P,
    ) -> Result<i64, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let line = serde_json::to_vec(&Outgoing {
            jsonrpc: "2.0",
            id,
            method,
            params,
        })
        .map_err(|e| ClientError::Protocol {
            what: format!("cannot encode parameters of {method}: {e}"),
        })?;
        if self.write_failed.is_none()
            && let Err(e) = write_frame(self.connection.get_mut(), &line).await
        {
            self.write_failed = Some(e);
        }
        Ok(id)
    }

    async fn read_reply(
        &mut self,
        id: i64,
        mut on_progress: impl FnMut(&Progress),
    ) -> Result<Value, ClientError> {
        loop {
            if let Some(body) = self.early.remove(&id) {
                return match body {
                    ResponseBody::Result(result) => Ok(result),
                    ResponseBody::Error(error) => Err(error.into()),
                };
            }
            match self.connection.read_frame(&mut self.frame).await {
                Ok(true) => {}
                Ok(false) => return Err(self.write_error().unwrap_or(ClientError::Closed)),
                Err(e) => return Err(self.write_error().unwrap_or(e.into())),
            }
            let message = ServerMessage::parse(&self.frame).map_err(|e| ClientError::Protocol {
                what: e.to_string(),
            })?;
            match message {
                ServerMessage::Progress(progress) => {
                    if progress.id == Id::Number(id) {
                        on_progress(&progress);
                    }
                }
                ServerMessage::Reply(Response {
                    id: Some(Id::Number(answered)),
                    body,
                }) => {
                    self.early.insert(answered, body);
                }
                // A request the daemon could not read at all (e.g. too large) is answered
                // without an id: it can only be the one waited for.
                ServerMessage::Reply(Response {
                    id: None,
                    body: ResponseBody::Error(error),
                }) => return Err(error.into()),
                ServerMessage::Reply(Response { id, .. }) => {
                    return Err(ClientError::Protocol {
                        what: format!("a reply carries id {id:?}, which this client never sent"),
                    });
                }
            }
        }
    }

    /// The failed write, as the error of a call whose reply never came.
    fn write_error(&self) -> Option<ClientError> {
        self.write_failed
            .as_ref()
            .map(|e| FrameError::from(io::Error::new(e.kind(), e.to_string())).into())
    }
}
