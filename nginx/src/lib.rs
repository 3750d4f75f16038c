use ngx::ffi::{ngx_http_module_t, ngx_module_t, NGX_HTTP_MODULE};

static NGX_HTTP_SET_BACKEND_MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: None,
    postconfiguration: None,
    create_main_conf: None,
    init_main_conf: None,
    create_srv_conf: None,
    merge_srv_conf: None,
    create_loc_conf: None,
    merge_loc_conf: None,
};

ngx::ngx_modules!(ngx_http_set_backend_module);

#[used]
#[allow(non_upper_case_globals)]
pub static mut ngx_http_set_backend_module: ngx_module_t = ngx_module_t {
    ctx: &raw const NGX_HTTP_SET_BACKEND_MODULE_CTX as _,
    type_: NGX_HTTP_MODULE as _,
    ..ngx_module_t::default()
};
