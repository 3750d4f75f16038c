//! VM layer: one wasmtime store + instance of a filter, its optional
//! callbacks resolved once, and every guest call made under the deadline.

use wasmtime::{InstancePre, Store, StoreLimitsBuilder, Trap, TypedFunc, WasmParams, WasmResults};

use crate::error::{HostError, Result, TrapKind};
use crate::runtime::Limits;
use crate::state::HostState;
use crate::ticker::GuestThread;

/// `proxy_on_http_call_response(context, token, headers, body_size, trailers)`.
type HttpCallResponseFn = TypedFunc<(i32, i32, i32, i32, i32), ()>;

/// The `proxy_on_*` exports this host calls; each one optional per spec.
pub(crate) struct Callbacks {
    pub on_context_create: Option<TypedFunc<(i32, i32), ()>>,
    pub on_vm_start: Option<TypedFunc<(i32, i32), i32>>,
    pub on_configure: Option<TypedFunc<(i32, i32), i32>>,
    pub on_tick: Option<TypedFunc<i32, ()>>,
    pub on_request_headers: Option<TypedFunc<(i32, i32, i32), i32>>,
    pub on_http_call_response: Option<HttpCallResponseFn>,
    pub on_done: Option<TypedFunc<i32, i32>>,
    pub on_log: Option<TypedFunc<i32, ()>>,
    pub on_delete: Option<TypedFunc<i32, ()>>,
    pub initialize: Option<TypedFunc<(), ()>>,
    pub main: Option<TypedFunc<(i32, i32), i32>>,
    pub start: Option<TypedFunc<(), ()>>,
}

pub(crate) struct Instance {
    pub store: Store<HostState>,
    pub callbacks: Callbacks,
    deadline_ticks: u64,
    guest_thread: GuestThread,
}

impl Instance {
    /// Instantiates and runs the module's own initialization (`_initialize` and
    /// `main`, or `_start`). Proxy-wasm lifecycle calls are the caller's job.
    /// On failure the state comes back, so the embedder's environment survives.
    #[allow(clippy::result_large_err)] // rare path; boxing would only move the cost
    pub fn new(
        pre: &InstancePre<HostState>,
        mut state: HostState,
        limits: &Limits,
        deadline_ticks: u64,
        guest_thread: GuestThread,
    ) -> std::result::Result<Self, (HostError, HostState)> {
        state.limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .table_elements(1 << 20)
            .instances(1)
            .build();
        let mut store = Store::new(pre.module().engine(), state);
        store.limiter(|s| &mut s.limits);
        // The deadline covers the wasm start function too.
        guest_thread.enter();
        store.set_epoch_deadline(deadline_ticks);
        let callbacks = match Self::instantiate(pre, &mut store) {
            Ok(c) => c,
            Err(e) => return Err((e, store.into_data())),
        };
        let mut this = Self {
            store,
            callbacks,
            deadline_ticks,
            guest_thread,
        };
        match this.initialize() {
            Ok(()) => Ok(this),
            Err(e) => Err((e, this.into_state())),
        }
    }

    fn instantiate(
        pre: &InstancePre<HostState>,
        store: &mut Store<HostState>,
    ) -> Result<Callbacks> {
        let instance =
            pre.instantiate(&mut *store)
                .map_err(|e| match e.downcast_ref::<Trap>() {
                    Some(_) => trap_error("instantiation", e),
                    None => HostError::Instantiate(format!("{e:#}")),
                })?;
        let memory = instance
            .get_memory(&mut *store, "memory")
            .ok_or_else(|| HostError::BadModule("export \"memory\" is not a memory".into()))?;
        let allocator = match instance.get_func(&mut *store, "proxy_on_memory_allocate") {
            Some(f) => f,
            None => instance
                .get_func(&mut *store, "malloc")
                .ok_or_else(|| HostError::BadModule("no allocator export".into()))?,
        };
        let allocator = allocator
            .typed::<i32, i32>(&*store)
            .map_err(|_| HostError::BadModule("allocator must have type (i32) -> i32".into()))?;
        store.data_mut().memory = Some(memory);
        store.data_mut().allocator = Some(allocator);

        macro_rules! callback {
            ($name:literal) => {
                match instance.get_func(&mut *store, $name) {
                    None => None,
                    Some(f) => Some(f.typed(&*store).map_err(|e| {
                        HostError::BadModule(format!("export {} has the wrong type: {e}", $name))
                    })?),
                }
            };
        }
        let callbacks = Callbacks {
            on_context_create: callback!("proxy_on_context_create"),
            on_vm_start: callback!("proxy_on_vm_start"),
            on_configure: callback!("proxy_on_configure"),
            on_tick: callback!("proxy_on_tick"),
            on_request_headers: callback!("proxy_on_request_headers"),
            on_http_call_response: callback!("proxy_on_http_call_response"),
            on_done: callback!("proxy_on_done"),
            on_log: callback!("proxy_on_log"),
            on_delete: callback!("proxy_on_delete"),
            initialize: callback!("_initialize"),
            main: callback!("main"),
            start: callback!("_start"),
        };
        Ok(callbacks)
    }

    fn initialize(&mut self) -> Result<()> {
        if self.callbacks.initialize.is_some() {
            self.call("_initialize", |c| &c.initialize, ())?;
            self.call("main", |c| &c.main, (0, 0))?;
        } else {
            self.call("_start", |c| &c.start, ())?;
        }
        Ok(())
    }

    /// Calls the callback `pick` selects, if the guest exports it (`Ok(None)`
    /// otherwise), with a fresh deadline. The handle is borrowed, not cloned:
    /// cloning a `TypedFunc` clones its registered type, which showed up in
    /// profiles at five calls per request.
    pub fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &'static str,
        pick: impl FnOnce(&Callbacks) -> &Option<TypedFunc<P, R>>,
        params: P,
    ) -> Result<Option<R>> {
        let Some(f) = pick(&self.callbacks) else {
            return Ok(None);
        };
        self.guest_thread.enter();
        self.store.set_epoch_deadline(self.deadline_ticks);
        match f.call(&mut self.store, params) {
            Ok(r) => Ok(Some(r)),
            Err(e) => Err(trap_error(name, e)),
        }
    }

    pub fn state(&self) -> &HostState {
        self.store.data()
    }

    pub fn state_mut(&mut self) -> &mut HostState {
        self.store.data_mut()
    }

    /// Takes the environment back out of a (possibly trapped) instance.
    pub fn into_state(self) -> HostState {
        self.store.into_data()
    }
}

fn trap_error(callback: &'static str, e: wasmtime::Error) -> HostError {
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => HostError::Trap {
            callback,
            kind: TrapKind::Deadline,
            message: "deadline exceeded (epoch interruption)".into(),
        },
        Some(t) => HostError::Trap {
            callback,
            kind: TrapKind::Fault,
            message: t.to_string(),
        },
        None => HostError::Trap {
            callback,
            kind: TrapKind::Fault,
            message: format!("{e:#}"),
        },
    }
}
