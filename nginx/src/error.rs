//! Typed errors of the module, as host/ has its own (`proxy_wasm_host::HostError`).
//! Their messages are what operators read: `nginx -t` prints a directive's error
//! after the directive's name (`"set_backend_cluster" cluster "api": ...`), and a
//! request's error is logged after the filter's name.

use std::io;

use ngx::ffi::ngx_msec_t;
use proxy_wasm_host::{ABI_MARKER, HostError};
use thiserror::Error;

/// Why `nginx -t` refuses the filter file (`set_backend_filter`).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FilterFileError {
    #[error("is an ELF file but not a module precompiled by wasmtime (proxy-wasm-precompile)")]
    ElfNotPrecompiled,
    #[error("is not a WebAssembly module (no \\0asm header)")]
    NotWasm,
    #[error("is a WebAssembly component or an unknown version, not a core module")]
    NotCoreModule,
    #[error("is malformed: {0}")]
    Malformed(String),
    #[error("does not export {ABI_MARKER} (only proxy-wasm ABI 0.2.1 is supported)")]
    NoAbiExport,
    #[error("does not export its memory")]
    NoMemory,
}

/// Why a backend cannot be used by the balancer. Logged as `backend "<text>" <message>`.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BackendAddrError {
    #[error("is not a usable unix socket path")]
    UnixPath,
    #[error("is not text")]
    NotText,
    #[error(
        "is not an IP address with a port (the balancer form needs ip:port, [ipv6]:port or unix:/path)"
    )]
    NotIpWithPort,
    #[error("has port 0")]
    PortZero,
}

/// Why the module refuses to send a filter's http call request.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CallRequestError {
    #[error("no :method")]
    NoMethod,
    #[error("no :path")]
    NoPath,
    #[error("no :authority")]
    NoAuthority,
    #[error("bad :method")]
    Method,
    #[error("bad :path")]
    Path,
    #[error("bad :authority")]
    Authority,
    #[error("bad header field")]
    HeaderField,
}

/// Why an http call's response is not valid HTTP/1.1.
#[derive(Debug, Error, PartialEq, Eq, Clone, Copy)]
pub enum ResponseError {
    #[error("connection closed before the response header")]
    ClosedBeforeHeader,
    #[error("malformed response header")]
    MalformedHeader,
    #[error("bad content-length")]
    ContentLength,
    #[error("connection closed inside a chunked body")]
    ClosedInChunkedBody,
    #[error("connection closed before the whole body")]
    ClosedBeforeBody,
    #[error("bad chunk size")]
    ChunkSize,
    #[error("chunk too large")]
    ChunkTooLarge,
    #[error("bad chunk terminator")]
    ChunkTerminator,
}

/// Why an http call failed (logged; the filter gets a failed call).
#[cfg_attr(test, allow(dead_code))]
#[derive(Debug, Error)]
pub enum CallError {
    #[error("cannot wait to write")]
    WaitToWrite,
    #[error("write error")]
    Write,
    #[error("cannot wait to read")]
    WaitToRead,
    #[error("read error")]
    Read,
    #[error("incomplete response")]
    Incomplete,
    #[error("response too large")]
    TooLarge,
    #[error(transparent)]
    Response(#[from] ResponseError),
}

/// Why a directive is refused. Logged as `"<directive>" <message>`.
// Used by the nginx-facing modules only, which unit-test builds leave out.
#[cfg_attr(test, allow(dead_code))]
#[derive(Debug, Error)]
pub enum ConfError {
    /// nginx has already logged why (an allocation failed, or its own check of an
    /// argument did): nothing more to say.
    #[error("refused by nginx")]
    LoggedByNginx,
    #[error("is duplicate")]
    Duplicate,
    #[error(
        "is duplicate (set_backend_filter_config and set_backend_filter_config_file exclude each other)"
    )]
    DuplicateFilterConfig,
    #[error("argument is not UTF-8")]
    NotUtf8,
    #[error("cannot read \"{path}\": {source}")]
    Read { path: String, source: io::Error },
    #[error("file \"{path}\" {source}")]
    FilterFile {
        path: String,
        source: FilterFileError,
    },
    #[error("{origin} is not valid JSON: {source}")]
    Json {
        origin: String,
        source: serde_json::Error,
    },
    #[error("invalid time \"{0}\" (e.g. 10ms, 1s; must be > 0)")]
    Time(String),
    #[error("needs a zone name")]
    ZoneName,
    #[error("invalid size \"{0}\" (e.g. 64k, 16m)")]
    Size(String),
    #[error("zone \"{name}\" is too small ({size} bytes; at least 32k)")]
    ZoneTooSmall { name: String, size: isize },
    #[error("zone \"{0}\" is already used by another directive")]
    ZoneTaken(String),
    #[error("cluster \"{0}\" is declared twice")]
    ClusterTwice(String),
    #[error("invalid cluster name \"{0}\" (letters, digits, '-', '_', '.', ':')")]
    ClusterName(String),
    #[error("cluster \"{name}\": unix socket path must be absolute in \"{address}\"")]
    ClusterRelativeUnix { name: String, address: String },
    #[error("cluster \"{name}\": \"{address}\" needs a port (host:port) or unix:/path")]
    ClusterNoPort { name: String, address: String },
    #[error("cluster \"{name}\": {why} in \"{address}\"")]
    ClusterAddress {
        name: String,
        address: String,
        why: String,
    },
    #[error("invalid variable name \"{0}\" (expected $name)")]
    VariableName(String),
    #[error("must come before other balancing directives (keepalive, hash, ...) in the upstream")]
    BalancerNotFirst,
    #[error("conflicts with another content handler in this location (proxy_pass, return, ...)")]
    ContentHandlerTaken,
    #[error("needs the shared memory zone \"{0}\", which is already used")]
    MetricsZoneTaken(&'static str),
}

/// Why a request's filter run failed (the request gets a 500). Logged as
/// `set_backend: filter "<path>": <message>`.
#[cfg_attr(test, allow(dead_code))]
#[derive(Debug, Error)]
pub enum RequestError {
    /// The worker could not start the filter (`worker::load_error` says why).
    #[error("cannot run: {0}")]
    NotLoaded(String),
    /// The filter host is in use: nginx re-entered the module from inside a guest call.
    #[error("filter host busy")]
    HostBusy,
    #[error(transparent)]
    Host(#[from] HostError),
    /// The bridge has no slot for the request's context any more.
    #[error("request context lost")]
    ContextLost,
    /// The filter trapped, or an http call it waited for could not be answered.
    #[error("failed while handling this request (see the error above)")]
    Failed,
    #[error("did not continue the paused request within {limit}ms ({pending} own calls pending)")]
    PauseTimeout { limit: ngx_msec_t, pending: u32 },
}
