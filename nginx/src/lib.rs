//! ngx_http_set_backend_module: runs a proxy-wasm filter for each request and routes
//! the request to the backend the filter chose — through a variable
//! (`set_backend $backend;` + `proxy_pass http://$backend`) or through an upstream
//! balancer (`set_backend_balancer;` + `keepalive`).

// Pure modules (unit-tested with `cargo test`).
mod backend_addr;
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
mod edge_metrics;
#[cfg(not(test))]
mod env;
#[cfg(not(test))]
mod http_call;
#[cfg(not(test))]
mod metrics_page;
#[cfg(not(test))]
mod module;
#[cfg(not(test))]
mod phase;
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
