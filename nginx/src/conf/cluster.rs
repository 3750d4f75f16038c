//! `set_backend_cluster name address;` — the upstreams a filter may name in proxy_http_call.

use ngx::ffi::{ngx_conf_t, ngx_parse_url, ngx_str_t, ngx_url_t, sockaddr, socklen_t};

/// A resolved cluster address. The sockaddr lives in the configuration pool, which
/// outlives every request and tick of the cycle that parsed it.
#[derive(Clone)]
pub struct Cluster {
    pub name: String,
    /// What the operator wrote, for logs and the Host header of calls.
    pub address: String,
    pub sockaddr: *mut sockaddr,
    pub socklen: socklen_t,
}

/// Parses `unix:/absolute/path` or `host:port` (names resolved now, as proxy_pass does
/// for static upstreams).
pub fn parse(cf: *mut ngx_conf_t, name: &str, address: &str) -> Result<Cluster, String> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    {
        return Err(format!(
            "invalid cluster name \"{name}\" (letters, digits, '-', '_', '.', ':')"
        ));
    }
    let is_unix = address.starts_with("unix:");
    if is_unix && !address[5..].starts_with('/') {
        return Err(format!(
            "cluster \"{name}\": unix socket path must be absolute in \"{address}\""
        ));
    }
    if !is_unix && !address.contains(':') {
        return Err(format!(
            "cluster \"{name}\": \"{address}\" needs a port (host:port) or unix:/path"
        ));
    }
    let mut u: ngx_url_t = unsafe { core::mem::zeroed() };
    // The pool owns the copy nginx parses from; the Rust string may be dropped afterwards.
    let bytes = unsafe { copy_to_pool(cf, address.as_bytes()) };
    if bytes.is_null() {
        return Err("out of memory".into());
    }
    u.url = ngx_str_t {
        len: address.len(),
        data: bytes,
    };
    u.set_no_resolve(0);
    if unsafe { ngx_parse_url((*cf).pool, &mut u) } != 0 || u.naddrs == 0 {
        let why = if u.err.is_null() {
            "cannot be resolved".to_string()
        } else {
            unsafe { core::ffi::CStr::from_ptr(u.err) }
                .to_string_lossy()
                .into_owned()
        };
        return Err(format!("cluster \"{name}\": {why} in \"{address}\""));
    }
    let addr = unsafe { &*u.addrs };
    Ok(Cluster {
        name: name.to_string(),
        address: address.to_string(),
        sockaddr: addr.sockaddr,
        socklen: addr.socklen,
    })
}

unsafe fn copy_to_pool(cf: *mut ngx_conf_t, bytes: &[u8]) -> *mut u8 {
    let p = unsafe { ngx::ffi::ngx_pnalloc((*cf).pool, bytes.len()) } as *mut u8;
    if !p.is_null() {
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
    }
    p
}
