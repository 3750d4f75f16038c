//! The epoch clock without a thread (Linux): a CPU-time timer of the thread that
//! runs the guests, whose signal handler advances the engine's epoch.
//!
//! Why not the ticker thread (`ticker::EpochTicker`): in a process that has ever
//! had a second thread, glibc takes its multi-thread paths for good — locked
//! malloc arenas, and cancellation bookkeeping around every blocking-capable
//! system call — and the ticker's wake-ups cost the process CPU of their own.
//! For a single-threaded embedder on a busy path (an nginx worker: a few
//! mallocs and half a dozen system calls per request) that measured about
//! 1 µs of CPU per request, more than the filter itself (docs/benchmarks.md).
//!
//! How: `timer_create(CLOCK_THREAD_CPUTIME_ID)` with `SIGEV_THREAD_ID`, so the
//! signal goes to that thread and fires only while it consumes CPU: a guest
//! stuck in a loop is interrupted within its deadline plus one tick, and an idle
//! worker receives nothing. The handler does a single atomic add
//! (`Engine::increment_epoch`), which is async-signal-safe and leaves `errno`
//! alone; `SA_RESTART` restarts the system calls the signal may interrupt
//! (nginx also expects `EINTR` from `epoll_wait`, which the timer cannot cause
//! anyway: a thread asleep in it consumes no CPU).
//!
//! One such timer per process at a time: the handler finds the engine through a
//! process-wide slot.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Duration;

use wasmtime::Engine;

use crate::error::{HostError, Result};

/// The engine whose epoch the handler advances (null: none; the handler then
/// does nothing).
static ENGINE: AtomicPtr<Engine> = AtomicPtr::new(std::ptr::null_mut());

/// The real-time signal the timer raises: chosen from the top of the range,
/// which libraries rarely take; `start` refuses it if someone else has.
pub fn tick_signal() -> libc::c_int {
    libc::SIGRTMAX() - 2
}

extern "C" fn on_tick(_signal: libc::c_int) {
    let engine = ENGINE.load(Ordering::Acquire);
    // SAFETY: the slot holds a live engine until `Drop` has deleted the timer and
    // swapped the slot; the signal only goes to the thread that does that, so
    // the handler never runs concurrently with the swap.
    if let Some(engine) = unsafe { engine.as_ref() } {
        engine.increment_epoch();
    }
}

pub struct CpuTimerTicker {
    timer: libc::timer_t,
    /// The thread the signal goes to (see `Drop`).
    owner: libc::pid_t,
}

// SAFETY: a timer id is a process-wide handle; deleting it from another thread is allowed.
unsafe impl Send for CpuTimerTicker {}
// SAFETY: no method reads or writes through `&self`: the fields are only read by
// `Drop`, which has the ticker to itself.
unsafe impl Sync for CpuTimerTicker {}

impl CpuTimerTicker {
    /// Starts ticking `engine`'s epoch every `period` of CPU time consumed by
    /// the calling thread, which must be the thread that runs the guests.
    pub fn start(engine: Engine, period: Duration) -> Result<Self> {
        let fail = |what: &str| {
            HostError::Runtime(format!("cannot start the CPU-time epoch timer: {what}"))
        };
        let boxed = Box::into_raw(Box::new(engine));
        if ENGINE
            .compare_exchange(
                std::ptr::null_mut(),
                boxed,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // SAFETY: `boxed` was never shared.
            drop(unsafe { Box::from_raw(boxed) });
            return Err(fail("another runtime in this process already uses it"));
        }
        let release = || {
            let engine = ENGINE.swap(std::ptr::null_mut(), Ordering::AcqRel);
            // SAFETY: no timer of ours exists any more: nothing raises the signal.
            drop(unsafe { Box::from_raw(engine) });
        };
        // SAFETY: plain libc calls with valid, initialised arguments.
        unsafe {
            let signal = tick_signal();
            let mut old: libc::sigaction = std::mem::zeroed();
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_tick as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, std::ptr::null(), &mut old) != 0 {
                release();
                return Err(fail(&std::io::Error::last_os_error().to_string()));
            }
            let ours = on_tick as extern "C" fn(libc::c_int) as libc::sighandler_t;
            if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != ours {
                release();
                return Err(fail(&format!("signal {signal} already has a handler")));
            }
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                release();
                return Err(fail(&std::io::Error::last_os_error().to_string()));
            }
            let mut event: libc::sigevent = std::mem::zeroed();
            event.sigev_notify = libc::SIGEV_THREAD_ID;
            event.sigev_signo = signal;
            event.sigev_notify_thread_id = libc::gettid();
            let mut timer: libc::timer_t = std::mem::zeroed();
            if libc::timer_create(libc::CLOCK_THREAD_CPUTIME_ID, &mut event, &mut timer) != 0 {
                release();
                return Err(fail(&std::io::Error::last_os_error().to_string()));
            }
            let interval = libc::timespec {
                tv_sec: period.as_secs() as libc::time_t,
                tv_nsec: period.subsec_nanos().max(1) as libc::c_long,
            };
            let spec = libc::itimerspec {
                it_interval: interval,
                it_value: interval,
            };
            if libc::timer_settime(timer, 0, &spec, std::ptr::null_mut()) != 0 {
                let e = std::io::Error::last_os_error();
                libc::timer_delete(timer);
                release();
                return Err(fail(&e.to_string()));
            }
            Ok(Self {
                timer,
                owner: libc::gettid(),
            })
        }
    }
}

impl Drop for CpuTimerTicker {
    fn drop(&mut self) {
        // SAFETY: our timer id; after its deletion no new signal is raised. A
        // signal already pending goes to the owning thread at the latest when
        // this call returns, while the slot still holds the engine.
        unsafe { libc::timer_delete(self.timer) };
        let engine = ENGINE.swap(std::ptr::null_mut(), Ordering::AcqRel);
        // On another thread, the owner's handler could still be reading the slot's
        // engine: leave that one engine handle allocated rather than free it under it.
        // SAFETY: gettid has no preconditions; it only returns the caller's id.
        if !engine.is_null() && unsafe { libc::gettid() } == self.owner {
            // SAFETY: the slot owned this box; the only thread the handler runs
            // on is this one, which is here, not in the handler.
            drop(unsafe { Box::from_raw(engine) });
        }
        // The handler stays installed: a late signal must not take the
        // default action (terminating the process).
    }
}
