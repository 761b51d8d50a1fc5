//! A small process-wide cache of rows read recently, for what every
//! request checks (the user behind a token, the state of its session): read
//! from the database at most once per `ttl` per key. A change made in this
//! process applies at once ([`Recent::forget`], [`Recent::pin`]); one made
//! on another instance within `ttl`.
use std::{
    collections::HashMap,
    hash::Hash,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex, PoisonError,
    },
    time::{Duration, Instant},
};

/// Entries kept at most; past this the stale ones go, then all.
const CAPACITY: usize = 10_000;

/// Key → (when it was read, the value, pinned: never goes stale).
type Entries<K, V> = HashMap<K, (Instant, V, bool)>;

pub struct Recent<K, V> {
    ttl: Duration,
    entries: Mutex<Option<Entries<K, V>>>,
    /// Bumped by every change, so a read that raced a change is not kept.
    generation: AtomicU64,
}

impl<K: Eq + Hash, V: Clone> Recent<K, V> {
    #[must_use]
    pub const fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(None),
            generation: AtomicU64::new(0),
        }
    }

    /// Taken before a read from the database, handed to [`Self::put`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The value of `key`, if read less than `ttl` ago (or pinned).
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (read, value, pinned) = entries.as_ref()?.get(key)?;
        (*pinned || read.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Keeps `value`, read from `read_at` when the generation was
    /// `generation` (a change since then discards it).
    pub fn put(&self, generation: u64, read_at: Instant, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        let ttl = self.ttl;
        let entries = entries.get_or_insert_with(HashMap::new);
        if entries.len() >= CAPACITY {
            entries.retain(|_, (read, _, pinned)| *pinned || read.elapsed() < ttl);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (read_at, value, false));
    }

    /// `key` changed in this process: read it again next time.
    pub fn forget(&self, key: &K) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(entries) = entries.as_mut() {
            entries.remove(key);
        }
    }

    /// `key` is `value` for good (an ended session): never read again.
    pub fn pin(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries
            .get_or_insert_with(HashMap::new)
            .insert(key, (Instant::now(), value, true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_go_stale_changes_apply_at_once_and_pins_stay() {
        let recent: Recent<u32, &str> = Recent::new(Duration::from_millis(50));
        let g = recent.generation();
        recent.put(g, Instant::now(), 1, "a");
        assert_eq!(recent.get(&1), Some("a"));
        // A read that raced a change is not kept.
        let stale = recent.generation();
        recent.forget(&1);
        recent.put(stale, Instant::now(), 1, "old");
        assert_eq!(recent.get(&1), None);
        recent.pin(2, "ended");
        std::thread::sleep(Duration::from_millis(60));
        let g = recent.generation();
        recent.put(g, Instant::now() - Duration::from_millis(60), 3, "c");
        assert_eq!(recent.get(&3), None, "stale");
        assert_eq!(recent.get(&2), Some("ended"), "pinned");
    }
}
