//! `set_backend_metrics;` in a location: its content handler answers GET with the edge
//! metrics of every worker, in Prometheus text (edge_metrics.rs holds them,
//! metrics_text.rs renders them). Put it where only the right clients reach it: a
//! loopback listener, or behind `allow`/`deny` or an auth module.

use ngx::core::Buffer;
use ngx::ffi::{
    NGX_ERROR, NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_NOT_ALLOWED,
    NGX_HTTP_OK, NGX_OK, ngx_chain_t, ngx_http_request_t, ngx_int_t, ngx_str_t,
};
use ngx::http::{HttpModuleMainConf, Request};

use crate::metrics_text::{self, ZoneStats};
use crate::{Module, edge_metrics};

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The content handler of a `set_backend_metrics` location.
pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls a content handler with a live request, on the worker's
    // thread; no other Rust reference to it exists during the call.
    let r = unsafe { Request::from_ngx_http_request(r) };
    if r.as_ref().method & (NGX_HTTP_GET | NGX_HTTP_HEAD) as usize == 0 {
        return NGX_HTTP_NOT_ALLOWED as ngx_int_t;
    }
    if !r.discard_request_body().is_ok() {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    }
    let zone = Module::main_conf(&*r)
        .map(|m| m.shm_zone)
        .filter(|z| !z.is_null())
        .map(|z| {
            // SAFETY: the cache zone of this cycle, initialised by shared::init_zone
            // in the master and mapped in every worker.
            let s = unsafe { crate::shared::ShmSharedData::new(z) }.stats();
            ZoneStats {
                bytes_total: s.bytes_total,
                bytes_used: s.bytes_used,
                entries: s.entries,
                evictions: s.evictions,
            }
        });
    let Some(snapshot) = edge_metrics::snapshot(zone) else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    send(r, &metrics_text::render(&snapshot))
}

/// Sends `body` as a 200 with the metrics content type (the header is not sent yet).
fn send(r: &mut Request, body: &str) -> ngx_int_t {
    let out = &mut r.as_mut().headers_out;
    out.status = NGX_HTTP_OK as usize;
    out.content_length_n = body.len() as i64;
    // A static string: nginx only reads it.
    out.content_type = ngx_str_t {
        len: CONTENT_TYPE.len(),
        data: CONTENT_TYPE.as_ptr().cast_mut(),
    };
    out.content_type_len = CONTENT_TYPE.len();
    let rc = r.send_header().0;
    if rc == NGX_ERROR as ngx_int_t || rc > NGX_OK as ngx_int_t || r.header_only() {
        return rc;
    }
    let Some(mut buffer) = r.pool().create_buffer_from_str(body) else {
        return NGX_ERROR as ngx_int_t;
    };
    buffer.set_last_buf(true);
    buffer.set_last_in_chain(true);
    let mut chain = ngx_chain_t {
        buf: buffer.as_ngx_buf_mut(),
        next: core::ptr::null_mut(),
    };
    r.output_filter(&mut chain).0
}
