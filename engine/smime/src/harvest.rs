//! Keeping what signed mail brings: the signers' certificates, so that a reply can be encrypted
//! to them, and the algorithms they announced, so that it uses the best one they read
//! (RFC 8551 §2.7.1).

use crate::verify::Harvest;
use mailseal_files::StoreError;
use mailseal_pkix::describe::Fingerprint;
use mailseal_pkix::store::{CertStore, Origin};

/// Stores the certificate and capabilities of every signer whose signature value verified.
///
/// A signature that did not verify proves nothing about its certificate, so it brings
/// nothing; one that did is kept as harvested, which encryption trusts only with a path to
/// a trust anchor (anyone can sign with a self-made certificate for another's address).
///
/// # Errors
/// The store's, when a file cannot be written.
pub fn keep_signers(store: &CertStore, harvest: Vec<Harvest>) -> Result<(), StoreError> {
    for signer in harvest.into_iter().filter(|h| h.signature_ok) {
        let fingerprint = Fingerprint::of(&signer.certificate);
        store.add(vec![signer.certificate], Origin::Harvested)?;
        if !signer.capabilities.is_empty() {
            store.remember_capabilities(&fingerprint, &signer.capabilities)?;
        }
    }
    Ok(())
}
