//! Bounds-checked access to a guest's linear memory. Every pointer and length a
//! guest passes goes through here; a bad one becomes INVALID_MEMORY_ACCESS,
//! never a host crash.

use wasmtime::Caller;

use crate::abi::Status;
use crate::state::HostState;

/// How a host function ends: a status for the guest, or a trap that aborts
/// the guest call (its allocator trapped or the deadline passed during a
/// re-entrant call).
pub enum Fail {
    Status(Status),
    Trap(wasmtime::Error),
}

impl From<Status> for Fail {
    fn from(s: Status) -> Self {
        Fail::Status(s)
    }
}

pub type HcResult<T = ()> = Result<T, Fail>;

/// Largest single buffer the host copies out of a guest (a guest cannot have more
/// memory than its cap anyway; this only bounds host allocations early).
const MAX_GUEST_BUFFER: usize = 64 << 20;

fn range(ptr: i32, len: i32, mem_len: usize) -> Result<std::ops::Range<usize>, Status> {
    // Wasm32 pointers and sizes are unsigned.
    let start = ptr as u32 as usize;
    let len = len as u32 as usize;
    let end = start.checked_add(len).ok_or(Status::InvalidMemoryAccess)?;
    if end > mem_len || len > MAX_GUEST_BUFFER {
        return Err(Status::InvalidMemoryAccess);
    }
    Ok(start..end)
}

fn memory(caller: &Caller<'_, HostState>) -> Result<wasmtime::Memory, Status> {
    caller.data().memory.ok_or(Status::InvalidMemoryAccess)
}

/// Copies `len` bytes at `ptr` out of the guest.
pub fn read(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> HcResult<Vec<u8>> {
    let mem = memory(caller)?;
    let data = mem.data(&*caller);
    let r = range(ptr, len, data.len())?;
    Ok(data[r].to_vec())
}

pub fn write(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> HcResult {
    let mem = memory(caller)?;
    let data = mem.data_mut(&mut *caller);
    let r = range(ptr, bytes.len() as i32, data.len())?;
    data[r].copy_from_slice(bytes);
    Ok(())
}

/// Fails unless `len` bytes at `ptr` are inside guest memory. Used to validate
/// every return slot before the host changes anything.
pub fn check(caller: &Caller<'_, HostState>, ptr: i32, len: i32) -> HcResult {
    let mem = memory(caller)?;
    range(ptr, len, mem.data_size(caller))?;
    Ok(())
}

pub fn write_u32(caller: &mut Caller<'_, HostState>, ptr: i32, v: u32) -> HcResult {
    write(caller, ptr, &v.to_le_bytes())
}

pub fn write_u64(caller: &mut Caller<'_, HostState>, ptr: i32, v: u64) -> HcResult {
    write(caller, ptr, &v.to_le_bytes())
}

/// Hands `bytes` to the guest: allocates with the guest's allocator, copies, then
/// stores pointer and size at `ret_ptr` / `ret_len`. Zero bytes yield pointer 0
/// and size 0 without calling the allocator.
pub fn return_bytes(
    caller: &mut Caller<'_, HostState>,
    bytes: &[u8],
    ret_ptr: i32,
    ret_len: i32,
) -> HcResult {
    check(caller, ret_ptr, 4)?;
    check(caller, ret_len, 4)?;
    let ptr = if bytes.is_empty() {
        0
    } else {
        allocate(caller, bytes.len())?
    };
    if !bytes.is_empty() {
        write(caller, ptr, bytes)?;
    }
    write_u32(caller, ret_ptr, ptr as u32)?;
    write_u32(caller, ret_len, bytes.len() as u32)
}

fn allocate(caller: &mut Caller<'_, HostState>, size: usize) -> HcResult<i32> {
    let size = i32::try_from(size).map_err(|_| Status::InvalidMemoryAccess)?;
    let alloc = caller
        .data()
        .allocator
        .clone()
        .ok_or(Status::InvalidMemoryAccess)?;
    let ptr = alloc.call(&mut *caller, size).map_err(Fail::Trap)?;
    if ptr == 0 {
        // The guest is out of memory: report it like any unusable pointer.
        return Err(Status::InvalidMemoryAccess.into());
    }
    Ok(ptr)
}
