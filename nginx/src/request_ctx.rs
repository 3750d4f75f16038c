//! What the module keeps per request: the backend the filter chose, and where the
//! filter run stands. Lives in the request pool; dropped with the request.

use ngx::ffi::{
    ngx_del_timer, ngx_delete_posted_event, ngx_event_t, ngx_http_request_t, ngx_module_t,
};

pub struct RequestCtx {
    /// The filter's HTTP context for this request.
    pub context_id: Option<u32>,
    /// The backend the filter left (property `backend`, or the `ngx.<var>` of
    /// `set_backend $var`), in the request pool (see `set_backend`).
    backend: Option<(*const u8, usize)>,
    /// The filter paused the request; an event will run the phases again.
    pub paused: bool,
    /// The filter run is over (continued, answered locally or failed).
    pub done: bool,
    /// Bounds a pause: a filter that never continues costs the request, not a hang.
    pub pause_timer: ngx_event_t,
    pub pause_timed_out: bool,
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self {
            context_id: None,
            backend: None,
            paused: false,
            done: false,
            pause_timer: unsafe { core::mem::zeroed() },
            pause_timed_out: false,
        }
    }
}

impl RequestCtx {
    pub fn backend(&self) -> Option<&[u8]> {
        // SAFETY: set_backend copied these bytes into the pool of the request that
        // owns this context, which outlives it.
        self.backend
            .map(|(p, len)| unsafe { core::slice::from_raw_parts(p, len) })
    }

    /// Keeps a copy of `backend` in the request pool `r`'s (a bump allocation, no
    /// malloc on the request path). False when the pool is out of memory.
    ///
    /// # Safety
    /// `r` must be the live request that owns this context.
    pub unsafe fn set_backend(&mut self, r: *mut ngx_http_request_t, backend: &[u8]) -> bool {
        let pool = unsafe { ngx::core::Pool::from_ngx_pool((*r).pool) };
        let data = pool.alloc_unaligned(backend.len().max(1)) as *mut u8;
        if data.is_null() {
            return false;
        }
        unsafe { core::ptr::copy_nonoverlapping(backend.as_ptr(), data, backend.len()) };
        self.backend = Some((data, backend.len()));
        true
    }

    pub fn stop_pause_timer(&mut self) {
        unsafe {
            if self.pause_timer.timer_set() != 0 {
                ngx_del_timer(&mut self.pause_timer);
            }
            if self.pause_timer.posted() != 0 {
                ngx_delete_posted_event(&mut self.pause_timer);
            }
        }
    }
}

impl Drop for RequestCtx {
    fn drop(&mut self) {
        // The pool goes with the request: a timer left armed would fire into freed memory.
        self.stop_pause_timer();
    }
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
