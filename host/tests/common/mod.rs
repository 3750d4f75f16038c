//! Test filters written in WAT around a shared prelude, and a harness that runs
//! them with a `Recorder` environment.
//!
//! The prelude imports every host function of the table under `$<name>`, exports
//! a 4-page memory with a bump allocator (heap from 64 KiB), and gives two
//! helpers that report results as properties: `$report(name, name_len, i32)` and
//! `$report_bytes(name, name_len, ptr, len)`. Bytes 100..126 hold "a".."z", so a
//! one-letter name is `(i32.const 100+n) (i32.const 1)`. 1000..2047 is scratch.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use proxy_wasm_host::hostcalls::HOST_FUNCTIONS;
use proxy_wasm_host::{
    Event, FilterHost, FilterOptions, HostError, Limits, MemorySharedData, Recorder, Runtime,
    RuntimeConfig,
};

pub fn imports() -> String {
    let mut out = String::new();
    for f in HOST_FUNCTIONS {
        let result = if f.name == "proc_exit" {
            ""
        } else {
            "(result i32)"
        };
        out.push_str(&format!(
            "(import \"{}\" \"{}\" (func ${} (param {}) {}))\n",
            f.module,
            f.name,
            f.name,
            f.params.join(" "),
            result
        ));
    }
    out
}

pub const PRELUDE: &str = r#"
  (memory (export "memory") 4)
  (global $heap (mut i32) (i32.const 65536))
  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func $report (param $name i32) (param $len i32) (param $v i32)
    (i32.store (i32.const 1000) (local.get $v))
    (drop (call $proxy_set_property (local.get $name) (local.get $len) (i32.const 1000) (i32.const 4))))
  (func $report_bytes (param $name i32) (param $len i32) (param $p i32) (param $l i32)
    (drop (call $proxy_set_property (local.get $name) (local.get $len) (local.get $p) (local.get $l))))
  (data (i32.const 100) "abcdefghijklmnopqrstuvwxyz")
"#;

/// A complete 0.2.1 filter module around `body`.
pub fn filter(body: &str) -> String {
    filter_with_marker("proxy_abi_version_0_2_1", body)
}

pub fn filter_with_marker(marker: &str, body: &str) -> String {
    format!(
        "(module\n{}\n(func (export \"{marker}\"))\n{PRELUDE}\n{body}\n)",
        imports()
    )
}

pub struct Harness {
    pub runtime: Runtime,
    pub host: FilterHost,
    pub recorder: Recorder,
    pub shared: Arc<MemorySharedData>,
    reported: RefCell<HashMap<(u32, String), Vec<u8>>>,
    pub events: RefCell<Vec<Event>>,
}

pub fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        epoch_tick: Duration::from_millis(1),
        start_ticker: true,
        ..Default::default()
    })
    .unwrap()
}

impl Harness {
    pub fn new(body: &str) -> Self {
        Self::try_new(
            body,
            FilterOptions::default(),
            Arc::new(MemorySharedData::new()),
        )
        .unwrap()
    }

    pub fn try_new(
        body: &str,
        options: FilterOptions,
        shared: Arc<MemorySharedData>,
    ) -> Result<Self, HostError> {
        let runtime = runtime();
        let module = runtime.compile(filter(body).as_bytes())?;
        let recorder = Recorder::new();
        let host = FilterHost::new(
            &runtime,
            &module,
            recorder.environment(shared.clone()),
            options,
        )?;
        Ok(Self {
            runtime,
            host,
            recorder,
            shared,
            reported: RefCell::new(HashMap::new()),
            events: RefCell::new(Vec::new()),
        })
    }

    pub fn with_limits(body: &str, limits: Limits) -> Result<Self, HostError> {
        Self::try_new(
            body,
            FilterOptions {
                limits,
                ..Default::default()
            },
            Arc::new(MemorySharedData::new()),
        )
    }

    fn collect(&self) {
        for e in self.recorder.drain() {
            if let Event::Property {
                context,
                path,
                value,
            } = &e
            {
                let name = path
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<Vec<_>>()
                    .join(".");
                self.reported
                    .borrow_mut()
                    .insert((*context, name), value.clone());
            }
            self.events.borrow_mut().push(e);
        }
    }

    /// Bytes reported under `name` by context `ctx`.
    pub fn bytes(&self, ctx: u32, name: &str) -> Option<Vec<u8>> {
        self.collect();
        self.reported.borrow().get(&(ctx, name.to_owned())).cloned()
    }

    /// An i32 reported with `$report`.
    pub fn num(&self, ctx: u32, name: &str) -> u32 {
        let b = self
            .bytes(ctx, name)
            .unwrap_or_else(|| panic!("nothing reported as {name:?} by context {ctx}"));
        u32::from_le_bytes(b[..4].try_into().unwrap())
    }

    pub fn all_events(&self) -> Vec<Event> {
        self.collect();
        self.events.borrow().clone()
    }

    pub fn logs(&self) -> Vec<String> {
        self.all_events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Log { message, .. } => Some(message),
                _ => None,
            })
            .collect()
    }

    /// New HTTP context + on_request_headers.
    pub fn request(
        &mut self,
        headers: &[(&str, &str)],
    ) -> (u32, Result<proxy_wasm_host::Action, HostError>) {
        let id = match self.host.create_http_context() {
            Ok(id) => id,
            Err(e) => return (0, Err(e)),
        };
        let map = proxy_wasm_host::HeaderMap::from_pairs(headers.iter().copied());
        (id, self.host.on_request_headers(id, map, true))
    }
}

/// `bytes` as a WAT string literal body (for data segments).
pub fn wat_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// A serialized header map as a WAT string literal body.
pub fn wat_map(pairs: &[(&str, &str)]) -> (String, usize) {
    let bytes = proxy_wasm_host::HeaderMap::from_pairs(pairs.iter().copied()).serialize();
    (wat_bytes(&bytes), bytes.len())
}
