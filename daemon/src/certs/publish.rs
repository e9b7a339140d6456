//! Publishing issued certificates to the company LDAP directory (`[directory]`), where every
//! user's daemon (`cert.find`) and other mail clients look recipients up.
//!
//! For each address, the entry found by `(mail=ADDRESS)` (escaped per RFC 4515) under
//! `base_dn` gets `userCertificate;binary` replaced by the address's active certificates: a
//! new certificate appears, and a revoked, superseded or expired one disappears, in one LDAP
//! modify. An address with no entry, or with several, is reported and left alone: the CA never
//! creates entries, the directory's owners do. The bind DN must be allowed to write that
//! attribute.

use crate::certs::directory::{Directory, DirectoryError};
use ldap3::{Mod, Scope, SearchEntry, ldap_escape};
use std::collections::{BTreeMap, HashSet};
use std::panic::AssertUnwindSafe;

/// The attribute written (RFC 4523 §2.1).
const ATTRIBUTE: &str = "userCertificate;binary";

/// What happened to each address.
#[derive(Debug, Default)]
pub struct Published {
    /// Entries updated, by address.
    pub updated: Vec<String>,
    /// Addresses no entry has.
    pub not_found: Vec<String>,
    /// Addresses whose update failed, with why (several entries, refused modify).
    pub failed: Vec<(String, String)>,
}

/// Why publishing could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// No `[directory]` in the configuration.
    #[error("no [directory] is configured to publish to")]
    NotConfigured,
    /// Connecting or binding failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// Replaces the certificates of each address in `certificates` (address → active DER
/// certificates, possibly none) in the directory, over a connection made as for lookups (the
/// same TLS roots and bind DN).
///
/// # Errors
/// [`PublishError`] when the directory cannot be reached at all; per-address failures are in
/// the result.
pub async fn publish(
    directory: Option<&Directory>,
    certificates: BTreeMap<String, Vec<Vec<u8>>>,
) -> Result<Published, PublishError> {
    let directory = directory.ok_or(PublishError::NotConfigured)?;
    let config = directory.config();
    let mut ldap = directory.connect().await?;
    let mut published = Published::default();
    for (email, ders) in certificates {
        let filter = format!("(mail={})", ldap_escape(&email));
        let found = ldap
            .search(&config.base_dn, Scope::Subtree, &filter, vec!["1.1"])
            .await
            .and_then(|result| result.success());
        let entries = match found {
            Ok((entries, _)) => entries,
            Err(e) => {
                published
                    .failed
                    .push((email, format!("search failed: {e}")));
                continue;
            }
        };
        let dn = match entries.as_slice() {
            [] => {
                published.not_found.push(email);
                continue;
            }
            // ldap3 panics on an entry not shaped as RFC 4511 says; that costs this address.
            [entry] => match std::panic::catch_unwind(AssertUnwindSafe(|| {
                SearchEntry::construct(entry.clone()).dn
            })) {
                Ok(dn) => dn,
                Err(_) => {
                    published
                        .failed
                        .push((email, "the directory sent a malformed entry".into()));
                    continue;
                }
            },
            more => {
                published
                    .failed
                    .push((email, format!("{} entries have this address", more.len())));
                continue;
            }
        };
        let values: HashSet<Vec<u8>> = ders.into_iter().collect();
        let change = vec![Mod::Replace(ATTRIBUTE.as_bytes().to_vec(), values)];
        match ldap
            .modify(&dn, change)
            .await
            .and_then(|result| result.success())
        {
            Ok(_) => published.updated.push(email),
            Err(e) => published
                .failed
                .push((email, format!("the directory refused the change: {e}"))),
        }
    }
    let _ = ldap.unbind().await;
    Ok(published)
}
