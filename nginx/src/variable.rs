//! The variable named in `set_backend $var;`, when no other module owns it: it reads
//! the backend that the filter chose for this request.

use ngx::ffi::{ngx_http_request_t, ngx_http_variable_value_t, ngx_int_t, NGX_OK};

use crate::request_ctx;

pub unsafe extern "C" fn get_backend(
    r: *mut ngx_http_request_t,
    v: *mut ngx_http_variable_value_t,
    _data: usize,
) -> ngx_int_t {
    let v = unsafe { &mut *v };
    match unsafe { request_ctx::get(r) }.and_then(|c| c.backend.as_deref()) {
        Some(b) => unsafe { set_value(v, b.as_ptr() as *mut u8, b.len()) },
        None => v.set_not_found(1),
    }
    NGX_OK as ngx_int_t
}

/// Points `v` at `len` bytes at `data`, which must live as long as the request.
///
/// # Safety
/// `data` must stay valid for the request's lifetime.
pub unsafe fn set_value(v: &mut ngx_http_variable_value_t, data: *mut u8, len: usize) {
    v.set_len(len as u32);
    v.set_valid(1);
    v.set_no_cacheable(0);
    v.set_not_found(0);
    v.set_escape(0);
    v.data = data;
}
