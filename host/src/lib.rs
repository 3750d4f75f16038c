//! A proxy-wasm ABI 0.2.1 host on wasmtime, with nothing specific to any proxy.
//!
//! Layers, bottom up:
//! - [`runtime`]: the wasmtime engine, compilation, precompiled modules, the epoch ticker;
//! - [`instance`](crate::instance): one store + instance, guest calls under a deadline;
//! - [`hostcalls`]: the table of every ABI host function;
//! - [`filter_host`]: the context state machine ([`FilterHost`]) embedders drive;
//! - [`embedder`]: the traits through which the embedder supplies the world.
//!
//! See docs/abi.md for what each host function does here.

// Every unsafe block says why it holds, and every public unsafe fn what its caller
// must guarantee (`make lint`).
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod abi;
#[cfg(target_os = "linux")]
pub mod cpu_timer;
pub mod embedder;
pub mod error;
pub mod filter_host;
mod guest_memory;
pub mod header_map;
pub mod hostcalls;
mod instance;
pub mod metrics;
pub mod recorder;
pub mod runtime;
pub mod shared_data;
mod state;
pub mod ticker;

pub use abi::{ABI_MARKER, Action, LogLevel, MetricType, Status, StreamType};
pub use embedder::{
    Clock, Environment, HttpCallRequest, HttpCallResponse, HttpCalls, LocalResponse, Logger,
    NullLogger, Properties, SharedData, SharedDataError, Streams, SystemClock,
};
pub use error::{HostError, TrapKind};
pub use filter_host::{FilterHost, FilterOptions, ROOT_CONTEXT};
pub use header_map::HeaderMap;
pub use metrics::{HISTOGRAM_BOUNDS, Histogram, Metric};
pub use recorder::{Event, Recorder};
pub use runtime::{FilterModule, Limits, Runtime, RuntimeConfig};
pub use shared_data::MemorySharedData;
pub use state::{IdHasher, IdMap};
pub use ticker::{DeadlineClock, EpochTicker};
