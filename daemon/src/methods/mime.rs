//! `mime.display`.

use super::blocking;
use crate::display::display;
use crate::state::Daemon;
use mailseal_protocol::methods::mime::{DisplayParams, DisplayResult};
use mailseal_protocol::{ErrorKind, RpcError};
use std::sync::Arc;

/// The readable parts of a message, for a client that shows a decrypted message itself.
pub async fn display_message(
    _daemon: Arc<Daemon>,
    params: DisplayParams,
) -> Result<DisplayResult, RpcError> {
    blocking(move || {
        display(params.message.as_slice()).ok_or_else(|| {
            RpcError::new(
                ErrorKind::bad_input("params.message"),
                "params.message is not a MIME message (no header block)",
            )
        })
    })
    .await
}
