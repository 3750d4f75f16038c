//! The proxy-wasm context state machine: one instance with a root context and
//! HTTP contexts, lifecycle callbacks in spec order, and replacement of the
//! instance after a trap. This is the API embedders drive.

use std::time::{Duration, Instant};

use wasmtime::{InstancePre, Linker, StoreLimits};

use crate::abi::Action;
use crate::embedder::{Environment, HttpCallResponse};
use crate::error::{HostError, Result};
use crate::header_map::HeaderMap;
use crate::hostcalls;
use crate::instance::Instance;
use crate::metrics::Metric;
use crate::runtime::{FilterModule, Limits, Runtime};
use crate::state::HostState;
use crate::ticker::GuestThread;

/// Per-filter configuration handed to the guest and the limits it runs under.
#[derive(Debug, Clone, Default)]
pub struct FilterOptions {
    /// Read by the guest in `proxy_on_vm_start` (buffer VM_CONFIGURATION).
    pub vm_config: Vec<u8>,
    /// Read by the guest in `proxy_on_configure` (buffer PLUGIN_CONFIGURATION).
    pub plugin_config: Vec<u8>,
    /// The `plugin_name` property.
    pub plugin_name: String,
    pub limits: Limits,
}

/// The id of every filter host's root context; HTTP contexts are numbered after it.
/// Embedders use it to tell the root context's work from a request's.
pub const ROOT_CONTEXT: u32 = 1;

pub struct FilterHost {
    pre: InstancePre<HostState>,
    options: FilterOptions,
    deadline_ticks: u64,
    guest_thread: GuestThread,
    /// `None` after a trap, until the next call starts a fresh instance.
    instance: Option<Instance>,
    /// The state of the last discarded instance, kept for the embedder's
    /// environment and the metrics.
    spare: Option<HostState>,
    next_context: u32,
    traps: u64,
    /// Instances started so far (the first, then one after each trap).
    starts: u64,
    /// When and why the last instance start failed (cleared by a success).
    start_failure: Option<(Instant, String)>,
}

impl FilterHost {
    /// Instantiates `module` and runs the root context's start-up:
    /// on_context_create, on_vm_start, on_configure.
    pub fn new(
        runtime: &Runtime,
        module: &FilterModule,
        env: Environment,
        options: FilterOptions,
    ) -> Result<Self> {
        let mut linker = Linker::new(runtime.engine());
        hostcalls::link(&mut linker).map_err(|e| HostError::Runtime(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&module.module)
            .map_err(|e| HostError::Instantiate(format!("{e:#}")))?;
        let deadline_ticks = runtime.deadline_ticks(options.limits.deadline);
        let mut host = Self {
            pre,
            options,
            deadline_ticks,
            guest_thread: runtime.guest_thread(),
            instance: None,
            spare: Some(HostState::new(env, StoreLimits::default())),
            next_context: ROOT_CONTEXT,
            traps: 0,
            starts: 0,
            start_failure: None,
        };
        host.instance()?;
        Ok(host)
    }

    /// The live instance, starting a fresh one (with the root context's start-up)
    /// when the previous one was discarded.
    fn instance(&mut self) -> Result<&mut Instance> {
        if self.instance.is_none() {
            if let Some((at, cause)) = &self.start_failure {
                let waited = at.elapsed();
                let backoff = self.options.limits.restart_backoff;
                if waited < backoff {
                    return Err(HostError::StartBackoff {
                        cause: cause.clone(),
                        retry_in_ms: (backoff - waited).as_millis() as u64,
                    });
                }
            }
            if let Err(e) = self.start_instance() {
                self.start_failure = Some((Instant::now(), e.to_string()));
                return Err(e);
            }
            self.start_failure = None;
        }
        Ok(self.instance.as_mut().unwrap())
    }

    fn start_instance(&mut self) -> Result<()> {
        {
            let mut state = self.spare.take().expect("state is either live or spare");
            state.vm_config = self.options.vm_config.clone();
            state.plugin_config = self.options.plugin_config.clone();
            state.plugin_name = self.options.plugin_name.clone();
            state.root_context = ROOT_CONTEXT;
            state.active_context = ROOT_CONTEXT;
            state.http_contexts.clear();
            state.orphan_calls(None);
            state.call_response = None;
            state.done_queue.clear();
            state.tick_period_ms = 0;
            let mut inst = match Instance::new(
                &self.pre,
                state,
                &self.options.limits,
                self.deadline_ticks,
                self.guest_thread.clone(),
            ) {
                Ok(i) => i,
                Err((e, state)) => {
                    self.spare = Some(state);
                    return Err(e);
                }
            };
            match Self::start_root(&mut inst, &self.options) {
                Ok(()) => {
                    self.instance = Some(inst);
                    self.starts += 1;
                }
                Err(e) => {
                    self.spare = Some(inst.into_state());
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn start_root(inst: &mut Instance, options: &FilterOptions) -> Result<()> {
        let root = ROOT_CONTEXT as i32;
        inst.call(
            "proxy_on_context_create",
            |c| &c.on_context_create,
            (root, 0),
        )?;
        let vm_config = options.vm_config.len() as i32;
        if inst.call("proxy_on_vm_start", |c| &c.on_vm_start, (root, vm_config))? == Some(0) {
            return Err(HostError::StartRefused {
                callback: "proxy_on_vm_start",
            });
        }
        let plugin_config = options.plugin_config.len() as i32;
        if inst.call(
            "proxy_on_configure",
            |c| &c.on_configure,
            (root, plugin_config),
        )? == Some(0)
        {
            return Err(HostError::StartRefused {
                callback: "proxy_on_configure",
            });
        }
        Ok(())
    }

    /// Runs `f` on the live instance; a trap discards the instance so the next
    /// call gets a fresh one.
    fn with_instance<R>(&mut self, f: impl FnOnce(&mut Instance) -> Result<R>) -> Result<R> {
        let inst = self.instance()?;
        let result = f(inst).and_then(|r| {
            Self::finalize_done(inst)?;
            Ok(r)
        });
        if let Err(e) = &result
            && e.is_trap()
        {
            self.traps += 1;
            let inst = self.instance.take().unwrap();
            self.spare = Some(inst.into_state());
        }
        result
    }

    /// on_log + on_delete for contexts that called `proxy_done`.
    fn finalize_done(inst: &mut Instance) -> Result<()> {
        while let Some(id) = inst.state_mut().done_queue.pop() {
            Self::log_and_delete(inst, id)?;
        }
        Ok(())
    }

    fn log_and_delete(inst: &mut Instance, id: u32) -> Result<()> {
        inst.state_mut().active_context = id;
        inst.call("proxy_on_log", |c| &c.on_log, id as i32)?;
        inst.call("proxy_on_delete", |c| &c.on_delete, id as i32)?;
        let state = inst.state_mut();
        state.remove_http_context(id);
        state.orphan_calls(Some(id));
        Ok(())
    }

    fn allocate_context(&mut self) -> u32 {
        loop {
            self.next_context = self.next_context.wrapping_add(1);
            let id = self.next_context;
            let in_use = self
                .instance
                .as_ref()
                .is_some_and(|i| i.state().context_exists(id));
            if id > ROOT_CONTEXT && !in_use {
                return id;
            }
        }
    }

    /// Creates an HTTP context (`proxy_on_context_create(id, root)`).
    pub fn create_http_context(&mut self) -> Result<u32> {
        self.instance()?;
        let id = self.allocate_context();
        self.with_instance(|inst| {
            inst.state_mut().insert_http_context(id);
            inst.state_mut().active_context = id;
            inst.call(
                "proxy_on_context_create",
                |c| &c.on_context_create,
                (id as i32, ROOT_CONTEXT as i32),
            )?;
            Ok(id)
        })
    }

    /// Hands the request headers to the context and calls `proxy_on_request_headers`.
    /// `:authority` should be the client's Host as received.
    pub fn on_request_headers(
        &mut self,
        context_id: u32,
        headers: HeaderMap,
        end_of_stream: bool,
    ) -> Result<Action> {
        self.on_request_headers_with(context_id, |map| *map = headers, end_of_stream)
    }

    /// `on_request_headers`, with `fill` writing the headers into the context's
    /// (empty) map in place: the map's buffers are reused from finished requests,
    /// so a worker's request path allocates nothing for them.
    pub fn on_request_headers_with(
        &mut self,
        context_id: u32,
        fill: impl FnOnce(&mut HeaderMap),
        end_of_stream: bool,
    ) -> Result<Action> {
        self.with_instance(|inst| {
            let ctx = inst
                .state_mut()
                .http_contexts
                .get_mut(&context_id)
                .ok_or(HostError::UnknownContext(context_id))?;
            ctx.request_headers.clear();
            fill(&mut ctx.request_headers);
            let count = ctx.request_headers.len() as i32;
            inst.state_mut().active_context = context_id;
            let action = inst.call(
                "proxy_on_request_headers",
                |c| &c.on_request_headers,
                (context_id as i32, count, end_of_stream as i32),
            )?;
            Ok(action.map_or(Action::Continue, Action::from_i32))
        })
    }

    /// The request headers of a context as the filter left them.
    pub fn request_headers(&self, context_id: u32) -> Option<&HeaderMap> {
        self.instance
            .as_ref()?
            .state()
            .http_contexts
            .get(&context_id)
            .map(|c| &c.request_headers)
    }

    /// Delivers the answer to http call `token` (`None`: the call failed, the guest
    /// sees zero headers and an empty body) through `proxy_on_http_call_response`.
    /// Returns the id of the context that made the call, or `None` when the
    /// embedder already finished that context. `HostError::CallContextLost` when
    /// the context died with a trapped instance (the embedder should fail its
    /// request); `HostError::UnknownHttpCall` for tokens never issued or already
    /// answered.
    pub fn deliver_http_call_response(
        &mut self,
        token: u32,
        response: Option<HttpCallResponse>,
    ) -> Result<Option<u32>> {
        let live = self.instance.is_some();
        let state = match self.instance.as_mut() {
            Some(inst) => inst.state_mut(),
            None => match self.spare.as_mut() {
                Some(spare) => spare,
                None => return Err(HostError::UnknownHttpCall(token)),
            },
        };
        match state.orphaned_calls.remove(&token) {
            Some(true) => return Err(HostError::CallContextLost(token)),
            Some(false) => return Ok(None),
            None => {}
        }
        // A discarded instance's calls are orphaned when the next one starts.
        if !live && state.pending_calls.remove(&token).is_some() {
            return Err(HostError::CallContextLost(token));
        }
        let Some(inst) = self.instance.as_mut() else {
            return Err(HostError::UnknownHttpCall(token));
        };
        let Some(context_id) = inst.state_mut().pending_calls.remove(&token) else {
            return Err(HostError::UnknownHttpCall(token));
        };
        if !inst.state().context_exists(context_id) {
            return Ok(None);
        }
        let response = response.unwrap_or_default();
        self.with_instance(|inst| {
            let (headers, body, trailers) = (
                response.headers.len(),
                response.body.len(),
                response.trailers.len(),
            );
            let state = inst.state_mut();
            state.call_response = Some(response);
            state.active_context = context_id;
            let result = inst.call(
                "proxy_on_http_call_response",
                |c| &c.on_http_call_response,
                (
                    context_id as i32,
                    token as i32,
                    headers as i32,
                    body as i32,
                    trailers as i32,
                ),
            );
            inst.state_mut().call_response = None;
            result.map(|_| Some(context_id))
        })
    }

    /// `proxy_on_tick` on the root context.
    pub fn on_tick(&mut self) -> Result<()> {
        self.with_instance(|inst| {
            inst.state_mut().active_context = ROOT_CONTEXT;
            inst.call("proxy_on_tick", |c| &c.on_tick, ROOT_CONTEXT as i32)?;
            Ok(())
        })
    }

    /// Ends an HTTP context: on_done, then on_log and on_delete (at once, or
    /// after the filter calls `proxy_done` if on_done returned false).
    /// Unknown ids (e.g. lost with a trapped instance) are ignored.
    pub fn finish_request(&mut self, context_id: u32) -> Result<()> {
        match self.instance.as_ref() {
            Some(i) if i.state().http_contexts.contains_key(&context_id) => {}
            _ => return Ok(()),
        }
        self.with_instance(|inst| {
            inst.state_mut().active_context = context_id;
            let done = inst.call("proxy_on_done", |c| &c.on_done, context_id as i32)? != Some(0);
            if done {
                Self::log_and_delete(inst, context_id)
            } else {
                if let Some(c) = inst.state_mut().http_contexts.get_mut(&context_id) {
                    c.awaiting_done = true;
                }
                Ok(())
            }
        })
    }

    /// Set by the filter with `proxy_set_tick_period_milliseconds`; `None` = no ticks.
    pub fn tick_period(&self) -> Option<Duration> {
        let ms = self.instance.as_ref()?.state().tick_period_ms;
        (ms > 0).then(|| Duration::from_millis(ms as u64))
    }

    pub fn metrics(&self) -> Vec<Metric> {
        self.state()
            .map(|s| s.metrics.all().to_vec())
            .unwrap_or_default()
    }

    /// Number of traps so far (each one replaced the instance).
    pub fn trap_count(&self) -> u64 {
        self.traps
    }

    /// Instances started so far: 1 after `new`, one more for each restart after a trap.
    pub fn instance_starts(&self) -> u64 {
        self.starts
    }

    /// Whether a live instance exists (false after a trap until the next call).
    pub fn is_running(&self) -> bool {
        self.instance.is_some()
    }

    /// Context ids currently alive (root excluded).
    pub fn http_context_ids(&self) -> Vec<u32> {
        self.instance
            .as_ref()
            .map(|i| i.state().http_contexts.keys().copied().collect())
            .unwrap_or_default()
    }

    fn state(&self) -> Option<&HostState> {
        match &self.instance {
            Some(i) => Some(i.state()),
            None => self.spare.as_ref(),
        }
    }

    /// The embedder's environment, e.g. to read what its sinks recorded.
    pub fn env_mut(&mut self) -> Option<&mut Environment> {
        match &mut self.instance {
            Some(i) => Some(&mut i.state_mut().env),
            None => self.spare.as_mut().map(|s| &mut s.env),
        }
    }
}

// Embedders may create a host on one thread and run it on another.
const _: fn() = || {
    fn assert_send<T: Send>() {}
    assert_send::<FilterHost>();
    assert_send::<Runtime>();
};
