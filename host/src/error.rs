//! Typed errors: what the embedder sees when loading or calling a filter fails.

use thiserror::Error;

/// Why a guest call ended abnormally. The instance that produced a trap is
/// discarded; the next call runs on a fresh one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrapKind {
    /// The call ran past its deadline (epoch interruption).
    Deadline,
    /// `unreachable`, out-of-bounds access, stack overflow, a failing host
    /// function, `proc_exit`...
    Fault,
}

#[derive(Debug, Error)]
pub enum HostError {
    #[error("filter is not a valid WebAssembly module: {0}")]
    Compile(String),

    #[error("precompiled filter cannot be loaded: {0}")]
    Deserialize(String),

    #[error("filter uses proxy-wasm ABI {found}; this host runs only proxy_abi_version_0_2_1")]
    UnsupportedAbi { found: String },

    #[error("filter does not satisfy the proxy-wasm ABI: {0}")]
    BadModule(String),

    #[error("filter cannot be instantiated: {0}")]
    Instantiate(String),

    #[error("filter trapped in {callback}: {message}")]
    Trap {
        callback: &'static str,
        kind: TrapKind,
        message: String,
    },

    #[error("filter refused to start: {callback} returned false")]
    StartRefused { callback: &'static str },

    #[error(
        "filter instance unavailable: its last start failed ({cause}); next attempt in {retry_in_ms} ms"
    )]
    StartBackoff { cause: String, retry_in_ms: u64 },

    #[error("unknown context id {0}")]
    UnknownContext(u32),

    #[error("http call {0} was made by a context lost with a trapped filter instance")]
    CallContextLost(u32),

    #[error("unknown http call token {0}")]
    UnknownHttpCall(u32),

    #[error("runtime setup failed: {0}")]
    Runtime(String),
}

impl HostError {
    /// True when the error came from the guest misbehaving during a call
    /// (as opposed to loading or embedder misuse).
    pub fn is_trap(&self) -> bool {
        matches!(self, HostError::Trap { .. })
    }
}

pub type Result<T, E = HostError> = std::result::Result<T, E>;
