//! The module itself: its configuration hooks and the `ngx_module_t` nginx loads.

use core::ffi::{c_char, c_void};
use core::ptr;

use ngx::core::NGX_CONF_ERROR;
use ngx::ffi::{
    NGX_HTTP_MODULE, NGX_LOG_EMERG, ngx_conf_t, ngx_http_module_t, ngx_int_t, ngx_module_t,
};
use ngx::http::{HttpModule, HttpModuleLocationConf, HttpModuleMainConf, HttpModuleServerConf};
use ngx::ngx_conf_log_error;

use crate::conf::{self, LocConf, MainConf, UpstreamConf};

pub struct Module;

impl HttpModule for Module {
    fn module() -> &'static ngx_module_t {
        // SAFETY: nginx writes the module's indexes while it loads the configuration,
        // before any code that reads them runs, and only reads them afterwards.
        unsafe { &*ptr::addr_of!(ngx_http_set_backend_module) }
    }

    unsafe extern "C" fn preconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
        for (name, data) in [
            ("set_backend_shared_entries", 0usize),
            ("set_backend_shared_evictions", 1),
        ] {
            let mut name = ngx::ffi::ngx_str_t {
                len: name.len(),
                data: name.as_ptr() as *mut u8,
            };
            let flags = ngx::ffi::NGX_HTTP_VAR_NOCACHEABLE as ngx::ffi::ngx_uint_t;
            // SAFETY: nginx calls preconfiguration with the live configuration; it
            // copies the name into its own variable entry.
            let v = unsafe { ngx::ffi::ngx_http_add_variable(cf, &mut name, flags) };
            // SAFETY: null, or the variable entry nginx just added or found, in the
            // configuration pool; nothing else refers to it during this call.
            let Some(v) = (unsafe { v.as_mut() }) else {
                return ngx::ffi::NGX_ERROR as ngx_int_t;
            };
            v.get_handler = Some(crate::variable::get_shared_stat);
            v.data = data;
        }
        ngx::ffi::NGX_OK as ngx_int_t
    }

    unsafe extern "C" fn postconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
        // SAFETY: nginx calls postconfiguration with the live configuration.
        let registered = crate::handler::register(unsafe { &*cf });
        if registered {
            ngx::ffi::NGX_OK as ngx_int_t
        } else {
            ngx::ffi::NGX_ERROR as ngx_int_t
        }
    }

    unsafe extern "C" fn init_main_conf(cf: *mut ngx_conf_t, conf: *mut c_void) -> *mut c_char {
        // SAFETY: nginx hands init_main_conf the main configuration that
        // create_main_conf made for this module (a MainConf in the configuration pool).
        let mcf = unsafe { &mut *(conf as *mut MainConf) };
        mcf.filter_timeout
            .get_or_insert(conf::DEFAULT_FILTER_TIMEOUT_MS);
        if mcf.used && mcf.filter_path.is_none() {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "\"set_backend\" is used but no \"set_backend_filter\" is configured in http{{}}"
            );
            return NGX_CONF_ERROR;
        }
        if mcf.filter_path.is_none() && (mcf.filter_config.is_some() || !mcf.clusters.is_empty()) {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "set_backend_* settings without \"set_backend_filter\""
            );
            return NGX_CONF_ERROR;
        }
        ptr::null_mut()
    }
}

// SAFETY: (this impl and the next two) the types are those create_main_conf,
// create_srv_conf and create_loc_conf allocate for this module, so the
// configuration slots of this module's index hold exactly them.
unsafe impl HttpModuleMainConf for Module {
    type MainConf = MainConf;
}

// SAFETY: see above.
unsafe impl HttpModuleServerConf for Module {
    type ServerConf = UpstreamConf;
}

// SAFETY: see above.
unsafe impl HttpModuleLocationConf for Module {
    type LocationConf = LocConf;
}

static NGX_HTTP_SET_BACKEND_MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: Some(Module::preconfiguration),
    postconfiguration: Some(Module::postconfiguration),
    create_main_conf: Some(Module::create_main_conf),
    init_main_conf: Some(Module::init_main_conf),
    create_srv_conf: Some(Module::create_srv_conf),
    merge_srv_conf: Some(Module::merge_srv_conf),
    create_loc_conf: Some(Module::create_loc_conf),
    merge_loc_conf: Some(Module::merge_loc_conf),
};

// The exported table nginx reads on load_module.
ngx::ngx_modules!(ngx_http_set_backend_module);

#[used]
#[allow(non_upper_case_globals)]
pub static mut ngx_http_set_backend_module: ngx_module_t = ngx_module_t {
    ctx: &raw const NGX_HTTP_SET_BACKEND_MODULE_CTX as _,
    // SAFETY: only the address of the table is taken; nginx reads it while loading
    // the configuration.
    commands: unsafe { &raw mut conf::directives::COMMANDS[0] },
    type_: NGX_HTTP_MODULE as _,
    init_process: Some(crate::worker::init_process),
    exit_process: Some(crate::worker::exit_process),
    ..ngx_module_t::default()
};
