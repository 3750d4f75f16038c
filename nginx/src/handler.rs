//! A request's entry: the handler in the preaccess phase (before content, after
//! rewrite), and its registration.
//!
//! A request's path goes one way through the files (docs/nginx-module.md):
//! handler.rs → headers_in.rs (what the filter sees) → worker.rs (the guest call)
//! → decision.rs → variable.rs | local_response.rs, and later balancer.rs reads
//! the backend from the request context. A paused request returns NGX_DONE; when
//! the filter continues it (worker.rs posts its write event) or its pause times out
//! (request_ctx.rs), nginx runs its phases again and this handler goes straight to
//! the decision.

use ngx::ffi::{
    NGX_DECLINED, NGX_ERROR, ngx_array_push, ngx_conf_t, ngx_http_handler_pt,
    ngx_http_phases_NGX_HTTP_PREACCESS_PHASE, ngx_http_request_t, ngx_int_t,
};
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, NgxHttpCoreModule, Request};
use proxy_wasm_host::HeaderMap;

use crate::conf::LocConf;
use crate::decision;
use crate::error::RequestError;
use crate::{Module, headers_in, request_ctx, worker};

/// Registers the handler (postconfiguration); false when nginx is out of memory.
pub fn register(cf: &ngx_conf_t) -> bool {
    let Some(cmcf) = NgxHttpCoreModule::main_conf_mut(cf) else {
        return false;
    };
    let phase = &mut cmcf.phases[ngx_http_phases_NGX_HTTP_PREACCESS_PHASE as usize];
    // SAFETY: nginx created each phase's `handlers` array (elements: handler
    // pointers) in the configuration pool, which is live during postconfiguration.
    let h = unsafe { ngx_array_push(&mut phase.handlers) } as *mut ngx_http_handler_pt;
    // SAFETY: null or the element just pushed, which nothing else refers to yet.
    match unsafe { h.as_mut() } {
        Some(h) => {
            *h = Some(handler);
            true
        }
        None => false,
    }
}

unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls phase handlers with a live request, on the worker's only
    // thread; no other Rust reference to it exists while the handler runs.
    let r = unsafe { Request::from_ngx_http_request(r) };
    let Some(lcf) = Module::location_conf(&*r) else {
        return NGX_DECLINED as ngx_int_t;
    };
    if !lcf.enabled() {
        return NGX_DECLINED as ngx_int_t;
    }
    // SAFETY: the context is used only here until the handler returns.
    match unsafe { request_ctx::get(r) } {
        Some(ctx) if ctx.done => NGX_DECLINED as ngx_int_t,
        // Woken after a pause, or its pause timed out.
        Some(ctx) => decision::decide(r, ctx, lcf, None),
        None => start(r, lcf),
    }
}

/// The first run for a request: its filter context, its headers, the guest call.
fn start(r: &mut Request, lcf: &LocConf) -> ngx_int_t {
    if !worker::ready() {
        let why = worker::load_error().unwrap_or_else(|| "not loaded in this worker".into());
        decision::count_unstarted_error();
        return decision::internal_error(r, &RequestError::NotLoaded(why));
    }
    // SAFETY: the context is used only here until the handler returns.
    let Some(ctx) = (unsafe { request_ctx::get_or_create(r) }) else {
        return NGX_ERROR as ngx_int_t;
    };
    let id = match worker::create_context(core::ptr::from_mut(r).cast()) {
        Ok(id) => id,
        Err(e) => return decision::fail(r, ctx, &e),
    };
    ctx.context_id = Some(id);
    // Ends the filter's context when the request's pool goes, however the request
    // ends. (If the cleanup cannot be added, `allocate` drops the value at once,
    // which ends the context now.)
    if r.pool().allocate(EndContext(id)).is_null() {
        return NGX_ERROR as ngx_int_t;
    }
    let headers_in = &r.as_ref().headers_in;
    let end_of_stream = headers_in.content_length_n <= 0 && headers_in.chunked() == 0;
    let fill = |map: &mut HeaderMap| headers_in::fill(r, map);
    match worker::on_request_headers(id, fill, end_of_stream) {
        Ok(action) => decision::decide(r, ctx, lcf, Some(action)),
        Err(e) => decision::fail(r, ctx, &e),
    }
}

/// In the request pool: its drop (the pool's cleanup) ends the filter's context.
struct EndContext(u32);

impl Drop for EndContext {
    fn drop(&mut self) {
        worker::finish_request(self.0);
    }
}
