//! Other people's certificates, one PEM file each under `<data dir>/certs/`, indexed in memory.

use super::describe::{Fingerprint, emails};
use const_oid::ObjectIdentifier;
use der::EncodePem;
use der::pem::LineEnding;
use mailseal_files::StoreError;
use mailseal_files::{open_store_dir, remove_durably, write_atomically};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use x509_cert::Certificate;

/// The certificate store: files on disk are the truth, the index answers lookups.
///
/// Beside each certificate harvested from signed mail, `<fingerprint>.caps` keeps the
/// content-encryption algorithms its owner announced (SMIMECapabilities, RFC 8551 §2.5.2), one
/// OID per line, so that mail to them can use the best algorithm they read.
///
/// `<fingerprint>.source` records where a certificate came from when it was not imported
/// ([`Origin`]), so that `cert.find` can tell the user; the first arrival is what counts.
#[derive(Debug)]
pub struct CertStore {
    dir: PathBuf,
    /// Shared, so that building paths for every message does not copy the store.
    index: RwLock<BTreeMap<Fingerprint, Arc<Certificate>>>,
    capabilities: RwLock<HashMap<Fingerprint, Vec<ObjectIdentifier>>>,
    origins: RwLock<HashMap<Fingerprint, Origin>>,
}

/// How a certificate reached the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Imported by the user (`cert.import`); also every certificate stored before origins were
    /// recorded, which have no `.source` file.
    Imported,
    /// Taken from a verified signature in mail the user opened.
    Harvested,
    /// Found in the company directory.
    Directory,
}

impl Origin {
    /// The word in a `.source` file; `None` for [`Origin::Imported`], which needs no file.
    fn word(self) -> Option<&'static str> {
        match self {
            Self::Imported => None,
            Self::Harvested => Some("harvested"),
            Self::Directory => Some("directory"),
        }
    }

    fn from_word(word: &str) -> Option<Self> {
        [Self::Harvested, Self::Directory]
            .into_iter()
            .find(|origin| origin.word() == Some(word))
    }
}

impl CertStore {
    /// Opens (creating if needed) the store in `dir` and loads every certificate in it.
    ///
    /// A file that does not parse is skipped with a warning rather than stopping the daemon:
    /// one damaged file must not lock a user out of everything else. Temporary files of
    /// interrupted writes (certificates, `.caps`, `.source`) are removed first.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        open_store_dir(dir)?;
        let mut index = BTreeMap::new();
        let mut capabilities = HashMap::new();
        let mut origins = HashMap::new();
        for entry in std::fs::read_dir(dir).map_err(StoreError::io("read", dir))? {
            let path = entry.map_err(StoreError::io("read", dir))?.path();
            if path.extension().is_some_and(|ext| ext == "caps") {
                if let Some((fingerprint, oids)) = read_capabilities(&path) {
                    capabilities.insert(fingerprint, oids);
                }
                continue;
            }
            if path.extension().is_some_and(|ext| ext == "source") {
                match read_origin(&path) {
                    Some((fingerprint, origin)) => {
                        origins.insert(fingerprint, origin);
                    }
                    None => {
                        tracing::warn!(file = %path.display(), "ignoring unreadable certificate source file")
                    }
                }
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "pem") {
                continue;
            }
            let loaded = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|pem| {
                    super::describe::parse_certificates(&pem).map_err(|e| e.to_string())
                });
            match loaded {
                Ok(certs) => {
                    for cert in certs {
                        index.insert(Fingerprint::of(&cert), Arc::new(cert));
                    }
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "skipping unreadable certificate file")
                }
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            index: RwLock::new(index),
            capabilities: RwLock::new(capabilities),
            origins: RwLock::new(origins),
        })
    }

    /// Remembers what a certificate's owner announced it can decrypt.
    pub fn remember_capabilities(
        &self,
        fingerprint: &Fingerprint,
        oids: &[ObjectIdentifier],
    ) -> Result<(), StoreError> {
        // Every verified message announces them again: only a change is worth a disk write.
        if self.capabilities(fingerprint).as_deref() == Some(oids) {
            return Ok(());
        }
        let text: String = oids.iter().map(|oid| format!("{oid}\n")).collect();
        let path = self.dir.join(format!("{fingerprint}.caps"));
        write_atomically(&path, text.as_bytes()).map_err(StoreError::io("write", &path))?;
        self.capabilities
            .write()
            .expect("capabilities lock")
            .insert(*fingerprint, oids.to_vec());
        Ok(())
    }

    /// What a certificate's owner announced it can decrypt, if we ever saw it.
    pub fn capabilities(&self, fingerprint: &Fingerprint) -> Option<Vec<ObjectIdentifier>> {
        self.capabilities
            .read()
            .expect("capabilities lock")
            .get(fingerprint)
            .cloned()
    }

    /// Stores certificates the user imports (already stored ones are kept as they are) and
    /// returns them.
    pub fn import(&self, certs: Vec<Certificate>) -> Result<Vec<Certificate>, StoreError> {
        self.add(certs, Origin::Imported)
    }

    /// Stores certificates that arrived by `origin` and returns them. Already stored ones are
    /// kept as they are, origin included.
    pub fn add(
        &self,
        certs: Vec<Certificate>,
        origin: Origin,
    ) -> Result<Vec<Certificate>, StoreError> {
        for cert in &certs {
            let fingerprint = Fingerprint::of(cert);
            if self.read().contains_key(&fingerprint) {
                continue;
            }
            // The origin first: a crash in between leaves at worst a `.source` file without its
            // certificate (which a later import clears), never a certificate that claims to
            // have been imported.
            match origin.word() {
                Some(word) => {
                    let path = self.source_path_of(&fingerprint);
                    write_atomically(&path, format!("{word}\n").as_bytes())
                        .map_err(StoreError::io("write", &path))?;
                    self.origins
                        .write()
                        .expect("origins lock")
                        .insert(fingerprint, origin);
                }
                None => self.forget_origin(&fingerprint)?,
            }
            let pem = cert
                .to_pem(LineEnding::LF)
                .map_err(|source| StoreError::Encode {
                    what: "certificate",
                    source,
                })?;
            let path = self.path_of(&fingerprint);
            write_atomically(&path, pem.as_bytes()).map_err(StoreError::io("write", &path))?;
            self.index
                .write()
                .expect("certificate index lock")
                .insert(fingerprint, Arc::new(cert.clone()));
        }
        Ok(certs)
    }

    /// Stored certificates, all or those naming `email` (case-insensitive), by fingerprint.
    pub fn list(&self, email: Option<&str>) -> Vec<Certificate> {
        let wanted = email.map(str::to_ascii_lowercase);
        self.read()
            .values()
            .filter(|cert| {
                wanted
                    .as_ref()
                    .is_none_or(|addr| emails(cert).contains(addr))
            })
            .map(|cert| Certificate::clone(cert))
            .collect()
    }

    /// Every stored certificate, shared rather than copied: paths are built from them for
    /// every message checked or encrypted, and a user's store grows with every signed mail.
    pub fn shared(&self) -> Vec<Arc<Certificate>> {
        self.read().values().cloned().collect()
    }

    /// How a stored certificate arrived ([`Origin::Imported`] when nothing else is recorded).
    pub fn origin(&self, fingerprint: &Fingerprint) -> Origin {
        self.origins
            .read()
            .expect("origins lock")
            .get(fingerprint)
            .copied()
            .unwrap_or(Origin::Imported)
    }

    /// Removes a certificate (and the record of its origin); `false` if it was not stored.
    pub fn remove(&self, fingerprint: &Fingerprint) -> Result<bool, StoreError> {
        let mut index = self.index.write().expect("certificate index lock");
        if !index.contains_key(fingerprint) {
            return Ok(false);
        }
        let path = self.path_of(fingerprint);
        remove_durably(&path).map_err(StoreError::io("remove", &path))?;
        index.remove(fingerprint);
        self.forget_origin(fingerprint)?;
        Ok(true)
    }

    /// How many certificates are stored.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Fingerprint, Arc<Certificate>>> {
        self.index.read().expect("certificate index lock")
    }

    fn path_of(&self, fingerprint: &Fingerprint) -> PathBuf {
        self.dir.join(format!("{fingerprint}.pem"))
    }

    /// Drops the record of a certificate's origin, file included, if there is one.
    fn forget_origin(&self, fingerprint: &Fingerprint) -> Result<(), StoreError> {
        let mut origins = self.origins.write().expect("origins lock");
        if origins.contains_key(fingerprint) {
            let path = self.source_path_of(fingerprint);
            remove_durably(&path).map_err(StoreError::io("remove", &path))?;
            origins.remove(fingerprint);
        }
        Ok(())
    }

    fn source_path_of(&self, fingerprint: &Fingerprint) -> PathBuf {
        self.dir.join(format!("{fingerprint}.source"))
    }
}

/// Reads a `<fingerprint>.source` file; `None` when it is damaged (the certificate then counts
/// as imported, which only changes what `cert.find` reports).
fn read_origin(path: &Path) -> Option<(Fingerprint, Origin)> {
    let fingerprint = path.file_stem()?.to_str()?.parse().ok()?;
    let text = std::fs::read_to_string(path).ok()?;
    Some((fingerprint, Origin::from_word(text.trim())?))
}

/// Reads a `<fingerprint>.caps` file; a damaged one is ignored (the owner is then treated as
/// having announced nothing, which only means a more conservative algorithm).
fn read_capabilities(path: &Path) -> Option<(Fingerprint, Vec<ObjectIdentifier>)> {
    let fingerprint = path.file_stem()?.to_str()?.parse().ok()?;
    let text = std::fs::read_to_string(path).ok()?;
    let oids = text
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect();
    Some((fingerprint, oids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailseal_test_support::TempPki;

    #[test]
    fn import_list_remove_survive_a_reopen() {
        let pki = TempPki::new();
        let bob = pki.self_signed("ec", "/CN=Bob", Some("Bob@Example.com"));
        let store_dir = tempfile::tempdir().unwrap();
        let store = CertStore::open(store_dir.path()).unwrap();
        store.import(vec![bob.clone(), bob.clone()]).unwrap();
        assert_eq!(store.len(), 1);
        assert_eq!(store.list(Some("bob@example.COM")), vec![bob.clone()]);
        assert!(store.list(Some("eve@example.com")).is_empty());

        let gcm: ObjectIdentifier = "2.16.840.1.101.3.4.1.46".parse().unwrap();
        store
            .remember_capabilities(&Fingerprint::of(&bob), &[gcm])
            .unwrap();
        // The same announcement again writes nothing (the file, removed here, stays away); a
        // different one is written.
        let caps_file = store_dir
            .path()
            .join(format!("{}.caps", Fingerprint::of(&bob)));
        std::fs::remove_file(&caps_file).unwrap();
        store
            .remember_capabilities(&Fingerprint::of(&bob), &[gcm])
            .unwrap();
        assert!(!caps_file.exists());
        let cbc: ObjectIdentifier = "2.16.840.1.101.3.4.1.42".parse().unwrap();
        store
            .remember_capabilities(&Fingerprint::of(&bob), &[cbc])
            .unwrap();
        store
            .remember_capabilities(&Fingerprint::of(&bob), &[gcm])
            .unwrap();
        assert!(caps_file.exists());

        // What crashes in the middle of writes leave: temp files of a certificate and of its
        // capabilities.
        let leftovers = [
            store_dir
                .path()
                .join(format!(".{}.pem.4242.0.tmp", Fingerprint::of(&bob))),
            store_dir
                .path()
                .join(format!(".{}.caps.4242.1.tmp", Fingerprint::of(&bob))),
        ];
        for leftover in &leftovers {
            std::fs::write(leftover, b"half").unwrap();
        }

        let reopened = CertStore::open(store_dir.path()).unwrap();
        assert!(leftovers.iter().all(|leftover| !leftover.exists()));
        assert_eq!(reopened.list(None), vec![bob.clone()]);
        assert_eq!(
            reopened.capabilities(&Fingerprint::of(&bob)),
            Some(vec![gcm])
        );
        assert!(reopened.remove(&Fingerprint::of(&bob)).unwrap());
        assert!(!reopened.remove(&Fingerprint::of(&bob)).unwrap());
        assert!(CertStore::open(store_dir.path()).unwrap().is_empty());
    }

    #[test]
    fn origins_are_recorded_kept_and_removed() {
        let pki = TempPki::new();
        let bob = pki.self_signed("ec", "/CN=Bob", Some("bob@example.com"));
        let carol = pki.self_signed("rsa", "/CN=Carol", Some("carol@example.com"));
        let dan = pki.self_signed("rsa", "/CN=Dan", Some("dan@example.com"));
        let store_dir = tempfile::tempdir().unwrap();
        let store = CertStore::open(store_dir.path()).unwrap();
        store.add(vec![bob.clone()], Origin::Harvested).unwrap();
        store.add(vec![carol.clone()], Origin::Directory).unwrap();
        store.import(vec![dan.clone()]).unwrap();
        // The first arrival counts: importing a harvested certificate changes nothing.
        store.import(vec![bob.clone()]).unwrap();

        let reopened = CertStore::open(store_dir.path()).unwrap();
        let origin = |cert| reopened.origin(&Fingerprint::of(cert));
        assert_eq!(origin(&bob), Origin::Harvested);
        assert_eq!(origin(&carol), Origin::Directory);
        assert_eq!(origin(&dan), Origin::Imported);
        assert!(reopened.remove(&Fingerprint::of(&carol)).unwrap());
        assert_eq!(origin(&carol), Origin::Imported);
        let source = store_dir
            .path()
            .join(format!("{}.source", Fingerprint::of(&carol)));
        assert!(!source.exists());

        // A `.source` left without its certificate does not make a later import look
        // harvested.
        std::fs::write(&source, "harvested\n").unwrap();
        let reopened = CertStore::open(store_dir.path()).unwrap();
        reopened.import(vec![carol.clone()]).unwrap();
        assert_eq!(reopened.origin(&Fingerprint::of(&carol)), Origin::Imported);
        assert!(!source.exists());
    }

    #[test]
    fn a_damaged_file_is_skipped() {
        let pki = TempPki::new();
        let cert = pki.self_signed("rsa", "/CN=Carol", None);
        let store_dir = tempfile::tempdir().unwrap();
        CertStore::open(store_dir.path())
            .unwrap()
            .import(vec![cert])
            .unwrap();
        std::fs::write(
            store_dir.path().join("broken.pem"),
            "-----BEGIN CERTIFICATE-----\nxx",
        )
        .unwrap();
        assert_eq!(CertStore::open(store_dir.path()).unwrap().len(), 1);
    }
}
