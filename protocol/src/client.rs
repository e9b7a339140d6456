//! An async client for the daemon, used by the CLI, the native-messaging host and the tests.

use crate::error::RpcError;
use crate::framing::{DEFAULT_MAX_FRAME, FrameError, FrameReader, READ_BUFFER, write_frame};
use crate::message::{Id, Request, ResponseBody};
use crate::methods::Method;
use crate::methods::daemon::{Hello, HelloParams, HelloResult};
use crate::progress::{Progress, ServerMessage};
use crate::version::SUPPORTED_VERSIONS;
use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use serde_json::Value;
use std::io;
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

/// A connection to the daemon; calls are made one at a time and answered in order.
#[derive(Debug)]
pub struct Client {
    connection: FrameReader<BufReader<LocalSocketStream>>,
    next_id: i64,
    frame: Vec<u8>,
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
            .map_err(connect_error)?;
        Ok(Self {
            connection: FrameReader::new(
                BufReader::with_capacity(READ_BUFFER, stream),
                DEFAULT_MAX_FRAME,
            ),
            next_id: 1,
            frame: Vec::new(),
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
        let params = serde_json::to_value(params).map_err(|e| ClientError::Protocol {
            what: format!("cannot encode parameters of {}: {e}", M::NAME),
        })?;
        let result = self.exchange(M::NAME, params, on_progress).await?;
        serde_json::from_value(result).map_err(|e| ClientError::Protocol {
            what: format!("result of {} has an unexpected shape: {e}", M::NAME),
        })
    }

    /// Calls a method by name with raw JSON parameters, for tools that relay requests.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        self.exchange(method, params, |_| {}).await
    }

    async fn exchange(
        &mut self,
        method: &str,
        params: Value,
        mut on_progress: impl FnMut(&Progress),
    ) -> Result<Value, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let request = Request::new(Id::Number(id), method, params);
        let line = serde_json::to_vec(&request).map_err(|e| ClientError::Protocol {
            what: e.to_string(),
        })?;
        let written = write_frame(self.connection.get_mut(), &line).await;
        loop {
            // A daemon that refuses a request (an oversized frame) answers and closes while we
            // are still writing: read its answer before reporting the broken connection.
            let answered = self.connection.read_frame(&mut self.frame).await;
            match (&written, answered) {
                (_, Ok(true)) => {}
                (Err(e), _) => {
                    return Err(FrameError::from(io::Error::new(e.kind(), e.to_string())).into());
                }
                (Ok(()), Ok(false)) => return Err(ClientError::Closed),
                (Ok(()), Err(e)) => return Err(e.into()),
            }
            let message = ServerMessage::parse(&self.frame).map_err(|e| ClientError::Protocol {
                what: e.to_string(),
            })?;
            let response = match message {
                ServerMessage::Progress(progress) => {
                    if progress.id == Id::Number(id) {
                        on_progress(&progress);
                    }
                    continue;
                }
                ServerMessage::Reply(response) => response,
            };
            return match response.body {
                ResponseBody::Error(err) => Err(err.into()),
                ResponseBody::Result(_) if response.id != Some(Id::Number(id)) => {
                    Err(ClientError::Protocol {
                        what: format!("reply to request {id} carries id {:?}", response.id),
                    })
                }
                ResponseBody::Result(result) => Ok(result),
            };
        }
    }
}
