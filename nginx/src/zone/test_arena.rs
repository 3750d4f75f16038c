//! Test memory for the store: an anonymous shared mapping holding a spin lock and
//! an arena allocator whose state lives in the mapping too, so that processes
//! forked after the mapping was made share the store, the allocator and the lock.
//!
//! The arena allocates size classes of 16 bytes from a bump region, reusing freed
//! blocks of the same class, and counts every allocation's rounded size against a
//! budget: an allocation fails exactly when the budget would be exceeded (or a
//! failure was injected with `fail_next`), which a model can predict. Each block
//! has a header with a magic number, so a double free or a foreign pointer
//! panics, and payloads are poisoned on allocation and on free.

use core::mem::size_of;
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use super::alloc::{Usage, ZoneAllocator, ZoneLock};
use super::census::{self, Census};
use super::store::{self, Store};
use super::{Zone, table};

/// An anonymous `MAP_SHARED` mapping, unmapped on drop.
pub(super) struct Mapping {
    base: *mut u8,
    len: usize,
}

impl Mapping {
    pub(super) fn new(len: usize) -> Self {
        // SAFETY: a fresh anonymous mapping; no existing memory is touched.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED, "mmap of {len} bytes");
        Self {
            base: base.cast(),
            len,
        }
    }

    pub(super) fn base(&self) -> *mut u8 {
        self.base
    }

    /// Every byte of the mapping (to check that an operation wrote nothing).
    pub(super) fn snapshot(&self) -> Vec<u8> {
        // SAFETY: the mapping is `len` readable bytes while `self` lives.
        unsafe { core::slice::from_raw_parts(self.base, self.len) }.to_vec()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: our mapping; nothing refers to it after `self` is gone.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

/// A lock word in the mapping.
#[derive(Clone, Copy)]
pub(super) struct SpinLock(*const AtomicU32);

// SAFETY: compare-exchange 0 → 1 with acquire ordering admits one holder at a
// time in every process mapping the word; the release store of 0 ends the hold.
unsafe impl ZoneLock for SpinLock {
    unsafe fn lock(&self) {
        // SAFETY: the word lives in a mapping that outlives every handle.
        let word = unsafe { &*self.0 };
        let mut spins = 0u32;
        while word
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins.is_multiple_of(64) {
                // Two cores shared with other work: let the holder run.
                std::thread::yield_now();
            } else {
                core::hint::spin_loop();
            }
        }
    }

    unsafe fn unlock(&self) {
        // SAFETY: as in `lock`.
        unsafe { &*self.0 }.store(0, Ordering::Release);
    }
}

const CLASS: usize = 16;
const CLASSES: usize = 256;
const LIVE: u32 = 0x4c49_5645;
const FREE: u32 = 0x4652_4545;

#[repr(C)]
struct ArenaHeader {
    /// Bytes the live allocations may take in all (sizes rounded up to 16).
    budget: usize,
    used: usize,
    live: usize,
    /// The bump region: `top..limit`, offsets from the header.
    top: usize,
    limit: usize,
    /// Allocations still to fail.
    fail_next: AtomicU32,
    /// Per class, the offset of the first free block (0: none); a free block's
    /// payload starts with the offset of the next.
    free: [usize; CLASSES],
}

#[repr(C)]
struct BlockHeader {
    magic: u32,
    class: u32,
    _pad: u64,
}

/// The arena allocator (a handle to its state in the mapping).
#[derive(Clone, Copy)]
pub(super) struct Arena(*mut ArenaHeader);

/// The bytes the arena counts for an allocation of `size`.
pub(super) fn accounted(size: usize) -> usize {
    size.max(1).div_ceil(CLASS) * CLASS
}

impl Arena {
    fn header(&self) -> *mut ArenaHeader {
        self.0
    }

    /// Makes the next `n` allocations fail.
    pub(super) fn fail_next(&self, n: u32) {
        // SAFETY: the header lives in the mapping for as long as any handle.
        unsafe { &(*self.header()).fail_next }.store(n, Ordering::Relaxed);
    }

    /// Allocations still set to fail.
    pub(super) fn failures_pending(&self) -> u32 {
        // SAFETY: as in `fail_next`.
        unsafe { &(*self.header()).fail_next }.load(Ordering::Relaxed)
    }

    /// Bytes counted for live allocations, and their number. Read under the zone's
    /// lock, or when no other process runs.
    pub(super) fn used(&self) -> (usize, usize) {
        // SAFETY: as in `fail_next`.
        unsafe { ((*self.header()).used, (*self.header()).live) }
    }

    fn block(&self, offset: usize) -> *mut BlockHeader {
        // SAFETY: offsets come from this arena and lie within its region.
        unsafe { self.0.cast::<u8>().add(offset).cast() }
    }
}

// SAFETY: blocks are disjoint ranges of the bump region, 16-aligned (the header
// and block headers are multiples of 16 from a page-aligned base), inside a
// mapping at one address in every process forked after it was made.
unsafe impl ZoneAllocator for Arena {
    fn capacity(&self) -> usize {
        // SAFETY: the budget is fixed at creation.
        unsafe { (*self.header()).budget }
    }

    unsafe fn alloc(&self, size: usize) -> *mut u8 {
        let bytes = accounted(size);
        let class = bytes / CLASS;
        assert!(class < CLASSES, "test arena: allocation of {size} bytes");
        // SAFETY: under the zone's lock (caller): the header is ours to change.
        unsafe {
            let h = self.header();
            let injected = (*h)
                .fail_next
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
            if injected.is_ok() || (*h).used + bytes > (*h).budget {
                return ptr::null_mut();
            }
            let offset = if (*h).free[class] != 0 {
                let offset = (*h).free[class];
                let b = self.block(offset);
                assert_eq!((*b).magic, FREE, "test arena: free list corrupted");
                (*h).free[class] = b.add(1).cast::<usize>().read();
                offset
            } else {
                let offset = (*h).top;
                assert!(
                    offset + size_of::<BlockHeader>() + bytes <= (*h).limit,
                    "test arena: the mapping is too small for this budget"
                );
                (*h).top += size_of::<BlockHeader>() + bytes;
                offset
            };
            let b = self.block(offset);
            (*b).magic = LIVE;
            (*b).class = class as u32;
            let payload = b.add(1).cast::<u8>();
            ptr::write_bytes(payload, 0xa5, bytes);
            (*h).used += bytes;
            (*h).live += 1;
            payload
        }
    }

    unsafe fn free(&self, p: *mut u8) {
        // SAFETY: under the zone's lock (caller); `p` is checked to be a live
        // block of this arena before anything is written.
        unsafe {
            let h = self.header();
            let offset = (p as usize)
                .checked_sub(self.0 as usize + size_of::<BlockHeader>())
                .filter(|o| *o >= size_of::<ArenaHeader>() && *o < (*h).top)
                .expect("test arena: free of a pointer it did not hand out");
            let b = self.block(offset);
            assert_eq!((*b).magic, LIVE, "test arena: double free");
            let bytes = (*b).class as usize * CLASS;
            (*b).magic = FREE;
            ptr::write_bytes(p, 0x5a, bytes);
            p.cast::<usize>().write((*h).free[(*b).class as usize]);
            (*h).free[(*b).class as usize] = offset;
            (*h).used -= bytes;
            (*h).live -= 1;
        }
    }

    unsafe fn usage(&self) -> Usage {
        let (used, _) = self.used();
        Usage {
            total: self.capacity() as u64,
            used: used as u64,
        }
    }
}

/// A store with `nbuckets` buckets over an arena of `budget` bytes, in a fresh
/// shared mapping.
pub(super) struct TestZone {
    pub(super) zone: Zone<Arena, SpinLock>,
    pub(super) arena: Arena,
    pub(super) lock: SpinLock,
    pub(super) store: *mut Store,
    // Last: the zone above points into it.
    pub(super) mapping: Mapping,
}

impl TestZone {
    pub(super) fn new(budget: usize, nbuckets: usize) -> Self {
        // Each live block costs at most its header on top of the budget, and a
        // freed block is only reused by its own class: room for every class to
        // hold the whole budget at once.
        let header = size_of::<ArenaHeader>().next_multiple_of(64);
        let limit = header + 8 * budget + 4096;
        let mapping = Mapping::new(64 + limit);
        // SAFETY: the mapping is zeroed, page-aligned and `64 + limit` bytes long;
        // the lock word takes the first 64 bytes, the arena the rest.
        unsafe {
            let lock = SpinLock(mapping.base.cast());
            let h = mapping.base.add(64).cast::<ArenaHeader>();
            (*h).budget = budget;
            (*h).top = header;
            (*h).limit = limit;
            let arena = Arena(h);
            lock.lock();
            let store = store::create(&arena, nbuckets);
            lock.unlock();
            assert!(!store.is_null(), "budget too small for the store header");
            Self {
                zone: Zone::new(store, arena, lock),
                arena,
                lock,
                store,
                mapping,
            }
        }
    }

    /// A zone sized as nginx sizes it: buckets for `budget` bytes.
    pub(super) fn sized(budget: usize) -> Self {
        Self::new(budget, table::buckets_for(budget))
    }

    /// Runs `f` on the store under the lock.
    pub(super) fn locked<R>(&self, f: impl FnOnce(*mut Store) -> R) -> R {
        // SAFETY: not held by this thread (tests never nest); released below.
        unsafe { self.lock.lock() };
        let r = f(self.store);
        // SAFETY: taken above.
        unsafe { self.lock.unlock() };
        r
    }

    /// Walks the store (`census.rs`) and checks that the arena's live
    /// allocations are exactly the store's: nothing leaked, nothing freed twice.
    pub(super) fn check(&self) -> Census {
        // SAFETY: a live store, under the lock.
        let census = self
            .locked(|store| unsafe { census::take(store) })
            .unwrap_or_else(|e| panic!("store invariant broken: {e}"));
        let (used, live) = self.arena.used();
        assert_eq!(live, census.allocations.len(), "live allocations");
        assert_eq!(
            used,
            census
                .allocations
                .iter()
                .map(|s| accounted(*s))
                .sum::<usize>(),
            "bytes in use"
        );
        census
    }
}
