//! Numeric types of proxy-wasm ABI 0.2.1, as the spec's "Types" section
//! defines them. Only the host's side: statuses it returns and the enums
//! guests pass in.

/// `proxy_status_t`: what every `env.proxy_*` host function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    Ok = 0,
    NotFound = 1,
    BadArgument = 2,
    SerializationFailure = 3,
    ParseFailure = 4,
    InvalidMemoryAccess = 6,
    Empty = 7,
    CasMismatch = 8,
    InternalFailure = 10,
    Unimplemented = 12,
}

/// `wasi_errno_t`: what the `wasi_snapshot_preview1.*` functions return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Errno {
    Success = 0,
    Badf = 8,
    Fault = 21,
    Inval = 28,
    Notsup = 58,
}

/// `proxy_log_level_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

impl LogLevel {
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            0 => Self::Trace,
            1 => Self::Debug,
            2 => Self::Info,
            3 => Self::Warn,
            4 => Self::Error,
            5 => Self::Critical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

/// `proxy_action_t`, as returned by `proxy_on_request_headers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Continue,
    /// Any non-zero value: 1 is PAUSE in 0.2.1; the larger "stop iteration"
    /// values some SDKs inherited from Envoy also stop the stream.
    Pause,
}

impl Action {
    pub fn from_i32(v: i32) -> Self {
        if v == 0 { Self::Continue } else { Self::Pause }
    }
}

/// `proxy_buffer_type_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferType {
    HttpRequestBody = 0,
    HttpResponseBody = 1,
    DownstreamData = 2,
    UpstreamData = 3,
    HttpCallResponseBody = 4,
    GrpcCallMessage = 5,
    VmConfiguration = 6,
    PluginConfiguration = 7,
    ForeignFunctionArguments = 8,
}

impl BufferType {
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            0 => Self::HttpRequestBody,
            1 => Self::HttpResponseBody,
            2 => Self::DownstreamData,
            3 => Self::UpstreamData,
            4 => Self::HttpCallResponseBody,
            5 => Self::GrpcCallMessage,
            6 => Self::VmConfiguration,
            7 => Self::PluginConfiguration,
            8 => Self::ForeignFunctionArguments,
            _ => return None,
        })
    }
}

/// `proxy_map_type_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapType {
    HttpRequestHeaders = 0,
    HttpRequestTrailers = 1,
    HttpResponseHeaders = 2,
    HttpResponseTrailers = 3,
    GrpcCallInitialMetadata = 4,
    GrpcCallTrailingMetadata = 5,
    HttpCallResponseHeaders = 6,
    HttpCallResponseTrailers = 7,
}

impl MapType {
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            0 => Self::HttpRequestHeaders,
            1 => Self::HttpRequestTrailers,
            2 => Self::HttpResponseHeaders,
            3 => Self::HttpResponseTrailers,
            4 => Self::GrpcCallInitialMetadata,
            5 => Self::GrpcCallTrailingMetadata,
            6 => Self::HttpCallResponseHeaders,
            7 => Self::HttpCallResponseTrailers,
            _ => return None,
        })
    }
}

/// `proxy_stream_type_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamType {
    HttpRequest = 0,
    HttpResponse = 1,
    Downstream = 2,
    Upstream = 3,
}

impl StreamType {
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            0 => Self::HttpRequest,
            1 => Self::HttpResponse,
            2 => Self::Downstream,
            3 => Self::Upstream,
            _ => return None,
        })
    }
}

/// `proxy_metric_type_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter = 0,
    Gauge = 1,
    Histogram = 2,
}

impl MetricType {
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            0 => Self::Counter,
            1 => Self::Gauge,
            2 => Self::Histogram,
            _ => return None,
        })
    }
}

/// The export a module must have to be run by this host.
pub const ABI_MARKER: &str = "proxy_abi_version_0_2_1";
/// Prefix shared by every proxy-wasm ABI marker export.
pub const ABI_MARKER_PREFIX: &str = "proxy_abi_version_";
