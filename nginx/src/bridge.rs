//! What the filter's host calls leave for nginx, per context, while a guest call runs.
//!
//! The host calls the embedder (properties, http calls, local responses, continue)
//! from inside a guest call, while the `FilterHost` is borrowed. Those callbacks
//! only record here; nginx acts on the records after the guest call returns. One
//! per worker process (nginx workers are single-threaded).

use std::cell::RefCell;
use std::collections::HashMap;

use ngx::ffi::ngx_http_request_t;
use proxy_wasm_host::LocalResponse;

use crate::conf::Cluster;

#[derive(Default)]
pub struct Slot {
    /// The request of this HTTP context (null for none); valid until its pool cleanup
    /// removes the slot.
    pub request: Option<*mut ngx_http_request_t>,
    /// Property `backend` (or `ngx.<the set_backend variable>`).
    pub backend: Option<Vec<u8>>,
    /// Other `ngx.<name>` properties, applied as nginx variables after the call.
    pub ngx_vars: Vec<(Vec<u8>, Vec<u8>)>,
    pub local_response: Option<LocalResponse>,
    /// The filter continued the request (proxy_continue_stream).
    pub continued: bool,
    /// Http calls this context dispatched that are still in flight (calls a filter makes
    /// from its root context on behalf of requests are not counted here).
    pub pending_calls: u32,
    /// The filter trapped while handling this context.
    pub failed: bool,
}

#[derive(Default)]
pub struct Bridge {
    pub slots: HashMap<u32, Slot>,
    /// token → context that dispatched it.
    pub calls: HashMap<u32, u32>,
    pub clusters: Vec<Cluster>,
    /// Contexts the filter continued or answered during the last guest call; their
    /// requests may be waiting (paused) and must be woken.
    pub woken: Vec<u32>,
    /// Names of the `set_backend $var` variables: `ngx.<name>` sets the backend too.
    pub backend_vars: Vec<Vec<u8>>,
}

thread_local! {
    static BRIDGE: RefCell<Bridge> = RefCell::new(Bridge::default());
}

pub fn with<R>(f: impl FnOnce(&mut Bridge) -> R) -> R {
    BRIDGE.with(|b| f(&mut b.borrow_mut()))
}

pub fn with_slot<R>(id: u32, f: impl FnOnce(&mut Slot) -> R) -> Option<R> {
    with(|b| b.slots.get_mut(&id).map(f))
}
