//! CRLs kept on disk (`<data_dir>/crls/`, one file per URL, written atomically), so that
//! after a restart a CA's list is not fetched again before its nextUpdate, and a CRL server
//! that is down costs nothing while the kept list is current. A kept list is checked again
//! (signature, issuer, dates) each time it is used, like a fetched one.

use super::crl;
use aws_lc_rs::digest;
use mailseal_files::{create_private_dir, remove_stale_temps, write_atomically};
use std::path::PathBuf;
use std::time::SystemTime;
use x509_cert::crl::CertificateList;

/// The directory of kept CRLs.
#[derive(Debug)]
pub struct CrlDir {
    dir: PathBuf,
}

impl CrlDir {
    /// CRLs kept in `dir` (made, private, on first store), less the temporary files of
    /// writes a crash interrupted; failing to remove those costs only a warning, since the
    /// lists are public and fetched again when needed.
    pub fn new(dir: PathBuf) -> Self {
        match remove_stale_temps(&dir) {
            Ok(0) => {}
            Ok(stale) => {
                tracing::info!(dir = %dir.display(), stale, "removed temporary files of interrupted writes")
            }
            Err(error) => tracing::warn!(%error, "cannot remove temporary files of kept CRLs"),
        }
        Self { dir }
    }

    fn file(&self, url: &str) -> PathBuf {
        let name = digest::digest(&digest::SHA256, url.as_bytes());
        self.dir.join(format!("{}.crl", hex::encode(name.as_ref())))
    }

    /// The CRL kept for `url` when it is still current at `now`.
    pub fn load(&self, url: &str, now: SystemTime) -> Option<CertificateList> {
        let der = std::fs::read(self.file(url)).ok()?;
        let list = crl::parse(&der, url).ok()?;
        crl::fresh_until(&list)
            .is_some_and(|until| until > now)
            .then_some(list)
    }

    /// Keeps the CRL `der` fetched from `url`; a failure costs only the keeping.
    pub fn store(&self, url: &str, der: &[u8]) {
        let kept =
            create_private_dir(&self.dir).and_then(|()| write_atomically(&self.file(url), der));
        if let Err(error) = kept {
            tracing::warn!(url, error = %error, "cannot keep a CRL on disk");
        }
    }
}
