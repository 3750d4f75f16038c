//! Read access to the buffers this host has: VM and plugin configuration
//! (at any time) and the body of the http-call response being delivered.
//! Request/response bodies and stream data never reach this host.

use wasmtime::Caller;

use crate::abi::{BufferType, Status};
use crate::guest_memory::{self as gm, HcResult};
use crate::state::HostState;

fn buffer(state: &HostState, buffer: i32) -> Result<&[u8], Status> {
    match BufferType::from_i32(buffer).ok_or(Status::BadArgument)? {
        BufferType::VmConfiguration => Ok(&state.vm_config),
        BufferType::PluginConfiguration => Ok(&state.plugin_config),
        BufferType::HttpCallResponseBody => state
            .call_response
            .as_ref()
            .map(|r| r.body.as_slice())
            .ok_or(Status::NotFound),
        _ => Err(Status::NotFound),
    }
}

pub fn proxy_get_buffer_bytes(
    caller: &mut Caller<'_, HostState>,
    buf: i32,
    start: i32,
    max_size: i32,
    ret_data: i32,
    ret_len: i32,
) -> HcResult {
    let bytes = {
        let data = buffer(caller.data(), buf)?;
        let start = start as u32 as usize;
        if start > data.len() {
            return Err(Status::BadArgument.into());
        }
        let end = start
            .saturating_add(max_size as u32 as usize)
            .min(data.len());
        data[start..end].to_vec()
    };
    gm::return_bytes(caller, &bytes, ret_data, ret_len)
}

pub fn proxy_get_buffer_status(
    caller: &mut Caller<'_, HostState>,
    buf: i32,
    ret_size: i32,
    ret_flags: i32,
) -> HcResult {
    let size = buffer(caller.data(), buf)?.len();
    gm::check(caller, ret_size, 4)?;
    gm::check(caller, ret_flags, 4)?;
    gm::write_u32(caller, ret_size, size as u32)?;
    gm::write_u32(caller, ret_flags, 0)
}
