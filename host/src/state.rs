//! Per-instance host state living in the wasmtime store: the embedder's
//! environment plus what the proxy-wasm context model needs between calls.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use wasmtime::{Memory, StoreLimits, TypedFunc};

use crate::embedder::{Environment, HttpCallResponse};
use crate::header_map::HeaderMap;
use crate::metrics::Metrics;

/// Hashes the small integers the host numbers contexts and calls with. No one
/// outside picks them, so SipHash's flood resistance buys nothing here; a
/// multiplicative (Fibonacci) hash is a few instructions and spreads
/// sequential ids over hashbrown's high and low bits alike.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(*b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by context id or call token.
pub type IdMap<V> = HashMap<u32, V, BuildHasherDefault<IdHasher>>;

/// Finished contexts kept for reuse: enough for the requests one worker has in
/// flight at once, so a steady stream of requests allocates no context state.
const SPARE_CONTEXTS: usize = 64;

/// A reused return buffer larger than this is let go rather than kept.
const SCRATCH_KEEP: usize = 64 << 10;

/// Request/response state of one HTTP context.
#[derive(Debug, Default)]
pub struct HttpContext {
    pub request_headers: HeaderMap,
    pub request_trailers: HeaderMap,
    pub response_headers: HeaderMap,
    pub response_trailers: HeaderMap,
    /// `proxy_on_done` returned false: waiting for `proxy_done`.
    pub awaiting_done: bool,
}

impl HttpContext {
    /// Forgets the request, keeping the maps' allocations.
    fn clear(&mut self) {
        self.request_headers.clear();
        self.request_trailers.clear();
        self.response_headers.clear();
        self.response_trailers.clear();
        self.awaiting_done = false;
    }
}

pub struct HostState {
    pub env: Environment,
    pub limits: StoreLimits,
    pub memory: Option<Memory>,
    pub allocator: Option<TypedFunc<i32, i32>>,
    pub vm_config: Vec<u8>,
    pub plugin_config: Vec<u8>,
    pub plugin_name: String,
    pub root_context: u32,
    /// The context host calls act on; set before each callback and by
    /// `proxy_set_effective_context`.
    pub active_context: u32,
    pub http_contexts: IdMap<HttpContext>,
    /// Cleared contexts for the next requests (see `SPARE_CONTEXTS`).
    spare_contexts: Vec<HttpContext>,
    /// Bytes on their way to the guest (a header value, a shared-data value):
    /// reused by every host call so that returning bytes allocates nothing.
    pub scratch: Vec<u8>,
    /// The response being delivered, only during `proxy_on_http_call_response`.
    pub call_response: Option<HttpCallResponse>,
    /// token → context that dispatched the call.
    pub pending_calls: IdMap<u32>,
    /// Tokens whose context went away before the answer came, with whether it
    /// was lost with a trapped instance (true) or finished by the embedder (false).
    pub orphaned_calls: IdMap<bool>,
    pub next_token: u32,
    pub tick_period_ms: u32,
    pub metrics: Metrics,
    /// Contexts that called `proxy_done`; finalized after the current callback.
    pub done_queue: Vec<u32>,
}

impl HostState {
    pub fn new(env: Environment, limits: StoreLimits) -> Self {
        Self {
            env,
            limits,
            memory: None,
            allocator: None,
            vm_config: Vec::new(),
            plugin_config: Vec::new(),
            plugin_name: String::new(),
            root_context: 1,
            active_context: 1,
            http_contexts: IdMap::default(),
            spare_contexts: Vec::new(),
            scratch: Vec::new(),
            call_response: None,
            pending_calls: IdMap::default(),
            orphaned_calls: IdMap::default(),
            next_token: 0,
            tick_period_ms: 0,
            metrics: Metrics::default(),
            done_queue: Vec::new(),
        }
    }

    /// Adds HTTP context `id`, reusing a finished one's allocations.
    pub fn insert_http_context(&mut self, id: u32) {
        let ctx = self.spare_contexts.pop().unwrap_or_default();
        self.http_contexts.insert(id, ctx);
    }

    /// Ends HTTP context `id`; its state is kept for a later request.
    pub fn remove_http_context(&mut self, id: u32) {
        if let Some(mut ctx) = self.http_contexts.remove(&id)
            && self.spare_contexts.len() < SPARE_CONTEXTS
        {
            ctx.clear();
            self.spare_contexts.push(ctx);
        }
    }

    /// Takes the return buffer, empty (give it back with `restore_scratch`).
    pub fn take_scratch(&mut self) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf
    }

    pub fn restore_scratch(&mut self, buf: Vec<u8>) {
        if buf.capacity() <= SCRATCH_KEEP {
            self.scratch = buf;
        }
    }

    pub fn context_exists(&self, id: u32) -> bool {
        id == self.root_context || self.http_contexts.contains_key(&id)
    }

    /// Moves the calls of `context` (finished), or all calls when `None` (the
    /// instance was lost), to the orphans.
    pub fn orphan_calls(&mut self, context: Option<u32>) {
        // Bounded: an embedder that never answers must not grow this forever.
        if self.orphaned_calls.len() > 4 * 1024 {
            self.orphaned_calls.clear();
        }
        let orphans = &mut self.orphaned_calls;
        self.pending_calls.retain(|token, ctx| {
            let keep = context.is_some_and(|c| c != *ctx);
            if !keep {
                orphans.insert(*token, context.is_none());
            }
            keep
        });
    }

    pub fn allocate_token(&mut self) -> u32 {
        loop {
            self.next_token = self.next_token.wrapping_add(1);
            if self.next_token != 0
                && !self.pending_calls.contains_key(&self.next_token)
                && !self.orphaned_calls.contains_key(&self.next_token)
            {
                return self.next_token;
            }
        }
    }
}
