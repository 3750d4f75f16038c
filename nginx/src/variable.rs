//! The variable named in `set_backend $var;`, when no other module owns it: it reads
//! the backend that the filter chose for this request.

use ngx::ffi::{NGX_OK, ngx_http_request_t, ngx_http_variable_value_t, ngx_int_t};

use crate::request_ctx;
pub use crate::variable_value::set_value;

pub unsafe extern "C" fn get_backend(
    r: *mut ngx_http_request_t,
    v: *mut ngx_http_variable_value_t,
    _data: usize,
) -> ngx_int_t {
    let v = unsafe { &mut *v };
    let Some(b) = unsafe { request_ctx::get(r) }.and_then(|c| c.backend()) else {
        v.set_not_found(1);
        return NGX_OK as ngx_int_t;
    };
    let b = crate::backend_addr::as_variable(b);
    let pool = unsafe { ngx::core::Pool::from_ngx_pool((*r).pool) };
    let p = pool.alloc_unaligned(b.len().max(1)) as *mut u8;
    if p.is_null() {
        return ngx::ffi::NGX_ERROR as ngx_int_t;
    }
    unsafe {
        core::ptr::copy_nonoverlapping(b.as_ptr(), p, b.len());
        set_value(v, p, b.len());
    }
    NGX_OK as ngx_int_t
}

/// `$set_backend_shared_entries` and `$set_backend_shared_evictions`: what the shared
/// zone holds and how many entries LRU eviction has dropped since it was created
/// (for access logs and monitoring). Not found without `set_backend_shared_zone`.
pub unsafe extern "C" fn get_shared_stat(
    r: *mut ngx_http_request_t,
    v: *mut ngx_http_variable_value_t,
    data: usize,
) -> ngx_int_t {
    use ngx::http::HttpModuleMainConf;
    let v = unsafe { &mut *v };
    let zone = crate::Module::main_conf(unsafe { &*r })
        .map(|m| m.shm_zone)
        .filter(|z| !z.is_null());
    let Some(zone) = zone else {
        v.set_not_found(1);
        return NGX_OK as ngx_int_t;
    };
    let stats = unsafe { crate::shared::ShmSharedData::new(zone) }.stats();
    let n = if data == 0 {
        stats.entries
    } else {
        stats.evictions
    };
    let text = n.to_string();
    let pool = unsafe { ngx::core::Pool::from_ngx_pool((*r).pool) };
    let p = pool.alloc_unaligned(text.len()) as *mut u8;
    if p.is_null() {
        return ngx::ffi::NGX_ERROR as ngx_int_t;
    }
    unsafe {
        core::ptr::copy_nonoverlapping(text.as_ptr(), p, text.len());
        set_value(v, p, text.len());
    }
    v.set_no_cacheable(1);
    NGX_OK as ngx_int_t
}
