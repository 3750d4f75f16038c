//! The epoch clock behind the per-call deadline: a thread that advances
//! wasmtime's epoch, which interrupts a guest whose deadline (in epochs) passed.
//!
//! What one epoch tick means is a choice (`DeadlineClock`):
//! - `ThreadCpu` (default on Linux): a tick of CPU time consumed by the thread
//!   that is running guest code. A worker descheduled by an overloaded machine
//!   consumes none, so a slow machine does not turn into trapped requests; only
//!   a guest that really computes for the deadline is stopped (the spec asks for
//!   a CPU-time limit). As a safety net, when the watched thread consumes no CPU
//!   for `WALL_FACTOR` ticks in a row, one tick is counted anyway: a deadline is
//!   never more than `WALL_FACTOR` times longer in wall time.
//! - `Wall`: a tick of wall-clock time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::Engine;

use crate::error::{HostError, Result};

/// What the per-call deadline measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineClock {
    /// CPU time of the thread running the guest (Linux; elsewhere: wall time).
    ThreadCpu,
    /// Wall-clock time.
    Wall,
    /// CPU time of the thread that creates the `Runtime`, counted by a CPU-time
    /// timer that signals that thread: no ticker thread (Linux; elsewhere a ticker
    /// thread on wall time). For embedders that make every guest call on that one
    /// thread, like nginx workers; see `cpu_timer` for why and how.
    OwnThreadCpuTimer,
}

/// Idle ticks counted as one tick in `ThreadCpu` mode (see module docs).
pub const WALL_FACTOR: u32 = 10;

const NO_THREAD: i64 = i64::MIN;

/// Which thread's CPU clock the ticker watches: set by each guest call. `None`
/// when no ticker watches one (every other clock), so guest calls skip the work.
#[derive(Clone)]
pub struct GuestThread(Option<Arc<AtomicI64>>);

impl GuestThread {
    /// A marker the `ThreadCpu` ticker reads.
    pub fn watched() -> Self {
        Self(Some(Arc::new(AtomicI64::new(NO_THREAD))))
    }

    /// A marker nobody reads: `enter` does nothing.
    pub fn unwatched() -> Self {
        Self(None)
    }

    /// Marks the calling thread as the one running guest code.
    pub fn enter(&self) {
        if let Some(clock) = &self.0 {
            clock.store(current_thread_clock(), Ordering::Relaxed);
        }
    }

    fn clock(&self) -> i64 {
        self.0
            .as_ref()
            .map_or(NO_THREAD, |c| c.load(Ordering::Relaxed))
    }
}

#[cfg(target_os = "linux")]
fn current_thread_clock() -> i64 {
    thread_local! {
        static CLOCK: i64 = {
            let mut id: libc::clockid_t = 0;
            // SAFETY: pthread_self() is the calling, live thread; `id` is a valid out-pointer.
            let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) };
            if rc == 0 { id as i64 } else { NO_THREAD }
        };
    }
    CLOCK.with(|c| *c)
}

#[cfg(not(target_os = "linux"))]
fn current_thread_clock() -> i64 {
    NO_THREAD
}

/// CPU time consumed so far by the thread behind `clock`, in nanoseconds.
#[cfg(target_os = "linux")]
fn cpu_nanos(clock: i64) -> Option<u128> {
    if clock == NO_THREAD {
        return None;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; an id of a thread that has exited
    // makes clock_gettime fail with EINVAL, which is handled.
    let rc = unsafe { libc::clock_gettime(clock as libc::clockid_t, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128)
}

#[cfg(not(target_os = "linux"))]
fn cpu_nanos(_: i64) -> Option<u128> {
    None
}

pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(
        engine: Engine,
        period: Duration,
        clock: DeadlineClock,
        guest: GuestThread,
    ) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let period_ns = period.as_nanos().max(1);
        let thread = std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                // (watched clock id, its CPU time already turned into ticks)
                let mut watched: Option<(i64, u128)> = None;
                let mut idle = 0u32;
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(period);
                    let cpu = match clock {
                        DeadlineClock::Wall | DeadlineClock::OwnThreadCpuTimer => None,
                        DeadlineClock::ThreadCpu => {
                            let id = guest.clock();
                            cpu_nanos(id).map(|now| (id, now))
                        }
                    };
                    let Some((id, now)) = cpu else {
                        // Wall mode, or no guest thread known (yet): wall time.
                        watched = None;
                        engine.increment_epoch();
                        continue;
                    };
                    let counted = match watched {
                        Some((prev, counted)) if prev == id => counted,
                        // A new guest thread: start counting from now.
                        _ => now,
                    };
                    let ticks = (now.saturating_sub(counted)) / period_ns;
                    if ticks > 0 {
                        idle = 0;
                        for _ in 0..ticks.min(1_000) {
                            engine.increment_epoch();
                        }
                        watched = Some((id, counted + ticks * period_ns));
                    } else {
                        watched = Some((id, counted));
                        idle += 1;
                        if idle >= WALL_FACTOR {
                            idle = 0;
                            engine.increment_epoch();
                        }
                    }
                }
            })
            .map_err(|e| HostError::Runtime(format!("cannot start epoch ticker: {e}")))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
