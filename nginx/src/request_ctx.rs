//! What the module keeps per request: the backend the filter chose, and where the
//! filter run stands. Lives in the request pool; dropped with the request.
//!
//! Data: it calls none of the files of a request's path, so any step of the path
//! may read it (docs/nginx-module.md, "A request's path").

use ngx::core::Pool;
use ngx::ffi::{
    ngx_add_timer, ngx_del_timer, ngx_delete_posted_event, ngx_event_t, ngx_http_core_run_phases,
    ngx_http_request_t, ngx_http_run_posted_requests, ngx_msec_t, ngx_str_t,
};
use ngx::http::{HttpModule, Request};

use crate::{Module, pool};

pub struct RequestCtx {
    /// The filter's HTTP context for this request.
    pub context_id: Option<u32>,
    /// The backend the filter left (property `backend`, or the `ngx.<var>` of
    /// `set_backend $var`), copied into the request pool (see `set_backend`).
    backend: Option<ngx_str_t>,
    /// The filter paused the request; an event will run the phases again.
    pub paused: bool,
    /// The filter run is over (continued, answered locally or failed).
    pub done: bool,
    /// Bounds a pause: a filter that never continues costs the request, not a hang.
    pause_timer: ngx_event_t,
    pub pause_timed_out: bool,
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self {
            context_id: None,
            backend: None,
            paused: false,
            done: false,
            // SAFETY: an event is plain C data (integers, bitfields, pointers); all
            // zeroes is nginx's own unset event (it callocs them), with no handler.
            pause_timer: unsafe { core::mem::zeroed() },
            pause_timed_out: false,
        }
    }
}

impl RequestCtx {
    pub fn backend(&self) -> Option<&[u8]> {
        // A pool copy (set_backend): valid as long as the request owning this context.
        self.backend.as_ref().map(ngx_str_t::as_bytes)
    }

    /// Keeps a copy of `backend` in the request's `pool` (a bump allocation, no
    /// malloc on the request path). False when the pool is out of memory.
    pub fn set_backend(&mut self, pool: &Pool, backend: &[u8]) -> bool {
        self.backend = pool::copy_str(pool, backend);
        self.backend.is_some()
    }

    /// Arms the pause timer (once per pause): when it fires, the request's phases run
    /// again with `pause_timed_out` set.
    pub fn arm_pause_timer(&mut self, r: &mut Request, timeout: ngx_msec_t) {
        self.pause_timer.log = r.log();
        self.pause_timer.handler = Some(on_pause_timeout);
        self.pause_timer.data = core::ptr::from_mut(r).cast();
        // SAFETY: the timer lives in the request pool with this context, and `Drop`
        // removes it from the timer tree before the pool is freed.
        unsafe { ngx_add_timer(&mut self.pause_timer, timeout) };
    }

    pub fn stop_pause_timer(&mut self) {
        if self.pause_timer.timer_set() != 0 {
            // SAFETY: the flag says the event is in nginx's timer tree (this worker's).
            unsafe { ngx_del_timer(&mut self.pause_timer) };
        }
        if self.pause_timer.posted() != 0 {
            // SAFETY: the flag says the event is in a posted-events queue.
            unsafe { ngx_delete_posted_event(&mut self.pause_timer) };
        }
    }
}

impl Drop for RequestCtx {
    fn drop(&mut self) {
        // The pool goes with the request: a timer left armed would fire into freed memory.
        self.stop_pause_timer();
    }
}

unsafe extern "C" fn on_pause_timeout(ev: *mut ngx_event_t) {
    // SAFETY: nginx calls the handler with the timer armed by `arm_pause_timer`,
    // whose data is its request: alive, since the context's `Drop` (run when the
    // request's pool goes) removes the timer.
    let r = unsafe { (*ev).data as *mut ngx_http_request_t };
    // SAFETY: as above; no other reference to the request or its context is held
    // while an event handler runs.
    if let Some(ctx) = unsafe { get(Request::from_ngx_http_request(r)) } {
        ctx.pause_timed_out = true;
    }
    // SAFETY: what nginx's own timers for a request in its phases do: run the
    // phases (the handler sees `pause_timed_out`), then the subrequests posted.
    unsafe {
        let c = (*r).connection;
        ngx_http_core_run_phases(r);
        ngx_http_run_posted_requests(c);
    }
}

/// The context of `r`, if the phase handler created one.
///
/// # Safety
/// No other reference to the context may be in use while the returned one is: take
/// it in an nginx callback, and do not keep it past the callback.
pub unsafe fn get<'a>(r: &Request) -> Option<&'a mut RequestCtx> {
    let slots = r.as_ref().ctx;
    // SAFETY: nginx gives every request one context slot per HTTP module
    // (`ngx_http_max_module`), null until a module sets it; ours holds null or a
    // context allocated in the request pool by `get_or_create`, alive as long as the
    // request. Exclusive use is the caller's contract.
    unsafe {
        (*slots.add(Module::module().ctx_index))
            .cast::<RequestCtx>()
            .as_mut()
    }
}

/// The context of `r`, created on first use in the request pool.
///
/// # Safety
/// As for [`get`].
pub unsafe fn get_or_create<'a>(r: &Request) -> Option<&'a mut RequestCtx> {
    // SAFETY: the caller's contract.
    if let Some(ctx) = unsafe { get(r) } {
        return Some(ctx);
    }
    // `allocate` adds a pool cleanup that drops the context (and so stops its timer).
    let ctx = r.pool().allocate(RequestCtx::default());
    if ctx.is_null() {
        return None;
    }
    r.set_module_ctx(ctx.cast(), Module::module());
    // SAFETY: just allocated and initialised in the request pool; nothing else refers to it.
    unsafe { ctx.as_mut() }
}
