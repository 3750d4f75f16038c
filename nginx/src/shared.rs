//! The shared zone in nginx (`set_backend_shared_zone`): the store of `crate::zone`
//! in the zone's slab pool, under the pool's inter-process mutex, as the host's
//! `SharedData`. One store for every worker.
//!
//! Pointers inside the zone stay valid in every worker and across reloads: nginx maps
//! the zone once in the master, before fork, and hands the same mapping to the next
//! cycle when the zone keeps its name and size.

use core::ffi::c_void;

use ngx::ffi::{
    NGX_ERROR, NGX_OK, ngx_int_t, ngx_shm_zone_t, ngx_shmtx_lock, ngx_shmtx_unlock,
    ngx_slab_alloc_locked, ngx_slab_free_locked, ngx_slab_pool_t,
};
use proxy_wasm_host::embedder::{SharedData, SharedDataError};

use crate::zone::{self, Store, Usage, Zone, ZoneAllocator, ZoneLock};

pub(crate) use crate::zone::Stats;

/// A zone's slab pool: its allocator and its mutex.
#[derive(Clone, Copy)]
struct SlabPool(*mut ngx_slab_pool_t);

// SAFETY: the slab allocator hands out 8-aligned ranges of the zone's pages, which
// nginx maps at one address in the master before fork; the pool pointer is valid
// in every worker for the cycle's life, and its calls are serialised by the pool's
// mutex (the `_locked` variants require it, and `Zone` holds it).
unsafe impl ZoneAllocator for SlabPool {
    fn capacity(&self) -> usize {
        // SAFETY: `start..end` is the pool's page area, fixed when nginx set it up.
        unsafe { (*self.0).end.offset_from((*self.0).start) as usize }
    }

    unsafe fn alloc(&self, size: usize) -> *mut u8 {
        // SAFETY: the caller holds the pool's mutex.
        unsafe { ngx_slab_alloc_locked(self.0, size).cast() }
    }

    unsafe fn free(&self, p: *mut u8) {
        // SAFETY: the caller holds the pool's mutex; `p` came from this pool.
        unsafe { ngx_slab_free_locked(self.0, p.cast()) }
    }

    unsafe fn usage(&self) -> Usage {
        // SAFETY: the caller holds the pool's mutex, so the page counters are
        // consistent; `addr..end` is the whole zone, fixed at init.
        unsafe {
            let pool = &*self.0;
            let total = (pool.end as usize - pool.addr as usize) as u64;
            let free = pool.pfree as u64 * ngx::ffi::ngx_pagesize as u64;
            Usage {
                total,
                used: total.saturating_sub(free),
            }
        }
    }
}

// SAFETY: ngx_shmtx is nginx's inter-process mutex (atomics or a semaphore in the
// shared pool header), with acquire/release ordering; every worker locks the same one.
unsafe impl ZoneLock for SlabPool {
    unsafe fn lock(&self) {
        // SAFETY: the pool header lives as long as the zone; not held by the caller.
        unsafe { ngx_shmtx_lock(&raw mut (*self.0).mutex) }
    }

    unsafe fn unlock(&self) {
        // SAFETY: the caller holds it.
        unsafe { ngx_shmtx_unlock(&raw mut (*self.0).mutex) }
    }
}

/// `init` of the zone. `old` is the store of the previous cycle when nginx reuses
/// the zone on reload: its content is kept.
///
/// # Safety
/// nginx calls it with a zone it has just mapped, whose `shm.addr` is a slab pool.
pub unsafe extern "C" fn init_zone(zone: *mut ngx_shm_zone_t, old: *mut c_void) -> ngx_int_t {
    // SAFETY: nginx's contract above; the master runs this before any worker
    // exists, and the pool's mutex is taken around the allocations anyway.
    unsafe {
        let zone = &mut *zone;
        if !old.is_null() {
            zone.data = old;
            return NGX_OK as ngx_int_t;
        }
        let pool = SlabPool(zone.shm.addr.cast());
        pool.lock();
        let store = zone::create(&pool, zone::buckets_for(zone.shm.size));
        pool.unlock();
        if store.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        // A full zone is normal here (eviction handles it): keep the error log quiet.
        (*pool.0).set_log_nomem(0);
        (*pool.0).data = store.cast();
        zone.data = store.cast();
    }
    NGX_OK as ngx_int_t
}

/// The zone as the host's `SharedData`. Created in a worker after the zone is mapped.
pub struct ShmSharedData(Zone<SlabPool, SlabPool>);

impl ShmSharedData {
    /// # Safety
    /// `zone` must be a zone initialised by `init_zone` in this cycle.
    pub unsafe fn new(zone: *mut ngx_shm_zone_t) -> Self {
        // SAFETY: `init_zone` made the store in this zone's slab pool, whose mutex
        // every worker takes.
        unsafe {
            let pool = SlabPool((*zone).shm.addr.cast());
            Self(Zone::new((*zone).data.cast::<Store>(), pool, pool))
        }
    }

    pub fn stats(&self) -> Stats {
        self.0.stats()
    }
}

impl SharedData for ShmSharedData {
    fn get_into(&self, key: &[u8], out: &mut Vec<u8>) -> Option<u32> {
        self.0.get_into(key, out)
    }

    fn set(&self, key: &[u8], value: &[u8], cas: u32) -> Result<(), SharedDataError> {
        self.0.set(key, value, cas)
    }
}
