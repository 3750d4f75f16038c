//! Properties. A path arrives as NUL-separated segments ("ngx\0backend");
//! a trailing NUL is allowed. The embedder's `Properties` answers first; the
//! host itself knows only the plugin_* well-known properties.

use wasmtime::Caller;

use crate::abi::Status;
use crate::guest_memory::{self as gm, HcResult};
use crate::state::HostState;

pub(crate) fn split_path(raw: &[u8]) -> Result<Vec<&[u8]>, Status> {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    if raw.is_empty() {
        return Err(Status::BadArgument);
    }
    Ok(raw.split(|b| *b == 0).collect())
}

fn well_known(state: &HostState, path: &[&[u8]]) -> Option<Vec<u8>> {
    match path {
        [b"plugin_name"] | [b"plugin_root_id"] => Some(state.plugin_name.as_bytes().to_vec()),
        [b"plugin_vm_id"] => Some(Vec::new()),
        _ => None,
    }
}

pub fn proxy_get_property(
    caller: &mut Caller<'_, HostState>,
    path: i32,
    path_len: i32,
    ret_value: i32,
    ret_len: i32,
) -> HcResult {
    let raw = gm::read(caller, path, path_len)?;
    let segments = split_path(&raw)?;
    let state = caller.data_mut();
    let ctx = state.active_context;
    let value = match state.env.properties.get_property(ctx, &segments) {
        Some(v) => v,
        None => well_known(state, &segments).ok_or(Status::NotFound)?,
    };
    gm::return_bytes(caller, &value, ret_value, ret_len)
}

pub fn proxy_set_property(
    caller: &mut Caller<'_, HostState>,
    path: i32,
    path_len: i32,
    value: i32,
    value_len: i32,
) -> HcResult {
    let raw = gm::read(caller, path, path_len)?;
    let value = gm::read(caller, value, value_len)?;
    let segments = split_path(&raw)?;
    let state = caller.data_mut();
    let ctx = state.active_context;
    state.env.properties.set_property(ctx, &segments, &value)?;
    Ok(())
}
