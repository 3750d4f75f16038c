//! Edge metrics in shared memory (`set_backend_metrics`): one block in a zone of its
//! own, mapped by every worker, so that any worker answers for all of them.
//!
//! - The module's counters (requests by result, http calls, traps, restarts) are
//!   atomics a worker adds to where the event happens: no lock, no host call. Each
//!   worker has its own set, on cache lines of their own, so workers never bounce a
//!   line between cores on the request path; a reader sums the sets.
//! - The filter's own metrics (`proxy_define_metric` & co.) live in each worker's
//!   filter host; every tick the worker copies them into its slot here (indexed by
//!   nginx's worker number), under a sequence lock so a reader never sums a half
//!   written slot. A worker that exits clears its slot.
//!
//! Every field is an atomic, so concurrent readers and the writer never race on
//! plain memory; the sequence lock only makes a slot's fields consistent together.
//! The zone is kept across reloads (same name and size), and so are the counters.

use core::ffi::c_void;
use core::mem::size_of;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicI64, AtomicPtr, AtomicU64, Ordering, fence};

use ngx::ffi::{
    NGX_ERROR, NGX_OK, ngx_int_t, ngx_shm_zone_t, ngx_shmtx_lock, ngx_shmtx_unlock,
    ngx_slab_calloc_locked, ngx_slab_pool_t,
};
use proxy_wasm_host::{HISTOGRAM_BOUNDS, Metric, MetricType};

use crate::metrics_text::{self, COUNTERS, Counter, FilterMetric, Kind, Snapshot, ZoneStats};

/// Name and size of the zone (`set_backend_metrics` adds it): room for the block below.
pub const ZONE_NAME: &str = "set_backend_metrics";
pub const ZONE_SIZE: usize = 256 * 1024;
/// Workers with a slot for filter metrics (nginx's worker numbers 0..MAX_WORKERS).
pub const MAX_WORKERS: usize = 32;
/// Filter metrics kept per worker; a filter defining more has the rest left out.
pub const MAX_FILTER_METRICS: usize = 16;
/// Longest filter metric name kept (longer ones are cut).
const MAX_NAME: usize = 64;
const BUCKETS: usize = HISTOGRAM_BOUNDS.len() + 1;
const MAGIC: u64 = 0x7365_745f_6d65_7431; // "set_met1"

#[repr(C)]
struct SlotMetric {
    /// kind (0 counter, 1 gauge, 2 histogram) << 8 | name length.
    kind_len: AtomicU64,
    name: [AtomicU64; MAX_NAME / 8],
    value: AtomicI64,
    buckets: [AtomicU64; BUCKETS],
    sum: AtomicU64,
    count: AtomicU64,
}

#[repr(C)]
struct WorkerSlot {
    /// Sequence lock: odd while the worker rewrites the slot.
    version: AtomicU64,
    /// The worker's pid, 0 when the slot is empty.
    pid: AtomicU64,
    len: AtomicU64,
    metrics: [SlotMetric; MAX_FILTER_METRICS],
}

/// One worker's counters, alone on their cache lines.
#[repr(C, align(64))]
struct WorkerCounters([AtomicU64; COUNTERS]);

#[repr(C)]
pub struct Block {
    magic: u64,
    /// By worker number modulo MAX_WORKERS (atomics: a shared set still counts right).
    counters: [WorkerCounters; MAX_WORKERS],
    slots: [WorkerSlot; MAX_WORKERS],
}

/// The block this process counts into; null when `set_backend_metrics` is not used.
static BLOCK: AtomicPtr<Block> = AtomicPtr::new(null_mut());
/// This worker's counter set in the block.
static COUNTER_SET: AtomicPtr<WorkerCounters> = AtomicPtr::new(null_mut());

/// `init` of the zone: a zeroed block (all counters 0, all slots empty), or the
/// previous cycle's on reload.
pub unsafe extern "C" fn init_zone(zone: *mut ngx_shm_zone_t, old: *mut c_void) -> ngx_int_t {
    // SAFETY: nginx calls this with the zone it created for this module's directive,
    // mapped, in the master, before any worker exists.
    let zone = unsafe { &mut *zone };
    if !old.is_null() {
        zone.data = old;
        return NGX_OK as ngx_int_t;
    }
    let sp = zone.shm.addr as *mut ngx_slab_pool_t;
    // SAFETY: `sp` is the zone's slab pool (nginx initialised it before calling us);
    // its mutex guards allocation. calloc zeroes the block: zero is a valid value of
    // every atomic in it, and an empty slot.
    let block = unsafe {
        ngx_shmtx_lock(&mut (*sp).mutex);
        let b = ngx_slab_calloc_locked(sp, size_of::<Block>()) as *mut Block;
        ngx_shmtx_unlock(&mut (*sp).mutex);
        b
    };
    if block.is_null() {
        return NGX_ERROR as ngx_int_t;
    }
    // SAFETY: freshly allocated and exclusively ours until workers start.
    unsafe { (*block).magic = MAGIC };
    zone.data = block.cast();
    NGX_OK as ngx_int_t
}

/// In a worker (init_process): count into the zone's block from now on, in the
/// counter set of worker number `worker`.
///
/// # Safety
/// `zone` is null or the metrics zone of this cycle, initialised by `init_zone`.
pub unsafe fn attach(zone: *mut ngx_shm_zone_t, worker: usize) {
    let block = if zone.is_null() {
        null_mut()
    } else {
        // SAFETY: per the contract, a non-null zone's data is our block.
        unsafe { (*zone).data as *mut Block }
    };
    // SAFETY: a non-null block is mapped at the same address in every process of the cycle.
    if !block.is_null() && unsafe { (*block).magic } != MAGIC {
        return;
    }
    BLOCK.store(block, Ordering::Relaxed);
    let set = if block.is_null() {
        null_mut()
    } else {
        // SAFETY: the mapped block checked above; the index is in bounds.
        unsafe { &raw mut (*block).counters[worker % MAX_WORKERS] }
    };
    COUNTER_SET.store(set, Ordering::Relaxed);
}

fn block<'a>() -> Option<&'a Block> {
    // SAFETY: set by `attach` to the mapped block, which stays mapped for the
    // process's life (nginx never unmaps a zone in a running worker).
    unsafe { BLOCK.load(Ordering::Relaxed).as_ref() }
}

/// Adds one to a counter (nothing when metrics are off).
pub fn count(counter: Counter) {
    add(counter, 1);
}

pub fn add(counter: Counter, n: u64) {
    // SAFETY: set by `attach` to this worker's set in the mapped block (see `block`).
    if let Some(set) = unsafe { COUNTER_SET.load(Ordering::Relaxed).as_ref() } {
        set.0[counter.index()].fetch_add(n, Ordering::Relaxed);
    }
}

fn kind_code(kind: MetricType) -> u64 {
    match kind {
        MetricType::Counter => 0,
        MetricType::Gauge => 1,
        MetricType::Histogram => 2,
    }
}

/// Copies this worker's filter metrics into its slot (each tick).
pub fn publish(worker: usize, pid: u64, metrics: &[Metric]) {
    let Some(b) = block() else { return };
    let Some(slot) = b.slots.get(worker) else {
        return;
    };
    let v = slot.version.load(Ordering::Relaxed);
    slot.version.store(v.wrapping_add(1), Ordering::Relaxed);
    fence(Ordering::Release);
    let n = metrics.len().min(MAX_FILTER_METRICS);
    for (m, out) in metrics.iter().zip(&slot.metrics) {
        let name = &m.name.as_bytes()[..m.name.len().min(MAX_NAME)];
        out.kind_len.store(
            kind_code(m.kind) << 8 | name.len() as u64,
            Ordering::Relaxed,
        );
        for (i, word) in out.name.iter().enumerate() {
            let mut bytes = [0u8; 8];
            for (j, byte) in bytes.iter_mut().enumerate() {
                *byte = name.get(i * 8 + j).copied().unwrap_or(0);
            }
            word.store(u64::from_le_bytes(bytes), Ordering::Relaxed);
        }
        out.value.store(m.value, Ordering::Relaxed);
        let h = m.histogram.clone().unwrap_or_default();
        for (a, v) in out.buckets.iter().zip(h.buckets) {
            a.store(v, Ordering::Relaxed);
        }
        out.sum.store(h.sum, Ordering::Relaxed);
        out.count.store(h.count, Ordering::Relaxed);
    }
    slot.len.store(n as u64, Ordering::Relaxed);
    slot.pid.store(pid, Ordering::Relaxed);
    slot.version.store(v.wrapping_add(2), Ordering::Release);
}

/// The worker is leaving: its slot no longer counts.
pub fn withdraw(worker: usize) {
    if let Some(slot) = block().and_then(|b| b.slots.get(worker)) {
        let v = slot.version.load(Ordering::Relaxed);
        slot.version.store(v.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        slot.pid.store(0, Ordering::Relaxed);
        slot.len.store(0, Ordering::Relaxed);
        slot.version.store(v.wrapping_add(2), Ordering::Release);
    }
}

/// A consistent copy of one slot, or None when it is empty or kept changing.
fn read_slot(slot: &WorkerSlot) -> Option<Vec<FilterMetric>> {
    for _ in 0..16 {
        let v1 = slot.version.load(Ordering::Acquire);
        if v1 % 2 == 1 {
            core::hint::spin_loop();
            continue;
        }
        let pid = slot.pid.load(Ordering::Relaxed);
        let n = (slot.len.load(Ordering::Relaxed) as usize).min(MAX_FILTER_METRICS);
        let mut out = Vec::with_capacity(n);
        for m in &slot.metrics[..n] {
            let kind_len = m.kind_len.load(Ordering::Relaxed);
            let mut name = Vec::with_capacity(MAX_NAME);
            for w in &m.name {
                name.extend_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
            }
            name.truncate(((kind_len & 0xff) as usize).min(MAX_NAME));
            let mut buckets = [0u64; BUCKETS];
            for (b, a) in buckets.iter_mut().zip(&m.buckets) {
                *b = a.load(Ordering::Relaxed);
            }
            out.push(FilterMetric {
                name: String::from_utf8_lossy(&name).into_owned(),
                kind: match kind_len >> 8 {
                    0 => Kind::Counter,
                    1 => Kind::Gauge,
                    _ => Kind::Histogram,
                },
                value: m.value.load(Ordering::Relaxed),
                buckets,
                sum: m.sum.load(Ordering::Relaxed),
                count: m.count.load(Ordering::Relaxed),
            });
        }
        fence(Ordering::Acquire);
        if slot.version.load(Ordering::Relaxed) == v1 {
            return (pid != 0).then_some(out);
        }
    }
    None
}

/// Everything `set_backend_metrics` shows, read now. None when metrics are off.
pub fn snapshot(zone: Option<ZoneStats>) -> Option<Snapshot> {
    let b = block()?;
    let mut counters = [0u64; COUNTERS];
    for set in &b.counters {
        for (c, a) in counters.iter_mut().zip(&set.0) {
            *c += a.load(Ordering::Relaxed);
        }
    }
    let workers: Vec<Vec<FilterMetric>> = b.slots.iter().filter_map(read_slot).collect();
    Some(Snapshot {
        counters,
        zone,
        workers: workers.len(),
        filter: metrics_text::aggregate(&workers),
    })
}
