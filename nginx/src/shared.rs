//! proxy-wasm shared data in an nginx shared-memory zone (`set_backend_shared_zone`),
//! one store for every worker.
//!
//! Layout, all inside the zone's slab pool: a `Store` header, a bucket array, and one
//! slab allocation per entry holding its key and value. Lookups hash the key and then
//! compare it in full. Entries sit on an LRU list; when the pool is full the least
//! recently used entries are freed (and counted) until the new one fits.
//!
//! The LRU order is approximate on purpose: a read moves its entry to the front
//! only when it has drifted out of the front quarter of the list (known from a
//! counter of moves, without walking the list). A cache hit on a busy host then
//! reads the zone and writes nothing, so workers do not bounce the list's cache
//! lines between them on every request, while eviction still takes entries from
//! the cold end.
//!
//! Pointers inside the zone stay valid in every worker and across reloads: nginx maps
//! the zone once in the master, before fork, and hands the same mapping to the next
//! cycle when the zone keeps its name and size.

use core::ffi::c_void;
use core::mem::size_of;
use core::ptr::{self, null_mut};

use ngx::ffi::{
    NGX_ERROR, NGX_OK, ngx_int_t, ngx_shm_zone_t, ngx_shmtx_lock, ngx_shmtx_unlock,
    ngx_slab_alloc_locked, ngx_slab_calloc_locked, ngx_slab_free_locked, ngx_slab_pool_t,
};
use proxy_wasm_host::embedder::{SharedData, SharedDataError};

#[repr(C)]
struct Link {
    prev: *mut Link,
    next: *mut Link,
}

#[repr(C)]
struct Store {
    buckets: *mut *mut Entry,
    nbuckets: usize,
    /// Sentinel of the LRU list: `next` is the most recently used entry.
    lru: Link,
    entries: u64,
    evictions: u64,
    last_cas: u32,
    /// Moves to the front so far (wrapping): an entry moved at `touched` is at
    /// most `moves - touched` places from the front.
    moves: u32,
}

#[repr(C)]
struct Entry {
    /// First field, so a `*mut Link` from the LRU list is also the entry's address.
    lru: Link,
    chain: *mut Entry,
    hash: u32,
    cas: u32,
    key_len: u32,
    value_len: u32,
    /// `Store::moves` when this entry was last moved to the front.
    touched: u32,
    // key bytes, then value bytes, follow the header
}

impl Entry {
    unsafe fn key<'a>(e: *mut Entry) -> &'a [u8] {
        unsafe {
            core::slice::from_raw_parts(
                (e as *mut u8).add(size_of::<Entry>()),
                (*e).key_len as usize,
            )
        }
    }
    unsafe fn value<'a>(e: *mut Entry) -> &'a [u8] {
        unsafe {
            core::slice::from_raw_parts(
                (e as *mut u8).add(size_of::<Entry>() + (*e).key_len as usize),
                (*e).value_len as usize,
            )
        }
    }
}

fn hash(key: &[u8]) -> u32 {
    // Eight bytes per step (a multiply-rotate mix, as in FxHash), then a final
    // fold of the high bits: keys are short host names, and collisions only cost
    // a full key comparison. The hash only has to agree with itself: a zone is
    // reused across reloads by the same module file only (nginx matches zones by
    // the module's tag, an address in the loaded file).
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        h = (h.rotate_left(5) ^ u64::from_le_bytes(c.try_into().unwrap())).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    (h ^ (h >> 32)) as u32
}

/// Moves `e` to the front of the LRU list, unless it is still in the front quarter.
unsafe fn touch(store: *mut Store, e: *mut Entry) {
    unsafe {
        let distance = (*store).moves.wrapping_sub((*e).touched);
        if u64::from(distance) < (*store).entries / 4 {
            return;
        }
        unlink(&raw mut (*e).lru);
        link_front(&raw mut (*store).lru, &raw mut (*e).lru);
        (*store).moves = (*store).moves.wrapping_add(1);
        (*e).touched = (*store).moves;
    }
}

unsafe fn link_front(head: *mut Link, l: *mut Link) {
    unsafe {
        (*l).next = (*head).next;
        (*l).prev = head;
        (*(*head).next).prev = l;
        (*head).next = l;
    }
}

unsafe fn unlink(l: *mut Link) {
    unsafe {
        (*(*l).prev).next = (*l).next;
        (*(*l).next).prev = (*l).prev;
    }
}

/// `init` of the zone. `old` is the store of the previous cycle when nginx reuses
/// the zone on reload: its content is kept.
pub unsafe extern "C" fn init_zone(zone: *mut ngx_shm_zone_t, old: *mut c_void) -> ngx_int_t {
    let zone = unsafe { &mut *zone };
    let sp = zone.shm.addr as *mut ngx_slab_pool_t;
    if !old.is_null() {
        zone.data = old;
        return NGX_OK as ngx_int_t;
    }
    unsafe {
        ngx_shmtx_lock(&mut (*sp).mutex);
        let store = ngx_slab_calloc_locked(sp, size_of::<Store>()) as *mut Store;
        // About one bucket per 256 bytes of zone, a power of two.
        let nbuckets = (zone.shm.size / 256).next_power_of_two().max(64);
        let buckets = if store.is_null() {
            null_mut()
        } else {
            ngx_slab_calloc_locked(sp, nbuckets * size_of::<*mut Entry>()) as *mut *mut Entry
        };
        ngx_shmtx_unlock(&mut (*sp).mutex);
        if buckets.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        (*store).buckets = buckets;
        (*store).nbuckets = nbuckets;
        (*store).lru.prev = &mut (*store).lru;
        (*store).lru.next = &mut (*store).lru;
        // A full zone is normal here (eviction handles it): keep the error log quiet.
        (*sp).set_log_nomem(0);
        (*sp).data = store.cast();
        zone.data = store.cast();
    }
    NGX_OK as ngx_int_t
}

/// The zone as the host's `SharedData`. Created in a worker after the zone is mapped.
pub struct ShmSharedData {
    pool: *mut ngx_slab_pool_t,
    store: *mut Store,
}

// SAFETY: every access happens under the slab pool's inter-process mutex.
unsafe impl Send for ShmSharedData {}
unsafe impl Sync for ShmSharedData {}

/// What a zone holds, for logs, metrics and tests.
pub struct Stats {
    pub entries: u64,
    pub evictions: u64,
    /// The zone's size, and the bytes not in free pages.
    pub bytes_total: u64,
    pub bytes_used: u64,
}

impl ShmSharedData {
    /// # Safety
    /// `zone` must be a zone initialised by `init_zone` in this cycle.
    pub unsafe fn new(zone: *mut ngx_shm_zone_t) -> Self {
        unsafe {
            Self {
                pool: (*zone).shm.addr as *mut ngx_slab_pool_t,
                store: (*zone).data as *mut Store,
            }
        }
    }

    fn locked<R>(&self, f: impl FnOnce(*mut Store) -> R) -> R {
        unsafe {
            ngx_shmtx_lock(&mut (*self.pool).mutex);
            // A raw pointer, not `&mut Store`: the LRU links point into the store, and
            // writes through them must not be assumed away (a `&mut` is `noalias`).
            let r = f(self.store);
            ngx_shmtx_unlock(&mut (*self.pool).mutex);
            r
        }
    }

    pub fn stats(&self) -> Stats {
        // SAFETY: under the pool's mutex (`locked`), the store and the pool's page
        // counters are consistent; `start..end` is the pool's page area, fixed at init.
        self.locked(|s| unsafe {
            let pool = &*self.pool;
            // The whole zone (`addr..end`), and what is not in free pages: the slab
            // allocator's own structures and the pages it handed out.
            let total = (pool.end as usize - pool.addr as usize) as u64;
            let free = pool.pfree as u64 * ngx::ffi::ngx_pagesize as u64;
            Stats {
                entries: (*s).entries,
                evictions: (*s).evictions,
                bytes_total: total,
                bytes_used: total.saturating_sub(free),
            }
        })
    }

    unsafe fn find(store: *mut Store, key: &[u8], h: u32) -> (*mut *mut Entry, *mut Entry) {
        let mut slot = unsafe { (*store).buckets.add(h as usize & ((*store).nbuckets - 1)) };
        unsafe {
            while !(*slot).is_null() {
                let e = *slot;
                if (*e).hash == h && Entry::key(e) == key {
                    return (slot, e);
                }
                slot = &mut (*e).chain;
            }
        }
        (slot, null_mut())
    }

    /// Removes `e` (found at `slot`) from the table and the LRU list and frees it.
    unsafe fn remove(&self, store: *mut Store, slot: *mut *mut Entry, e: *mut Entry) {
        unsafe {
            *slot = (*e).chain;
            unlink(&raw mut (*e).lru);
            ngx_slab_free_locked(self.pool, e.cast());
            (*store).entries -= 1;
        }
    }

    /// Frees the least recently used entry; false when there is none.
    unsafe fn evict_one(&self, store: *mut Store) -> bool {
        unsafe {
            let last = (*store).lru.prev;
            if core::ptr::eq(last, &raw mut (*store).lru) {
                return false;
            }
            let e = last as *mut Entry;
            let (slot, found) = Self::find(store, Entry::key(e), (*e).hash);
            if found != e {
                // The table and the list disagree: never free what the table does
                // not hold (the write that needed room fails instead).
                debug_assert_eq!(found, e);
                return false;
            }
            self.remove(store, slot, e);
            (*store).evictions += 1;
            true
        }
    }
}

impl SharedData for ShmSharedData {
    fn get_into(&self, key: &[u8], out: &mut Vec<u8>) -> Option<u32> {
        let h = hash(key);
        self.locked(|store| unsafe {
            let (_, e) = Self::find(store, key, h);
            if e.is_null() {
                return None;
            }
            touch(store, e);
            out.extend_from_slice(Entry::value(e));
            Some((*e).cas)
        })
    }

    fn set(&self, key: &[u8], value: &[u8], cas: u32) -> Result<(), SharedDataError> {
        let (Ok(key_len), Ok(value_len)) = (u32::try_from(key.len()), u32::try_from(value.len()))
        else {
            return Err(SharedDataError::Failed);
        };
        let h = hash(key);
        let size = size_of::<Entry>() + key.len() + value.len();
        // One oversized value must not flush the whole store to make room.
        let capacity = unsafe { (*self.pool).end.offset_from((*self.pool).start) } as usize;
        if size > capacity / 8 {
            return Err(SharedDataError::Failed);
        }
        self.locked(|store| unsafe {
            let (slot, old) = Self::find(store, key, h);
            if cas != 0 && (old.is_null() || (*old).cas != cas) {
                return Err(SharedDataError::CasMismatch);
            }
            if !old.is_null() {
                self.remove(store, slot, old);
            }
            let mut e = ngx_slab_alloc_locked(self.pool, size) as *mut Entry;
            while e.is_null() {
                if !self.evict_one(store) {
                    return Err(SharedDataError::Failed);
                }
                e = ngx_slab_alloc_locked(self.pool, size) as *mut Entry;
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
                    touched: (*store).moves.wrapping_add(1),
                },
            );
            let data = (e as *mut u8).add(size_of::<Entry>());
            ptr::copy_nonoverlapping(key.as_ptr(), data, key.len());
            ptr::copy_nonoverlapping(value.as_ptr(), data.add(key.len()), value.len());
            // Evictions above may have changed the chain: look the slot up again.
            let (slot, _) = Self::find(store, key, h);
            *slot = e;
            link_front(&raw mut (*store).lru, &raw mut (*e).lru);
            (*store).moves = (*store).moves.wrapping_add(1);
            (*store).entries += 1;
            Ok(())
        })
    }
}
