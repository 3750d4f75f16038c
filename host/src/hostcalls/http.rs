//! HTTP stream control and outgoing http calls.

use wasmtime::Caller;

use crate::abi::{Status, StreamType};
use crate::embedder::{HttpCallRequest, LocalResponse};
use crate::guest_memory::{self as gm, HcResult};
use crate::header_map::HeaderMap;
use crate::state::HostState;

/// Bounds the calls one instance can have in flight, so a filter that never
/// stops dispatching cannot grow host memory without limit.
const MAX_PENDING_CALLS: usize = 1024;

fn active_http_context(state: &HostState) -> Result<u32, Status> {
    let id = state.active_context;
    if state.http_contexts.contains_key(&id) {
        Ok(id)
    } else {
        Err(Status::NotFound)
    }
}

pub fn proxy_continue_stream(caller: &mut Caller<'_, HostState>, stream: i32) -> HcResult {
    let stream = StreamType::from_i32(stream).ok_or(Status::BadArgument)?;
    let state = caller.data_mut();
    let id = active_http_context(state)?;
    state.env.streams.continue_stream(id, stream)?;
    Ok(())
}

/// The status of the http call being delivered: its `:status` (0 for a failed
/// call) and an empty message.
pub fn proxy_get_status(
    caller: &mut Caller<'_, HostState>,
    ret_code: i32,
    ret_msg: i32,
    ret_msg_len: i32,
) -> HcResult {
    let resp = caller
        .data()
        .call_response
        .as_ref()
        .ok_or(Status::NotFound)?;
    let code = resp
        .headers
        .get(b":status")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    gm::check(caller, ret_code, 4)?;
    gm::return_bytes(caller, &[], ret_msg, ret_msg_len)?;
    gm::write_u32(caller, ret_code, code)
}

#[allow(clippy::too_many_arguments)]
pub fn proxy_send_local_response(
    caller: &mut Caller<'_, HostState>,
    status: i32,
    details: i32,
    details_len: i32,
    body: i32,
    body_len: i32,
    headers: i32,
    headers_len: i32,
    grpc_status: i32,
) -> HcResult {
    let details = gm::read(caller, details, details_len)?;
    let body = gm::read(caller, body, body_len)?;
    let raw_headers = gm::read(caller, headers, headers_len)?;
    let status = status as u32;
    if !(100..=599).contains(&status) {
        return Err(Status::BadArgument.into());
    }
    let headers = HeaderMap::deserialize(&raw_headers).ok_or(Status::BadArgument)?;
    let state = caller.data_mut();
    let id = active_http_context(state)?;
    state.env.streams.send_local_response(
        id,
        LocalResponse {
            status,
            details,
            body,
            headers,
            grpc_status,
        },
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub fn proxy_http_call(
    caller: &mut Caller<'_, HostState>,
    upstream: i32,
    upstream_len: i32,
    headers: i32,
    headers_len: i32,
    body: i32,
    body_len: i32,
    trailers: i32,
    trailers_len: i32,
    timeout_ms: i32,
    ret_token: i32,
) -> HcResult {
    let upstream = gm::read(caller, upstream, upstream_len)?;
    let raw_headers = gm::read(caller, headers, headers_len)?;
    let body = gm::read(caller, body, body_len)?;
    let raw_trailers = gm::read(caller, trailers, trailers_len)?;
    gm::check(caller, ret_token, 4)?;

    let upstream = String::from_utf8(upstream).map_err(|_| Status::BadArgument)?;
    let headers = HeaderMap::deserialize(&raw_headers).ok_or(Status::BadArgument)?;
    let trailers = HeaderMap::deserialize(&raw_trailers).ok_or(Status::BadArgument)?;
    for required in [&b":method"[..], b":path", b":authority"] {
        if headers.get(required).is_none_or(|v| v.is_empty()) {
            return Err(Status::BadArgument.into());
        }
    }
    let state = caller.data_mut();
    if state.pending_calls.len() >= MAX_PENDING_CALLS {
        return Err(Status::InternalFailure.into());
    }
    let ctx = state.active_context;
    let token = state.allocate_token();
    let request = HttpCallRequest {
        upstream,
        headers,
        body,
        trailers,
        timeout_ms: timeout_ms as u32,
    };
    state.env.http_calls.dispatch(ctx, token, request)?;
    state.pending_calls.insert(token, ctx);
    gm::write_u32(caller, ret_token, token)
}
