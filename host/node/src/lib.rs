//! Node binding of the proxy-wasm host: load a filter, feed it simulated
//! requests, http-call answers and ticks, and read back what it decided.
//! The filter runs with a `Recorder` environment; each call returns the
//! recorded events as plain JS objects (see index.d.ts for the contract).

mod convert;
mod shared;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use proxy_wasm_host::recorder::Event;
use proxy_wasm_host::{
    Action, FilterModule, FilterOptions, HeaderMap, HostError, HttpCallResponse, Limits,
    MemorySharedData, Recorder, Runtime, RuntimeConfig,
};

pub use shared::SharedData;

use convert::{pairs_from_js, pairs_to_js, text};

/// One engine (and epoch ticker thread) for every host in the process.
fn runtime() -> Result<&'static Runtime> {
    static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| Runtime::new(RuntimeConfig::default()).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::from_reason(e.clone()))
}

/// Compiled modules by their bytes: tests start many hosts of the same filter,
/// and compiling a real filter costs tens of milliseconds. Small and bounded.
fn compile(runtime: &Runtime, wasm: &[u8]) -> Result<FilterModule> {
    static CACHE: Mutex<Vec<(Vec<u8>, FilterModule)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, module)) = cache.iter().find(|(bytes, _)| bytes.as_slice() == wasm) {
        return Ok(module.clone());
    }
    let module = runtime.compile(wasm).map_err(js_error)?;
    if cache.len() >= 16 {
        cache.remove(0);
    }
    cache.push((wasm.to_vec(), module.clone()));
    Ok(module)
}

fn js_error(e: HostError) -> Error {
    Error::from_reason(e.to_string())
}

#[napi(object)]
pub struct LocalResponse {
    pub status: u32,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

#[napi(object)]
pub struct HttpCall {
    pub token: u32,
    pub upstream: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub timeout_ms: u32,
}

#[napi(object)]
pub struct LogEntry {
    pub level: String,
    pub message: String,
}

/// What one context did during one host call.
#[napi(object)]
pub struct Outcome {
    pub id: u32,
    /// 'continue' | 'pause' | 'local_response' | 'trap'
    pub action: String,
    pub local_response: Option<LocalResponse>,
    /// Properties set, keyed by path segments joined with '.'.
    pub properties: HashMap<String, String>,
    pub http_calls: Vec<HttpCall>,
    pub logs: Vec<LogEntry>,
    /// The error message when action is 'trap'.
    pub error: Option<String>,
}

impl Outcome {
    fn new(id: u32) -> Self {
        Self {
            id,
            action: "continue".into(),
            local_response: None,
            properties: HashMap::new(),
            http_calls: Vec::new(),
            logs: Vec::new(),
            error: None,
        }
    }

    /// Files one recorded event into this outcome.
    fn absorb(&mut self, event: Event) {
        match event {
            Event::Log { level, message, .. } => self.logs.push(LogEntry {
                level: level.as_str().into(),
                message,
            }),
            Event::Property { path, value, .. } => {
                let key = path.iter().map(|s| text(s)).collect::<Vec<_>>().join(".");
                self.properties.insert(key, text(&value));
            }
            Event::HttpCall { token, request, .. } => self.http_calls.push(HttpCall {
                token,
                upstream: request.upstream,
                headers: pairs_to_js(&request.headers),
                body: text(&request.body),
                timeout_ms: request.timeout_ms,
            }),
            Event::LocalResponse { response, .. } => {
                self.action = "local_response".into();
                self.local_response = Some(LocalResponse {
                    status: response.status,
                    body: text(&response.body),
                    headers: pairs_to_js(&response.headers),
                });
            }
            Event::Continue { .. } => {
                if self.local_response.is_none() {
                    self.action = "continue".into();
                }
            }
        }
    }

    fn trapped(mut self, e: &HostError) -> Self {
        self.action = "trap".into();
        self.error = Some(e.to_string());
        self
    }
}

#[napi(object)]
pub struct MetricValue {
    pub name: String,
    /// 'counter' | 'gauge' | 'histogram'
    pub kind: String,
    pub value: i64,
}

#[napi(object)]
pub struct HttpCallAnswer {
    pub status: Option<u32>,
    pub headers: Option<Vec<(String, String)>>,
    pub body: Option<String>,
}

#[napi(js_name = "FilterHost")]
pub struct JsFilterHost {
    host: proxy_wasm_host::FilterHost,
    recorder: Recorder,
}

const ROOT: u32 = 1;

#[napi]
impl JsFilterHost {
    /// Loads a filter (wasm bytes or WAT text) and runs on_vm_start and on_configure.
    #[napi(constructor)]
    pub fn new(wasm: Buffer, opts: Option<Object>) -> Result<Self> {
        let mut options = FilterOptions {
            plugin_name: "filter".into(),
            ..Default::default()
        };
        let mut limits = Limits::default();
        let mut shared: Arc<MemorySharedData> = Arc::new(MemorySharedData::new());
        if let Some(o) = opts {
            if let Some(s) = o.get::<String>("pluginConfig")? {
                options.plugin_config = s.into_bytes();
            }
            if let Some(s) = o.get::<String>("vmConfig")? {
                options.vm_config = s.into_bytes();
            }
            if let Some(s) = o.get::<String>("pluginName")? {
                options.plugin_name = s;
            }
            if let Some(ms) = o.get::<f64>("deadlineMs")? {
                if !(ms.is_finite() && ms > 0.0) {
                    return Err(Error::from_reason("deadlineMs must be a positive number"));
                }
                limits.deadline = Duration::from_secs_f64(ms / 1000.0);
            }
            if let Some(bytes) = o.get::<f64>("memoryLimitBytes")? {
                if !(bytes.is_finite() && bytes >= 65536.0) {
                    return Err(Error::from_reason(
                        "memoryLimitBytes must be at least 65536",
                    ));
                }
                limits.memory_bytes = bytes as usize;
            }
            if let Some(ms) = o.get::<f64>("restartBackoffMs")? {
                if !(ms.is_finite() && ms >= 0.0) {
                    return Err(Error::from_reason("restartBackoffMs must be a number ≥ 0"));
                }
                limits.restart_backoff = Duration::from_secs_f64(ms / 1000.0);
            }
            if let Some(s) = o.get::<ClassInstance<SharedData>>("shared")? {
                shared = s.store();
            }
        }
        options.limits = limits;
        let runtime = runtime()?;
        let module = compile(runtime, &wasm)?;
        let recorder = Recorder::new();
        let host = proxy_wasm_host::FilterHost::new(
            runtime,
            &module,
            recorder.environment(shared),
            options,
        )
        .map_err(js_error)?;
        recorder.drain();
        Ok(Self { host, recorder })
    }

    /// Fixes the filter's clock (milliseconds since the epoch); null = real time.
    #[napi]
    pub fn set_time_ms(&self, ms: Option<f64>) {
        self.recorder.set_time_nanos(ms.map(|ms| (ms * 1e6) as u64));
    }

    /// New HTTP context + proxy_on_request_headers.
    #[napi]
    pub fn request(&mut self, headers: Vec<(String, String)>) -> Outcome {
        let id = match self.host.create_http_context() {
            Ok(id) => id,
            Err(e) => return self.collect(0).trapped(&e),
        };
        let result = self
            .host
            .on_request_headers(id, pairs_from_js(&headers), true);
        let mut outcome = self.collect(id);
        match result {
            Ok(Action::Continue) if outcome.local_response.is_none() => {
                outcome.action = "continue".into()
            }
            Ok(Action::Pause) if outcome.local_response.is_none() => {
                outcome.action = "pause".into()
            }
            Ok(_) => {}
            Err(e) => return outcome.trapped(&e),
        }
        outcome
    }

    /// Request headers of a live context as the filter left them.
    #[napi]
    pub fn request_headers(&self, id: u32) -> Option<Vec<(String, String)>> {
        self.host.request_headers(id).map(pairs_to_js)
    }

    /// Answers http call `token`; null = the call failed. Returns the outcome of
    /// the context that made the call (the root context for calls from ticks)
    /// and of any other context the filter acted on.
    #[napi]
    pub fn deliver_http_call_response(
        &mut self,
        token: u32,
        resp: Option<HttpCallAnswer>,
    ) -> Result<Vec<Outcome>> {
        let response = resp.map(|r| {
            let mut headers = HeaderMap::new();
            headers.add(b":status", r.status.unwrap_or(200).to_string().as_bytes());
            for (k, v) in r.headers.unwrap_or_default() {
                headers.add(k.as_bytes(), v.as_bytes());
            }
            HttpCallResponse {
                headers,
                body: r.body.unwrap_or_default().into_bytes(),
                trailers: HeaderMap::new(),
            }
        });
        let result = self.host.deliver_http_call_response(token, response);
        let events = self.recorder.drain();
        let context = match &result {
            Ok(Some(id)) => *id,
            // Nobody to resume: finished, or lost with a trapped instance.
            Ok(None) | Err(HostError::CallContextLost(_)) => return Ok(Vec::new()),
            Err(HostError::UnknownHttpCall(_)) => return Err(js_error(result.unwrap_err())),
            Err(_) => 0,
        };
        let mut by_context: Vec<Outcome> = Vec::new();
        let mut own = Outcome::new(context);
        if context != ROOT {
            own.action = "pause".into();
        }
        by_context.push(own);
        for event in events {
            let ctx = event.context();
            let i = match by_context.iter().position(|o| o.id == ctx) {
                Some(i) => i,
                None => {
                    let mut o = Outcome::new(ctx);
                    if ctx != ROOT {
                        o.action = "pause".into();
                    }
                    by_context.push(o);
                    by_context.len() - 1
                }
            };
            by_context[i].absorb(event);
        }
        if let Err(e) = result {
            let first = by_context.remove(0);
            by_context.insert(0, first.trapped(&e));
        }
        Ok(by_context)
    }

    /// proxy_on_tick on the root context.
    #[napi]
    pub fn tick(&mut self) -> Outcome {
        let result = self.host.on_tick();
        let outcome = self.collect(ROOT);
        match result {
            Ok(()) => outcome,
            Err(e) => outcome.trapped(&e),
        }
    }

    /// Tick period the filter asked for, in ms (0 = none).
    #[napi(getter)]
    pub fn tick_period_ms(&self) -> u32 {
        self.host
            .tick_period()
            .map(|d| d.as_millis() as u32)
            .unwrap_or(0)
    }

    /// on_done, then on_log and on_delete.
    #[napi]
    pub fn finish_request(&mut self, id: u32) -> Outcome {
        let result = self.host.finish_request(id);
        self.recorder.forget_context(id);
        let outcome = self.collect(id);
        match result {
            Ok(()) => outcome,
            Err(e) => outcome.trapped(&e),
        }
    }

    #[napi(getter)]
    pub fn trap_count(&self) -> i64 {
        self.host.trap_count() as i64
    }

    #[napi]
    pub fn metrics(&self) -> Vec<MetricValue> {
        self.host
            .metrics()
            .into_iter()
            .map(|m| MetricValue {
                name: m.name,
                kind: format!("{:?}", m.kind).to_lowercase(),
                value: m.value,
            })
            .collect()
    }
}

impl JsFilterHost {
    /// Every event recorded since the last call, filed under one outcome.
    fn collect(&self, id: u32) -> Outcome {
        let mut outcome = Outcome::new(id);
        for event in self.recorder.drain() {
            outcome.absorb(event);
        }
        outcome
    }
}
