//! Answers kept until they go stale: verified CRLs until their nextUpdate, OCSP answers until
//! theirs, and failures for a short while, so that a busy mailbox does not ask the CA again for
//! every message and a dead responder costs one timeout, not one per message.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::SystemTime;

/// How many entries are kept at most; the oldest-expiring one makes room.
const MAX_ENTRIES: usize = 4096;

/// A map whose entries expire at a time of their own.
#[derive(Debug)]
pub struct Cache<K, V> {
    entries: Mutex<HashMap<K, (V, SystemTime)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Default for Cache<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    /// An empty cache.
    pub fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `key` when it is still fresh at `now`.
    pub fn get(&self, key: &K, now: SystemTime) -> Option<V> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some((value, until)) if *until > now => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` for `key` until `until`; a value already stale is not kept.
    pub fn put(&self, key: K, value: V, until: SystemTime, now: SystemTime) {
        if until <= now {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= MAX_ENTRIES
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, (_, until))| *until)
                    .map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(key, (value, until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_expire_at_their_own_time() {
        let cache = Cache::new();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let later = now + Duration::from_secs(60);
        cache.put("a", 1, later, now);
        cache.put("stale", 2, now, now);
        assert_eq!(cache.get(&"a", now), Some(1));
        assert_eq!(cache.get(&"a", later), None);
        assert_eq!(cache.get(&"stale", now), None);
    }
}
