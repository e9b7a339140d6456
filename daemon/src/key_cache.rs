//! Unlocked keys, kept in memory for a limited time like gpg-agent's passphrase cache.
//!
//! A key leaves the cache when its time is up (the sweeper in the server calls [`KeyCache::sweep`]
//! every second, so it does not wait for the next use), on `key.lock`, or when the daemon stops;
//! its memory is wiped when the last user of it is done (aws-lc clears freed key material).

use mailseal_keys::KeyId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The cache of unlocked keys, generic over what an unlocked key is (the daemon keeps loaded
/// keys, `Arc<dyn PrivateKeyOps>`, so a signature does not re-parse the key).
#[derive(Debug)]
pub struct KeyCache<K> {
    ttl: Duration,
    entries: Mutex<HashMap<KeyId, Entry<K>>>,
}

#[derive(Debug)]
struct Entry<K> {
    key: K,
    expires: Instant,
}

impl<K: Clone> KeyCache<K> {
    /// A cache that keeps keys for `ttl`; a zero `ttl` keeps nothing.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How long an unlocked key stays usable.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Keeps `key` unlocked for the cache time, replacing an earlier copy.
    pub fn insert(&self, id: KeyId, key: K) {
        if self.ttl.is_zero() {
            return;
        }
        let entry = Entry {
            key,
            expires: Instant::now() + self.ttl,
        };
        self.entries().insert(id, entry);
    }

    /// The unlocked key, if it is still in its time.
    pub fn get(&self, id: &KeyId) -> Option<K> {
        let mut entries = self.entries();
        match entries.get(id) {
            Some(entry) if entry.expires > Instant::now() => Some(entry.key.clone()),
            Some(_) => {
                entries.remove(id);
                None
            }
            None => None,
        }
    }

    /// Whether a key is unlocked now.
    pub fn is_unlocked(&self, id: &KeyId) -> bool {
        self.get(id).is_some()
    }

    /// Forgets one key, or all keys; returns how many were unlocked.
    pub fn lock(&self, id: Option<&KeyId>) -> usize {
        self.sweep();
        let mut entries = self.entries();
        match id {
            Some(id) => usize::from(entries.remove(id).is_some()),
            None => {
                let count = entries.len();
                entries.clear();
                count
            }
        }
    }

    /// Drops every expired key; returns how many are still unlocked.
    pub fn sweep(&self) -> usize {
        let now = Instant::now();
        let mut entries = self.entries();
        entries.retain(|_, entry| entry.expires > now);
        entries.len()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<KeyId, Entry<K>>> {
        // A panic while holding this lock cannot leave the map half-updated: recover it.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> u8 {
        42
    }

    fn id(byte: u8) -> KeyId {
        hex::encode([byte; 32]).parse().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn keys_expire_after_the_ttl() {
        let cache = KeyCache::new(Duration::from_secs(600));
        let id = id(7);
        cache.insert(id, key());
        tokio::time::advance(Duration::from_secs(599)).await;
        assert!(cache.is_unlocked(&id));
        assert_eq!(cache.sweep(), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cache.sweep(), 0);
        assert!(cache.get(&id).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn lock_forgets_one_or_all() {
        let cache = KeyCache::new(Duration::from_secs(60));
        let (a, b) = (id(1), id(2));
        cache.insert(a, key());
        cache.insert(b, key());
        assert_eq!(cache.lock(Some(&a)), 1);
        assert!(!cache.is_unlocked(&a) && cache.is_unlocked(&b));
        assert_eq!(cache.lock(None), 1);
        assert!(!cache.is_unlocked(&b));
    }

    #[test]
    fn zero_ttl_keeps_nothing() {
        let cache = KeyCache::new(Duration::ZERO);
        cache.insert(id(3), key());
        assert_eq!(cache.sweep(), 0);
    }
}
