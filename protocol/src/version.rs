//! The protocol version, negotiated by `daemon.hello`.

/// The protocol version this build speaks natively.
///
/// Bumped only for changes an older peer would misread (a method changing meaning, a field
/// changing type); adding a method or an optional field keeps the version, since old clients
/// ignore what they do not know and learn new methods from the capability list.
pub const PROTOCOL_VERSION: u32 = 1;

/// Every protocol version this build can speak, oldest first, so that a daemon can keep serving
/// clients one version behind while they are upgraded.
pub const SUPPORTED_VERSIONS: &[u32] = &[PROTOCOL_VERSION];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_version_is_supported_and_newest() {
        assert_eq!(PROTOCOL_VERSION, 1);
        assert_eq!(SUPPORTED_VERSIONS.last(), Some(&PROTOCOL_VERSION));
    }
}
