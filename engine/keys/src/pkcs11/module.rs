//! Loading PKCS#11 modules (shared libraries), remembering why one failed, and finalizing the
//! ones this process initialized.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11 as Context};
use cryptoki::error::{Error as CkError, RvError};
use std::path::{Path, PathBuf};

/// Where distributions install the p11-kit proxy, which exposes every module registered with
/// p11-kit (OpenSC, SoftHSM, vendor drivers) through one library: the best default.
const P11_KIT_PROXY: [&str; 6] = [
    "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
    "/usr/lib/aarch64-linux-gnu/p11-kit-proxy.so",
    "/usr/lib64/p11-kit-proxy.so",
    "/usr/lib/p11-kit-proxy.so",
    "/usr/local/lib/p11-kit-proxy.so",
    "/opt/homebrew/lib/p11-kit-proxy.so",
];

/// The first p11-kit proxy that exists here, if any.
pub(super) fn default_modules() -> Vec<PathBuf> {
    P11_KIT_PROXY
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .into_iter()
        .collect()
}

/// A module as configured, and whether it loaded, so that the user can be told why a
/// configured driver shows no tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleStatus {
    /// The configured path.
    pub path: PathBuf,
    /// The library's description (`Ok`), or why it could not be loaded (`Err`).
    pub status: Result<String, String>,
}

/// A configured module: loaded, or the reason it is not.
pub(super) struct Module {
    pub(super) path: PathBuf,
    pub(super) loaded: Result<Loaded, String>,
}

/// A loaded and initialized module.
pub(super) struct Loaded {
    pub(super) context: Context,
    description: String,
    /// Whether our `C_Initialize` did the initializing (and so our `C_Finalize` may undo it):
    /// another part of the process may have initialized the library first.
    owns_initialization: bool,
}

impl Module {
    /// Loads and initializes the library at `path`; never panics, a failure is kept as text.
    pub(super) fn load(path: &Path) -> Self {
        let loaded = Loaded::new(path);
        if let Err(reason) = &loaded {
            tracing::warn!(module = %path.display(), %reason, "PKCS#11 module not loaded");
        }
        Self {
            path: path.to_path_buf(),
            loaded,
        }
    }

    pub(super) fn status(&self) -> ModuleStatus {
        ModuleStatus {
            path: self.path.clone(),
            status: match &self.loaded {
                Ok(loaded) => Ok(loaded.description.clone()),
                Err(reason) => Err(reason.clone()),
            },
        }
    }

    /// Calls `C_Finalize` if our `C_Initialize` initialized the library.
    pub(super) fn finalize(&self) {
        if let Ok(loaded) = &self.loaded
            && loaded.owns_initialization
            && let Err(error) = loaded.context.clone().finalize()
        {
            tracing::warn!(module = %self.path.display(), %error, "C_Finalize failed");
        }
    }
}

impl Loaded {
    fn new(path: &Path) -> Result<Self, String> {
        let context = Context::new(path).map_err(|error| error.to_string())?;
        // Tokens are used from several threads (one session each, behind a mutex), so the
        // library must lock its own globals: OS locking.
        let owns_initialization =
            match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
                Ok(()) => true,
                Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => false,
                Err(error) => return Err(format!("C_Initialize failed: {error}")),
            };
        let description = match context.get_library_info() {
            Ok(info) => {
                let version = info.library_version();
                format!(
                    "{} ({}) {}.{}",
                    info.library_description(),
                    info.manufacturer_id(),
                    version.major(),
                    version.minor()
                )
            }
            Err(error) => format!("(no library information: {error})"),
        };
        Ok(Self {
            context,
            description,
            owns_initialization,
        })
    }
}
