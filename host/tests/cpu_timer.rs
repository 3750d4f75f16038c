//! The thread-less deadline clock (`DeadlineClock::OwnThreadCpuTimer`). Its timer
//! is one per process, so everything runs in one test, in this test binary's own
//! process, in order.

#![cfg(target_os = "linux")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use proxy_wasm_host::{
    Action, DeadlineClock, FilterHost, FilterOptions, HeaderMap, HostError, Limits, LogLevel,
    Logger, MemorySharedData, Recorder, Runtime, RuntimeConfig, TrapKind,
};

/// Loops forever when the request has one header; with two, logs (the logger
/// sleeps) and then does a little work.
const LOOP_OR_WAIT: &str = r#"
  (data (i32.const 2048) "x")
  (func (export "proxy_on_request_headers") (param i32) (param $n i32) (param i32) (result i32)
    (local $i i32)
    (if (i32.eq (local.get $n) (i32.const 1)) (then (loop $forever (br $forever))))
    (if (i32.eq (local.get $n) (i32.const 2))
      (then (drop (call $proxy_log (i32.const 2) (i32.const 2048) (i32.const 1)))))
    (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
    (i32.const 0))"#;

/// A logger that blocks: the guest waits in a host call without computing.
struct SlowLogger(Duration);

impl Logger for SlowLogger {
    fn log(&mut self, _: u32, _: LogLevel, _: &str) {
        std::thread::sleep(self.0);
    }
}

fn timer_runtime() -> Result<Runtime, HostError> {
    Runtime::new(RuntimeConfig {
        epoch_tick: Duration::from_millis(2),
        deadline_clock: DeadlineClock::OwnThreadCpuTimer,
        ..Default::default()
    })
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn request(host: &mut FilterHost, headers: usize) -> Result<Action, HostError> {
    let id = host.create_http_context()?;
    let map = HeaderMap::from_pairs((0..headers).map(|i| (format!("h{i}"), "v")));
    let r = host.on_request_headers(id, map, true);
    host.finish_request(id)?;
    r
}

#[test]
fn the_cpu_timer_enforces_deadlines_without_a_thread_one_runtime_at_a_time() {
    let before = threads();
    let rt = timer_runtime().unwrap();
    assert_eq!(threads(), before, "no ticker thread");

    let module = rt.compile(filter(LOOP_OR_WAIT).as_bytes()).unwrap();
    let mut env = Recorder::new().environment(Arc::new(MemorySharedData::new()));
    env.logger = Box::new(SlowLogger(Duration::from_millis(60)));
    let options = FilterOptions {
        limits: Limits {
            deadline: Duration::from_millis(10),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut host = FilterHost::new(&rt, &module, env, options).unwrap();

    let r = request(&mut host, 1);
    assert!(
        matches!(
            r,
            Err(HostError::Trap {
                kind: TrapKind::Deadline,
                ..
            })
        ),
        "{r:?}"
    );
    // 60 ms asleep in a host call is not CPU time: the 10 ms deadline holds.
    assert_eq!(request(&mut host, 2).unwrap(), Action::Continue);
    assert_eq!(request(&mut host, 0).unwrap(), Action::Continue);

    match timer_runtime() {
        Err(HostError::Runtime(why)) => assert!(why.contains("already uses it"), "{why}"),
        Err(other) => panic!("unexpected error {other:?}"),
        Ok(_) => panic!("a second CPU-timer runtime in one process was accepted"),
    }

    drop(host);
    drop(module);
    drop(rt);
    // The slot is free again, and a late tick signal is harmless.
    let again = timer_runtime().unwrap();
    // SAFETY: raising a signal at ourselves; its handler only bumps an epoch.
    unsafe { libc::raise(proxy_wasm_host::cpu_timer::tick_signal()) };
    drop(again);
    unsafe { libc::raise(proxy_wasm_host::cpu_timer::tick_signal()) };
}
