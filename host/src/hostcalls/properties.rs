//! Properties. A path arrives as NUL-separated segments ("ngx\0backend");
//! a trailing NUL is allowed. The embedder's `Properties` answers first; the
//! host itself knows only the plugin_* well-known properties.

use wasmtime::Caller;

use crate::abi::Status;
use crate::guest_memory::{self as gm, HcResult};
use crate::state::HostState;

/// Deepest property path accepted; no property this host or an embedder
/// knows comes near it, and a bound keeps the split on the stack.
const MAX_SEGMENTS: usize = 16;

/// Splits `raw` into `out` and returns the segments used.
pub(crate) fn split_path<'a, 'o>(
    raw: &'a [u8],
    out: &'o mut [&'a [u8]; MAX_SEGMENTS],
) -> Result<&'o [&'a [u8]], Status> {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    if raw.is_empty() {
        return Err(Status::BadArgument);
    }
    let mut n = 0;
    for segment in raw.split(|b| *b == 0) {
        *out.get_mut(n).ok_or(Status::BadArgument)? = segment;
        n += 1;
    }
    Ok(&out[..n])
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
    let value = gm::with_bytes(caller, path, path_len, |raw, state| {
        let mut split = [&[][..]; MAX_SEGMENTS];
        let segments = split_path(raw, &mut split)?;
        let ctx = state.active_context;
        match state.env.properties.get_property(ctx, segments) {
            Some(v) => Ok(v),
            None => well_known(state, segments).ok_or(Status::NotFound),
        }
    })??;
    gm::return_bytes(caller, &value, ret_value, ret_len)
}

pub fn proxy_set_property(
    caller: &mut Caller<'_, HostState>,
    path: i32,
    path_len: i32,
    value: i32,
    value_len: i32,
) -> HcResult {
    gm::with_two(
        caller,
        (path, path_len),
        (value, value_len),
        |raw, value, state| {
            let mut split = [&[][..]; MAX_SEGMENTS];
            let segments = split_path(raw, &mut split)?;
            let ctx = state.active_context;
            state.env.properties.set_property(ctx, segments, value)
        },
    )??;
    Ok(())
}
