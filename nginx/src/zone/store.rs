//! The store: a header, a bucket array and one allocation per entry, all inside
//! the mapping. Every function here runs under the zone's lock (`Zone::locked`)
//! and reaches the store through a raw pointer, never a `&mut` (see `lru.rs`).

use core::mem::size_of;
use core::ptr::{self, null_mut};

use proxy_wasm_host::embedder::SharedDataError;

use super::alloc::ZoneAllocator;
use super::lru::{self, Link};
use super::table::hash;

#[repr(C)]
pub(crate) struct Store {
    pub(super) buckets: *mut *mut Entry,
    pub(super) nbuckets: usize,
    /// Sentinel of the LRU list: `next` is the most recently used entry.
    pub(super) lru: Link,
    pub(super) entries: u64,
    pub(super) evictions: u64,
    /// The cas of the newest write; never 0.
    pub(super) last_cas: u32,
    /// Moves to the front so far (wrapping), for `lru::read_moves_to_front`.
    pub(super) moves: u32,
}

#[repr(C)]
pub(super) struct Entry {
    /// First field, so a `*mut Link` from the LRU list is also the entry's address.
    pub(super) lru: Link,
    /// The next entry of the same bucket.
    pub(super) chain: *mut Entry,
    pub(super) hash: u32,
    pub(super) cas: u32,
    pub(super) key_len: u32,
    pub(super) value_len: u32,
    /// `Store::moves` when this entry was last moved to the front.
    pub(super) touched: u32,
    // key bytes, then value bytes, follow the header
}

/// The bytes one entry allocates.
pub(super) const fn entry_size(key_len: usize, value_len: usize) -> usize {
    size_of::<Entry>() + key_len + value_len
}

impl Entry {
    /// # Safety
    /// `e` is a live entry and the zone's lock is held for as long as the slice lives.
    pub(super) unsafe fn key<'a>(e: *mut Entry) -> &'a [u8] {
        // SAFETY: a live entry is followed by `key_len` key bytes in its allocation.
        unsafe {
            core::slice::from_raw_parts(
                e.cast::<u8>().add(size_of::<Entry>()),
                (*e).key_len as usize,
            )
        }
    }

    /// # Safety
    /// As for `key`.
    pub(super) unsafe fn value<'a>(e: *mut Entry) -> &'a [u8] {
        // SAFETY: the value's bytes follow the key's in the entry's allocation.
        unsafe {
            core::slice::from_raw_parts(
                e.cast::<u8>()
                    .add(size_of::<Entry>() + (*e).key_len as usize),
                (*e).value_len as usize,
            )
        }
    }
}

/// Allocates an empty store with `nbuckets` buckets (a power of two); null when
/// the memory is too small.
///
/// # Safety
/// The zone's lock is held (or no other process can reach `alloc`'s memory yet).
pub(crate) unsafe fn create<A: ZoneAllocator>(alloc: &A, nbuckets: usize) -> *mut Store {
    debug_assert!(nbuckets.is_power_of_two());
    // SAFETY: under the lock (caller); what `alloc` returns is writable for the
    // size asked, aligned to 8, and owned by us until freed.
    unsafe {
        let store = alloc.alloc(size_of::<Store>()).cast::<Store>();
        if store.is_null() {
            return null_mut();
        }
        let buckets = alloc
            .alloc(nbuckets * size_of::<*mut Entry>())
            .cast::<*mut Entry>();
        if buckets.is_null() {
            alloc.free(store.cast());
            return null_mut();
        }
        ptr::write_bytes(buckets, 0, nbuckets);
        ptr::write(
            store,
            Store {
                buckets,
                nbuckets,
                lru: Link {
                    prev: null_mut(),
                    next: null_mut(),
                },
                entries: 0,
                evictions: 0,
                last_cas: 0,
                moves: 0,
            },
        );
        lru::init(&raw mut (*store).lru);
        store
    }
}

/// The slot that points at `key`'s entry (or the empty slot at the end of its
/// chain), and the entry (or null).
///
/// # Safety
/// `store` is a live store and the zone's lock is held.
unsafe fn find(store: *mut Store, key: &[u8], h: u32) -> (*mut *mut Entry, *mut Entry) {
    // SAFETY: the bucket index is masked to `nbuckets`, and every chain link is
    // null or a live entry (the table's invariant).
    unsafe {
        let mut slot = (*store).buckets.add(h as usize & ((*store).nbuckets - 1));
        while !(*slot).is_null() {
            let e = *slot;
            if (*e).hash == h && Entry::key(e) == key {
                return (slot, e);
            }
            slot = &raw mut (*e).chain;
        }
        (slot, null_mut())
    }
}

/// Appends `key`'s value to `out` and returns its cas; a read moves the entry to
/// the LRU's front only once it has left the front quarter, so most hits write
/// nothing.
///
/// # Safety
/// `store` is a live store and the zone's lock is held.
pub(super) unsafe fn get_into(store: *mut Store, key: &[u8], out: &mut Vec<u8>) -> Option<u32> {
    let h = hash(key);
    // SAFETY: the caller's contract; `e` is live while the lock is held.
    unsafe {
        let (_, e) = find(store, key, h);
        if e.is_null() {
            return None;
        }
        if lru::read_moves_to_front((*store).moves, (*e).touched, (*store).entries) {
            lru::unlink(&raw mut (*e).lru);
            move_to_front(store, e);
        }
        out.extend_from_slice(Entry::value(e));
        Some((*e).cas)
    }
}

/// Links `e` (on no list) first and stamps it.
///
/// # Safety
/// `store` is a live store, `e` a live entry on no list; the lock is held.
unsafe fn move_to_front(store: *mut Store, e: *mut Entry) {
    // SAFETY: the caller's contract.
    unsafe {
        lru::link_front(&raw mut (*store).lru, &raw mut (*e).lru);
        (*store).moves = (*store).moves.wrapping_add(1);
        (*e).touched = (*store).moves;
    }
}

/// Writes `key` = `value` if `cas` is 0 or the entry's current cas. The new entry
/// is allocated before the old one is freed, evicting from the LRU's cold end
/// (never the old entry) while the memory is full: when no room can be made the
/// write fails and the old value stays.
///
/// # Safety
/// `store` is a live store created with `alloc`'s memory; the zone's lock is held.
pub(super) unsafe fn set<A: ZoneAllocator>(
    store: *mut Store,
    alloc: &A,
    key: &[u8],
    value: &[u8],
    cas: u32,
) -> Result<(), SharedDataError> {
    let (Ok(key_len), Ok(value_len)) = (u32::try_from(key.len()), u32::try_from(value.len()))
    else {
        return Err(SharedDataError::Failed);
    };
    let size = entry_size(key.len(), value.len());
    // One oversized value must not flush the whole store to make room.
    if size > alloc.capacity() / 8 {
        return Err(SharedDataError::Failed);
    }
    let h = hash(key);
    // SAFETY: the caller's contract. `old` stays live throughout: `evict_one`
    // spares it. `e` is `size` bytes of ours, aligned for an `Entry`.
    unsafe {
        let (_, old) = find(store, key, h);
        if cas != 0 && (old.is_null() || (*old).cas != cas) {
            return Err(SharedDataError::CasMismatch);
        }
        let mut e = alloc.alloc(size).cast::<Entry>();
        while e.is_null() {
            if !evict_one(store, alloc, old) {
                return Err(SharedDataError::Failed);
            }
            e = alloc.alloc(size).cast::<Entry>();
        }
        (*store).last_cas = match (*store).last_cas.wrapping_add(1) {
            0 => 1,
            n => n,
        };
        ptr::write(
            e,
            Entry {
                lru: Link {
                    prev: null_mut(),
                    next: null_mut(),
                },
                chain: null_mut(),
                hash: h,
                cas: (*store).last_cas,
                key_len,
                value_len,
                touched: 0,
            },
        );
        let data = e.cast::<u8>().add(size_of::<Entry>());
        ptr::copy_nonoverlapping(key.as_ptr(), data, key.len());
        ptr::copy_nonoverlapping(value.as_ptr(), data.add(key.len()), value.len());
        // Evictions above may have changed the chain: look the slot up again.
        let (slot, found) = find(store, key, h);
        debug_assert_eq!(found, old);
        *slot = e;
        if found.is_null() {
            (*store).entries += 1;
        } else {
            (*e).chain = (*found).chain;
            lru::unlink(&raw mut (*found).lru);
            alloc.free(found.cast());
        }
        move_to_front(store, e);
        Ok(())
    }
}

/// Frees the least recently used entry other than `spare` (which may be null);
/// false when there is none, or when the table does not hold the entry the list
/// ends with: never free what the table does not hold (the write that needed
/// room fails instead).
///
/// # Safety
/// `store` is a live store created with `alloc`'s memory; the lock is held.
unsafe fn evict_one<A: ZoneAllocator>(store: *mut Store, alloc: &A, spare: *mut Entry) -> bool {
    // SAFETY: the caller's contract; list links are the sentinel or live entries.
    unsafe {
        let head = &raw mut (*store).lru;
        let mut last = (*head).prev;
        if ptr::eq(last, spare.cast()) {
            last = (*last).prev;
        }
        if ptr::eq(last, head) {
            return false;
        }
        let e = last.cast::<Entry>();
        let (slot, found) = find(store, Entry::key(e), (*e).hash);
        if found != e {
            debug_assert_eq!(found, e, "the LRU list holds an entry the table does not");
            return false;
        }
        *slot = (*e).chain;
        lru::unlink(&raw mut (*e).lru);
        alloc.free(e.cast());
        (*store).entries -= 1;
        (*store).evictions += 1;
        true
    }
}
