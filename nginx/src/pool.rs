//! Copies into nginx memory pools. What a request or the configuration keeps lives
//! exactly as long as its pool: no malloc on the request path, nothing to free.

use core::ptr;

use ngx::core::{Buffer, NgxString, Pool, TemporaryBuffer};
use ngx::ffi::ngx_str_t;

/// A copy of `bytes` in `pool`, as nginx's string type; None when the pool is out
/// of memory. The data always points into the pool, even for empty input (nginx
/// code may read the first byte of an empty string, as `ngx_conf_full_name` does).
pub fn copy_str(pool: &Pool, bytes: &[u8]) -> Option<ngx_str_t> {
    let mut copy = NgxString::new_in(pool.clone());
    copy.try_reserve_exact(bytes.len().max(1)).ok()?;
    copy.try_append(bytes).ok()?;
    // The pool frees the bytes when it is destroyed; nothing else may.
    let (data, len, _capacity, _pool) = copy.into_raw_parts();
    Some(ngx_str_t { len, data })
}

/// A buffer in `pool` holding a copy of `bytes`, for an output chain; None when the
/// pool is out of memory.
pub fn buffer(pool: &Pool, bytes: &[u8]) -> Option<TemporaryBuffer> {
    let mut buffer = pool.create_buffer(bytes.len())?;
    let b = buffer.as_ngx_buf_mut();
    // SAFETY: `create_buffer` returned a fresh buffer of the pool with room for
    // `bytes.len()` bytes from `pos` (= `start` = `last`); nothing else refers to it yet.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr(), (*b).pos, bytes.len());
        (*b).last = (*b).pos.add(bytes.len());
    }
    Some(buffer)
}
