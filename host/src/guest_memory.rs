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

/// Runs `f` on the `len` bytes at `ptr`, borrowed in place, and on the host
/// state: no copy, for the host calls on the request path.
pub fn with_bytes<R>(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    len: i32,
    f: impl FnOnce(&[u8], &mut HostState) -> R,
) -> HcResult<R> {
    let mem = memory(caller)?;
    let (data, state) = mem.data_and_store_mut(&mut *caller);
    let r = range(ptr, len, data.len())?;
    Ok(f(&data[r], state))
}

/// `with_bytes` for two ranges at once (a key and a value).
pub fn with_two<R>(
    caller: &mut Caller<'_, HostState>,
    (ptr_a, len_a): (i32, i32),
    (ptr_b, len_b): (i32, i32),
    f: impl FnOnce(&[u8], &[u8], &mut HostState) -> R,
) -> HcResult<R> {
    let mem = memory(caller)?;
    let (data, state) = mem.data_and_store_mut(&mut *caller);
    let a = range(ptr_a, len_a, data.len())?;
    let b = range(ptr_b, len_b, data.len())?;
    Ok(f(&data[a], &data[b], state))
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
    let size = memory(caller)?.data_size(&*caller);
    range(ret_ptr, 4, size)?;
    range(ret_len, 4, size)?;
    let ptr = if bytes.is_empty() {
        0
    } else {
        allocate(caller, bytes.len())?
    };
    // One view of memory for the three writes (the allocator may have grown it).
    let mem = memory(caller)?;
    let data = mem.data_mut(&mut *caller);
    let mut put = |at: i32, b: &[u8]| -> HcResult {
        let r = range(at, b.len() as i32, data.len())?;
        data[r].copy_from_slice(b);
        Ok(())
    };
    put(ptr, bytes)?;
    put(ret_ptr, &(ptr as u32).to_le_bytes())?;
    put(ret_len, &(bytes.len() as u32).to_le_bytes())
}

/// `return_bytes` for bytes `fill` puts in the host's reused scratch buffer:
/// `fill` sees the `key_len` bytes at `key` in guest memory (borrowed in place),
/// the host state and the empty buffer, so a value looked up in the host's own
/// structures reaches the guest with no allocation on the host side. What `fill`
/// returns besides the bytes (e.g. a cas) comes back.
pub fn return_filled<R>(
    caller: &mut Caller<'_, HostState>,
    (key, key_len): (i32, i32),
    ret_ptr: i32,
    ret_len: i32,
    fill: impl FnOnce(&[u8], &mut HostState, &mut Vec<u8>) -> Result<R, Status>,
) -> HcResult<R> {
    let mut buf = caller.data_mut().take_scratch();
    let result = match with_bytes(caller, key, key_len, |key, state| {
        fill(key, state, &mut buf)
    }) {
        Ok(Ok(r)) => return_bytes(caller, &buf, ret_ptr, ret_len).map(|()| r),
        Ok(Err(s)) => Err(s.into()),
        Err(e) => Err(e),
    };
    caller.data_mut().restore_scratch(buf);
    result
}

/// No key: a zero-length range at 0 is inside any memory.
pub const NO_KEY: (i32, i32) = (0, 0);

fn allocate(caller: &mut Caller<'_, HostState>, size: usize) -> HcResult<i32> {
    let size = i32::try_from(size).map_err(|_| Status::InvalidMemoryAccess)?;
    // Taken out for the call and put back after (moving the handle is free;
    // cloning it clones its registered type). A guest allocator that re-enters
    // the host and asks for memory again finds none: INVALID_MEMORY_ACCESS.
    let alloc = caller
        .data_mut()
        .allocator
        .take()
        .ok_or(Status::InvalidMemoryAccess)?;
    let result = alloc.call(&mut *caller, size);
    caller.data_mut().allocator = Some(alloc);
    let ptr = result.map_err(Fail::Trap)?;
    if ptr == 0 {
        // The guest is out of memory: report it like any unusable pointer.
        return Err(Status::InvalidMemoryAccess.into());
    }
    Ok(ptr)
}
