//! Random rounds against the filter ABI, beyond safety.rs's fixed hostile
//! arguments: each round builds a filter (random memory size, an allocator that
//! is honest or hostile) whose every callback — start, request headers,
//! http-call response, tick, done, log — calls host functions from the table
//! with random pointers and lengths: inside memory, at its very end, past it,
//! overflowing, negative, huge. The filter checks every status against the
//! documented set (docs/abi.md) and reports what it saw; some rounds end a
//! callback with a trap on purpose.
//!
//! The host must never panic, answer each bad argument with a status, trap only
//! where the filter asked for it, and then run the next call on a fresh
//! instance. `ABI_FUZZ_SEED` replays a run (the seed is printed);
//! `ABI_FUZZ_ROUNDS` (default 8) and `ABI_FUZZ_CALLS` (per callback, default
//! 50) make it longer (`make soak`).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::imports;
use proxy_wasm_host::embedder::HttpCallResponse;
use proxy_wasm_host::hostcalls::{HOST_FUNCTIONS, HostFunction};
use proxy_wasm_host::{
    Event, FilterHost, FilterOptions, HeaderMap, HostError, Limits, MemorySharedData, Recorder,
    Status, TrapKind,
};

/// xorshift64*: enough randomness for argument choice, replayable from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// What each kind of function may answer: docs/abi.md's status table.
const PROXY_STATUSES: [Status; 8] = [
    Status::Ok,
    Status::NotFound,
    Status::BadArgument,
    Status::ParseFailure,
    Status::InvalidMemoryAccess,
    Status::CasMismatch,
    Status::InternalFailure,
    Status::Unimplemented,
];
const WASI_ERRNOS: [i32; 5] = [0, 8, 21, 28, 58];

/// Where a filter reports: the property name, and the number of bad statuses
/// and the last one (function index << 16 | status), written again before each
/// report because random calls may have written over any byte of memory.
const REPORT_AT: i32 = 16;

/// One random argument for a parameter of type `ty`, for memory of `bytes`.
fn argument(rng: &mut Rng, ty: &str, bytes: i64) -> String {
    let v: i64 = match rng.below(10) {
        // Small values: enums (map, buffer, level, stream, metric kind), ids, lengths.
        0 | 1 => rng.below(12) as i64,
        // Somewhere inside memory.
        2 | 3 => rng.below(bytes as u64) as i64,
        // The last bytes of memory, and just past them.
        4 => bytes - rng.below(9) as i64,
        5 => bytes + rng.below(9) as i64,
        // Edges of the integer range and lengths that overflow pointer + length.
        6 => *rng.pick(&[
            -1,
            -4,
            i32::MAX as i64,
            i32::MIN as i64,
            i32::MAX as i64 - 3,
            u32::MAX as i64 - bytes + 1,
            0x7fff_fff0,
        ]),
        // Page edges.
        7 => *rng.pick(&[65535, 65536, 65537, 131_072, 262_140, 262_144]),
        _ => rng.next() as i32 as i64,
    };
    match ty {
        "i64" if rng.below(4) == 0 => format!("(i64.const {})", rng.next() as i64),
        "i64" => format!("(i64.const {v})"),
        _ => format!("(i32.const {})", v as i32),
    }
}

/// `count` random calls, each followed by a check of what it returned.
fn random_calls(rng: &mut Rng, count: usize, bytes: i64) -> String {
    let mut out = String::new();
    for _ in 0..count {
        let index = rng.below(HOST_FUNCTIONS.len() as u64) as usize;
        let f: &HostFunction = &HOST_FUNCTIONS[index];
        if f.name == "proc_exit" {
            continue; // a trap on purpose comes only at a callback's end
        }
        let args: Vec<String> = f.params.iter().map(|t| argument(rng, t, bytes)).collect();
        let check = if f.module == "env" {
            "$check_proxy"
        } else {
            "$check_wasi"
        };
        out.push_str(&format!(
            "(call {check} (i32.const {index}) (call ${} {}))\n",
            f.name,
            args.join(" ")
        ));
        // Now and then the memory grows under the next calls.
        if rng.below(40) == 0 {
            out.push_str(&format!(
                "(drop (memory.grow (i32.const {})))\n",
                rng.below(3)
            ));
        }
    }
    out
}

/// How a callback ends.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ending {
    Normally,
    ProcExit,
    Unreachable,
}

struct Round {
    wat: String,
    /// How on_request_headers, on_http_call_response and on_tick end.
    endings: [Ending; 3],
}

fn round(rng: &mut Rng, calls: usize) -> Round {
    let pages = 1 + rng.below(4) as i64;
    let bytes = pages * 65536;
    // An honest bump allocator, or one returning 0, a fixed spot, the end of memory or past it.
    let allocator = match rng.below(6) {
        0 => "(i32.const 0)".to_owned(),
        1 => format!("(i32.const {})", bytes - 1),
        2 => format!("(i32.const {})", bytes + 4096),
        3 => format!("(i32.const {})", rng.below(bytes as u64)),
        _ => "(global.get $heap) (global.set $heap (i32.add (global.get $heap) (local.get 0)))"
            .to_owned(),
    };
    let mut endings = [Ending::Normally; 3];
    for e in &mut endings {
        *e = match rng.below(8) {
            0 => Ending::ProcExit,
            1 => Ending::Unreachable,
            _ => Ending::Normally,
        };
    }
    let end = |e: Ending| match e {
        Ending::Normally => "",
        Ending::ProcExit => "(call $proc_exit (i32.const 7))",
        Ending::Unreachable => "unreachable",
    };
    let (map, map_len) =
        common::wat_map(&[(":method", "GET"), (":path", "/r"), (":authority", "api")]);
    // A callback: its random calls, a report, its ending, and its return value if it has one.
    let mut body =
        |callback: &str, params: &str, returns: Option<i32>, ending: Ending, first: &str| {
            format!(
                "(func (export \"{callback}\") {params} {}\n{first}\n{}\n(call $report) {}\n{})\n",
                if returns.is_some() {
                    "(result i32)"
                } else {
                    ""
                },
                random_calls(rng, calls, bytes),
                end(ending),
                returns
                    .map(|v| format!("(i32.const {v})"))
                    .unwrap_or_default(),
            )
        };
    let vm_start = body(
        "proxy_on_vm_start",
        "(param i32 i32)",
        Some(1),
        Ending::Normally,
        "",
    );
    // A well-formed http call first, so that a response can be delivered to random calls too.
    let call = format!(
        "(memory.init $map (i32.const 2048) (i32.const 0) (i32.const {map_len}))
         (i32.store8 (i32.const 2040) (i32.const 0x63)) ;; upstream \"c\"
         (drop (call $proxy_http_call (i32.const 2040) (i32.const 1) (i32.const 2048) (i32.const {map_len})
            (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 2044)))"
    );
    let headers = body(
        "proxy_on_request_headers",
        "(param i32 i32 i32)",
        Some(0),
        endings[0],
        &call,
    );
    let response = body(
        "proxy_on_http_call_response",
        "(param i32 i32 i32 i32 i32)",
        None,
        endings[1],
        "",
    );
    let tick = body("proxy_on_tick", "(param i32)", None, endings[2], "");
    // Done at once: on_log follows.
    let done = body(
        "proxy_on_done",
        "(param i32)",
        Some(1),
        Ending::Normally,
        "",
    );
    let log = body("proxy_on_log", "(param i32)", None, Ending::Normally, "");
    let proxy_ok: String = PROXY_STATUSES
        .iter()
        .map(|s| format!("(i32.eq (local.get $s) (i32.const {}))", *s as i32))
        .fold("(i32.const 0)".to_owned(), |acc, c| {
            format!("(i32.or {acc} {c})")
        });
    let wasi_ok: String = WASI_ERRNOS
        .iter()
        .map(|e| format!("(i32.eq (local.get $s) (i32.const {e}))"))
        .fold("(i32.const 0)".to_owned(), |acc, c| {
            format!("(i32.or {acc} {c})")
        });
    let wat = format!(
        r#"(module
{imports}
(func (export "proxy_abi_version_0_2_1"))
(memory (export "memory") {pages})
(global $heap (mut i32) (i32.const 4096))
(global $bad (mut i32) (i32.const 0))
(global $last (mut i32) (i32.const 0))
(data $map "{map}")
(func (export "proxy_on_memory_allocate") (param i32) (result i32) {allocator})
(func $bad_status (param $f i32) (param $s i32)
  (global.set $bad (i32.add (global.get $bad) (i32.const 1)))
  (global.set $last (i32.or (i32.shl (local.get $f) (i32.const 16)) (i32.and (local.get $s) (i32.const 0xffff)))))
(func $check_proxy (param $f i32) (param $s i32)
  (if (i32.eqz {proxy_ok}) (then (call $bad_status (local.get $f) (local.get $s)))))
(func $check_wasi (param $f i32) (param $s i32)
  (if (i32.eqz {wasi_ok}) (then (call $bad_status (local.get $f) (local.get $s)))))
(func $report
  (i64.store (i32.const {REPORT_AT}) (i64.const 0x6461625f7a7a7566 (; "fuzz_bad" ;)))
  (i32.store (i32.const {value}) (global.get $bad))
  (i32.store (i32.const {last}) (global.get $last))
  (drop (call $proxy_set_property (i32.const {REPORT_AT}) (i32.const 8) (i32.const {value}) (i32.const 8))))
{vm_start}{headers}{response}{tick}{done}{log})"#,
        imports = imports(),
        value = REPORT_AT + 8,
        last = REPORT_AT + 12,
    );
    Round { wat, endings }
}

/// Takes what the filter recorded since the last look, checks its latest
/// report (no status outside the documented set), and returns the events.
fn check_reports(rec: &Recorder, seed: u64) -> Vec<Event> {
    let events = rec.drain();
    let last_report = events.iter().rev().find_map(|e| match e {
        Event::Property { path, value, .. } if path.len() == 1 && path[0] == b"fuzz_bad" => Some((
            u32::from_le_bytes(value[0..4].try_into().unwrap()),
            u32::from_le_bytes(value[4..8].try_into().unwrap()),
        )),
        _ => None,
    });
    if let Some((bad, last)) = last_report {
        assert_eq!(
            bad,
            0,
            "seed {seed}: {} answered status {} outside docs/abi.md's set",
            HOST_FUNCTIONS[(last >> 16) as usize].name,
            last & 0xffff
        );
    }
    events
}

/// A callback's result: Ok, or the trap its round asked for; afterwards the
/// next call must run (on a fresh instance after a trap).
fn expect<T: std::fmt::Debug>(what: &str, result: Result<T, HostError>, ending: Ending, seed: u64) {
    match (ending, &result) {
        (Ending::Normally, Ok(_)) => {}
        (
            Ending::ProcExit | Ending::Unreachable,
            Err(HostError::Trap {
                kind: TrapKind::Fault,
                ..
            }),
        ) => {}
        // A context or call lost with a trapped instance is reported, not a crash.
        (_, Err(HostError::CallContextLost(_))) => {}
        _ => panic!("seed {seed}: {what} ending {ending:?} gave {result:?}"),
    }
}

fn run_round(seed: u64, rng: &mut Rng, calls: usize) -> (u64, u64) {
    let Round { wat, endings } = round(rng, calls);
    let rt = common::runtime();
    let module = rt
        .compile(wat.as_bytes())
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let rec = Recorder::new();
    let mut host = FilterHost::new(
        &rt,
        &module,
        rec.environment(Arc::new(MemorySharedData::new())),
        // A generous deadline: hundreds of host calls in a debug build on a busy machine.
        FilterOptions {
            limits: Limits {
                deadline: Duration::from_secs(5),
                restart_backoff: Duration::ZERO,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("seed {seed}: the filter must start: {e}"));
    check_reports(&rec, seed);
    for request in 0..3 {
        let id = match host.create_http_context() {
            Ok(id) => id,
            Err(e) => panic!("seed {seed}: request {request}: no context: {e}"),
        };
        let pairs = [(":authority", "a.example"), (":path", "/"), ("x-fuzz", "1")];
        let headers = HeaderMap::from_pairs(pairs[..(request % 3 + 1)].iter().copied());
        expect(
            "on_request_headers",
            host.on_request_headers(id, headers, true),
            endings[0],
            seed,
        );
        let tokens: Vec<u32> = check_reports(&rec, seed)
            .into_iter()
            .filter_map(|e| match e {
                Event::HttpCall { token, .. } => Some(token),
                _ => None,
            })
            .collect();
        for token in tokens {
            let response = (rng.below(3) != 0).then(|| HttpCallResponse {
                headers: HeaderMap::from_pairs([(":status", "200"), ("x", "y")]),
                body: vec![b'b'; rng.below(5000) as usize],
                trailers: HeaderMap::new(),
            });
            match host.deliver_http_call_response(token, response) {
                // Lost with an instance that trapped in on_request_headers: reported, fine.
                Err(HostError::CallContextLost(_)) | Ok(None) => {}
                other => expect("on_http_call_response", other, endings[1], seed),
            }
            check_reports(&rec, seed);
        }
        expect("on_tick", host.on_tick(), endings[2], seed);
        check_reports(&rec, seed);
        host.finish_request(id)
            .unwrap_or_else(|e| panic!("seed {seed}: finish_request: {e}"));
        check_reports(&rec, seed);
    }
    (host.trap_count(), host.instance_starts())
}

#[test]
fn random_rounds_of_hostile_calls_get_statuses_and_traps_only_where_asked() {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = env("ABI_FUZZ_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    let rounds = env("ABI_FUZZ_ROUNDS").unwrap_or(8);
    let calls = env("ABI_FUZZ_CALLS").unwrap_or(50) as usize;
    println!(
        "ABI fuzz: seed {seed} (ABI_FUZZ_SEED={seed} replays it), {rounds} rounds of {calls} calls per callback"
    );
    let mut rng = Rng(seed | 1);
    let (mut traps, mut starts) = (0, 0);
    for _ in 0..rounds {
        let (t, s) = run_round(seed, &mut rng, calls);
        traps += t;
        starts += s;
    }
    println!(
        "ABI fuzz: {rounds} rounds done, {traps} traps asked for and survived, {starts} instance starts"
    );
}
