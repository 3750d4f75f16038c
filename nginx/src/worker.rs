//! The filter host of this worker process: created after fork (init_process), never
//! in the master, and the glue that drives it from nginx events (requests, http call
//! answers, ticks).

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use ngx::ffi::{
    NGX_LOG_ALERT, NGX_LOG_ERR, NGX_LOG_NOTICE, NGX_OK, ngx_add_timer, ngx_cycle_t, ngx_del_timer,
    ngx_event_t, ngx_http_request_t, ngx_int_t, ngx_log_t,
};
use ngx::http::{HttpModuleMainConf, Request};
use ngx::ngx_log_error;
use proxy_wasm_host::{
    Action, DeadlineClock, Environment, FilterHost, FilterOptions, HeaderMap, HostError,
    HttpCallResponse, Limits, MemorySharedData, ROOT_CONTEXT, Runtime, RuntimeConfig, SharedData,
    TrapKind,
};

use crate::conf::MainConf;
use crate::error::RequestError;
use crate::metrics_text::{Counter, call_counter};
use crate::{Module, bridge, edge_metrics, env, request_ctx, shared};

struct Worker {
    host: FilterHost,
    filter: String,
    _runtime: Runtime,
}

thread_local! {
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
    /// Why the filter could not start in this worker, for the per-request error.
    static LOAD_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The root context's tick timer. Only this worker's thread touches it: nginx's
/// event loop (`on_tick`), `arm_tick` and `exit_process`.
// SAFETY: an event is plain C data; all zeroes is nginx's unset event.
static mut TICK: ngx_event_t = unsafe { core::mem::zeroed() };

fn log() -> *mut ngx_log_t {
    ngx::log::ngx_cycle_log().as_ptr()
}

/// `init_process`: compile the filter and start its root context in this worker.
pub unsafe extern "C" fn init_process(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    // SAFETY: nginx calls init_process with the worker's live cycle.
    let cycle = unsafe { &*cycle };
    let Some(mcf) = Module::main_conf(cycle) else {
        return NGX_OK as ngx_int_t;
    };
    // SAFETY: the metrics zone of this cycle (or null), initialised in the master.
    unsafe { edge_metrics::attach(mcf.metrics_zone, worker_number()) };
    let Some(path) = mcf.filter_path.clone() else {
        return NGX_OK as ngx_int_t;
    };
    match start(mcf, &path) {
        Ok(worker) => {
            let period = worker.host.tick_period();
            WORKER.with(|w| *w.borrow_mut() = Some(worker));
            if let Some(p) = period {
                arm_tick(p);
            }
        }
        Err(e) => {
            // The worker keeps serving; locations with set_backend answer 500 and say why.
            ngx_log_error!(
                NGX_LOG_ALERT,
                cycle.log,
                "set_backend: filter \"{}\" cannot start: {}",
                path,
                e
            );
            LOAD_ERROR.with(|l| *l.borrow_mut() = Some(e.to_string()));
        }
    }
    NGX_OK as ngx_int_t
}

fn start(mcf: &MainConf, path: &str) -> Result<Worker, HostError> {
    let started = std::time::Instant::now();
    let deadline_ms = mcf
        .filter_timeout
        .unwrap_or(crate::conf::DEFAULT_FILTER_TIMEOUT_MS);
    // A quarter of the deadline keeps a looping filter's overrun under 25 %.
    let tick_ms = (deadline_ms / 4).clamp(1, 50);
    let runtime = start_runtime(Duration::from_millis(tick_ms as u64))?;
    let module = if mcf.filter_precompiled {
        // SAFETY: the operator's file from proxy-wasm-precompile (nginx -t checked its
        // kind); wasmtime checks version and settings, and trusts the code, like any
        // other module nginx is told to load.
        unsafe { runtime.deserialize(&mcf.filter_bytes)? }
    } else {
        runtime.compile(&mcf.filter_bytes)?
    };
    let compiled = started.elapsed();
    let shared_data: Arc<dyn SharedData> = if mcf.shm_zone.is_null() {
        ngx_log_error!(
            NGX_LOG_NOTICE,
            log(),
            "set_backend: no set_backend_shared_zone: shared data is per worker"
        );
        Arc::new(MemorySharedData::new())
    } else {
        // SAFETY: the cache zone of this cycle, initialised by shared::init_zone in
        // the master before fork, mapped in this worker.
        Arc::new(unsafe { shared::ShmSharedData::new(mcf.shm_zone) })
    };
    bridge::with(|b| {
        b.clusters = mcf.clusters.clone();
        b.backend_vars = mcf.backend_vars.clone();
    });
    let env = Environment {
        clock: Box::new(env::CachedClock),
        logger: Box::new(env::ErrorLog {
            filter: path.to_string(),
        }),
        properties: Box::new(env::RequestProperties),
        shared_data,
        http_calls: Box::new(env::EventLoopCalls),
        streams: Box::new(env::RequestStreams),
    };
    let options = FilterOptions {
        vm_config: Vec::new(),
        plugin_config: mcf.filter_config.clone().unwrap_or_default(),
        plugin_name: "set_backend".into(),
        limits: Limits {
            deadline: Duration::from_millis(deadline_ms as u64),
            ..Limits::default()
        },
    };
    let host = FilterHost::new(&runtime, &module, env, options)?;
    // Worker start cost, for operators and the benchmarks: compile vs. instantiate + configure.
    ngx_log_error!(
        NGX_LOG_NOTICE,
        log(),
        "set_backend: filter \"{}\" {} in {} ms, started in {} ms",
        path,
        if mcf.filter_precompiled {
            "loaded (precompiled)"
        } else {
            "compiled"
        },
        compiled.as_millis(),
        (started.elapsed() - compiled).as_millis()
    );
    Ok(Worker {
        host,
        filter: path.to_string(),
        _runtime: runtime,
    })
}

/// The engine, with the deadline counted in this worker's CPU time by a timer
/// that signals this thread: no second thread in the worker (proxy_wasm_host's
/// `cpu_timer` says why that matters). If that timer cannot be had (its signal
/// taken by another module), a ticker thread counts the same CPU time instead.
fn start_runtime(tick: Duration) -> Result<Runtime, HostError> {
    let config = |deadline_clock| RuntimeConfig {
        epoch_tick: tick,
        deadline_clock,
        ..RuntimeConfig::default()
    };
    Runtime::new(config(DeadlineClock::OwnThreadCpuTimer)).or_else(|e| {
        ngx_log_error!(
            NGX_LOG_NOTICE,
            log(),
            "set_backend: {}; using a ticker thread instead",
            e
        );
        Runtime::new(config(DeadlineClock::ThreadCpu))
    })
}

pub unsafe extern "C" fn exit_process(_cycle: *mut ngx_cycle_t) {
    crate::http_call::abort_all();
    edge_metrics::withdraw(worker_number());
    let tick = &raw mut TICK;
    // SAFETY: TICK is only used on this thread (see its definition); the flag says
    // it is in the timer tree.
    unsafe {
        if (*tick).timer_set() != 0 {
            ngx_del_timer(tick);
        }
    }
    WORKER.with(|w| w.borrow_mut().take());
}

pub fn load_error() -> Option<String> {
    LOAD_ERROR.with(|l| l.borrow().clone())
}

pub fn ready() -> bool {
    WORKER.with(|w| w.borrow().is_some())
}

pub fn filter_name() -> String {
    WORKER.with(|w| {
        w.borrow()
            .as_ref()
            .map(|w| w.filter.clone())
            .unwrap_or_default()
    })
}

/// Runs `f` on the host. `None` when there is no host, or when it is already in use
/// (which would mean nginx re-entered us from inside a guest call: refused).
fn with_host<R>(f: impl FnOnce(&mut FilterHost) -> R) -> Option<R> {
    WORKER.with(|w| {
        let mut w = w.try_borrow_mut().ok()?;
        let w = w.as_mut()?;
        Some(f(&mut w.host))
    })
}

/// Creates the HTTP context for a request and its bridge slot (which keeps `r`
/// until the request's pool cleanup ends the context).
pub fn create_context(r: *mut ngx_http_request_t) -> Result<u32, RequestError> {
    let id = with_host(|h| h.create_http_context()).ok_or(RequestError::HostBusy)??;
    bridge::with(|b| b.open_slot(id, r));
    Ok(id)
}

/// Runs `on_request_headers`; `fill` writes the request's headers into the context's map.
pub fn on_request_headers(
    id: u32,
    fill: impl FnOnce(&mut HeaderMap),
    end_of_stream: bool,
) -> Result<Action, RequestError> {
    let result = with_host(|h| h.on_request_headers_with(id, fill, end_of_stream))
        .ok_or(RequestError::HostBusy)?;
    after_guest_call(result.as_ref().err());
    Ok(result?)
}

/// After every guest call: a trap discarded the instance and with it every HTTP
/// context, so no paused request can be continued any more — fail them all; then
/// wake the requests the filter continued or answered (possibly from another
/// context, e.g. the root context answering requests that wait for one lookup).
fn after_guest_call(error: Option<&HostError>) {
    if let Some(HostError::Trap { kind, .. }) = error {
        edge_metrics::count(match kind {
            TrapKind::Deadline => Counter::TrapsDeadline,
            TrapKind::Fault => Counter::TrapsFault,
        });
    }
    if error.is_some_and(|e| e.is_trap()) {
        bridge::with(|b| {
            for (id, slot) in b.slots.iter_mut() {
                slot.failed = true;
                b.woken.push(*id);
            }
        });
    }
    let woken = bridge::with(|b| std::mem::take(&mut b.woken));
    for id in woken {
        wake(id);
    }
}

/// The request is over (its pool is being destroyed): end the context.
pub fn finish_request(id: u32) {
    bridge::with(|b| b.close_slot(id));
    if let Some(Err(e)) = with_host(|h| h.finish_request(id)) {
        ngx_log_error!(
            NGX_LOG_ERR,
            log(),
            "set_backend: filter \"{}\": {}",
            filter_name(),
            e
        );
    }
}

/// An http call ended (`None`: failed). Hands the answer to the filter, then wakes
/// the request that waits for it, if the filter decided something.
pub fn deliver_http_call_response(token: u32, response: Option<HttpCallResponse>) {
    let context = bridge::with(|b| {
        let c = b.calls.remove(&token);
        if let Some(slot) = c.and_then(|c| b.slots.get_mut(&c)) {
            slot.pending_calls = slot.pending_calls.saturating_sub(1);
        }
        c
    });
    let status = response.as_ref().map(|r| {
        r.headers
            .get(b":status")
            .and_then(|s| core::str::from_utf8(s).ok()?.parse().ok())
            .unwrap_or(0)
    });
    edge_metrics::count(call_counter(status));
    let result = with_host(|h| h.deliver_http_call_response(token, response));
    match &result {
        None => {
            ngx_log_error!(
                NGX_LOG_ALERT,
                log(),
                "set_backend: answer to http call {} dropped: filter host busy or gone",
                token
            );
        }
        Some(Err(e)) => {
            ngx_log_error!(
                NGX_LOG_ERR,
                log(),
                "set_backend: filter \"{}\": {}",
                filter_name(),
                e
            );
        }
        Some(Ok(_)) => {}
    }
    if !matches!(result, Some(Ok(_)))
        && let Some(c) = context.filter(|c| *c != ROOT_CONTEXT)
    {
        bridge::with_slot(c, |s| s.failed = true);
        bridge::with(|b| b.woken.push(c));
    }
    after_guest_call(result.as_ref().and_then(|r| r.as_ref().err()));
}

/// Posts the request of context `id` to run its phases again, if it waits.
fn wake(id: u32) {
    let request = bridge::with_slot(id, |s| s.request).flatten();
    let Some(r) = request else { return };
    // SAFETY: a slot's request is live until its pool cleanup closes the slot, and
    // this runs on the worker's thread between nginx's handlers for it; its context
    // is only read here.
    let paused =
        unsafe { request_ctx::get(Request::from_ngx_http_request(r)) }.is_some_and(|c| c.paused);
    if paused {
        // SAFETY: as above; the request's connection outlives it. Its write event's
        // handler runs the request's phases again (ngx_http_request_handler).
        unsafe {
            let c = (*r).connection;
            ngx::ffi::ngx_post_event((*c).write, &raw mut ngx::ffi::ngx_posted_events);
        }
    }
}

thread_local! {
    /// Filter instances started in this worker as last published (restarts are the growth).
    static PUBLISHED_STARTS: core::cell::Cell<u64> = const { core::cell::Cell::new(1) };
}

/// nginx's number of this worker (0 .. worker_processes - 1).
fn worker_number() -> usize {
    // SAFETY: set by nginx before init_process, read on the worker's only thread.
    unsafe { ngx::ffi::ngx_worker }
}

/// Each tick: this worker's filter metrics into the shared block, and its restarts counted.
fn publish_metrics(h: &FilterHost) {
    let starts = h.instance_starts();
    let before = PUBLISHED_STARTS.with(|c| c.replace(starts.max(1)));
    if starts > before {
        edge_metrics::add(Counter::InstanceRestarts, starts - before);
    }
    // SAFETY: nginx's pid of this process, set before init_process.
    let pid = unsafe { ngx::ffi::ngx_pid } as u64;
    edge_metrics::publish(worker_number(), pid, &h.metrics());
}

thread_local! {
    static LAST_TICK_PERIOD: core::cell::Cell<Option<Duration>> = const { core::cell::Cell::new(None) };
}

fn last_tick_period() -> Option<Duration> {
    LAST_TICK_PERIOD.with(|c| c.get())
}

fn arm_tick(period: Duration) {
    LAST_TICK_PERIOD.with(|c| c.set(Some(period)));
    // SAFETY: TICK is only used on this thread (see its definition); a timer already
    // set is moved, not added twice (ngx_add_timer deletes it first).
    unsafe {
        let tick = &raw mut TICK;
        if (*tick).handler.is_none() {
            (*tick).handler = Some(on_tick);
            (*tick).log = log();
            // Ticks must not hold a worker back from a graceful exit.
            (*tick).set_cancelable(1);
        }
        ngx_add_timer(tick, period.as_millis().max(1) as ngx::ffi::ngx_msec_t);
    }
}

unsafe extern "C" fn on_tick(_ev: *mut ngx_event_t) {
    // SAFETY: nginx sets the flag on this same thread (signal handling runs in the
    // event loop, not in the handler).
    if unsafe { ngx::ffi::ngx_exiting } != 0 {
        return;
    }
    let period = with_host(|h| {
        let result = h.on_tick();
        if let Err(e) = &result {
            ngx_log_error!(
                NGX_LOG_ERR,
                log(),
                "set_backend: filter \"{}\" tick: {}",
                filter_name(),
                e
            );
        }
        after_guest_call(result.as_ref().err());
        publish_metrics(h);
        // After a trap the instance is gone until the next call: keep ticking with the
        // last period so that the next tick starts a fresh one.
        h.tick_period()
            .or_else(|| (!h.is_running()).then(last_tick_period).flatten())
    })
    .flatten();
    if let Some(p) = period {
        arm_tick(p);
    }
}
