//! The directive table and one handler per directive. Every handler either stores a
//! checked value or logs a message naming the directive and the bad argument, so
//! `nginx -t` says what is wrong.

use core::ffi::{c_char, c_void};
use core::ptr;

use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{
    NGX_CONF_NOARGS, NGX_CONF_TAKE1, NGX_CONF_TAKE2, NGX_HTTP_LOC_CONF, NGX_HTTP_LOC_CONF_OFFSET,
    NGX_HTTP_MAIN_CONF, NGX_HTTP_MAIN_CONF_OFFSET, NGX_HTTP_SRV_CONF, NGX_HTTP_SRV_CONF_OFFSET,
    NGX_HTTP_UPS_CONF, NGX_HTTP_VAR_CHANGEABLE, NGX_LOG_EMERG, ngx_command_t, ngx_conf_full_name,
    ngx_conf_t, ngx_http_add_variable, ngx_http_get_variable_index, ngx_msec_t, ngx_parse_size,
    ngx_parse_time, ngx_shared_memory_add, ngx_str_t, ngx_uint_t,
};
use ngx::http::{
    HttpModuleLocationConf, HttpModuleMainConf, HttpModuleServerConf, NgxHttpUpstreamModule,
};
use ngx::{ngx_conf_log_error, ngx_string};

use super::{LocConf, MainConf, UpstreamConf, cluster};
use crate::{Module, balancer, filter_file, variable};

/// Smallest zone: nginx's slab allocator needs a few pages for itself.
const MIN_ZONE_SIZE: usize = 32 * 1024;

const MAIN: ngx_uint_t = NGX_HTTP_MAIN_CONF as ngx_uint_t;

pub static mut COMMANDS: [ngx_command_t; 11] = [
    command(
        ngx_string!("set_backend_filter"),
        MAIN | NGX_CONF_TAKE1 as ngx_uint_t,
        set_filter,
        NGX_HTTP_MAIN_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_filter_config"),
        MAIN | NGX_CONF_TAKE1 as ngx_uint_t,
        set_filter_config,
        NGX_HTTP_MAIN_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_filter_config_file"),
        MAIN | NGX_CONF_TAKE1 as ngx_uint_t,
        set_filter_config_file,
        NGX_HTTP_MAIN_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_filter_timeout"),
        MAIN | NGX_CONF_TAKE1 as ngx_uint_t,
        set_filter_timeout,
        NGX_HTTP_MAIN_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_pause_timeout"),
        MAIN | NGX_CONF_TAKE1 as ngx_uint_t,
        set_pause_timeout,
        NGX_HTTP_MAIN_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_shared_zone"),
        MAIN | NGX_CONF_TAKE2 as ngx_uint_t,
        set_shared_zone,
        NGX_HTTP_MAIN_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_cluster"),
        MAIN | NGX_CONF_TAKE2 as ngx_uint_t,
        set_cluster,
        NGX_HTTP_MAIN_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend"),
        (NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS | NGX_CONF_TAKE1) as ngx_uint_t,
        set_backend,
        NGX_HTTP_LOC_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_balancer"),
        (NGX_HTTP_UPS_CONF | NGX_CONF_NOARGS) as ngx_uint_t,
        set_balancer,
        NGX_HTTP_SRV_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_metrics"),
        (NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS) as ngx_uint_t,
        set_metrics,
        NGX_HTTP_LOC_CONF_OFFSET,
    ),
    ngx_command_t::empty(),
];

type SetFn = unsafe extern "C" fn(*mut ngx_conf_t, *mut ngx_command_t, *mut c_void) -> *mut c_char;

const fn command(name: ngx_str_t, type_: ngx_uint_t, set: SetFn, conf: usize) -> ngx_command_t {
    ngx_command_t {
        name,
        type_,
        set: Some(set),
        conf: conf as ngx_uint_t,
        offset: 0,
        post: ptr::null_mut(),
    }
}

/// The directive's arguments after its name, as UTF-8 (nginx.conf is bytes; ours are all text).
unsafe fn args<'a>(cf: *mut ngx_conf_t) -> Result<Vec<&'a str>, ()> {
    let all: &[ngx_str_t] = unsafe { (*(*cf).args).as_slice() };
    let mut out = Vec::with_capacity(all.len().saturating_sub(1));
    for a in &all[1..] {
        match core::str::from_utf8(a.as_bytes()) {
            Ok(s) => out.push(s),
            Err(_) => {
                ngx_conf_log_error!(
                    NGX_LOG_EMERG,
                    cf,
                    "\"{}\" argument is not UTF-8",
                    directive(cf)
                );
                return Err(());
            }
        }
    }
    Ok(out)
}

fn directive<'a>(cf: *mut ngx_conf_t) -> &'a str {
    let all: &[ngx_str_t] = unsafe { (*(*cf).args).as_slice() };
    core::str::from_utf8(all[0].as_bytes()).unwrap_or("?")
}

fn fail(cf: *mut ngx_conf_t, msg: &str) -> *mut c_char {
    ngx_conf_log_error!(NGX_LOG_EMERG, cf, "\"{}\" {}", directive(cf), msg);
    NGX_CONF_ERROR
}

unsafe fn main_conf<'a>(conf: *mut c_void) -> &'a mut MainConf {
    unsafe { &mut *(conf as *mut MainConf) }
}

/// Resolves a path against nginx's configuration prefix (`-p`/`-c`), as other directives do.
unsafe fn full_path(cf: *mut ngx_conf_t, path: &str) -> Result<String, ()> {
    let data = unsafe { ngx::ffi::ngx_pnalloc((*cf).pool, path.len()) } as *mut u8;
    if data.is_null() {
        return Err(());
    }
    unsafe { ptr::copy_nonoverlapping(path.as_ptr(), data, path.len()) };
    let mut name = ngx_str_t {
        len: path.len(),
        data,
    };
    if unsafe { ngx_conf_full_name((*cf).cycle, &mut name, 1) } != 0 {
        return Err(());
    }
    Ok(String::from_utf8_lossy(name.as_bytes()).into_owned())
}

unsafe fn read_file(cf: *mut ngx_conf_t, path: &str) -> Result<(String, Vec<u8>), *mut c_char> {
    let full = unsafe { full_path(cf, path) }.map_err(|_| NGX_CONF_ERROR)?;
    match std::fs::read(&full) {
        Ok(bytes) => Ok((full, bytes)),
        Err(e) => Err(fail(cf, &format!("cannot read \"{full}\": {e}"))),
    }
}

extern "C" fn set_filter(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let mcf = unsafe { main_conf(conf) };
    if mcf.filter_path.is_some() {
        return fail(cf, "is duplicate");
    }
    let Ok(a) = (unsafe { args(cf) }) else {
        return NGX_CONF_ERROR;
    };
    let (full, bytes) = match unsafe { read_file(cf, a[0]) } {
        Ok(v) => v,
        Err(e) => return e,
    };
    match filter_file::check(&bytes) {
        Ok(kind) => mcf.filter_precompiled = kind == filter_file::Kind::Precompiled,
        Err(why) => return fail(cf, &format!("file \"{full}\" {why}")),
    }
    mcf.filter_path = Some(full);
    mcf.filter_bytes = bytes;
    NGX_CONF_OK
}

fn store_config(
    cf: *mut ngx_conf_t,
    mcf: &mut MainConf,
    bytes: Vec<u8>,
    origin: &str,
) -> *mut c_char {
    if mcf.filter_config.is_some() {
        return fail(
            cf,
            "is duplicate (set_backend_filter_config and set_backend_filter_config_file exclude each other)",
        );
    }
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        return fail(cf, &format!("{origin} is not valid JSON: {e}"));
    }
    mcf.filter_config = Some(bytes);
    NGX_CONF_OK
}

extern "C" fn set_filter_config(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let mcf = unsafe { main_conf(conf) };
    let Ok(a) = (unsafe { args(cf) }) else {
        return NGX_CONF_ERROR;
    };
    store_config(cf, mcf, a[0].as_bytes().to_vec(), "value")
}

extern "C" fn set_filter_config_file(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let mcf = unsafe { main_conf(conf) };
    let Ok(a) = (unsafe { args(cf) }) else {
        return NGX_CONF_ERROR;
    };
    match unsafe { read_file(cf, a[0]) } {
        Ok((full, bytes)) => store_config(cf, mcf, bytes, &format!("file \"{full}\"")),
        Err(e) => e,
    }
}

/// A positive duration argument (`10ms`, `1s`); logs and returns None when invalid.
fn parse_time(cf: *mut ngx_conf_t, slot: &Option<ngx_msec_t>) -> Option<ngx_msec_t> {
    if slot.is_some() {
        fail(cf, "is duplicate");
        return None;
    }
    let value: &mut [ngx_str_t] = unsafe { (*(*cf).args).as_slice_mut() };
    let ms = unsafe { ngx_parse_time(&mut value[1], 0) };
    if ms <= 0 {
        fail(
            cf,
            &format!("invalid time \"{}\" (e.g. 10ms, 1s; must be > 0)", value[1]),
        );
        return None;
    }
    Some(ms as ngx_msec_t)
}

extern "C" fn set_filter_timeout(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let mcf = unsafe { main_conf(conf) };
    match parse_time(cf, &mcf.filter_timeout) {
        Some(ms) => {
            mcf.filter_timeout = Some(ms);
            NGX_CONF_OK
        }
        None => NGX_CONF_ERROR,
    }
}

extern "C" fn set_pause_timeout(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let mcf = unsafe { main_conf(conf) };
    match parse_time(cf, &mcf.pause_timeout) {
        Some(ms) => {
            mcf.pause_timeout = Some(ms);
            NGX_CONF_OK
        }
        None => NGX_CONF_ERROR,
    }
}

extern "C" fn set_shared_zone(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let mcf = unsafe { main_conf(conf) };
    if !mcf.shm_zone.is_null() {
        return fail(cf, "is duplicate");
    }
    let value: &mut [ngx_str_t] = unsafe { (*(*cf).args).as_slice_mut() };
    if value[1].len == 0 {
        return fail(cf, "needs a zone name");
    }
    let size = unsafe { ngx_parse_size(&mut value[2]) };
    if size < 0 {
        return fail(
            cf,
            &format!("invalid size \"{}\" (e.g. 64k, 16m)", value[2]),
        );
    }
    if (size as usize) < MIN_ZONE_SIZE {
        return fail(
            cf,
            &format!(
                "zone \"{}\" is too small ({} bytes; at least 32k)",
                value[1], size
            ),
        );
    }
    let zone = unsafe {
        ngx_shared_memory_add(
            cf,
            &mut value[1],
            size as usize,
            (&raw mut crate::ngx_http_set_backend_module).cast(),
        )
    };
    if zone.is_null() {
        return NGX_CONF_ERROR;
    }
    unsafe {
        if !(*zone).data.is_null() {
            return fail(
                cf,
                &format!("zone \"{}\" is already used by another directive", value[1]),
            );
        }
        (*zone).init = Some(crate::shared::init_zone);
        (*zone).data = zone.cast();
    }
    mcf.shm_zone = zone;
    NGX_CONF_OK
}

extern "C" fn set_cluster(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let mcf = unsafe { main_conf(conf) };
    let Ok(a) = (unsafe { args(cf) }) else {
        return NGX_CONF_ERROR;
    };
    if mcf.clusters.iter().any(|c| c.name == a[0]) {
        return fail(cf, &format!("cluster \"{}\" is declared twice", a[0]));
    }
    match cluster::parse(cf, a[0], a[1]) {
        Ok(c) => {
            mcf.clusters.push(c);
            NGX_CONF_OK
        }
        Err(why) => fail(cf, &why),
    }
}

extern "C" fn set_backend(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let lcf = unsafe { &mut *(conf as *mut LocConf) };
    if lcf.set_backend.is_some() {
        return fail(cf, "is duplicate");
    }
    let value: &mut [ngx_str_t] = unsafe { (*(*cf).args).as_slice_mut() };
    let mut index = None;
    let mut var_name = None;
    if value.len() == 2 {
        let v = &mut value[1];
        if v.len < 2 || unsafe { *v.data } != b'$' {
            return fail(
                cf,
                &format!("invalid variable name \"{}\" (expected $name)", v),
            );
        }
        let mut name = ngx_str_t {
            len: v.len - 1,
            data: unsafe { v.data.add(1) },
        };
        let var =
            unsafe { ngx_http_add_variable(cf, &mut name, NGX_HTTP_VAR_CHANGEABLE as ngx_uint_t) };
        if var.is_null() {
            return NGX_CONF_ERROR;
        }
        unsafe {
            // Another module (e.g. `set`) may own the variable already; then we only write to it.
            if (*var).get_handler.is_none() {
                (*var).get_handler = Some(variable::get_backend);
            }
        }
        let i = unsafe { ngx_http_get_variable_index(cf, &mut name) };
        if i < 0 {
            return NGX_CONF_ERROR;
        }
        index = Some(i);
        var_name = Some(name.as_bytes().to_ascii_lowercase());
    }
    lcf.set_backend = Some(index);
    let Some(mcf) = Module::main_conf_mut(unsafe { &*cf }) else {
        return NGX_CONF_ERROR;
    };
    mcf.used = true;
    if let Some(n) = var_name
        && !mcf.backend_vars.contains(&n)
    {
        mcf.backend_vars.push(n);
    }
    NGX_CONF_OK
}

extern "C" fn set_balancer(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let ucf = unsafe { &mut *(conf as *mut UpstreamConf) };
    if ucf.balancer {
        return fail(cf, "is duplicate");
    }
    let Some(uscf) = NgxHttpUpstreamModule::server_conf_mut(unsafe { &*cf }) else {
        return NGX_CONF_ERROR;
    };
    if uscf.peer.init_upstream.is_some() {
        return fail(
            cf,
            "must come before other balancing directives (keepalive, hash, ...) in the upstream",
        );
    }
    if !balancer::add_placeholder_server(uscf) {
        return NGX_CONF_ERROR;
    }
    uscf.peer.init_upstream = Some(balancer::init_upstream);
    ucf.balancer = true;
    NGX_CONF_OK
}

/// `set_backend_metrics;`: this location answers with the edge metrics. The first use
/// adds the zone they live in.
extern "C" fn set_metrics(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    _conf: *mut c_void,
) -> *mut c_char {
    let Some(clcf) = ngx::http::NgxHttpCoreModule::location_conf_mut(unsafe { &*cf }) else {
        return NGX_CONF_ERROR;
    };
    if clcf.handler.is_some() {
        return fail(
            cf,
            "conflicts with another content handler in this location (proxy_pass, return, ...)",
        );
    }
    clcf.handler = Some(crate::metrics_page::handler);
    let Some(mcf) = Module::main_conf_mut(unsafe { &*cf }) else {
        return NGX_CONF_ERROR;
    };
    if !mcf.metrics_zone.is_null() {
        return NGX_CONF_OK;
    }
    let name = crate::edge_metrics::ZONE_NAME;
    let mut name = ngx_str_t {
        len: name.len(),
        data: name.as_ptr() as *mut u8,
    };
    // SAFETY: called while nginx parses the configuration; the tag is this module.
    let zone = unsafe {
        ngx_shared_memory_add(
            cf,
            &mut name,
            crate::edge_metrics::ZONE_SIZE,
            (&raw mut crate::ngx_http_set_backend_module).cast(),
        )
    };
    if zone.is_null() {
        return NGX_CONF_ERROR;
    }
    // SAFETY: the zone nginx just returned; data is null unless another directive took the name.
    unsafe {
        if !(*zone).data.is_null() {
            return fail(
                cf,
                &format!(
                    "needs the shared memory zone \"{}\", which is already used",
                    crate::edge_metrics::ZONE_NAME
                ),
            );
        }
        (*zone).init = Some(crate::edge_metrics::init_zone);
        (*zone).data = zone.cast();
    }
    mcf.metrics_zone = zone;
    NGX_CONF_OK
}
