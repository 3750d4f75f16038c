//! `proxy_log` and `proxy_get_log_level`.

use wasmtime::Caller;

use crate::abi::{LogLevel, Status};
use crate::guest_memory::{self as gm, HcResult};
use crate::state::HostState;

pub fn proxy_log(
    caller: &mut Caller<'_, HostState>,
    level: i32,
    msg: i32,
    msg_len: i32,
) -> HcResult {
    let level = LogLevel::from_i32(level).ok_or(Status::BadArgument)?;
    gm::with_bytes(caller, msg, msg_len, |bytes, state| {
        let ctx = state.active_context;
        state
            .env
            .logger
            .log(ctx, level, &String::from_utf8_lossy(bytes));
    })
}

pub fn proxy_get_log_level(caller: &mut Caller<'_, HostState>, ret_level: i32) -> HcResult {
    let level = caller.data().env.logger.level();
    gm::write_u32(caller, ret_level, level as u32)
}
