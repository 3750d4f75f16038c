//! The host side of proxy-wasm ABI 0.2.1: the single table of every function a
//! 0.2.1 filter may import, with the handler behind each one. A filter links
//! against all of them; those marked `unimplemented` answer UNIMPLEMENTED (12)
//! and never trap. docs/abi.md is the prose version of this table.

mod buffers;
mod context;
mod headers;
mod http;
mod logging;
mod metrics;
mod properties;
mod shared;
mod wasi;

use wasmtime::{Caller, Linker};

use crate::abi::Status;
use crate::guest_memory::{Fail, HcResult};
use crate::state::HostState;

/// One row of the table, for documentation and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFunction {
    pub module: &'static str,
    pub name: &'static str,
    pub implemented: bool,
    /// Wasm parameter types, e.g. `["i32", "i64"]`. Every function returns one
    /// i32 (a status or errno) except `proc_exit`, which returns nothing.
    pub params: &'static [&'static str],
}

/// Turns a handler's result into the status the guest receives, or a trap.
fn finish(result: HcResult) -> wasmtime::Result<i32> {
    match result {
        Ok(()) => Ok(Status::Ok as i32),
        Err(Fail::Status(s)) => Ok(s as i32),
        Err(Fail::Trap(e)) => Err(e),
    }
}

macro_rules! host_table {
    ($( $module:ident { $( $support:ident $name:ident ( $($arg:ident : $ty:ty),* ) $(=> $handler:path)? ; )* } )*) => {
        /// Every host function, in spec order within each import module.
        pub const HOST_FUNCTIONS: &[HostFunction] = &[
            $($( HostFunction {
                module: stringify!($module),
                name: stringify!($name),
                implemented: host_table!(@implemented $support),
                params: &[$(stringify!($ty)),*],
            }, )*)*
        ];

        /// Adds every host function to `linker`.
        pub fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
            $($( host_table!(@link linker, $module, $name, $support, ($($arg : $ty),*) $(, $handler)?); )*)*
            Ok(())
        }
    };
    (@implemented unimplemented) => { false };
    (@implemented $other:ident) => { true };
    // Handler returns HcResult: statuses are mapped by `finish`.
    (@link $l:ident, $module:ident, $name:ident, proxy, ($($arg:ident : $ty:ty),*), $handler:path) => {
        $l.func_wrap(stringify!($module), stringify!($name),
            |mut caller: Caller<'_, HostState>, $($arg: $ty),*| -> wasmtime::Result<i32> {
                finish($handler(&mut caller, $($arg),*))
            })?;
    };
    // Handler returns what the guest gets (WASI errno, or a trap).
    (@link $l:ident, $module:ident, $name:ident, wasi, ($($arg:ident : $ty:ty),*), $handler:path) => {
        $l.func_wrap(stringify!($module), stringify!($name),
            |mut caller: Caller<'_, HostState>, $($arg: $ty),*| $handler(&mut caller, $($arg),*))?;
    };
    (@link $l:ident, $module:ident, $name:ident, unimplemented, ($($arg:ident : $ty:ty),*)) => {
        $l.func_wrap(stringify!($module), stringify!($name),
            |_: Caller<'_, HostState>, $($arg: $ty),*| -> i32 {
                let _ = ($($arg,)*);
                Status::Unimplemented as i32
            })?;
    };
}

host_table! {
    env {
        // Context lifecycle
        proxy proxy_done() => context::proxy_done;
        proxy proxy_set_effective_context(context_id: i32) => context::proxy_set_effective_context;
        // Logging
        proxy proxy_log(level: i32, msg: i32, msg_len: i32) => logging::proxy_log;
        proxy proxy_get_log_level(ret_level: i32) => logging::proxy_get_log_level;
        // Clocks and timers
        proxy proxy_get_current_time_nanoseconds(ret_time: i32) => context::proxy_get_current_time_nanoseconds;
        proxy proxy_set_tick_period_milliseconds(period: i32) => context::proxy_set_tick_period_milliseconds;
        // Buffers
        unimplemented proxy_set_buffer_bytes(buffer: i32, start: i32, size: i32, data: i32, data_len: i32);
        proxy proxy_get_buffer_bytes(buffer: i32, start: i32, max_size: i32, ret_data: i32, ret_len: i32) => buffers::proxy_get_buffer_bytes;
        proxy proxy_get_buffer_status(buffer: i32, ret_size: i32, ret_flags: i32) => buffers::proxy_get_buffer_status;
        // HTTP fields
        proxy proxy_get_header_map_size(map: i32, ret_size: i32) => headers::proxy_get_header_map_size;
        proxy proxy_get_header_map_pairs(map: i32, ret_data: i32, ret_len: i32) => headers::proxy_get_header_map_pairs;
        proxy proxy_set_header_map_pairs(map: i32, data: i32, data_len: i32) => headers::proxy_set_header_map_pairs;
        proxy proxy_get_header_map_value(map: i32, key: i32, key_len: i32, ret_data: i32, ret_len: i32) => headers::proxy_get_header_map_value;
        proxy proxy_add_header_map_value(map: i32, key: i32, key_len: i32, value: i32, value_len: i32) => headers::proxy_add_header_map_value;
        proxy proxy_replace_header_map_value(map: i32, key: i32, key_len: i32, value: i32, value_len: i32) => headers::proxy_replace_header_map_value;
        proxy proxy_remove_header_map_value(map: i32, key: i32, key_len: i32) => headers::proxy_remove_header_map_value;
        // Stream operations
        proxy proxy_continue_stream(stream: i32) => http::proxy_continue_stream;
        unimplemented proxy_close_stream(stream: i32);
        proxy proxy_get_status(ret_code: i32, ret_msg: i32, ret_msg_len: i32) => http::proxy_get_status;
        proxy proxy_send_local_response(status: i32, details: i32, details_len: i32, body: i32, body_len: i32, headers: i32, headers_len: i32, grpc_status: i32) => http::proxy_send_local_response;
        // HTTP calls
        proxy proxy_http_call(upstream: i32, upstream_len: i32, headers: i32, headers_len: i32, body: i32, body_len: i32, trailers: i32, trailers_len: i32, timeout_ms: i32, ret_token: i32) => http::proxy_http_call;
        // gRPC calls
        unimplemented proxy_grpc_call(upstream: i32, upstream_len: i32, service: i32, service_len: i32, method: i32, method_len: i32, metadata: i32, metadata_len: i32, message: i32, message_len: i32, timeout_ms: i32, ret_token: i32);
        unimplemented proxy_grpc_stream(upstream: i32, upstream_len: i32, service: i32, service_len: i32, method: i32, method_len: i32, metadata: i32, metadata_len: i32, ret_stream: i32);
        unimplemented proxy_grpc_send(stream: i32, message: i32, message_len: i32, end_stream: i32);
        unimplemented proxy_grpc_cancel(token: i32);
        unimplemented proxy_grpc_close(token: i32);
        // Shared key-value store
        proxy proxy_set_shared_data(key: i32, key_len: i32, value: i32, value_len: i32, cas: i32) => shared::proxy_set_shared_data;
        proxy proxy_get_shared_data(key: i32, key_len: i32, ret_value: i32, ret_len: i32, ret_cas: i32) => shared::proxy_get_shared_data;
        // Shared queues
        unimplemented proxy_register_shared_queue(name: i32, name_len: i32, ret_queue: i32);
        unimplemented proxy_resolve_shared_queue(vm_id: i32, vm_id_len: i32, name: i32, name_len: i32, ret_queue: i32);
        unimplemented proxy_enqueue_shared_queue(queue: i32, value: i32, value_len: i32);
        unimplemented proxy_dequeue_shared_queue(queue: i32, ret_value: i32, ret_len: i32);
        // Metrics
        proxy proxy_define_metric(kind: i32, name: i32, name_len: i32, ret_id: i32) => metrics::proxy_define_metric;
        proxy proxy_record_metric(id: i32, value: i64) => metrics::proxy_record_metric;
        proxy proxy_increment_metric(id: i32, delta: i64) => metrics::proxy_increment_metric;
        proxy proxy_get_metric(id: i32, ret_value: i32) => metrics::proxy_get_metric;
        // Properties
        proxy proxy_get_property(path: i32, path_len: i32, ret_value: i32, ret_len: i32) => properties::proxy_get_property;
        proxy proxy_set_property(path: i32, path_len: i32, value: i32, value_len: i32) => properties::proxy_set_property;
        // Foreign functions
        unimplemented proxy_call_foreign_function(name: i32, name_len: i32, args: i32, args_len: i32, ret_data: i32, ret_len: i32);
    }
    wasi_snapshot_preview1 {
        wasi fd_write(fd: i32, iovs: i32, iovs_len: i32, ret_written: i32) => wasi::fd_write;
        wasi clock_time_get(clock: i32, precision: i64, ret_time: i32) => wasi::clock_time_get;
        wasi random_get(buf: i32, buf_len: i32) => wasi::random_get;
        wasi environ_sizes_get(ret_count: i32, ret_size: i32) => wasi::zero_sizes;
        wasi environ_get(ret_array: i32, ret_buf: i32) => wasi::nothing_to_get;
        wasi args_sizes_get(ret_count: i32, ret_size: i32) => wasi::zero_sizes;
        wasi args_get(ret_array: i32, ret_buf: i32) => wasi::nothing_to_get;
        wasi proc_exit(code: i32) => wasi::proc_exit;
    }
}
