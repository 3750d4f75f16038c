//! What the module keeps per request: the backend the filter chose, and where the
//! filter run stands. Lives in the request pool; dropped with the request.

use ngx::ffi::{ngx_http_request_t, ngx_module_t};

#[derive(Default)]
pub struct RequestCtx {
    /// The filter's HTTP context for this request.
    pub context_id: Option<u32>,
    /// The backend the filter left (property `backend`, or the `ngx.<var>` of `set_backend $var`).
    pub backend: Option<Vec<u8>>,
    /// The filter is suspended (Pause); the request waits for an http call to resume it.
    pub paused: bool,
    /// The filter run is over (continued, answered locally or failed).
    pub done: bool,
}

fn module() -> &'static ngx_module_t {
    unsafe { &*core::ptr::addr_of!(crate::ngx_http_set_backend_module) }
}

/// The context of `r`, if the phase handler created one.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn get<'a>(r: *mut ngx_http_request_t) -> Option<&'a mut RequestCtx> {
    let ctx = unsafe { *(*r).ctx.add(module().ctx_index) } as *mut RequestCtx;
    unsafe { ctx.as_mut() }
}

/// The context of `r`, created on first use in the request pool.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn get_or_create<'a>(r: *mut ngx_http_request_t) -> Option<&'a mut RequestCtx> {
    if let Some(ctx) = unsafe { get(r) } {
        return Some(ctx);
    }
    let pool = unsafe { ngx::core::Pool::from_ngx_pool((*r).pool) };
    let ctx = pool.allocate(RequestCtx::default());
    if ctx.is_null() {
        return None;
    }
    unsafe { *(*r).ctx.add(module().ctx_index) = ctx.cast() };
    unsafe { ctx.as_mut() }
}
