//! The per-request handler, in the preaccess phase (before content, after rewrite):
//! runs the filter's `on_request_headers` and acts on what it decided.
//!
//! Continue → the backend goes to `$var` (and to the balancer) and the phases go on.
//! Local response → nginx sends it. Pause → the handler returns NGX_DONE without
//! blocking; when an http call's answer lets the filter decide, the request's write
//! event is posted and the phases run again from this handler.

use ngx::core::Pool;
use ngx::ffi::{
    NGX_DECLINED, NGX_DONE, NGX_ERROR, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_VAR_CHANGEABLE,
    NGX_LOG_ERR, NGX_OK, ngx_array_push, ngx_buf_t, ngx_chain_t, ngx_conf_t,
    ngx_http_discard_request_body, ngx_http_finalize_request, ngx_http_handler_pt,
    ngx_http_output_filter, ngx_http_phases_NGX_HTTP_PREACCESS_PHASE, ngx_http_request_t,
    ngx_http_send_header, ngx_http_variable_t, ngx_http_variable_value_t, ngx_int_t, ngx_list_push,
    ngx_pool_cleanup_add, ngx_table_elt_t,
};
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf};
use ngx::ngx_log_error;
use proxy_wasm_host::{Action, HeaderMap, LocalResponse};

use crate::conf::LocConf;
use crate::metrics_text::{Outcome, request_counter};
use crate::request_ctx::{self, RequestCtx};
use crate::{Module, bridge, edge_metrics, http_wire, variable, worker};

/// The request's routing is decided: it is marked done, and counted by how it ended
/// and whether it waited (paused for a lookup) first.
fn finish(ctx: &mut RequestCtx, outcome: Outcome) {
    ctx.done = true;
    edge_metrics::count(request_counter(ctx.paused, outcome));
}

/// Registers the handler (postconfiguration).
pub unsafe fn register(cf: *mut ngx_conf_t) -> ngx_int_t {
    let cmcf = ngx::http::NgxHttpCoreModule::main_conf_mut(unsafe { &*cf });
    let Some(cmcf) = cmcf else {
        return NGX_ERROR as ngx_int_t;
    };
    let phase = &mut cmcf.phases[ngx_http_phases_NGX_HTTP_PREACCESS_PHASE as usize];
    let h = unsafe { ngx_array_push(&mut phase.handlers) } as *mut ngx_http_handler_pt;
    if h.is_null() {
        return NGX_ERROR as ngx_int_t;
    }
    unsafe { *h = Some(handler) };
    NGX_OK as ngx_int_t
}

fn internal_error(r: *mut ngx_http_request_t, why: &str) -> ngx_int_t {
    let log = unsafe { (*(*r).connection).log };
    ngx_log_error!(
        NGX_LOG_ERR,
        log,
        "set_backend: filter \"{}\": {}",
        worker::filter_name(),
        why
    );
    NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t
}

unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    let Some(lcf) = Module::location_conf(unsafe { &*r }) else {
        return NGX_DECLINED as ngx_int_t;
    };
    if !lcf.enabled() {
        return NGX_DECLINED as ngx_int_t;
    }
    match unsafe { request_ctx::get(r) } {
        Some(ctx) if ctx.done => NGX_DECLINED as ngx_int_t,
        Some(ctx) => unsafe { decide(r, ctx, lcf, None) },
        None => unsafe { start(r, lcf) },
    }
}

unsafe fn start(r: *mut ngx_http_request_t, lcf: &LocConf) -> ngx_int_t {
    if !worker::ready() {
        let why = worker::load_error().unwrap_or_else(|| "not loaded in this worker".into());
        edge_metrics::count(request_counter(false, Outcome::Error));
        return internal_error(r, &format!("cannot run: {why}"));
    }
    let Some(ctx) = (unsafe { request_ctx::get_or_create(r) }) else {
        return NGX_ERROR as ngx_int_t;
    };
    let id = match worker::create_context(r) {
        Ok(id) => id,
        Err(e) => {
            finish(ctx, Outcome::Error);
            return internal_error(r, &e);
        }
    };
    ctx.context_id = Some(id);
    // Ends the filter's context when the request's pool goes, however the request ends.
    let cln = unsafe { ngx_pool_cleanup_add((*r).pool, 0) };
    if cln.is_null() {
        worker::finish_request(id);
        return NGX_ERROR as ngx_int_t;
    }
    unsafe {
        (*cln).handler = Some(cleanup);
        (*cln).data = id as usize as *mut core::ffi::c_void;
    }
    let eos = unsafe { (*r).headers_in.content_length_n <= 0 && (*r).headers_in.chunked() == 0 };
    match worker::on_request_headers(id, |map| unsafe { request_headers(r, map) }, eos) {
        Ok(action) => unsafe { decide(r, ctx, lcf, Some(action)) },
        Err(e) => {
            finish(ctx, Outcome::Error);
            internal_error(r, &e)
        }
    }
}

unsafe extern "C" fn cleanup(data: *mut core::ffi::c_void) {
    worker::finish_request(data as usize as u32);
}

/// Acts on the filter's state after a guest call (`action`) or after a wake-up (`None`).
unsafe fn decide(
    r: *mut ngx_http_request_t,
    ctx: &mut RequestCtx,
    lcf: &LocConf,
    action: Option<Action>,
) -> ngx_int_t {
    let Some(id) = ctx.context_id else {
        return NGX_DECLINED as ngx_int_t;
    };
    let taken = bridge::with_slot(id, |s| {
        let kept = s.take_backend(|b| unsafe { ctx.set_backend(r, b) });
        (
            kept,
            std::mem::take(&mut s.ngx_vars),
            s.local_response.take(),
            s.continued,
            s.pending_calls,
            s.failed,
        )
    });
    let Some((kept, ngx_vars, local, continued, pending, failed)) = taken else {
        finish(ctx, Outcome::Error);
        return internal_error(r, "request context lost");
    };
    if kept == Some(false) {
        finish(ctx, Outcome::Error);
        return NGX_ERROR as ngx_int_t;
    }
    unsafe { apply_variables(r, ctx, lcf, &ngx_vars) };
    if failed {
        finish(ctx, Outcome::Error);
        ctx.stop_pause_timer();
        return internal_error(
            r,
            "failed while handling this request (see the error above)",
        );
    }
    if let Some(resp) = local {
        finish(ctx, Outcome::Page(resp.status));
        ctx.stop_pause_timer();
        return unsafe { send_local_response(r, resp) };
    }
    if action == Some(Action::Continue) || continued {
        finish(ctx, Outcome::Backend);
        ctx.paused = false;
        ctx.stop_pause_timer();
        return NGX_DECLINED as ngx_int_t;
    }
    if ctx.pause_timed_out {
        finish(ctx, Outcome::Error);
        let limit = Module::main_conf(unsafe { &*r }).map_or(0, |m| m.pause_timeout());
        return internal_error(
            r,
            &format!(
                "did not continue the paused request within {limit}ms ({pending} own calls pending)"
            ),
        );
    }
    // Paused: wait for a wake-up (worker::wake) or the pause timer. A request may
    // wait with no call of its own, e.g. joining another request's lookup.
    if !ctx.paused {
        ctx.paused = true;
        let Some(mcf) = Module::main_conf(unsafe { &*r }) else {
            return NGX_ERROR as ngx_int_t;
        };
        ctx.pause_timer.handler = Some(on_pause_timeout);
        ctx.pause_timer.data = r.cast();
        ctx.pause_timer.log = unsafe { (*(*r).connection).log };
        unsafe { ngx::ffi::ngx_add_timer(&mut ctx.pause_timer, mcf.pause_timeout()) };
    }
    NGX_DONE as ngx_int_t
}

unsafe extern "C" fn on_pause_timeout(ev: *mut ngx::ffi::ngx_event_t) {
    let r = unsafe { (*ev).data as *mut ngx_http_request_t };
    if let Some(ctx) = unsafe { request_ctx::get(r) } {
        ctx.pause_timed_out = true;
    }
    unsafe {
        let c = (*r).connection;
        ngx::ffi::ngx_http_core_run_phases(r);
        ngx::ffi::ngx_http_run_posted_requests(c);
    }
}

/// Writes the backend into `$var` of this location, and other `ngx.<name>` properties
/// into their (changeable) nginx variables.
unsafe fn apply_variables(
    r: *mut ngx_http_request_t,
    ctx: &RequestCtx,
    lcf: &LocConf,
    ngx_vars: &[(Vec<u8>, Vec<u8>)],
) {
    if let (Some(index), Some(b)) = (lcf.variable_index(), ctx.backend()) {
        match crate::backend_addr::as_variable(b) {
            // The backend already lives in the request pool (RequestCtx::set_backend): point at it.
            std::borrow::Cow::Borrowed(same) => unsafe {
                let v: &mut ngx_http_variable_value_t = &mut *(*r).variables.add(index as usize);
                variable::set_value(v, same.as_ptr() as *mut u8, same.len());
            },
            std::borrow::Cow::Owned(with_colon) => unsafe {
                set_indexed(r, index as usize, &with_colon)
            },
        }
    }
    if ngx_vars.is_empty() {
        return;
    }
    let Some(cmcf) = ngx::http::NgxHttpCoreModule::main_conf(unsafe { &*r }) else {
        return;
    };
    let vars: &[ngx_http_variable_t] = unsafe { cmcf.variables.as_slice() };
    for (name, value) in ngx_vars {
        let Some(v) = vars
            .iter()
            .find(|v| v.name.as_bytes().eq_ignore_ascii_case(name))
        else {
            let log = unsafe { (*(*r).connection).log };
            ngx_log_error!(
                NGX_LOG_ERR,
                log,
                "set_backend: filter set ngx.{} but nginx has no such variable",
                String::from_utf8_lossy(name)
            );
            continue;
        };
        if v.flags & NGX_HTTP_VAR_CHANGEABLE as usize == 0 {
            continue;
        }
        unsafe { set_indexed(r, v.index, value) };
    }
}

unsafe fn set_indexed(r: *mut ngx_http_request_t, index: usize, value: &[u8]) {
    let pool = unsafe { Pool::from_ngx_pool((*r).pool) };
    let data = pool.alloc_unaligned(value.len().max(1)) as *mut u8;
    if data.is_null() {
        return;
    }
    unsafe {
        core::ptr::copy_nonoverlapping(value.as_ptr(), data, value.len());
        let v: &mut ngx_http_variable_value_t = &mut *(*r).variables.add(index);
        variable::set_value(v, data, value.len());
    }
}

/// The request as the filter sees it: pseudo-headers first, then every header as
/// received, with lowercase names (nginx's own lowercase copy of each name).
unsafe fn request_headers(r: *mut ngx_http_request_t, h: &mut HeaderMap) {
    let r = unsafe { &*r };
    let host = if r.headers_in.host.is_null() {
        &[][..]
    } else {
        unsafe { (*r.headers_in.host).value.as_bytes() }
    };
    h.add(b":authority", host);
    h.add(b":method", r.method_name.as_bytes());
    h.add(b":path", r.unparsed_uri.as_bytes());
    let https = unsafe { !(*r.connection).ssl.is_null() };
    h.add(b":scheme", if https { b"https" } else { b"http" });
    for field in unsafe { header_fields(&r.headers_in.headers) } {
        // nginx fills lowcase_key for every request header it parsed; a module
        // that pushed a header without one gets its name lowercased here.
        let lowercase_name;
        let name = if field.lowcase_key.is_null() {
            lowercase_name = field.key.as_bytes().to_ascii_lowercase();
            &lowercase_name[..]
        } else {
            unsafe { core::slice::from_raw_parts(field.lowcase_key, field.key.len) }
        };
        if name == b"host" {
            continue;
        }
        h.add(name, field.value.as_bytes());
    }
}

/// The fields of an nginx header list, in order, as whole entries (the `ngx`
/// crate's `list_iterator` yields only key and value, not `lowcase_key`).
unsafe fn header_fields(list: &ngx::ffi::ngx_list_t) -> impl Iterator<Item = &ngx_table_elt_t> {
    let mut part: *const ngx::ffi::ngx_list_part_t = &list.part;
    let mut i = 0;
    core::iter::from_fn(move || unsafe {
        loop {
            if part.is_null() {
                return None;
            }
            if i < (*part).nelts {
                let elts = (*part).elts as *const ngx_table_elt_t;
                i += 1;
                return Some(&*elts.add(i - 1));
            }
            part = (*part).next;
            i = 0;
        }
    })
}

/// Sends the filter's local response and finalizes the request; returns NGX_DONE
/// (the request is over: nothing may touch it after this).
unsafe fn send_local_response(r: *mut ngx_http_request_t, resp: LocalResponse) -> ngx_int_t {
    unsafe {
        ngx_http_discard_request_body(r);
        let rr = &mut *r;
        rr.headers_out.status = resp.status as usize;
        rr.headers_out.content_length_n = resp.body.len() as i64;
        let pool = Pool::from_ngx_pool(rr.pool);
        for (k, v) in resp.headers.pairs() {
            if k.first() == Some(&b':') || k.eq_ignore_ascii_case(b"content-length") {
                continue;
            }
            if !http_wire::is_token(k) || !http_wire::is_field_value(v) {
                // A CR/LF here would let the filter split the response: drop the field.
                let log = (*rr.connection).log;
                ngx_log_error!(
                    NGX_LOG_ERR,
                    log,
                    "set_backend: filter's local response header \"{}\" is not valid HTTP: dropped",
                    String::from_utf8_lossy(k)
                );
                continue;
            }
            let (Some(key), Some(value)) = (pool_str(&pool, k), pool_str(&pool, v)) else {
                return fail(r);
            };
            if k.eq_ignore_ascii_case(b"content-type") {
                rr.headers_out.content_type = value;
                rr.headers_out.content_type_len = value.len;
                continue;
            }
            let h = ngx_list_push(&mut rr.headers_out.headers) as *mut ngx_table_elt_t;
            if h.is_null() {
                return fail(r);
            }
            (*h).hash = 1;
            (*h).key = key;
            (*h).value = value;
            (*h).lowcase_key = key.data;
        }
        if resp.body.is_empty() {
            rr.set_header_only(1);
        }
        let rc = ngx_http_send_header(r);
        if rc == NGX_ERROR as isize || rc > NGX_OK as isize || rr.header_only() != 0 {
            ngx_http_finalize_request(r, rc);
            return NGX_DONE as ngx_int_t;
        }
        let b = pool.calloc_type::<ngx_buf_t>();
        let body = pool_str(&pool, &resp.body);
        let (false, Some(body)) = (b.is_null(), body) else {
            return fail(r);
        };
        (*b).pos = body.data;
        (*b).last = body.data.add(body.len);
        (*b).set_memory(1);
        (*b).set_last_buf(if rr.main == r { 1 } else { 0 });
        (*b).set_last_in_chain(1);
        let mut out = ngx_chain_t {
            buf: b,
            next: core::ptr::null_mut(),
        };
        let rc = ngx_http_output_filter(r, &mut out);
        ngx_http_finalize_request(r, rc);
    }
    NGX_DONE as ngx_int_t
}

unsafe fn fail(r: *mut ngx_http_request_t) -> ngx_int_t {
    unsafe { ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR as isize) };
    NGX_DONE as ngx_int_t
}

fn pool_str(pool: &Pool, bytes: &[u8]) -> Option<ngx::ffi::ngx_str_t> {
    let data = pool.alloc_unaligned(bytes.len().max(1)) as *mut u8;
    if data.is_null() {
        return None;
    }
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len()) };
    Some(ngx::ffi::ngx_str_t {
        len: bytes.len(),
        data,
    })
}
