//! Own identities on disk: one file per key under `<data dir>/identities/<key id>.pem` holding
//! the encrypted private key, its certificate and the chain, written atomically as one unit.

use super::KeyId;
use super::sealed::SealedKey;
use der::EncodePem;
use der::pem::LineEnding;
use mailseal_files::StoreError;
use mailseal_files::{open_store_dir, write_atomically};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use x509_cert::Certificate;

/// An own identity as stored: the key stays sealed until someone unlocks it.
#[derive(Debug, Clone)]
pub struct StoredIdentity {
    /// The key's id.
    pub key_id: KeyId,
    /// The private key, encrypted under the user's passphrase.
    pub sealed: SealedKey,
    /// The identity's certificate.
    pub certificate: Certificate,
    /// The rest of the chain as imported.
    pub chain: Vec<Certificate>,
}

const KEY_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

impl StoredIdentity {
    fn to_pem(&self) -> Result<String, StoreError> {
        let mut text = self.sealed.to_pem();
        for cert in std::iter::once(&self.certificate).chain(&self.chain) {
            text.push_str(
                &cert
                    .to_pem(LineEnding::LF)
                    .map_err(|source| StoreError::Encode {
                        what: "certificate",
                        source,
                    })?,
            );
        }
        Ok(text)
    }

    fn from_pem(text: &str) -> Result<Self, String> {
        let split = text.find(KEY_END).ok_or("no encrypted private key")? + KEY_END.len();
        let (key_pem, certs_pem) = text.split_at(split);
        let sealed = SealedKey::from_pem(key_pem).map_err(|e| e.to_string())?;
        let mut certs = mailseal_pkix::describe::parse_certificates(certs_pem.as_bytes())
            .map_err(|e| e.to_string())?
            .into_iter();
        let certificate = certs.next().ok_or("no certificate")?;
        Ok(Self {
            key_id: KeyId::of_certificate(&certificate),
            sealed,
            certificate,
            chain: certs.collect(),
        })
    }
}

/// The identity store: files on disk are the truth, the index answers lookups.
#[derive(Debug)]
pub struct IdentityStore {
    dir: PathBuf,
    index: RwLock<BTreeMap<KeyId, Arc<StoredIdentity>>>,
}

impl IdentityStore {
    /// Opens (creating if needed) the store in `dir` and loads every identity in it; a damaged
    /// file is skipped with a warning so the others stay usable. Temporary files an
    /// interrupted write left are removed first: some hold a whole sealed key.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        open_store_dir(dir)?;
        let mut index = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(StoreError::io("read", dir))? {
            let path = entry.map_err(StoreError::io("read", dir))?.path();
            if path.extension().is_none_or(|ext| ext != "pem") {
                continue;
            }
            let loaded = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| StoredIdentity::from_pem(&text));
            match loaded {
                Ok(identity) => {
                    index.insert(identity.key_id, Arc::new(identity));
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "skipping unreadable identity file")
                }
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            index: RwLock::new(index),
        })
    }

    /// Stores an identity, replacing one with the same key (e.g. a renewed certificate).
    pub fn save(&self, identity: StoredIdentity) -> Result<Arc<StoredIdentity>, StoreError> {
        let path = self.dir.join(format!("{}.pem", identity.key_id));
        write_atomically(&path, identity.to_pem()?.as_bytes())
            .map_err(StoreError::io("write", &path))?;
        let identity = Arc::new(identity);
        self.index
            .write()
            .expect("identity index lock")
            .insert(identity.key_id, Arc::clone(&identity));
        Ok(identity)
    }

    /// The identity with this key, if any.
    pub fn get(&self, key_id: &KeyId) -> Option<Arc<StoredIdentity>> {
        self.index
            .read()
            .expect("identity index lock")
            .get(key_id)
            .cloned()
    }

    /// Every identity, by key id.
    pub fn all(&self) -> Vec<Arc<StoredIdentity>> {
        self.index
            .read()
            .expect("identity index lock")
            .values()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs12::PrivateKeyDer;
    use mailseal_test_support::{TempPki, openssl};

    #[test]
    fn identities_survive_a_reopen_and_damaged_files_are_skipped() {
        let pki = TempPki::new();
        let ca = pki.self_signed("rsa", "/CN=CA", None);
        // Made last, so key.pem is this certificate's key.
        let cert = pki.self_signed("ec", "/CN=Ann", Some("ann@example.com"));
        let key_der = openssl(
            pki.dir(),
            &[
                "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER",
            ],
        );
        let sealed = crate::sealed::seal(&PrivateKeyDer::new(key_der.clone()), b"pw").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = IdentityStore::open(dir.path()).unwrap();
        let saved = store
            .save(StoredIdentity {
                key_id: KeyId::of_certificate(&cert),
                sealed,
                certificate: cert.clone(),
                chain: vec![ca.clone()],
            })
            .unwrap();
        std::fs::write(dir.path().join("junk.pem"), "not an identity").unwrap();
        // What a crash in the middle of a save leaves: a whole sealed key under a temp name.
        let leftover = dir.path().join(format!(".{}.pem.4242.0.tmp", saved.key_id));
        std::fs::write(&leftover, saved.to_pem().unwrap()).unwrap();

        let reopened = IdentityStore::open(dir.path()).unwrap();
        assert!(!leftover.exists(), "stale temporary file removed at open");
        let all = reopened.all();
        assert_eq!(all.len(), 1);
        let loaded = reopened.get(&saved.key_id).unwrap();
        assert_eq!(loaded.certificate, cert);
        assert_eq!(loaded.chain, vec![ca]);
        assert_eq!(
            loaded.sealed.unseal(b"pw").unwrap().as_bytes(),
            key_der.as_slice()
        );
    }
}
