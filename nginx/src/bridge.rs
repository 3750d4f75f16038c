//! What the filter's host calls leave for nginx, per context, while a guest call runs.
//!
//! The host calls the embedder (properties, http calls, local responses, continue)
//! from inside a guest call, while the `FilterHost` is borrowed. Those callbacks
//! only record here; nginx acts on the records after the guest call returns. One
//! per worker process (nginx workers are single-threaded).

use std::cell::RefCell;

use ngx::ffi::ngx_http_request_t;
use proxy_wasm_host::{IdMap, LocalResponse};

use crate::conf::Cluster;

#[derive(Default)]
pub struct Slot {
    /// The request of this HTTP context (null for none); valid until its pool cleanup
    /// removes the slot.
    pub request: Option<*mut ngx_http_request_t>,
    /// Property `backend` (or `ngx.<the set_backend variable>`), when `backend_set`.
    /// Kept with its capacity when the slot is reused: setting it allocates nothing.
    backend: Vec<u8>,
    backend_set: bool,
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

impl Slot {
    pub fn set_backend(&mut self, value: &[u8]) {
        self.backend.clear();
        self.backend.extend_from_slice(value);
        self.backend_set = true;
    }

    pub fn backend(&self) -> Option<&[u8]> {
        self.backend_set.then_some(&self.backend[..])
    }

    /// Hands the backend set since the last call to `f` (once).
    pub fn take_backend<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let set = std::mem::take(&mut self.backend_set);
        set.then(|| f(&self.backend))
    }
}

/// Finished slots kept for reuse (see `Bridge::close_slot`).
const SPARE_SLOTS: usize = 64;

#[derive(Default)]
pub struct Bridge {
    pub slots: IdMap<Slot>,
    spare_slots: Vec<Slot>,
    /// token → context that dispatched it.
    pub calls: IdMap<u32>,
    pub clusters: Vec<Cluster>,
    /// Contexts the filter continued or answered during the last guest call; their
    /// requests may be waiting (paused) and must be woken.
    pub woken: Vec<u32>,
    /// Names of the `set_backend $var` variables: `ngx.<name>` sets the backend too.
    pub backend_vars: Vec<Vec<u8>>,
}

impl Bridge {
    /// The slot of a new HTTP context, reusing a finished one's allocations.
    pub fn open_slot(&mut self, id: u32, request: *mut ngx_http_request_t) {
        let mut slot = self.spare_slots.pop().unwrap_or_default();
        slot.request = Some(request);
        self.slots.insert(id, slot);
    }

    pub fn close_slot(&mut self, id: u32) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        if self.spare_slots.len() < SPARE_SLOTS {
            // Everything back to the default, except the backend's buffer.
            self.spare_slots.push(Slot {
                backend: slot.backend,
                ..Slot::default()
            });
        }
    }
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
