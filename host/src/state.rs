//! Per-instance host state living in the wasmtime store: the embedder's
//! environment plus what the proxy-wasm context model needs between calls.

use std::collections::HashMap;

use wasmtime::{Memory, StoreLimits, TypedFunc};

use crate::embedder::{Environment, HttpCallResponse};
use crate::header_map::HeaderMap;
use crate::metrics::Metrics;

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
    pub http_contexts: HashMap<u32, HttpContext>,
    /// The response being delivered, only during `proxy_on_http_call_response`.
    pub call_response: Option<HttpCallResponse>,
    /// token → context that dispatched the call.
    pub pending_calls: HashMap<u32, u32>,
    /// Tokens whose context went away before the answer came, with whether it
    /// was lost with a trapped instance (true) or finished by the embedder (false).
    pub orphaned_calls: HashMap<u32, bool>,
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
            http_contexts: HashMap::new(),
            call_response: None,
            pending_calls: HashMap::new(),
            orphaned_calls: HashMap::new(),
            next_token: 0,
            tick_period_ms: 0,
            metrics: Metrics::default(),
            done_queue: Vec::new(),
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
