//! Host benchmark: what one cache-hit `proxy_on_request_headers` costs, and how
//! fast an instance starts from a precompiled module. Prints a Markdown table.
//!
//! Filters measured:
//! - a minimal WAT filter doing exactly the hit path's host calls (read
//!   `:authority`, read shared data under it, set the `backend` property);
//! - the project's resolver (`build/resolver.wasm`, or `$BENCH_RESOLVER`) when it
//!   exists: one miss answered through an http call fills the cache, then every
//!   request is a hit.
//!
//! Timing: each sample is one call timed with `Instant` (≈20–40 ns of overhead
//! included). The environment is lean (no logging, properties kept in place) so
//! the figures are the host's and the guest's, not a recorder's.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proxy_wasm_host::{
    Environment, FilterHost, FilterModule, FilterOptions, HeaderMap, HttpCallRequest,
    HttpCallResponse, HttpCalls, LocalResponse, MemorySharedData, NullLogger, Properties, Runtime,
    RuntimeConfig, SharedData, Status, StreamType, Streams, SystemClock,
};

const HIT_WAT: &str = r#"(module
  (import "env" "proxy_get_header_map_value" (func $get_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_shared_data" (func $get_shared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_property" (func $set_property (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (func (export "proxy_abi_version_0_2_1"))
  ;; Bump allocator that wraps: the bench only needs each block until the next call.
  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32)
    (local $p i32)
    (if (i32.gt_u (i32.add (global.get $heap) (local.get $n)) (i32.const 131072))
      (then (global.set $heap (i32.const 65536))))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (data (i32.const 2048) ":authority")
  (data (i32.const 2064) "backend")
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $get_header (i32.const 0) (i32.const 2048) (i32.const 10) (i32.const 1008) (i32.const 1012)))
    (if (i32.eqz (call $get_shared (i32.load (i32.const 1008)) (i32.load (i32.const 1012)) (i32.const 1024) (i32.const 1028) (i32.const 1032)))
      (then (drop (call $set_property (i32.const 2064) (i32.const 7) (i32.load (i32.const 1024)) (i32.load (i32.const 1028))))))
    (i32.const 0))
)"#;

/// Keeps the last backend without allocating per request.
struct LastProperty(Arc<Mutex<Vec<u8>>>);

impl Properties for LastProperty {
    fn get_property(&mut self, _: u32, _: &[&[u8]]) -> Option<Vec<u8>> {
        None
    }
    fn set_property(&mut self, _: u32, _: &[&[u8]], value: &[u8]) -> Result<(), Status> {
        let mut v = self.0.lock().unwrap();
        v.clear();
        v.extend_from_slice(value);
        Ok(())
    }
}

/// Collects http calls (only the warm-up makes any).
struct Calls(Arc<Mutex<Vec<(u32, HttpCallRequest)>>>);

impl HttpCalls for Calls {
    fn dispatch(&mut self, _: u32, token: u32, request: HttpCallRequest) -> Result<(), Status> {
        self.0.lock().unwrap().push((token, request));
        Ok(())
    }
}

struct NoStreams;

impl Streams for NoStreams {
    fn send_local_response(&mut self, _: u32, _: LocalResponse) -> Result<(), Status> {
        Ok(())
    }
    fn continue_stream(&mut self, _: u32, _: StreamType) -> Result<(), Status> {
        Ok(())
    }
}

struct Bench {
    host: FilterHost,
    backend: Arc<Mutex<Vec<u8>>>,
    calls: Arc<Mutex<Vec<(u32, HttpCallRequest)>>>,
}

fn start(rt: &Runtime, module: &FilterModule, shared: Arc<dyn SharedData>, config: &str) -> Bench {
    let backend = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let env = Environment {
        clock: Box::new(SystemClock),
        logger: Box::new(NullLogger),
        properties: Box::new(LastProperty(backend.clone())),
        shared_data: shared,
        http_calls: Box::new(Calls(calls.clone())),
        streams: Box::new(NoStreams),
    };
    let options = FilterOptions {
        plugin_config: config.as_bytes().to_vec(),
        plugin_name: "bench".into(),
        ..Default::default()
    };
    let host = FilterHost::new(rt, module, env, options).expect("filter starts");
    Bench {
        host,
        backend,
        calls,
    }
}

fn headers(host: &str) -> HeaderMap {
    HeaderMap::from_pairs([
        (":authority", host),
        (":method", "GET"),
        (":path", "/index.html"),
        (":scheme", "http"),
        ("user-agent", "bench/1.0"),
        ("accept", "*/*"),
    ])
}

struct Stats {
    mean: f64,
    p50: f64,
    p99: f64,
}

fn stats(mut samples: Vec<u64>) -> Stats {
    samples.sort_unstable();
    let mean = samples.iter().sum::<u64>() as f64 / samples.len() as f64;
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize] as f64;
    Stats {
        mean,
        p50: at(0.5),
        p99: at(0.99),
    }
}

/// Times `on_request_headers` alone and the whole request (create, headers, finish).
fn hit_path(b: &mut Bench, host: &str, n: usize) -> (Stats, Stats) {
    let template = headers(host);
    let mut call = Vec::with_capacity(n);
    let mut cycle = Vec::with_capacity(n);
    for i in 0..(n + n / 10) {
        let h = template.clone();
        let t0 = Instant::now();
        let id = b.host.create_http_context().unwrap();
        let t1 = Instant::now();
        b.host.on_request_headers(id, h, true).unwrap();
        let t2 = Instant::now();
        b.host.finish_request(id).unwrap();
        let t3 = Instant::now();
        if i >= n / 10 {
            // the first tenth is warm-up
            call.push((t2 - t1).as_nanos() as u64);
            cycle.push((t3 - t0).as_nanos() as u64);
        }
    }
    (stats(call), stats(cycle))
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let n: usize = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let mut rows: Vec<(String, String, String)> = Vec::new();

    let mut filters: Vec<(&str, Vec<u8>, &str)> =
        vec![("WAT hit-path filter", HIT_WAT.as_bytes().to_vec(), "")];
    let resolver_path = std::env::var("BENCH_RESOLVER").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../build/resolver.wasm").to_owned()
    });
    match std::fs::read(&resolver_path) {
        Ok(bytes) => filters.push(("resolver (build/resolver.wasm)", bytes, "{}")),
        Err(e) => eprintln!("skipping the resolver: {resolver_path}: {e}"),
    }

    for (name, wasm, config) in &filters {
        // Start-up: compile, precompile → deserialize, instantiate + root start-up.
        let compile = median(
            (0..3)
                .map(|_| {
                    let t = Instant::now();
                    rt.compile(wasm).unwrap();
                    t.elapsed()
                })
                .collect(),
        );
        let artifact = rt.precompile(wasm).unwrap();
        let deserialize = median(
            (0..20)
                .map(|_| {
                    let t = Instant::now();
                    // SAFETY: produced just above by the same runtime.
                    unsafe { rt.deserialize(&artifact) }.unwrap();
                    t.elapsed()
                })
                .collect(),
        );
        let module = unsafe { rt.deserialize(&artifact) }.unwrap();
        let instantiate = median(
            (0..20)
                .map(|_| {
                    let t = Instant::now();
                    start(&rt, &module, Arc::new(MemorySharedData::new()), config);
                    t.elapsed()
                })
                .collect(),
        );
        rows.push((
            format!("{name}: compile from wasm ({} KiB)", wasm.len() / 1024),
            ms(compile),
            String::new(),
        ));
        rows.push((
            format!("{name}: load precompiled module"),
            ms(deserialize),
            String::new(),
        ));
        rows.push((
            format!("{name}: instantiate + start (on_vm_start, on_configure)"),
            ms(instantiate),
            String::new(),
        ));
        rows.push((
            format!("{name}: worker start from precompiled (load + instantiate + start)"),
            ms(deserialize + instantiate),
            "≤ 5 ms".into(),
        ));

        // Per-call cost on the hit path.
        let shared = Arc::new(MemorySharedData::new());
        let mut b = start(&rt, &module, shared.clone(), config);
        let host = "www.example.com";
        if *name == "WAT hit-path filter" {
            shared.set(host.as_bytes(), b"10.0.0.7:3000", 0).unwrap();
        } else {
            // One miss: answer its /resolve call, which fills the shared cache.
            let id = b.host.create_http_context().unwrap();
            b.host.on_request_headers(id, headers(host), true).unwrap();
            let (token, _) = b
                .calls
                .lock()
                .unwrap()
                .pop()
                .expect("a miss makes an http call");
            let body = format!(
                r#"{{"host":"{host}","backend":"10.0.0.7:3000","match":"exact","pattern":"{host}"}}"#
            );
            let resp = HttpCallResponse {
                headers: HeaderMap::from_pairs([
                    (":status", "200"),
                    ("content-type", "application/json"),
                ]),
                body: body.into_bytes(),
                trailers: HeaderMap::new(),
            };
            b.host
                .deliver_http_call_response(token, Some(resp))
                .unwrap();
            b.host.finish_request(id).unwrap();
        }
        b.backend.lock().unwrap().clear();
        let (call, cycle) = hit_path(&mut b, host, n);
        assert_eq!(
            &*b.backend.lock().unwrap(),
            b"10.0.0.7:3000",
            "{name}: every measured request is a hit"
        );
        assert!(
            b.calls.lock().unwrap().is_empty(),
            "{name}: no http call on the hit path"
        );
        rows.push((
            format!("{name}: cache-hit on_request_headers, mean / p50 / p99"),
            format!("{:.0} / {:.0} / {:.0} ns", call.mean, call.p50, call.p99),
            "≤ 2 µs".into(),
        ));
        rows.push((
            format!("{name}: whole request (context create + headers + done/log/delete), mean / p50 / p99"),
            format!("{:.0} / {:.0} / {:.0} ns", cycle.mean, cycle.p50, cycle.p99),
            String::new(),
        ));
    }

    println!("| what | measured | target |");
    println!("| --- | --- | --- |");
    for (what, value, target) in rows {
        println!("| {what} | {value} | {target} |");
    }
    println!(
        "\n{n} timed calls per filter after {} warm-up calls.",
        n / 10
    );
}
