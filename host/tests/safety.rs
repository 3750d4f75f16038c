//! A hostile or broken filter: bad pointers, traps, endless loops, memory
//! hunger. The host must answer with statuses or typed errors and keep going.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use proxy_wasm_host::{
    Action, FilterHost, FilterOptions, HostError, Limits, MemorySharedData, Recorder, Runtime,
    RuntimeConfig, Status, TrapKind,
};

const IMA: u32 = Status::InvalidMemoryAccess as u32;

#[test]
fn bad_pointers_get_invalid_memory_access() {
    let (map, map_len) = wat_map(&[(":method", "GET"), (":path", "/"), (":authority", "x")]);
    let body = format!(
        r#"
      (data (i32.const 2048) ":authority")
      (data (i32.const 2064) "k")
      (data (i32.const 2080) "{map}")
      (data (i32.const 2304) "\e8\03\00\00\01\00\00\00")   ;; a map claiming 1000 entries
      (data (i32.const 1100) "\00\00\ff\ff\05\00\00\00")   ;; iovec pointing past memory
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (call $report (i32.const 100) (i32.const 1) (call $proxy_log (i32.const 2) (i32.const -16) (i32.const 100)))
        (call $report (i32.const 101) (i32.const 1) (call $proxy_log (i32.const 2) (i32.const 0) (i32.const 0x7fffffff)))
        (call $report (i32.const 102) (i32.const 1) (call $proxy_get_header_map_value (i32.const 0) (i32.const -1) (i32.const 10) (i32.const 1008) (i32.const 1012)))
        (call $report (i32.const 103) (i32.const 1) (call $proxy_get_header_map_value (i32.const 0) (i32.const 2048) (i32.const 10) (i32.const -1) (i32.const 1012)))
        (call $report (i32.const 104) (i32.const 1) (call $proxy_get_shared_data (i32.const 2064) (i32.const 1) (i32.const 1008) (i32.const 1012) (i32.const 262142)))
        (call $report (i32.const 105) (i32.const 1) (call $proxy_set_shared_data (i32.const 2064) (i32.const 1) (i32.const 0) (i32.const -1) (i32.const 0)))
        (call $report (i32.const 106) (i32.const 1) (call $proxy_http_call (i32.const 2064) (i32.const 1) (i32.const 2080) (i32.const 999999)
            (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 1020)))
        (call $report (i32.const 107) (i32.const 1) (call $proxy_http_call (i32.const 2064) (i32.const 1) (i32.const 2080) (i32.const {map_len})
            (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 262141)))
        (call $report (i32.const 108) (i32.const 1) (call $proxy_set_header_map_pairs (i32.const 0) (i32.const 2304) (i32.const 8)))
        (call $report (i32.const 109) (i32.const 1) (call $proxy_get_current_time_nanoseconds (i32.const 262140)))
        (call $report (i32.const 110) (i32.const 1) (call $fd_write (i32.const 1) (i32.const 1100) (i32.const 1) (i32.const 1016)))
        (call $report (i32.const 111) (i32.const 1) (call $proxy_send_local_response (i32.const 200) (i32.const 0) (i32.const 0)
            (i32.const -100) (i32.const 200) (i32.const 0) (i32.const 0) (i32.const 0)))
        (call $report (i32.const 112) (i32.const 1) (call $proxy_set_property (i32.const 2064) (i32.const 1) (i32.const 262100) (i32.const 1000)))
        (call $report (i32.const 113) (i32.const 1) (call $proxy_get_buffer_status (i32.const 7) (i32.const 1008) (i32.const 262143)))
        (call $report (i32.const 114) (i32.const 1) (call $proxy_define_metric (i32.const 0) (i32.const 2064) (i32.const 1) (i32.const 999999)))
        (i32.const 0))"#
    );
    let mut h = Harness::new(&body);
    let (id, action) = h.request(&[(":authority", "a.example")]);
    assert_eq!(action.unwrap(), Action::Continue);
    for name in [
        "a", "b", "c", "d", "e", "f", "g", "h", "j", "l", "m", "n", "o",
    ] {
        assert_eq!(h.num(id, name), IMA, "report {name}");
    }
    assert_eq!(h.num(id, "i"), Status::ParseFailure as u32, "malformed map");
    assert_eq!(h.num(id, "k"), 21, "WASI FAULT");
    assert!(
        h.all_events()
            .iter()
            .all(|e| !matches!(e, proxy_wasm_host::Event::HttpCall { .. })),
        "nothing dispatched"
    );
    assert!(h.shared.is_empty(), "nothing written");
    assert_eq!(
        h.host.request_headers(id).unwrap().len(),
        1,
        "headers unchanged"
    );
}

#[test]
fn hostile_allocator_results_are_checked() {
    // An allocator that returns a pointer past the end of memory, or 0.
    let wat = |ptr: i32| {
        format!(
            r#"(module {imports}
            (func (export "proxy_abi_version_0_2_1"))
            (memory (export "memory") 1)
            (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const {ptr}))
            (data (i32.const 2048) ":authority")
            (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
              (call $proxy_get_header_map_value (i32.const 0) (i32.const 2048) (i32.const 10) (i32.const 1008) (i32.const 1012))))"#,
            imports = imports()
        )
    };
    for ptr in [65530, 0, -1] {
        let rt = runtime();
        let module = rt.compile(wat(ptr).as_bytes()).unwrap();
        let mut host = FilterHost::new(
            &rt,
            &module,
            Recorder::new().environment(Arc::new(MemorySharedData::new())),
            FilterOptions::default(),
        )
        .unwrap();
        let id = host.create_http_context().unwrap();
        let action = host.on_request_headers(
            id,
            proxy_wasm_host::HeaderMap::from_pairs([(":authority", "a.example")]),
            true,
        );
        // The status (6) is the action value the filter returns: non-zero = pause.
        assert_eq!(action.unwrap(), Action::Pause, "allocator returning {ptr}");
    }
}

const TRAP_OR_LOOP: &str = r#"
  (data (i32.const 2048) "vm_start")
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
    (drop (call $proxy_log (i32.const 2) (i32.const 2048) (i32.const 8))) (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32) (param $n i32) (param i32) (result i32)
    (if (i32.eq (local.get $n) (i32.const 1)) (then unreachable))
    (if (i32.eq (local.get $n) (i32.const 2)) (then (loop $forever (br $forever))))
    (i32.const 0))"#;

#[test]
fn a_trap_fails_one_call_and_the_instance_is_replaced() {
    let mut h = Harness::new(TRAP_OR_LOOP);
    let (ok, _) = h.request(&[]);
    let (_, r) = h.request(&[("a", "1")]);
    match r {
        Err(HostError::Trap {
            callback,
            kind: TrapKind::Fault,
            ..
        }) => assert_eq!(callback, "proxy_on_request_headers"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(!h.host.is_running());
    assert_eq!(h.host.trap_count(), 1);
    // Contexts of the dead instance are gone; finishing them is harmless.
    h.host.finish_request(ok).unwrap();
    let (_, r) = h.request(&[]);
    assert_eq!(r.unwrap(), Action::Continue);
    assert_eq!(
        h.logs(),
        ["vm_start", "vm_start"],
        "the fresh instance was started again"
    );
}

#[test]
fn an_endless_loop_hits_the_deadline() {
    let mut h = Harness::new(TRAP_OR_LOOP);
    let (_, r) = h.request(&[("a", "1"), ("b", "2")]);
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
    let (_, r) = h.request(&[]);
    assert_eq!(r.unwrap(), Action::Continue);
}

#[test]
fn a_looping_start_fails_the_load() {
    let err = Harness::with_limits(
        r#"(func (export "proxy_on_configure") (param i32 i32) (result i32) (loop $l (br $l)) (i32.const 1))"#,
        Limits { deadline: Duration::from_millis(20), ..Default::default() },
    )
    .err()
    .unwrap();
    assert!(
        matches!(
            err,
            HostError::Trap {
                callback: "proxy_on_configure",
                kind: TrapKind::Deadline,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn memory_is_capped() {
    let body = r#"
      (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
        (call $report (i32.const 100) (i32.const 1) (memory.grow (i32.const 16)))   ;; 4+16 pages = 1.25 MiB > cap
        (call $report (i32.const 101) (i32.const 1) (memory.grow (i32.const 12)))   ;; exactly 1 MiB
        (call $report (i32.const 102) (i32.const 1) (memory.grow (i32.const 1)))
        (i32.const 1))"#;
    let h = Harness::with_limits(
        body,
        Limits {
            memory_bytes: 1 << 20,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(h.num(1, "a"), u32::MAX, "grow past the cap fails (-1)");
    assert_eq!(h.num(1, "b"), 4, "grow up to the cap succeeds");
    assert_eq!(h.num(1, "c"), u32::MAX);

    // Default cap: 16 MiB.
    let h = Harness::new(&body.replace("(i32.const 16)", "(i32.const 300)"));
    assert_eq!(h.num(1, "a"), u32::MAX);
}

#[test]
fn a_module_needing_more_memory_than_the_cap_is_refused() {
    let rt = runtime();
    let wat = r#"(module (func (export "proxy_abi_version_0_2_1")) (memory (export "memory") 300)
        (func (export "malloc") (param i32) (result i32) (i32.const 0)))"#;
    let module = rt.compile(wat.as_bytes()).unwrap();
    let err = FilterHost::new(
        &rt,
        &module,
        Recorder::new().environment(Arc::new(MemorySharedData::new())),
        FilterOptions::default(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, HostError::Instantiate(_)), "{err}");
}

#[test]
fn proc_exit_is_a_trap() {
    let mut h = Harness::new(
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (call $proc_exit (i32.const 3)) (i32.const 0))"#,
    );
    let (_, r) = h.request(&[]);
    let err = r.unwrap_err();
    assert!(err.to_string().contains("proc_exit(3)"), "{err}");
}

#[test]
fn a_trapping_or_looping_allocator_fails_the_call_not_the_host() {
    for allocator in ["unreachable", "(loop $l (br $l)) (i32.const 0)"] {
        let wat = format!(
            r#"(module {imports}
            (func (export "proxy_abi_version_0_2_1"))
            (memory (export "memory") 1)
            (func (export "proxy_on_memory_allocate") (param i32) (result i32) {allocator})
            (data (i32.const 2048) ":authority")
            (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
              (call $proxy_get_header_map_value (i32.const 0) (i32.const 2048) (i32.const 10) (i32.const 1008) (i32.const 1012))))"#,
            imports = imports()
        );
        let rt = runtime();
        let module = rt.compile(wat.as_bytes()).unwrap();
        let mut host = FilterHost::new(
            &rt,
            &module,
            Recorder::new().environment(Arc::new(MemorySharedData::new())),
            FilterOptions::default(),
        )
        .unwrap();
        let id = host.create_http_context().unwrap();
        let r = host.on_request_headers(
            id,
            proxy_wasm_host::HeaderMap::from_pairs([(":authority", "a.example")]),
            true,
        );
        let err = r.unwrap_err();
        assert!(err.is_trap(), "{allocator}: {err}");
        assert!(!host.is_running());
        // Without the allocator the next call works on a fresh instance.
        let id = host.create_http_context().unwrap();
        assert!(
            host.on_request_headers(id, proxy_wasm_host::HeaderMap::new(), true)
                .is_ok()
        );
    }
}

#[test]
fn unbounded_recursion_is_a_trap() {
    let mut h = Harness::new(
        r#"(func $down (param i32) (result i32) (call $down (i32.add (local.get 0) (i32.const 1))))
           (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (call $down (i32.const 0)))"#,
    );
    let (_, r) = h.request(&[]);
    assert!(
        matches!(
            r,
            Err(HostError::Trap {
                kind: TrapKind::Fault,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn local_responses_need_a_valid_status_and_an_http_context() {
    let h = Harness::new(
        r#"(func (export "proxy_on_vm_start") (param i32 i32) (result i32)
            (call $report (i32.const 100) (i32.const 1) (call $proxy_send_local_response (i32.const 200)
              (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
            (i32.const 1))
          (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
            (call $report (i32.const 101) (i32.const 1) (call $proxy_send_local_response (i32.const 99)
              (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
            (call $report (i32.const 102) (i32.const 1) (call $proxy_send_local_response (i32.const 600)
              (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
            (i32.const 0))"#,
    );
    assert_eq!(
        h.num(1, "a"),
        Status::NotFound as u32,
        "the root context has no stream"
    );
    let mut h = h;
    let (id, _) = h.request(&[]);
    assert_eq!(h.num(id, "b"), Status::BadArgument as u32);
    assert_eq!(h.num(id, "c"), Status::BadArgument as u32);
    assert!(
        !h.all_events()
            .iter()
            .any(|e| matches!(e, proxy_wasm_host::Event::LocalResponse { .. }))
    );
}

/// Its start traps while the shared key "fail" holds "1"; requests with one
/// header trap.
const FRAGILE_START: &str = r#"
  (data (i32.const 2048) "fail")
  (data (i32.const 2064) "vm_start")
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
    (drop (call $proxy_log (i32.const 2) (i32.const 2064) (i32.const 8)))
    (if (i32.eqz (call $proxy_get_shared_data (i32.const 2048) (i32.const 4) (i32.const 1008) (i32.const 1012) (i32.const 1016)))
      (then (if (i32.eq (i32.load8_u (i32.load (i32.const 1008))) (i32.const 49)) (then unreachable))))
    (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32) (param $n i32) (param i32) (result i32)
    (if (i32.eq (local.get $n) (i32.const 1)) (then unreachable))
    (i32.const 0))"#;

fn fragile(backoff: Duration) -> Harness {
    Harness::with_limits(
        FRAGILE_START,
        Limits {
            restart_backoff: backoff,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn a_failing_restart_backs_off_instead_of_retrying_every_call() {
    use proxy_wasm_host::SharedData;
    let mut h = fragile(Duration::from_secs(3600));
    h.shared.set(b"fail", b"1", 0).unwrap();
    let (_, r) = h.request(&[("a", "1")]);
    assert!(r.unwrap_err().is_trap());
    // The next call restarts, and the start traps.
    let (_, r) = h.request(&[]);
    assert!(
        matches!(
            r,
            Err(HostError::Trap {
                callback: "proxy_on_vm_start",
                ..
            })
        ),
        "{r:?}"
    );
    // Within the backoff: no new start, a clear error.
    let (_, r) = h.request(&[]);
    let err = r.unwrap_err();
    assert!(matches!(err, HostError::StartBackoff { .. }), "{err}");
    assert!(err.to_string().contains("proxy_on_vm_start"), "{err}");
    assert_eq!(
        h.logs().len(),
        2,
        "vm_start ran twice: first start and one restart"
    );
}

#[test]
fn without_backoff_a_restart_is_tried_on_every_call_and_recovers() {
    use proxy_wasm_host::SharedData;
    let mut h = fragile(Duration::ZERO);
    h.shared.set(b"fail", b"1", 0).unwrap();
    let (_, r) = h.request(&[("a", "1")]);
    assert!(r.unwrap_err().is_trap());
    for _ in 0..2 {
        let (_, r) = h.request(&[]);
        assert!(
            matches!(
                r,
                Err(HostError::Trap {
                    callback: "proxy_on_vm_start",
                    ..
                })
            ),
            "{r:?}"
        );
    }
    h.shared.set(b"fail", b"0", 0).unwrap();
    let (_, r) = h.request(&[]);
    assert_eq!(r.unwrap(), Action::Continue);
    assert_eq!(
        h.logs().len(),
        4,
        "first start, two failed restarts, one good one"
    );
}

/// A logger that blocks: the guest waits in a host call without computing.
struct SlowLogger(Duration);

impl proxy_wasm_host::Logger for SlowLogger {
    fn log(&mut self, _: u32, _: proxy_wasm_host::LogLevel, _: &str) {
        std::thread::sleep(self.0);
    }
}

fn waiting_filter(clock: proxy_wasm_host::DeadlineClock, wait: Duration) -> (FilterHost, Runtime) {
    let rt = Runtime::new(RuntimeConfig {
        deadline_clock: clock,
        ..Default::default()
    })
    .unwrap();
    let wat = filter(
        r#"(data (i32.const 2048) "x")
           (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
             (local i32)
             (drop (call $proxy_log (i32.const 2) (i32.const 2048) (i32.const 1)))
             ;; some guest work after the wait, where an expired deadline would hit
             (loop $l (local.set 3 (i32.add (local.get 3) (i32.const 1)))
               (br_if $l (i32.lt_u (local.get 3) (i32.const 1000))))
             (i32.const 0))"#,
    );
    let module = rt.compile(wat.as_bytes()).unwrap();
    let mut env = Recorder::new().environment(Arc::new(MemorySharedData::new()));
    env.logger = Box::new(SlowLogger(wait));
    let host = FilterHost::new(&rt, &module, env, FilterOptions::default()).unwrap();
    (host, rt)
}

#[test]
fn waiting_in_a_host_call_does_not_count_against_a_cpu_deadline() {
    let (mut host, _rt) = waiting_filter(
        proxy_wasm_host::DeadlineClock::ThreadCpu,
        Duration::from_millis(40),
    );
    let id = host.create_http_context().unwrap();
    let r = host.on_request_headers(id, proxy_wasm_host::HeaderMap::new(), true);
    assert_eq!(
        r.unwrap(),
        Action::Continue,
        "40 ms asleep, 10 ms CPU deadline"
    );
}

#[test]
fn a_wall_clock_deadline_counts_waiting_too() {
    let (mut host, _rt) = waiting_filter(
        proxy_wasm_host::DeadlineClock::Wall,
        Duration::from_millis(100),
    );
    let id = host.create_http_context().unwrap();
    let r = host.on_request_headers(id, proxy_wasm_host::HeaderMap::new(), true);
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
}

/// Every host function called thousands of times with hostile arguments
/// (edges of memory, huge and negative lengths, random values): each call
/// returns a status; nothing traps, nothing crashes.
#[test]
fn random_arguments_to_every_host_function_return_statuses() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let edges: [i64; 12] = [
        0,
        1,
        4,
        1000,
        65535,
        65536,
        262_140,
        262_144,
        -1,
        -4,
        i32::MAX as i64,
        i32::MIN as i64,
    ];
    let mut calls = String::new();
    for _ in 0..3000 {
        let f = &proxy_wasm_host::hostcalls::HOST_FUNCTIONS
            [(next() as usize) % proxy_wasm_host::hostcalls::HOST_FUNCTIONS.len()];
        if f.name == "proc_exit" {
            continue;
        }
        let args: String = f
            .params
            .iter()
            .map(|t| {
                let v = if next() % 3 == 0 {
                    next() as i32 as i64
                } else {
                    edges[(next() as usize) % edges.len()]
                };
                format!("({t}.const {v}) ")
            })
            .collect();
        calls.push_str(&format!("(drop (call ${} {args}))\n", f.name));
    }
    // A generous deadline: thousands of host calls in a debug build on a busy
    // machine must not be mistaken for a loop.
    let mut h = Harness::with_limits(
        &format!(
            r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
                 {calls}
                 (i32.const 0))"#
        ),
        Limits {
            deadline: Duration::from_secs(2),
            ..Default::default()
        },
    )
    .unwrap();
    for _ in 0..3 {
        let (_, r) = h.request(&[(":authority", "a.example"), (":path", "/")]);
        assert_eq!(r.unwrap(), Action::Continue);
    }
    assert_eq!(h.host.trap_count(), 0);
}
