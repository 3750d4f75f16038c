//! proxy-wasm shared data in an nginx shared-memory zone (`set_backend_shared_zone`),
//! one store for every worker.
//!
//! Layout, all inside the zone's slab pool: a `Store` header, a bucket array, and one
//! slab allocation per entry holding its key and value. Lookups hash the key and then
//! compare it in full. Entries sit on an LRU list; when the pool is full the least
//! recently used entries are freed (and counted) until the new one fits.
//!
//! Pointers inside the zone stay valid in every worker and across reloads: nginx maps
//! the zone once in the master, before fork, and hands the same mapping to the next
//! cycle when the zone keeps its name and size.

use core::ffi::c_void;
use core::mem::size_of;
use core::ptr::{self, null_mut};

use ngx::ffi::{
    ngx_int_t, ngx_shm_zone_t, ngx_shmtx_lock, ngx_shmtx_unlock, ngx_slab_alloc_locked,
    ngx_slab_calloc_locked, ngx_slab_free_locked, ngx_slab_pool_t, NGX_ERROR, NGX_OK,
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
    // key bytes, then value bytes, follow the header
}

impl Entry {
    unsafe fn key<'a>(e: *mut Entry) -> &'a [u8] {
        unsafe { core::slice::from_raw_parts((e as *mut u8).add(size_of::<Entry>()), (*e).key_len as usize) }
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
    // FNV-1a: cheap, and collisions only cost a full key comparison.
    let mut h: u32 = 0x811c_9dc5;
    for b in key {
        h ^= *b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
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

/// What a zone holds, for logs and tests.
pub struct Stats {
    pub entries: u64,
    pub evictions: u64,
}

impl ShmSharedData {
    /// # Safety
    /// `zone` must be a zone initialised by `init_zone` in this cycle.
    pub unsafe fn new(zone: *mut ngx_shm_zone_t) -> Self {
        unsafe { Self { pool: (*zone).shm.addr as *mut ngx_slab_pool_t, store: (*zone).data as *mut Store } }
    }

    fn locked<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        unsafe {
            ngx_shmtx_lock(&mut (*self.pool).mutex);
            let r = f(&mut *self.store);
            ngx_shmtx_unlock(&mut (*self.pool).mutex);
            r
        }
    }

    pub fn stats(&self) -> Stats {
        self.locked(|s| Stats { entries: s.entries, evictions: s.evictions })
    }

    unsafe fn find(store: &mut Store, key: &[u8], h: u32) -> (*mut *mut Entry, *mut Entry) {
        let mut slot = unsafe { store.buckets.add(h as usize & (store.nbuckets - 1)) };
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
    unsafe fn remove(&self, store: &mut Store, slot: *mut *mut Entry, e: *mut Entry) {
        unsafe {
            *slot = (*e).chain;
            unlink(&mut (*e).lru);
            ngx_slab_free_locked(self.pool, e.cast());
        }
        store.entries -= 1;
    }

    /// Frees the least recently used entry; false when there is none.
    unsafe fn evict_one(&self, store: &mut Store) -> bool {
        let last = store.lru.prev;
        if last == &mut store.lru as *mut Link {
            return false;
        }
        let e = last as *mut Entry;
        let (slot, found) = unsafe { Self::find(store, Entry::key(e), (*e).hash) };
        debug_assert_eq!(found, e);
        unsafe { self.remove(store, slot, e) };
        store.evictions += 1;
        true
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
            unlink(&mut (*e).lru);
            link_front(&mut store.lru, &mut (*e).lru);
            out.extend_from_slice(Entry::value(e));
            Some((*e).cas)
        })
    }

    fn set(&self, key: &[u8], value: &[u8], cas: u32) -> Result<(), SharedDataError> {
        let (Ok(key_len), Ok(value_len)) = (u32::try_from(key.len()), u32::try_from(value.len())) else {
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
            store.last_cas = match store.last_cas.wrapping_add(1) {
                0 => 1,
                n => n,
            };
            ptr::write(
                e,
                Entry { lru: Link { prev: null_mut(), next: null_mut() }, chain: null_mut(), hash: h, cas: store.last_cas, key_len, value_len },
            );
            let data = (e as *mut u8).add(size_of::<Entry>());
            ptr::copy_nonoverlapping(key.as_ptr(), data, key.len());
            ptr::copy_nonoverlapping(value.as_ptr(), data.add(key.len()), value.len());
            // Evictions above may have changed the chain: look the slot up again.
            let (slot, _) = Self::find(store, key, h);
            *slot = e;
            link_front(&mut store.lru, &mut (*e).lru);
            store.entries += 1;
            Ok(())
        })
    }
}
