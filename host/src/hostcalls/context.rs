//! Context lifecycle, clock and timer host calls.

use wasmtime::Caller;

use crate::abi::Status;
use crate::guest_memory::{self as gm, HcResult};
use crate::state::HostState;

/// Finalization (on_log, on_delete) runs after the current callback returns,
/// so the guest is never re-entered from inside this call.
pub fn proxy_done(caller: &mut Caller<'_, HostState>) -> HcResult {
    let state = caller.data_mut();
    let id = state.active_context;
    match state.http_contexts.get_mut(&id) {
        Some(ctx) if ctx.awaiting_done => {
            ctx.awaiting_done = false;
            state.done_queue.push(id);
            Ok(())
        }
        _ => Err(Status::NotFound.into()),
    }
}

pub fn proxy_set_effective_context(
    caller: &mut Caller<'_, HostState>,
    context_id: i32,
) -> HcResult {
    let state = caller.data_mut();
    let id = context_id as u32;
    if !state.context_exists(id) {
        return Err(Status::BadArgument.into());
    }
    state.active_context = id;
    Ok(())
}

pub fn proxy_get_current_time_nanoseconds(
    caller: &mut Caller<'_, HostState>,
    ret_time: i32,
) -> HcResult {
    let now = caller.data().env.clock.now_nanos();
    gm::write_u64(caller, ret_time, now)
}

pub fn proxy_set_tick_period_milliseconds(
    caller: &mut Caller<'_, HostState>,
    period: i32,
) -> HcResult {
    caller.data_mut().tick_period_ms = period as u32;
    Ok(())
}
