//! `mime.display`.

use super::blocking;
use crate::display::display;
use crate::rpc_error::rpc;
use crate::state::Daemon;
use mailseal_protocol::RpcError;
use mailseal_protocol::methods::mime::{DisplayParams, DisplayResult};
use std::sync::Arc;

/// The readable parts of a message, for a client that shows a decrypted message itself.
pub async fn display_message(
    _daemon: Arc<Daemon>,
    params: DisplayParams,
) -> Result<DisplayResult, RpcError> {
    blocking(move || display(params.message.as_slice()).map_err(rpc)).await
}
