//! What the store needs from the memory it lives in: an allocator of bytes inside
//! the mapping and a lock every process honours. nginx gives both through its slab
//! pool (`shared.rs`); the tests give a plain arena and a spin lock in an
//! anonymous mapping (`test_arena.rs`). The store is generic over both, so the
//! production path has no dynamic dispatch.

/// Allocates and frees byte ranges inside the shared mapping.
///
/// # Safety
/// Implementations promise that `alloc` returns null or a pointer to `size`
/// writable bytes, aligned to 8, inside the mapping every process sees at the
/// same address, and overlapping no other live allocation; that `free` takes
/// back such a pointer; and that a handle may be used from any thread of any
/// process that maps the memory (the zone's lock serialises the calls).
pub(crate) unsafe trait ZoneAllocator {
    /// Bytes allocations are carved from; fixed for the zone's life. No entry
    /// may take more than an eighth of it.
    fn capacity(&self) -> usize;

    /// `size` bytes, or null when the memory is full.
    ///
    /// # Safety
    /// The caller holds the zone's lock.
    unsafe fn alloc(&self, size: usize) -> *mut u8;

    /// Gives back an allocation.
    ///
    /// # Safety
    /// The caller holds the zone's lock; `p` came from `alloc` on this memory and
    /// was not freed since.
    unsafe fn free(&self, p: *mut u8);

    /// The memory's size and what is in use, for metrics.
    ///
    /// # Safety
    /// The caller holds the zone's lock.
    unsafe fn usage(&self) -> Usage;
}

/// Bytes of a zone's memory: all of it, and what is not free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub total: u64,
    pub used: u64,
}

/// Mutual exclusion between every process (and thread) that maps the zone.
///
/// # Safety
/// Implementations promise that between a `lock` and the matching `unlock` no
/// other holder of any handle to the same lock, in any process, returns from
/// `lock`, and that `lock`/`unlock` order memory as a mutex does (acquire and
/// release).
pub(crate) unsafe trait ZoneLock {
    /// Waits for the lock.
    ///
    /// # Safety
    /// The caller does not hold it already (it is not reentrant).
    unsafe fn lock(&self);

    /// Releases the lock.
    ///
    /// # Safety
    /// The caller holds it.
    unsafe fn unlock(&self);
}
