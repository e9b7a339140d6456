//! Registering the native-messaging host with Thunderbird, where each platform looks for it
//! (`mailseald native-host --register`): a manifest file under the user's or the system's
//! Mozilla directory on Linux and macOS; on Windows a manifest file plus a registry value that
//! names it (Mozilla reads no directory there).

use mailseal_files::write_atomically;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// The host's name, as the add-on asks for it (`runtime.connectNative("mailseal")`).
pub const HOST_NAME: &str = "mailseal";

/// A platform with its own place for host manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Linux and the BSDs.
    Linux,
    /// macOS.
    MacOs,
    /// Windows.
    Windows,
}

impl Platform {
    /// The platform this binary was built for.
    pub fn current() -> Self {
        if cfg!(windows) {
            Self::Windows
        } else if cfg!(target_os = "macos") {
            Self::MacOs
        } else {
            Self::Linux
        }
    }

    /// Where packages install the wrapper a manifest names (manifests cannot pass arguments,
    /// so the wrapper runs `mailseald native-host`): beside `mailseald` on macOS and Windows.
    pub fn default_wrapper(self, mailseald: &Path) -> PathBuf {
        let beside = |name: &str| mailseald.parent().unwrap_or(Path::new("")).join(name);
        match self {
            Self::Linux => PathBuf::from("/usr/lib/mailseal/mailseal-native-host"),
            Self::MacOs => beside("mailseal-native-host"),
            Self::Windows => beside("mailseal-native-host.bat"),
        }
    }
}

/// For one user, or for every user of the machine (needs administrator rights).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The user running the command.
    User,
    /// Every user.
    System,
}

/// Where a registration goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The manifest file.
    pub manifest: PathBuf,
    /// On Windows, the registry key whose default value must name the manifest.
    pub registry_key: Option<String>,
}

/// Why a registration cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// An environment variable that locates the user's directories is not set.
    #[error("{0} is not set, so the user's directory is unknown")]
    MissingVariable(&'static str),
    /// Writing the manifest failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The manifest file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// `reg.exe` could not set the registry value.
    #[error("cannot set the registry value {key}: {why}")]
    Registry {
        /// The key.
        key: String,
        /// What went wrong.
        why: String,
    },
}

/// Where the host is registered on `platform` for `scope`, with `var` reading the environment
/// (`HOME`, `LOCALAPPDATA`, `ProgramData`).
pub fn registration(
    platform: Platform,
    scope: Scope,
    var: impl Fn(&'static str) -> Option<OsString>,
) -> Result<Registration, RegisterError> {
    let from_var = |name: &'static str| {
        var(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .ok_or(RegisterError::MissingVariable(name))
    };
    let file = format!("{HOST_NAME}.json");
    let registry = |hive: &str| {
        Some(format!(
            r"{hive}\Software\Mozilla\NativeMessagingHosts\{HOST_NAME}"
        ))
    };
    Ok(match (platform, scope) {
        (Platform::Linux, Scope::User) => Registration {
            manifest: from_var("HOME")?
                .join(".mozilla/native-messaging-hosts")
                .join(file),
            registry_key: None,
        },
        (Platform::Linux, Scope::System) => Registration {
            manifest: PathBuf::from("/usr/lib/mozilla/native-messaging-hosts").join(file),
            registry_key: None,
        },
        (Platform::MacOs, Scope::User) => Registration {
            manifest: from_var("HOME")?
                .join("Library/Mozilla/NativeMessagingHosts")
                .join(file),
            registry_key: None,
        },
        (Platform::MacOs, Scope::System) => Registration {
            manifest: PathBuf::from("/Library/Application Support/Mozilla/NativeMessagingHosts")
                .join(file),
            registry_key: None,
        },
        (Platform::Windows, Scope::User) => Registration {
            manifest: from_var("LOCALAPPDATA")?.join("Mailseal").join(file),
            registry_key: registry("HKCU"),
        },
        (Platform::Windows, Scope::System) => Registration {
            manifest: from_var("ProgramData")?.join("Mailseal").join(file),
            registry_key: registry("HKLM"),
        },
    })
}

/// Writes `manifest` (JSON) where `registration` says, readable by everyone (Thunderbird may run
/// as any user for a system registration), and sets the registry value on Windows.
pub fn register(registration: &Registration, manifest: &[u8]) -> Result<(), RegisterError> {
    let path = &registration.manifest;
    let write_error = |source| RegisterError::Write {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_error)?;
    }
    write_atomically(path, manifest).map_err(write_error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .map_err(write_error)?;
    }
    match &registration.registry_key {
        Some(key) => set_registry_default(key, path),
        None => Ok(()),
    }
}

/// Sets the default value of `key` to `value` with the system's `reg.exe`, which every Windows
/// has, rather than a registry crate used for this one value.
fn set_registry_default(key: &str, value: &Path) -> Result<(), RegisterError> {
    let failed = |why: String| RegisterError::Registry {
        key: key.to_owned(),
        why,
    };
    let output = std::process::Command::new("reg")
        .args(["add", key, "/ve", "/t", "REG_SZ", "/f", "/d"])
        .arg(value)
        .output()
        .map_err(|e| failed(format!("cannot run reg.exe: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &'static str) -> Option<OsString> {
        match name {
            "HOME" => Some("/home/ann".into()),
            "LOCALAPPDATA" => Some(r"C:\Users\ann\AppData\Local".into()),
            "ProgramData" => Some(r"C:\ProgramData".into()),
            _ => None,
        }
    }

    #[test]
    fn each_platform_has_its_place() {
        let at = |platform, scope| registration(platform, scope, env).unwrap();
        assert_eq!(
            at(Platform::Linux, Scope::User).manifest,
            Path::new("/home/ann/.mozilla/native-messaging-hosts/mailseal.json")
        );
        assert_eq!(
            at(Platform::Linux, Scope::System).manifest,
            Path::new("/usr/lib/mozilla/native-messaging-hosts/mailseal.json")
        );
        assert_eq!(
            at(Platform::MacOs, Scope::User).manifest,
            Path::new("/home/ann/Library/Mozilla/NativeMessagingHosts/mailseal.json")
        );
        assert_eq!(
            at(Platform::MacOs, Scope::System).manifest,
            Path::new("/Library/Application Support/Mozilla/NativeMessagingHosts/mailseal.json")
        );
        for platform in [Platform::Linux, Platform::MacOs] {
            for scope in [Scope::User, Scope::System] {
                assert_eq!(
                    at(platform, scope).registry_key,
                    None,
                    "{platform:?} {scope:?}"
                );
            }
        }
        let user = at(Platform::Windows, Scope::User);
        assert_eq!(
            user.registry_key.as_deref(),
            Some(r"HKCU\Software\Mozilla\NativeMessagingHosts\mailseal")
        );
        assert!(user.manifest.starts_with(r"C:\Users\ann\AppData\Local"));
        let system = at(Platform::Windows, Scope::System);
        assert_eq!(
            system.registry_key.as_deref(),
            Some(r"HKLM\Software\Mozilla\NativeMessagingHosts\mailseal")
        );
        assert!(system.manifest.starts_with(r"C:\ProgramData"));
    }

    #[test]
    fn a_missing_home_is_named() {
        let error = registration(Platform::MacOs, Scope::User, |_| None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "HOME is not set, so the user's directory is unknown"
        );
        let error =
            registration(Platform::Windows, Scope::User, |_| Some(OsString::new())).unwrap_err();
        assert!(
            error.to_string().starts_with("LOCALAPPDATA is not set"),
            "{error}"
        );
    }

    #[test]
    fn wrappers_live_beside_the_daemon_except_on_linux() {
        let daemon = Path::new("/opt/mailseal/bin/mailseald");
        assert_eq!(
            Platform::MacOs.default_wrapper(daemon),
            Path::new("/opt/mailseal/bin/mailseal-native-host")
        );
        assert_eq!(
            Platform::Windows.default_wrapper(daemon),
            Path::new("/opt/mailseal/bin/mailseal-native-host.bat")
        );
        assert_eq!(
            Platform::Linux.default_wrapper(daemon),
            Path::new("/usr/lib/mailseal/mailseal-native-host")
        );
    }

    #[test]
    fn registering_writes_a_readable_manifest_and_replaces_an_old_one() {
        let home = tempfile::tempdir().unwrap();
        let registration = registration(Platform::Linux, Scope::User, |name| {
            (name == "HOME").then(|| home.path().as_os_str().to_owned())
        })
        .unwrap();
        register(&registration, b"{\"old\":true}").unwrap();
        register(&registration, b"{\"name\":\"mailseal\"}").unwrap();
        assert_eq!(
            std::fs::read(&registration.manifest).unwrap(),
            b"{\"name\":\"mailseal\"}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&registration.manifest)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }
}
