//! Header-map host calls. Maps 0–3 belong to the effective HTTP context;
//! 6–7 are the http-call response being delivered (read-only); gRPC metadata
//! (4–5) never exists here.

use wasmtime::Caller;

use crate::abi::{MapType, Status};
use crate::guest_memory::{self as gm, HcResult};
use crate::header_map::HeaderMap;
use crate::state::HostState;

fn map_ref(state: &HostState, map: i32) -> Result<&HeaderMap, Status> {
    let kind = MapType::from_i32(map).ok_or(Status::BadArgument)?;
    match kind {
        MapType::HttpCallResponseHeaders => state
            .call_response
            .as_ref()
            .map(|r| &r.headers)
            .ok_or(Status::NotFound),
        MapType::HttpCallResponseTrailers => state
            .call_response
            .as_ref()
            .map(|r| &r.trailers)
            .ok_or(Status::NotFound),
        MapType::GrpcCallInitialMetadata | MapType::GrpcCallTrailingMetadata => {
            Err(Status::NotFound)
        }
        _ => {
            let ctx = state
                .http_contexts
                .get(&state.active_context)
                .ok_or(Status::NotFound)?;
            Ok(match kind {
                MapType::HttpRequestHeaders => &ctx.request_headers,
                MapType::HttpRequestTrailers => &ctx.request_trailers,
                MapType::HttpResponseHeaders => &ctx.response_headers,
                _ => &ctx.response_trailers,
            })
        }
    }
}

fn map_mut(state: &mut HostState, map: i32) -> Result<&mut HeaderMap, Status> {
    let kind = MapType::from_i32(map).ok_or(Status::BadArgument)?;
    let active = state.active_context;
    let ctx = match kind {
        MapType::HttpRequestHeaders
        | MapType::HttpRequestTrailers
        | MapType::HttpResponseHeaders
        | MapType::HttpResponseTrailers => state
            .http_contexts
            .get_mut(&active)
            .ok_or(Status::NotFound)?,
        // Responses of http calls and gRPC metadata are read-only.
        _ => return Err(Status::BadArgument),
    };
    Ok(match kind {
        MapType::HttpRequestHeaders => &mut ctx.request_headers,
        MapType::HttpRequestTrailers => &mut ctx.request_trailers,
        MapType::HttpResponseHeaders => &mut ctx.response_headers,
        _ => &mut ctx.response_trailers,
    })
}

pub fn proxy_get_header_map_size(
    caller: &mut Caller<'_, HostState>,
    map: i32,
    ret_size: i32,
) -> HcResult {
    let size = map_ref(caller.data(), map)?.serialized_len();
    gm::write_u32(caller, ret_size, size as u32)
}

pub fn proxy_get_header_map_pairs(
    caller: &mut Caller<'_, HostState>,
    map: i32,
    ret_data: i32,
    ret_len: i32,
) -> HcResult {
    gm::return_filled(caller, gm::NO_KEY, ret_data, ret_len, |_, state, out| {
        map_ref(state, map)?.serialize_into(out);
        Ok(())
    })
}

pub fn proxy_set_header_map_pairs(
    caller: &mut Caller<'_, HostState>,
    map: i32,
    data: i32,
    data_len: i32,
) -> HcResult {
    map_mut(caller.data_mut(), map)?;
    let bytes = gm::read(caller, data, data_len)?;
    let new = HeaderMap::deserialize(&bytes).ok_or(Status::ParseFailure)?;
    *map_mut(caller.data_mut(), map)? = new;
    Ok(())
}

pub fn proxy_get_header_map_value(
    caller: &mut Caller<'_, HostState>,
    map: i32,
    key: i32,
    key_len: i32,
    ret_data: i32,
    ret_len: i32,
) -> HcResult {
    gm::return_filled(
        caller,
        (key, key_len),
        ret_data,
        ret_len,
        |key, state, out| {
            out.extend_from_slice(map_ref(state, map)?.get(key).ok_or(Status::NotFound)?);
            Ok(())
        },
    )
}

pub fn proxy_add_header_map_value(
    caller: &mut Caller<'_, HostState>,
    map: i32,
    key: i32,
    key_len: i32,
    value: i32,
    value_len: i32,
) -> HcResult {
    gm::with_two(caller, (key, key_len), (value, value_len), |k, v, state| {
        map_mut(state, map).map(|m| m.add(k, v))
    })??;
    Ok(())
}

pub fn proxy_replace_header_map_value(
    caller: &mut Caller<'_, HostState>,
    map: i32,
    key: i32,
    key_len: i32,
    value: i32,
    value_len: i32,
) -> HcResult {
    gm::with_two(caller, (key, key_len), (value, value_len), |k, v, state| {
        map_mut(state, map).map(|m| m.replace(k, v))
    })??;
    Ok(())
}

pub fn proxy_remove_header_map_value(
    caller: &mut Caller<'_, HostState>,
    map: i32,
    key: i32,
    key_len: i32,
) -> HcResult {
    gm::with_bytes(caller, key, key_len, |k, state| {
        map_mut(state, map).map(|m| m.remove(k))
    })??;
    Ok(())
}
