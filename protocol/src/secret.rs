//! Passwords, passphrases and PINs on the wire.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use zeroize::{ZeroizeOnDrop, Zeroizing};

/// A password, passphrase or PIN.
///
/// It must reach the daemon as text, but it must never reach a log, a panic message or an error
/// text: `Debug` prints `[redacted]`, and the memory is wiped when the value is dropped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret typed by the user or read from a file.
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The secret's bytes, for the one place that must use them (a KDF, a PKCS#11 login).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Its one field is a `Zeroizing<String>`, wiped when dropped.
impl ZeroizeOnDrop for Secret {}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_wiped_when_dropped() {
        fn wiped_on_drop<T: ZeroizeOnDrop>() {}
        wiped_on_drop::<Secret>();
        wiped_on_drop::<Zeroizing<String>>();
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::new("hunter2".into());
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(secret.expose(), "hunter2");
        let json = serde_json::to_string(&secret).unwrap();
        assert_eq!(serde_json::from_str::<Secret>(&json).unwrap(), secret);
    }
}
