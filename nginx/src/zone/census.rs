//! A full walk of a store for the tests: checks the invariants listed in
//! `mod.rs` and lists what the store holds, in LRU order.

use std::collections::HashSet;

use core::mem::size_of;

use super::store::{Entry, Store, entry_size};
use super::table::hash;

/// One entry as the walk found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Held {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub cas: u32,
}

#[derive(Debug)]
pub(super) struct Census {
    /// Entries from the most to the least recently used.
    pub entries: Vec<Held>,
    pub evictions: u64,
    /// The size of every allocation the store holds (header, buckets, entries).
    pub allocations: Vec<usize>,
}

impl Census {
    pub(super) fn get(&self, key: &[u8]) -> Option<&Held> {
        self.entries.iter().find(|h| h.key == key)
    }
}

/// Walks the table and the list.
///
/// # Safety
/// `store` is a live store and the zone's lock is held.
pub(super) unsafe fn take(store: *mut Store) -> Result<Census, String> {
    // SAFETY: the caller's contract; every pointer followed is checked against
    // the set of entries the table holds before the list walk dereferences it.
    unsafe {
        let nbuckets = (*store).nbuckets;
        let mut allocations = vec![size_of::<Store>(), nbuckets * size_of::<*mut Entry>()];
        let mut in_table = HashSet::new();
        let mut keys = HashSet::new();
        for b in 0..nbuckets {
            let mut e = *(*store).buckets.add(b);
            while !e.is_null() {
                if !in_table.insert(e as usize) {
                    return Err(format!("entry {e:p} twice in the table (bucket {b})"));
                }
                let key = Entry::key(e).to_vec();
                if (*e).hash != hash(&key) || (*e).hash as usize & (nbuckets - 1) != b {
                    return Err(format!("{key:?} in the wrong bucket or with a wrong hash"));
                }
                if (*e).cas == 0 || (*e).cas > (*store).last_cas {
                    return Err(format!(
                        "{key:?} has cas {} (last {})",
                        (*e).cas,
                        (*store).last_cas
                    ));
                }
                allocations.push(entry_size(key.len(), (*e).value_len as usize));
                if !keys.insert(key.clone()) {
                    return Err(format!("{key:?} twice in the table"));
                }
                e = (*e).chain;
            }
        }
        let head = &raw mut (*store).lru;
        let mut entries = Vec::new();
        let mut prev = head;
        let mut l = (*head).next;
        while !core::ptr::eq(l, head) {
            if !in_table.contains(&(l as usize)) {
                return Err(format!(
                    "the LRU list holds {l:p}, which the table does not"
                ));
            }
            if !core::ptr::eq((*l).prev, prev) {
                return Err(format!("{l:p}'s prev link is wrong"));
            }
            if entries.len() == in_table.len() {
                return Err("the LRU list is longer than the table (or a cycle)".into());
            }
            let e = l.cast::<Entry>();
            entries.push(Held {
                key: Entry::key(e).to_vec(),
                value: Entry::value(e).to_vec(),
                cas: (*e).cas,
            });
            prev = l;
            l = (*l).next;
        }
        if !core::ptr::eq((*head).prev, prev) {
            return Err("the sentinel's prev is not the last entry".into());
        }
        if entries.len() != in_table.len() {
            return Err(format!(
                "the table holds {} entries, the LRU list {}",
                in_table.len(),
                entries.len()
            ));
        }
        if (*store).entries != entries.len() as u64 {
            return Err(format!(
                "the store counts {} entries, it holds {}",
                (*store).entries,
                entries.len()
            ));
        }
        Ok(Census {
            entries,
            evictions: (*store).evictions,
            allocations,
        })
    }
}
