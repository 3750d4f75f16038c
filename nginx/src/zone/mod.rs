//! proxy-wasm shared data in shared memory: a hash table and an LRU list inside
//! one mapping that every process sees at the same address (in nginx, the zone
//! of `set_backend_shared_zone`, mapped by the master before fork).
//!
//! Structure:
//! - `alloc.rs`: what the store needs from its memory — a `ZoneAllocator` (bytes
//!   inside the mapping) and a `ZoneLock` (a lock every process honours). nginx's
//!   slab pool and its mutex implement both (`crate::shared`); the tests use an
//!   arena and a spin lock in an anonymous mapping (`test_arena.rs`).
//! - `table.rs`: the key hash and the bucket count.
//! - `lru.rs`: the list links and the rule that decides when a read moves an entry.
//! - `store.rs`: the store header, the entries, get / set / eviction.
//! - this file: `Zone`, which takes the lock around each operation.
//!
//! Layout, all allocated from the `ZoneAllocator`: a `Store` header, a bucket
//! array, and one allocation per entry holding its header, key and value.
//! Lookups hash the key, then compare it in full. A write allocates its new
//! entry first; while the memory is full it frees least recently used entries
//! (counted as evictions), never the entry it replaces, and only then frees the
//! old entry: a write that cannot get room fails and the old value stays. An
//! entry larger than an eighth of the memory is refused rather than allowed to
//! flush everything. CAS values come from one counter per store, never 0.
//!
//! The LRU order is approximate on purpose: a read moves its entry to the front
//! only when it has drifted out of the front quarter of the list (known from a
//! counter of moves, without walking the list). A cache hit on a busy host then
//! reads the zone and writes nothing, so workers do not bounce the list's cache
//! lines between them on every request, while eviction still takes entries from
//! the cold end.
//!
//! Invariants, with the lock held between operations (`census.rs` checks them
//! in the tests):
//! - every entry is in exactly one bucket chain (the one its hash selects), and
//!   on the LRU list exactly once; no two entries have the same key;
//! - `Store::entries` is the number of entries; each cas is in `1..=last_cas`;
//! - every allocation is the store header, the bucket array or a live entry;
//! - the store is reached only through raw pointers (the links point into it;
//!   see commit ba028f9), and eviction refuses to free an entry that the table
//!   does not hold where the list says it is.

mod alloc;
mod lru;
mod store;
mod table;

#[cfg(test)]
mod census;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod stress;
#[cfg(test)]
mod test_arena;
#[cfg(test)]
mod tests;

pub(crate) use alloc::{ZoneAllocator, ZoneLock};
pub(crate) use store::Store;
// For `crate::shared`, which test builds leave out.
#[cfg(not(test))]
pub(crate) use {alloc::Usage, store::create, table::buckets_for};

use proxy_wasm_host::embedder::SharedDataError;

/// A store in shared memory with the allocator and lock of that memory.
pub(crate) struct Zone<A: ZoneAllocator, L: ZoneLock> {
    store: *mut Store,
    alloc: A,
    lock: L,
}

// SAFETY: every access to the store goes through `locked`, which holds the
// inter-process lock; `ZoneAllocator` and `ZoneLock` promise that their handles
// work from any thread of any process mapping the memory.
unsafe impl<A: ZoneAllocator, L: ZoneLock> Send for Zone<A, L> {}
// SAFETY: as for `Send`: shared use is serialised by the lock.
unsafe impl<A: ZoneAllocator, L: ZoneLock> Sync for Zone<A, L> {}

/// What a zone holds, for logs, metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stats {
    pub entries: u64,
    pub evictions: u64,
    /// The memory's size, and the bytes not free.
    pub bytes_total: u64,
    pub bytes_used: u64,
}

impl<A: ZoneAllocator, L: ZoneLock> Zone<A, L> {
    /// # Safety
    /// `store` was made by `create` with memory that `alloc` manages, and `lock`
    /// guards that memory in every process that uses it.
    pub(crate) unsafe fn new(store: *mut Store, alloc: A, lock: L) -> Self {
        Self { store, alloc, lock }
    }

    /// Runs `f` on the store with the lock held. `f` gets a raw pointer, not a
    /// `&mut Store`: the LRU links point into the store, and writes through them
    /// must not be assumed away (a `&mut` is `noalias`).
    fn locked<R>(&self, f: impl FnOnce(*mut Store, &A) -> R) -> R {
        // SAFETY: the lock is not reentrant and nothing here calls back into the
        // zone, so this thread does not hold it yet; it is released below.
        unsafe { self.lock.lock() };
        let r = f(self.store, &self.alloc);
        // SAFETY: taken above.
        unsafe { self.lock.unlock() };
        r
    }

    /// Appends the value of `key` to `out` and returns its cas.
    pub(crate) fn get_into(&self, key: &[u8], out: &mut Vec<u8>) -> Option<u32> {
        // SAFETY: a live store (`new`'s contract), under the lock.
        self.locked(|store, _| unsafe { store::get_into(store, key, out) })
    }

    /// Writes `key` = `value` when `cas` is 0 or the entry's current cas.
    pub(crate) fn set(&self, key: &[u8], value: &[u8], cas: u32) -> Result<(), SharedDataError> {
        // SAFETY: a live store over `alloc`'s memory (`new`'s contract), under the lock.
        self.locked(|store, alloc| unsafe { store::set(store, alloc, key, value, cas) })
    }

    pub(crate) fn stats(&self) -> Stats {
        // SAFETY: a live store (`new`'s contract); its counters and the
        // allocator's are consistent under the lock.
        self.locked(|store, alloc| unsafe {
            let usage = alloc.usage();
            Stats {
                entries: (*store).entries,
                evictions: (*store).evictions,
                bytes_total: usage.total,
                bytes_used: usage.used,
            }
        })
    }
}
