//! The filter's local response (`proxy_send_local_response`), sent by nginx: the
//! end of a request's path when the filter answers instead of routing.

use core::ptr;

use ngx::core::Buffer;
use ngx::ffi::{
    NGX_DONE, NGX_ERROR, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_LOG_ERR, NGX_OK, ngx_chain_t,
    ngx_http_finalize_request, ngx_int_t, ngx_list_push, ngx_table_elt_t,
};
use ngx::http::Request;
use ngx::ngx_log_error;
use proxy_wasm_host::LocalResponse;

use crate::{http_wire, pool};

/// Sends the response and finalizes the request; returns NGX_DONE (the request is
/// over: nothing may touch it after this).
pub fn send(r: &mut Request, resp: LocalResponse) -> ngx_int_t {
    r.discard_request_body();
    let pool = r.pool();
    let out = &mut r.as_mut().headers_out;
    out.status = resp.status as usize;
    out.content_length_n = resp.body.len() as i64;
    for (k, v) in resp.headers.pairs() {
        if k.first() == Some(&b':') || k.eq_ignore_ascii_case(b"content-length") {
            continue;
        }
        if !http_wire::is_token(k) || !http_wire::is_field_value(v) {
            // A CR/LF here would let the filter split the response: drop the field.
            ngx_log_error!(
                NGX_LOG_ERR,
                r.log(),
                "set_backend: filter's local response header \"{}\" is not valid HTTP: dropped",
                String::from_utf8_lossy(k)
            );
            continue;
        }
        let (Some(key), Some(value)) = (pool::copy_str(&pool, k), pool::copy_str(&pool, v)) else {
            return finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t);
        };
        let out = &mut r.as_mut().headers_out;
        if k.eq_ignore_ascii_case(b"content-type") {
            out.content_type = value;
            out.content_type_len = value.len;
            continue;
        }
        // SAFETY: nginx initialised `headers_out.headers` (elements: table entries)
        // in the request pool when it created the request.
        let h = unsafe { ngx_list_push(&mut out.headers) } as *mut ngx_table_elt_t;
        if h.is_null() {
            return finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t);
        }
        // SAFETY: `h` is the entry just pushed: allocated for a whole table entry and
        // referred to by nothing else yet. `write` sets every field (1.22's entry has
        // no `next`); the strings are in the request pool.
        unsafe {
            ptr::write(
                h,
                ngx_table_elt_t {
                    hash: 1,
                    key,
                    value,
                    lowcase_key: key.data,
                },
            )
        };
    }
    if resp.body.is_empty() {
        r.as_mut().set_header_only(1);
    }
    let rc = r.send_header().0;
    if rc == NGX_ERROR as ngx_int_t || rc > NGX_OK as ngx_int_t || r.header_only() {
        return finalize(r, rc);
    }
    let Some(mut body) = pool::buffer(&pool, &resp.body) else {
        return finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t);
    };
    body.set_last_buf(r.is_main());
    body.set_last_in_chain(true);
    let mut chain = ngx_chain_t {
        buf: body.as_ngx_buf_mut(),
        next: ptr::null_mut(),
    };
    let rc = r.output_filter(&mut chain).0;
    finalize(r, rc)
}

/// Ends the request with `rc`; returns NGX_DONE for the phase handler.
fn finalize(r: &mut Request, rc: ngx_int_t) -> ngx_int_t {
    // SAFETY: `r` is live; the callers return at once and touch it no more.
    unsafe { ngx_http_finalize_request(r.into(), rc) };
    NGX_DONE as ngx_int_t
}
