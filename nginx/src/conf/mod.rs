//! Configuration of the module: one struct per nginx level, and the directive table.

pub mod cluster;
pub mod directives;

use core::ptr;

use ngx::ffi::{ngx_int_t, ngx_msec_t, ngx_shm_zone_t};
use ngx::http::{Merge, MergeConfigError};

pub use cluster::Cluster;

/// Default per-call deadline of the filter: long enough for a cache lookup with a
/// cold instance, short enough that a looping filter costs one request, not a worker.
pub const DEFAULT_FILTER_TIMEOUT_MS: ngx_msec_t = 10;

/// Default bound on a pause: above the longest http call a filter can make (60 s).
pub const DEFAULT_PAUSE_TIMEOUT_MS: ngx_msec_t = 65_000;

/// http{} level: everything the filter needs, shared by all servers and locations.
pub struct MainConf {
    /// Absolute path of the filter, for messages.
    pub filter_path: Option<String>,
    /// The filter's bytes, read and checked in the master at configuration time;
    /// workers inherit them through fork and compile them after it.
    pub filter_bytes: Vec<u8>,
    /// The file is a wasmtime artifact from `proxy-wasm-precompile`, not wasm.
    pub filter_precompiled: bool,
    /// The filter's plugin configuration (`proxy_get_buffer_bytes(PluginConfiguration)`).
    pub filter_config: Option<Vec<u8>>,
    /// None until set or defaulted in init_main_conf.
    pub filter_timeout: Option<ngx_msec_t>,
    /// Longest a request may stay paused (`set_backend_pause_timeout`).
    pub pause_timeout: Option<ngx_msec_t>,
    pub shm_zone: *mut ngx_shm_zone_t,
    /// The edge metrics' zone, added by the first `set_backend_metrics`.
    pub metrics_zone: *mut ngx_shm_zone_t,
    pub clusters: Vec<Cluster>,
    /// Names of the `set_backend $name` variables: a filter's `ngx.<name>` property is the backend.
    pub backend_vars: Vec<Vec<u8>>,
    /// Set when some location uses `set_backend`, so that a missing filter is reported.
    pub used: bool,
}

impl MainConf {
    pub fn pause_timeout(&self) -> ngx_msec_t {
        self.pause_timeout.unwrap_or(DEFAULT_PAUSE_TIMEOUT_MS)
    }
}

impl Default for MainConf {
    fn default() -> Self {
        Self {
            filter_path: None,
            filter_bytes: Vec::new(),
            filter_precompiled: false,
            filter_config: None,
            filter_timeout: None,
            pause_timeout: None,
            shm_zone: ptr::null_mut(),
            metrics_zone: ptr::null_mut(),
            clusters: Vec::new(),
            backend_vars: Vec::new(),
            used: false,
        }
    }
}

/// server{} and location{} level: whether to run the filter, and into which variable
/// the chosen backend goes.
#[derive(Default)]
pub struct LocConf {
    /// None: not set here (inherit); Some(None): `set_backend;`; Some(Some(i)): `set_backend $v;`
    pub set_backend: Option<Option<ngx_int_t>>,
}

impl LocConf {
    pub fn enabled(&self) -> bool {
        self.set_backend.is_some()
    }

    pub fn variable_index(&self) -> Option<ngx_int_t> {
        self.set_backend.flatten()
    }
}

impl Merge for LocConf {
    fn merge(&mut self, prev: &LocConf) -> Result<(), MergeConfigError> {
        if self.set_backend.is_none() {
            self.set_backend = prev.set_backend;
        }
        Ok(())
    }
}

/// upstream{} level (nginx creates a server configuration for every upstream block).
#[derive(Default)]
pub struct UpstreamConf {
    pub balancer: bool,
}

impl Merge for UpstreamConf {
    fn merge(&mut self, _prev: &UpstreamConf) -> Result<(), MergeConfigError> {
        Ok(())
    }
}
