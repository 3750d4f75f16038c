//! Shared key-value store. CAS semantics live in the embedder's `SharedData`
//! (see its contract); this only moves bytes and maps errors to statuses.

use wasmtime::Caller;

use crate::abi::Status;
use crate::embedder::SharedDataError;
use crate::guest_memory::{self as gm, HcResult};
use crate::state::HostState;

pub fn proxy_set_shared_data(
    caller: &mut Caller<'_, HostState>,
    key: i32,
    key_len: i32,
    value: i32,
    value_len: i32,
    cas: i32,
) -> HcResult {
    let written = gm::with_two(caller, (key, key_len), (value, value_len), |k, v, state| {
        state.env.shared_data.set(k, v, cas as u32)
    })?;
    match written {
        Ok(()) => Ok(()),
        Err(SharedDataError::CasMismatch) => Err(Status::CasMismatch.into()),
        Err(SharedDataError::Failed) => Err(Status::InternalFailure.into()),
    }
}

pub fn proxy_get_shared_data(
    caller: &mut Caller<'_, HostState>,
    key: i32,
    key_len: i32,
    ret_value: i32,
    ret_len: i32,
    ret_cas: i32,
) -> HcResult {
    gm::check(caller, ret_cas, 4)?;
    let cas = gm::return_filled(
        caller,
        (key, key_len),
        ret_value,
        ret_len,
        |k, state, out| {
            state
                .env
                .shared_data
                .get_into(k, out)
                .ok_or(Status::NotFound)
        },
    )?;
    gm::write_u32(caller, ret_cas, cas)
}
