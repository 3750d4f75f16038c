//! `set_backend_metrics;` in a location: its content handler answers GET with the edge
//! metrics of every worker, in Prometheus text (edge_metrics.rs holds them,
//! metrics_text.rs renders them). Put it where only the right clients reach it: a
//! loopback listener, or behind `allow`/`deny` or an auth module.

use ngx::ffi::{
    NGX_ERROR, NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_NOT_ALLOWED,
    NGX_HTTP_OK, NGX_OK, ngx_buf_t, ngx_chain_t, ngx_http_discard_request_body,
    ngx_http_output_filter, ngx_http_request_t, ngx_http_send_header, ngx_int_t,
};
use ngx::http::HttpModuleMainConf;

use crate::Module;
use crate::edge_metrics;
use crate::metrics_text::{self, ZoneStats};

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The content handler of a `set_backend_metrics` location.
pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls a content handler with a live request, on the worker's thread.
    let rr = unsafe { &mut *r };
    if rr.method & (NGX_HTTP_GET | NGX_HTTP_HEAD) as usize == 0 {
        return NGX_HTTP_NOT_ALLOWED as ngx_int_t;
    }
    // SAFETY: as above; discarding a body is what a GET handler does before answering.
    if unsafe { ngx_http_discard_request_body(r) } != NGX_OK as ngx_int_t {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    }
    let zone = Module::main_conf(rr)
        .map(|m| m.shm_zone)
        .filter(|z| !z.is_null())
        .map(|z| {
            // SAFETY: the cache zone of this cycle, initialised by shared::init_zone.
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
    let text = metrics_text::render(&snapshot);
    // SAFETY: `r` is live; what is allocated from its pool lives as long as it does.
    unsafe { send(r, text.as_bytes()) }
}

/// Sends `body` as a 200 with the metrics content type.
///
/// # Safety
/// `r` is a live request whose header has not been sent.
unsafe fn send(r: *mut ngx_http_request_t, body: &[u8]) -> ngx_int_t {
    let rr = unsafe { &mut *r };
    let pool = unsafe { ngx::core::Pool::from_ngx_pool(rr.pool) };
    rr.headers_out.status = NGX_HTTP_OK as usize;
    rr.headers_out.content_length_n = body.len() as i64;
    rr.headers_out.content_type = ngx::ffi::ngx_str_t {
        len: CONTENT_TYPE.len(),
        data: CONTENT_TYPE.as_ptr() as *mut u8,
    };
    rr.headers_out.content_type_len = CONTENT_TYPE.len();
    let rc = unsafe { ngx_http_send_header(r) };
    if rc == NGX_ERROR as ngx_int_t || rc > NGX_OK as ngx_int_t || rr.header_only() != 0 {
        return rc;
    }
    let data = pool.alloc_unaligned(body.len().max(1)) as *mut u8;
    let b = pool.calloc_type::<ngx_buf_t>();
    if data.is_null() || b.is_null() {
        return NGX_ERROR as ngx_int_t;
    }
    // SAFETY: `data` has room for `body` (allocated just above); `b` is a zeroed buffer.
    unsafe {
        core::ptr::copy_nonoverlapping(body.as_ptr(), data, body.len());
        (*b).pos = data;
        (*b).last = data.add(body.len());
        (*b).set_memory(1);
        (*b).set_last_buf(1);
        (*b).set_last_in_chain(1);
    }
    let mut out = ngx_chain_t {
        buf: b,
        next: core::ptr::null_mut(),
    };
    // SAFETY: the chain and its buffer live in the request pool.
    unsafe { ngx_http_output_filter(r, &mut out) }
}
