//! `stream.open`, `stream.write`, `stream.read`, `stream.close`: chunked transfer of messages
//! larger than a frame, over the connection's [`crate::transfer::streams::StreamTable`].

use super::blocking;
use crate::state::Daemon;
use crate::transfer::Caller;
use mailseal_protocol::methods::Empty;
use mailseal_protocol::methods::stream::{
    CloseParams, OpenResult, ReadParams, ReadResult, SizeResult, WriteParams,
};
use mailseal_protocol::methods::transfer::MAX_CHUNK_BYTES;
use mailseal_protocol::{ErrorKind, RpcError};
use std::sync::Arc;

/// Opens an empty stream on the caller's connection.
pub async fn open(_: Arc<Daemon>, caller: Caller, _: Empty) -> Result<OpenResult, RpcError> {
    let stream = blocking(move || caller.session.streams.open()).await?;
    Ok(OpenResult {
        stream,
        max_chunk_bytes: MAX_CHUNK_BYTES as u64,
    })
}

/// Appends a chunk of at most [`MAX_CHUNK_BYTES`].
pub async fn write(
    _: Arc<Daemon>,
    caller: Caller,
    params: WriteParams,
) -> Result<SizeResult, RpcError> {
    if params.data.as_slice().len() > MAX_CHUNK_BYTES {
        return Err(RpcError::new(
            ErrorKind::bad_input("params.data"),
            format!("params.data: a chunk may hold at most {MAX_CHUNK_BYTES} bytes"),
        ));
    }
    let bytes = blocking(move || {
        caller
            .session
            .streams
            .append(&params.stream, params.data.as_slice())
    })
    .await?;
    Ok(SizeResult { bytes })
}

/// Reads a chunk from an offset.
pub async fn read(
    _: Arc<Daemon>,
    caller: Caller,
    params: ReadParams,
) -> Result<ReadResult, RpcError> {
    let length = params
        .length
        .map_or(MAX_CHUNK_BYTES, |l| {
            usize::try_from(l).unwrap_or(usize::MAX)
        })
        .min(MAX_CHUNK_BYTES);
    let (data, eof) = blocking(move || {
        caller
            .session
            .streams
            .read_at(&params.stream, params.offset, length)
    })
    .await?;
    Ok(ReadResult {
        data: data.into(),
        eof,
    })
}

/// Closes a stream and deletes its file.
pub async fn close(
    _: Arc<Daemon>,
    caller: Caller,
    params: CloseParams,
) -> Result<SizeResult, RpcError> {
    let bytes = blocking(move || caller.session.streams.close(&params.stream)).await?;
    Ok(SizeResult { bytes })
}
