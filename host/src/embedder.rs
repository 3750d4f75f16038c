//! The world as a filter sees it, supplied by the embedder (nginx, Node, tests).
//! Each trait is one concern; `Environment` bundles them for a filter host.
//! Context ids let an embedder map a call back to its own request object.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::abi::{LogLevel, Status, StreamType};
use crate::header_map::HeaderMap;

/// Wall-clock time for `proxy_get_current_time_nanoseconds` and WASI clocks.
pub trait Clock: Send {
    fn now_nanos(&self) -> u64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_nanos(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }
}

/// Where `proxy_log` and WASI `fd_write` go.
pub trait Logger: Send {
    fn log(&mut self, context_id: u32, level: LogLevel, message: &str);
    /// Messages below this level may be skipped by the guest (`proxy_get_log_level`).
    fn level(&self) -> LogLevel {
        LogLevel::Info
    }
}

/// Discards everything (for benchmarks and embedders without a log).
pub struct NullLogger;

impl Logger for NullLogger {
    fn log(&mut self, _: u32, _: LogLevel, _: &str) {}
    fn level(&self) -> LogLevel {
        LogLevel::Critical
    }
}

/// Properties: the filter's way to hand results (e.g. the backend) to the embedder
/// and to read request attributes. `path` is the list of segments the guest sent
/// (NUL-separated on the wire), e.g. `["backend"]` or `["ngx", "backend"]`.
pub trait Properties: Send {
    fn get_property(&mut self, context_id: u32, path: &[&[u8]]) -> Option<Vec<u8>>;
    /// `Err(Status::NotFound)` for paths the embedder does not accept.
    fn set_property(&mut self, context_id: u32, path: &[&[u8]], value: &[u8])
    -> Result<(), Status>;
}

/// Why a shared-data write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedDataError {
    /// The given cas was non-zero and is not the entry's current cas (or the key is absent).
    CasMismatch,
    /// The store is full or failed; the guest sees INTERNAL_FAILURE.
    Failed,
}

/// The key-value store shared by every instance of a filter (in nginx: all workers).
/// Semantics (spec): `get` returns the value and its cas, a non-zero number that
/// changes on every write; `set` with cas 0 writes unconditionally, with any other
/// cas only if it equals the entry's current one. Keys are compared in full.
pub trait SharedData: Send + Sync {
    /// Appends the value of `key` to `out` and returns its cas; `None` (and `out`
    /// unchanged) when the key is absent. The host reads into a reused buffer, so a
    /// lookup on the request path allocates nothing.
    fn get_into(&self, key: &[u8], out: &mut Vec<u8>) -> Option<u32>;
    fn set(&self, key: &[u8], value: &[u8], cas: u32) -> Result<(), SharedDataError>;

    /// The value of `key` and its cas.
    fn get(&self, key: &[u8]) -> Option<(Vec<u8>, u32)> {
        let mut value = Vec::new();
        self.get_into(key, &mut value).map(|cas| (value, cas))
    }
}

/// An outgoing `proxy_http_call`, already validated (`:method`, `:path` and
/// `:authority` present).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCallRequest {
    pub upstream: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: HeaderMap,
    pub timeout_ms: u32,
}

/// The answer to an http call. `None` in its place (see `FilterHost::deliver_http_call_response`)
/// means the call failed: the guest sees zero headers and an empty body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpCallResponse {
    /// Includes `:status`.
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: HeaderMap,
}

/// Starts http calls. The host picks the token; the embedder later answers with
/// `FilterHost::deliver_http_call_response(token, ...)`.
pub trait HttpCalls: Send {
    /// `Err(Status::BadArgument)` for an unknown upstream, `Err(Status::InternalFailure)`
    /// when the call cannot be started.
    fn dispatch(
        &mut self,
        context_id: u32,
        token: u32,
        request: HttpCallRequest,
    ) -> Result<(), Status>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u32,
    pub details: Vec<u8>,
    pub body: Vec<u8>,
    pub headers: HeaderMap,
    pub grpc_status: i32,
}

/// The local-response sink plus the other stream controls a filter has.
pub trait Streams: Send {
    fn send_local_response(
        &mut self,
        context_id: u32,
        response: LocalResponse,
    ) -> Result<(), Status>;
    /// A paused stream resumes (e.g. after an http call answered).
    fn continue_stream(&mut self, context_id: u32, stream: StreamType) -> Result<(), Status>;
}

/// Everything a filter instance needs from its embedder.
pub struct Environment {
    pub clock: Box<dyn Clock>,
    pub logger: Box<dyn Logger>,
    pub properties: Box<dyn Properties>,
    pub shared_data: Arc<dyn SharedData>,
    pub http_calls: Box<dyn HttpCalls>,
    pub streams: Box<dyn Streams>,
}
