//! proxy-wasm shared data in an nginx shared-memory zone (set_backend_shared_zone).

use core::ffi::c_void;

use ngx::ffi::{ngx_int_t, ngx_shm_zone_t, NGX_OK};

pub unsafe extern "C" fn init_zone(_zone: *mut ngx_shm_zone_t, _old: *mut c_void) -> ngx_int_t {
    NGX_OK as ngx_int_t
}
