//! nginx variables: the last step of a request's path writes the filter's decision
//! into them (`apply`), and nginx reads ours through their get handlers — the
//! variable of `set_backend $var;` when no other module owns it, and the shared
//! zone's statistics.

use std::borrow::Cow;

use ngx::ffi::{
    NGX_ERROR, NGX_HTTP_VAR_CHANGEABLE, NGX_LOG_ERR, NGX_OK, ngx_http_request_t,
    ngx_http_variable_t, ngx_http_variable_value_t, ngx_int_t, ngx_str_t,
};
use ngx::http::{HttpModuleMainConf, NgxHttpCoreModule, Request};
use ngx::ngx_log_error;

use crate::conf::LocConf;
use crate::request_ctx::{self, RequestCtx};
use crate::variable_value::set_value;
use crate::{Module, backend_addr, pool};

/// Writes the backend into `$var` of this location, and other `ngx.<name>` properties
/// into their (changeable) nginx variables.
pub fn apply(r: &mut Request, ctx: &RequestCtx, lcf: &LocConf, ngx_vars: &[(Vec<u8>, Vec<u8>)]) {
    if let (Some(index), Some(b)) = (lcf.variable_index(), ctx.backend()) {
        let value = match backend_addr::as_variable(b) {
            // The backend already lives in the request pool (RequestCtx::set_backend): point at it.
            Cow::Borrowed(same) => Some(ngx_str_t {
                len: same.len(),
                data: same.as_ptr().cast_mut(),
            }),
            Cow::Owned(with_colon) => pool::copy_str(&r.pool(), &with_colon),
        };
        if let Some(value) = value {
            set_indexed(r, index as usize, value);
        }
    }
    if ngx_vars.is_empty() {
        return;
    }
    let Some(cmcf) = NgxHttpCoreModule::main_conf(&*r) else {
        return;
    };
    // SAFETY: the core module's array of every variable nginx knows, built while
    // the configuration was read and kept for the cycle.
    let vars: &[ngx_http_variable_t] = unsafe { cmcf.variables.as_slice() };
    for (name, value) in ngx_vars {
        let Some(v) = vars
            .iter()
            .find(|v| v.name.as_bytes().eq_ignore_ascii_case(name))
        else {
            ngx_log_error!(
                NGX_LOG_ERR,
                r.log(),
                "set_backend: filter set ngx.{} but nginx has no such variable",
                String::from_utf8_lossy(name)
            );
            continue;
        };
        if v.flags & NGX_HTTP_VAR_CHANGEABLE as usize == 0 {
            continue;
        }
        if let Some(value) = pool::copy_str(&r.pool(), value) {
            set_indexed(r, v.index, value);
        }
    }
}

/// Sets the request's value of indexed variable `index` to `value`, which lives in
/// the request pool.
fn set_indexed(r: &mut Request, index: usize, value: ngx_str_t) {
    let values = r.as_mut().variables;
    // SAFETY: nginx allocates a request's `variables` with one value per indexed
    // variable, and `index` is one: from `ngx_http_get_variable_index` (set_backend
    // $var) or the index of an entry of the core module's variables.
    let v = unsafe { &mut *values.add(index) };
    // SAFETY: `value` is in the request pool (or in the backend's pool copy): it
    // lives as long as the request that reads the variable.
    unsafe { set_value(v, value.data, value.len) };
}

/// Get handler of `$var` in `set_backend $var;` (when no other module owns it): the
/// backend the filter chose for this request.
pub unsafe extern "C" fn get_backend(
    r: *mut ngx_http_request_t,
    v: *mut ngx_http_variable_value_t,
    _data: usize,
) -> ngx_int_t {
    // SAFETY: nginx calls a get handler with a live request and the value to fill,
    // which nothing else refers to during the call.
    let (r, v) = unsafe { (Request::from_ngx_http_request(r), &mut *v) };
    // SAFETY: the context is only read, and only during this call.
    let Some(b) = unsafe { request_ctx::get(r) }.and_then(|c| c.backend()) else {
        v.set_not_found(1);
        return NGX_OK as ngx_int_t;
    };
    let Some(value) = pool::copy_str(&r.pool(), &backend_addr::as_variable(b)) else {
        return NGX_ERROR as ngx_int_t;
    };
    // SAFETY: the copy lives in the request pool, as long as the request.
    unsafe { set_value(v, value.data, value.len) };
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
    // SAFETY: nginx calls a get handler with a live request and the value to fill,
    // which nothing else refers to during the call.
    let (r, v) = unsafe { (Request::from_ngx_http_request(r), &mut *v) };
    let zone = Module::main_conf(&*r)
        .map(|m| m.shm_zone)
        .filter(|z| !z.is_null());
    let Some(zone) = zone else {
        v.set_not_found(1);
        return NGX_OK as ngx_int_t;
    };
    // SAFETY: the cache zone of this cycle, initialised by shared::init_zone in the
    // master and mapped in every worker.
    let stats = unsafe { crate::shared::ShmSharedData::new(zone) }.stats();
    let n = if data == 0 {
        stats.entries
    } else {
        stats.evictions
    };
    let Some(text) = pool::copy_str(&r.pool(), n.to_string().as_bytes()) else {
        return NGX_ERROR as ngx_int_t;
    };
    // SAFETY: the copy lives in the request pool, as long as the request.
    unsafe { set_value(v, text.data, text.len) };
    v.set_no_cacheable(1);
    NGX_OK as ngx_int_t
}
