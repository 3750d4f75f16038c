//! An in-process `SharedData` store: one map behind a mutex, safe to share
//! between many filter hosts and threads. Used by tests and the Node binding;
//! nginx provides its own over a shared-memory zone.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::embedder::{SharedData, SharedDataError};

#[derive(Default)]
pub struct MemorySharedData {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Vec<u8>, (Vec<u8>, u32)>,
    /// Source of cas values. One counter for the whole store, so a value's cas
    /// is never reused for another write of the same key.
    last_cas: u32,
}

impl MemorySharedData {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave an entry half-written
        // (each write is a single insert), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SharedData for MemorySharedData {
    fn get_into(&self, key: &[u8], out: &mut Vec<u8>) -> Option<u32> {
        let inner = self.lock();
        let (value, cas) = inner.entries.get(key)?;
        out.extend_from_slice(value);
        Some(*cas)
    }

    fn set(&self, key: &[u8], value: &[u8], cas: u32) -> Result<(), SharedDataError> {
        let mut inner = self.lock();
        if cas != 0 {
            match inner.entries.get(key) {
                Some((_, current)) if *current == cas => {}
                _ => return Err(SharedDataError::CasMismatch),
            }
        }
        inner.last_cas = match inner.last_cas.wrapping_add(1) {
            0 => 1,
            n => n,
        };
        let next = inner.last_cas;
        inner.entries.insert(key.to_vec(), (value.to_vec(), next));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_follows_the_spec() {
        let s = MemorySharedData::new();
        assert_eq!(
            s.set(b"k", b"v1", 7),
            Err(SharedDataError::CasMismatch),
            "absent key, non-zero cas"
        );
        s.set(b"k", b"v1", 0).unwrap();
        let (v, cas1) = s.get(b"k").unwrap();
        assert_eq!(v, b"v1");
        assert_ne!(cas1, 0);
        s.set(b"k", b"v2", cas1).unwrap();
        let (_, cas2) = s.get(b"k").unwrap();
        assert_ne!(cas1, cas2);
        assert_eq!(
            s.set(b"k", b"v3", cas1),
            Err(SharedDataError::CasMismatch),
            "stale cas"
        );
        s.set(b"k", b"v4", 0).unwrap();
        assert_eq!(
            s.get(b"k").unwrap().0,
            b"v4",
            "cas 0 overwrites an existing key"
        );
        assert!(s.get(b"k\0").is_none(), "keys compare in full");
    }

    #[test]
    fn concurrent_cas_increments_lose_nothing() {
        use std::sync::Arc;
        let s = Arc::new(MemorySharedData::new());
        s.set(b"n", &0u64.to_le_bytes(), 0).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        loop {
                            let (v, cas) = s.get(b"n").unwrap();
                            let n = u64::from_le_bytes(v.try_into().unwrap()) + 1;
                            if s.set(b"n", &n.to_le_bytes(), cas).is_ok() {
                                break;
                            }
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let (v, _) = s.get(b"n").unwrap();
        assert_eq!(u64::from_le_bytes(v.try_into().unwrap()), 2000);
    }
}
