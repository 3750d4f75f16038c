//! ngx_http_set_backend_module: runs a proxy-wasm filter for each request and routes
//! the request to the backend the filter chose — through a variable
//! (`set_backend $backend;` + `proxy_pass http://$backend`) or through an upstream
//! balancer (`set_backend_balancer;` + `keepalive`).
//!
//! A request's path, one way through the files: handler.rs → headers_in.rs →
//! worker.rs (the guest call) → decision.rs → variable.rs | local_response.rs;
//! balancer.rs reads the backend later. request_ctx.rs and bridge.rs hold the data
//! they share and call none of them (docs/nginx-module.md).

// Every unsafe block says why it holds, and every public unsafe fn what its caller
// must guarantee (`make lint`).
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

// Pure modules (unit-tested with `cargo test`).
mod backend_addr;
mod error;
mod filter_file;
mod http_wire;
mod metrics_text;
mod variable_value;
mod zone;

// Modules that call into nginx. They are left out of unit-test builds: their nginx
// symbols only resolve inside an nginx process, not in a test executable.
#[cfg(not(test))]
mod balancer;
#[cfg(not(test))]
mod bridge;
#[cfg(not(test))]
mod conf;
#[cfg(not(test))]
mod decision;
#[cfg(not(test))]
mod edge_metrics;
#[cfg(not(test))]
mod env;
#[cfg(not(test))]
mod handler;
#[cfg(not(test))]
mod headers_in;
#[cfg(not(test))]
mod http_call;
#[cfg(not(test))]
mod local_response;
#[cfg(not(test))]
mod metrics_page;
#[cfg(not(test))]
mod module;
#[cfg(not(test))]
mod pool;
#[cfg(not(test))]
mod request_ctx;
#[cfg(not(test))]
mod shared;
#[cfg(not(test))]
mod variable;
#[cfg(not(test))]
mod worker;

#[cfg(not(test))]
pub use module::{Module, ngx_http_set_backend_module};
