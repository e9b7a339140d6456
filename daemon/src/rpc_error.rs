//! The one place where internal errors become protocol errors (code, kind, human message).
//!
//! Messages come from the internal errors' `Display`, which by construction never contains a
//! key, a password or a message body.

use crate::keys::backend::KeyError;
use crate::keys::pkcs12::Pkcs12Error;
use crate::keys::sealed::SealError;
use crate::store_error::StoreError;
use mailseal_protocol::{ErrorKind, RpcError};

impl From<StoreError> for RpcError {
    fn from(error: StoreError) -> Self {
        tracing::error!(error = %error, "storage failure");
        RpcError::new(ErrorKind::Internal, format!("storage failure: {error}"))
    }
}

impl From<Pkcs12Error> for RpcError {
    fn from(error: Pkcs12Error) -> Self {
        let kind = match &error {
            Pkcs12Error::WrongPassword => ErrorKind::WrongPassword,
            _ => ErrorKind::bad_input("params.data"),
        };
        RpcError::new(kind, format!("cannot import the PKCS#12 file: {error}"))
    }
}

impl From<SealError> for RpcError {
    fn from(error: SealError) -> Self {
        match error {
            SealError::WrongPassphrase => {
                RpcError::new(ErrorKind::WrongPassword, "wrong passphrase for this key")
            }
            other => {
                tracing::error!(error = %other, "stored key unusable");
                RpcError::new(
                    ErrorKind::Internal,
                    format!("the stored key is unusable: {other}"),
                )
            }
        }
    }
}

impl From<KeyError> for RpcError {
    fn from(error: KeyError) -> Self {
        let kind = match &error {
            KeyError::WrongKeyType { .. } | KeyError::UnsupportedScheme { .. } => {
                ErrorKind::bad_input("params.key_id")
            }
            _ => ErrorKind::Internal,
        };
        RpcError::new(kind, format!("key operation failed: {error}"))
    }
}
