//! Runtime adapter: the only place that configures wasmtime's engine and
//! turns bytes into compiled modules. Everything above it sees a `Runtime`
//! and a `FilterModule`.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Config, Engine, Module, OptLevel};

use crate::abi::{ABI_MARKER, ABI_MARKER_PREFIX};
use crate::error::{HostError, Result};
use crate::ticker::{DeadlineClock, EpochTicker, GuestThread};

/// How guest calls of one filter instance are bounded.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Budget for one guest call (a callback plus every host call it makes), on the
    /// runtime's `deadline_clock`: the calling thread's CPU time by default, so time a
    /// worker spends descheduled or blocked does not count.
    pub deadline: Duration,
    /// Cap on a guest's linear memory, in bytes.
    pub memory_bytes: usize,
    /// After a failed instance start (a trap or `false` in the start-up
    /// callbacks), calls fail fast with `HostError::StartBackoff` for this long
    /// instead of starting again: a filter whose start loops until its deadline
    /// must not cost that deadline on every request.
    pub restart_backoff: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(10),
            memory_bytes: 16 << 20,
            restart_backoff: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Period of the epoch clock that enforces `Limits::deadline`; a call gets
    /// at least its deadline and at most one tick more.
    pub epoch_tick: Duration,
    /// Start a thread that advances the epoch clock. Turn off when the embedder
    /// calls `Runtime::increment_epoch` from its own timer instead.
    pub start_ticker: bool,
    /// What the deadline measures: CPU time of the guest's thread (default on
    /// Linux) or wall time. See `ticker` for the trade-off.
    pub deadline_clock: DeadlineClock,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            epoch_tick: Duration::from_millis(1),
            start_ticker: true,
            deadline_clock: DeadlineClock::ThreadCpu,
        }
    }
}

/// A wasmtime engine configured for proxy-wasm filters. Create it where threads
/// may be started (in nginx: in each worker after fork, never in the master).
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    config: Arc<RuntimeConfig>,
    guest_thread: GuestThread,
    _ticker: Option<Arc<Ticker>>,
}

/// What advances the epoch clock (kept alive with the runtime).
enum Ticker {
    Thread(#[allow(dead_code)] EpochTicker),
    #[cfg(target_os = "linux")]
    CpuTimer(#[allow(dead_code)] crate::cpu_timer::CpuTimerTicker),
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Result<Self> {
        let mut wc = Config::new();
        wc.epoch_interruption(true);
        wc.cranelift_opt_level(OptLevel::Speed);
        let engine = Engine::new(&wc).map_err(|e| HostError::Runtime(e.to_string()))?;
        let guest_thread = match (config.start_ticker, config.deadline_clock) {
            (true, DeadlineClock::ThreadCpu) => GuestThread::watched(),
            _ => GuestThread::unwatched(),
        };
        let ticker = match (config.start_ticker, config.deadline_clock) {
            (false, _) => None,
            #[cfg(target_os = "linux")]
            (true, DeadlineClock::OwnThreadCpuTimer) => Some(Ticker::CpuTimer(
                crate::cpu_timer::CpuTimerTicker::start(engine.clone(), config.epoch_tick)?,
            )),
            (true, clock) => Some(Ticker::Thread(EpochTicker::start(
                engine.clone(),
                config.epoch_tick,
                clock,
                guest_thread.clone(),
            )?)),
        };
        Ok(Self {
            engine,
            config: Arc::new(config),
            guest_thread,
            _ticker: ticker.map(Arc::new),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Marker each guest call sets so the ticker watches the right thread.
    pub(crate) fn guest_thread(&self) -> GuestThread {
        self.guest_thread.clone()
    }

    /// For embedders driving the epoch clock themselves (`start_ticker: false`).
    pub fn increment_epoch(&self) {
        self.engine.increment_epoch();
    }

    /// Deadline expressed in epoch ticks. The current tick is already partly
    /// over when a call starts, so one tick is added: a call gets at least its
    /// deadline and at most one tick more.
    pub(crate) fn deadline_ticks(&self, deadline: Duration) -> u64 {
        let tick = self.config.epoch_tick.as_nanos().max(1);
        deadline.as_nanos().div_ceil(tick) as u64 + 1
    }

    /// Compiles a filter from wasm (or, for tests, WAT text) and checks its ABI.
    pub fn compile(&self, bytes: &[u8]) -> Result<FilterModule> {
        let module =
            Module::new(&self.engine, bytes).map_err(|e| HostError::Compile(format!("{e:#}")))?;
        FilterModule::checked(module)
    }

    /// Compiles a filter to this engine's native artifact, to be loaded later with
    /// `deserialize` by a runtime with the same configuration and wasmtime version.
    pub fn precompile(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        let module = self.compile(bytes)?;
        module
            .module
            .serialize()
            .map_err(|e| HostError::Compile(format!("{e:#}")))
    }

    /// Loads a precompiled filter without compiling.
    ///
    /// # Safety
    /// `bytes` must come from `precompile` (or `Module::serialize`) and must not
    /// have been tampered with: wasmtime checks the version and configuration but
    /// trusts the machine code inside.
    pub unsafe fn deserialize(&self, bytes: &[u8]) -> Result<FilterModule> {
        // SAFETY: forwarded to the caller (see above).
        let module = unsafe { Module::deserialize(&self.engine, bytes) }
            .map_err(|e| HostError::Deserialize(format!("{e:#}")))?;
        FilterModule::checked(module)
    }
}

/// A compiled module known to speak proxy-wasm 0.2.1. Cheap to clone.
#[derive(Clone)]
pub struct FilterModule {
    pub(crate) module: Module,
}

impl FilterModule {
    fn checked(module: Module) -> Result<Self> {
        let markers: Vec<String> = module
            .exports()
            .map(|e| e.name())
            .filter(|n| n.starts_with(ABI_MARKER_PREFIX))
            .map(str::to_owned)
            .collect();
        if !markers.iter().any(|m| m == ABI_MARKER) {
            let found = if markers.is_empty() {
                "none (no proxy_abi_version_* export)".to_owned()
            } else {
                markers.join(", ")
            };
            return Err(HostError::UnsupportedAbi { found });
        }
        let has = |name: &str| module.exports().any(|e| e.name() == name);
        if !has("memory") {
            return Err(HostError::BadModule(
                "no exported memory named \"memory\"".into(),
            ));
        }
        if !has("proxy_on_memory_allocate") && !has("malloc") {
            return Err(HostError::BadModule(
                "no allocator export (proxy_on_memory_allocate or malloc)".into(),
            ));
        }
        Ok(Self { module })
    }

    pub fn serialize(&self) -> Result<Vec<u8>> {
        self.module
            .serialize()
            .map_err(|e| HostError::Compile(format!("{e:#}")))
    }
}
