//! Metrics, kept in-process per filter host (`FilterHost::metrics`).

use wasmtime::Caller;

use crate::abi::{MetricType, Status};
use crate::guest_memory::{self as gm, HcResult};
use crate::state::HostState;

pub fn proxy_define_metric(
    caller: &mut Caller<'_, HostState>,
    kind: i32,
    name: i32,
    name_len: i32,
    ret_id: i32,
) -> HcResult {
    let kind = MetricType::from_i32(kind).ok_or(Status::BadArgument)?;
    let name = gm::read(caller, name, name_len)?;
    let name = std::str::from_utf8(&name)
        .map_err(|_| Status::BadArgument)?
        .to_owned();
    gm::check(caller, ret_id, 4)?;
    let id = caller.data_mut().metrics.define(kind, &name)?;
    gm::write_u32(caller, ret_id, id)
}

pub fn proxy_record_metric(caller: &mut Caller<'_, HostState>, id: i32, value: i64) -> HcResult {
    Ok(caller.data_mut().metrics.record(id as u32, value as u64)?)
}

pub fn proxy_increment_metric(caller: &mut Caller<'_, HostState>, id: i32, delta: i64) -> HcResult {
    Ok(caller.data_mut().metrics.increment(id as u32, delta)?)
}

pub fn proxy_get_metric(caller: &mut Caller<'_, HostState>, id: i32, ret_value: i32) -> HcResult {
    let v = caller.data().metrics.get(id as u32)?;
    gm::write_u64(caller, ret_value, v)
}
