//! The WASI functions proxy-wasm 0.2.1 lists, so filters built for
//! `wasm32-wasi` link. No file system, environment or arguments exist here.

use std::io::Read;

use wasmtime::Caller;

use crate::abi::{Errno, LogLevel};
use crate::guest_memory::{self as gm, Fail};
use crate::state::HostState;

type WasiResult = wasmtime::Result<i32>;

/// Maps a guest-memory failure to FAULT, keeping traps.
fn errno(r: Result<(), Fail>) -> WasiResult {
    match r {
        Ok(()) => Ok(Errno::Success as i32),
        Err(Fail::Status(_)) => Ok(Errno::Fault as i32),
        Err(Fail::Trap(e)) => Err(e),
    }
}

/// stdout → INFO, stderr → ERROR.
pub fn fd_write(
    caller: &mut Caller<'_, HostState>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    ret_written: i32,
) -> WasiResult {
    let level = match fd {
        1 => LogLevel::Info,
        2 => LogLevel::Error,
        _ => return Ok(Errno::Badf as i32),
    };
    errno((|| {
        let count = iovs_len as u32;
        if count > 1024 {
            return Err(Fail::Status(crate::abi::Status::InvalidMemoryAccess));
        }
        let table = gm::read(caller, iovs, (count * 8) as i32)?;
        let mut message = Vec::new();
        for iov in table.chunks_exact(8) {
            let ptr = i32::from_le_bytes(iov[0..4].try_into().unwrap());
            let len = i32::from_le_bytes(iov[4..8].try_into().unwrap());
            message.extend(gm::read(caller, ptr, len)?);
        }
        gm::check(caller, ret_written, 4)?;
        let text = String::from_utf8_lossy(&message);
        let state = caller.data_mut();
        let ctx = state.active_context;
        state
            .env
            .logger
            .log(ctx, level, text.trim_end_matches('\n'));
        gm::write_u32(caller, ret_written, message.len() as u32)
    })())
}

pub fn clock_time_get(
    caller: &mut Caller<'_, HostState>,
    clock: i32,
    _precision: i64,
    ret_time: i32,
) -> WasiResult {
    if clock != 0 && clock != 1 {
        return Ok(Errno::Notsup as i32);
    }
    let now = caller.data().env.clock.now_nanos();
    errno(gm::write_u64(caller, ret_time, now))
}

pub fn random_get(caller: &mut Caller<'_, HostState>, buf: i32, buf_len: i32) -> WasiResult {
    let len = buf_len as u32 as usize;
    if len > 65536 {
        return Ok(Errno::Inval as i32);
    }
    if gm::check(caller, buf, buf_len).is_err() {
        return Ok(Errno::Fault as i32);
    }
    let mut bytes = vec![0u8; len];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        return Ok(Errno::Notsup as i32);
    }
    errno(gm::write(caller, buf, &bytes))
}

pub fn zero_sizes(caller: &mut Caller<'_, HostState>, ret_count: i32, ret_size: i32) -> WasiResult {
    errno((|| {
        gm::check(caller, ret_count, 4)?;
        gm::check(caller, ret_size, 4)?;
        gm::write_u32(caller, ret_count, 0)?;
        gm::write_u32(caller, ret_size, 0)
    })())
}

pub fn nothing_to_get(_: &mut Caller<'_, HostState>, _: i32, _: i32) -> WasiResult {
    Ok(Errno::Success as i32)
}

/// A filter has no process to exit: end the current call as a trap.
pub fn proc_exit(_: &mut Caller<'_, HostState>, code: i32) -> wasmtime::Result<()> {
    Err(wasmtime::Error::msg(format!(
        "filter called proc_exit({code})"
    )))
}
