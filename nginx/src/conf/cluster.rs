//! `set_backend_cluster name address;` — the upstreams a filter may name in proxy_http_call.

use core::ffi::CStr;

use ngx::core::Pool;
use ngx::ffi::{ngx_parse_url, ngx_url_t, sockaddr, socklen_t};

use crate::error::ConfError;
use crate::pool;

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
/// for static upstreams); what nginx parses is copied into `pool` (the configuration's).
pub fn parse(pool: &Pool, name: &str, address: &str) -> Result<Cluster, ConfError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    {
        return Err(ConfError::ClusterName(name.to_string()));
    }
    let is_unix = address.starts_with("unix:");
    if is_unix && !address[5..].starts_with('/') {
        return Err(ConfError::ClusterRelativeUnix {
            name: name.to_string(),
            address: address.to_string(),
        });
    }
    if !is_unix && !address.contains(':') {
        return Err(ConfError::ClusterNoPort {
            name: name.to_string(),
            address: address.to_string(),
        });
    }
    // SAFETY: a URL request is plain C data (strings, integers, pointers, bitfields);
    // all zeroes is nginx's own empty one (its callers memzero it).
    let mut u: ngx_url_t = unsafe { core::mem::zeroed() };
    // The pool owns the copy nginx parses from; the Rust string may be dropped afterwards.
    u.url = pool::copy_str(pool, address.as_bytes()).ok_or(ConfError::LoggedByNginx)?;
    u.set_no_resolve(0);
    // SAFETY: the configuration's live pool, and a URL request whose string is in it;
    // nginx allocates the addresses it resolves in the same pool.
    if unsafe { ngx_parse_url(pool.as_ptr(), &mut u) } != 0 || u.naddrs == 0 {
        let why = if u.err.is_null() {
            "cannot be resolved".to_string()
        } else {
            // SAFETY: a non-null `err` is one of nginx's static C strings.
            unsafe { CStr::from_ptr(u.err) }
                .to_string_lossy()
                .into_owned()
        };
        return Err(ConfError::ClusterAddress {
            name: name.to_string(),
            address: address.to_string(),
            why,
        });
    }
    // SAFETY: with `naddrs` > 0, `addrs` points at that many addresses in the pool.
    let addr = unsafe { &*u.addrs };
    Ok(Cluster {
        name: name.to_string(),
        address: address.to_string(),
        sockaddr: addr.sockaddr,
        socklen: addr.socklen,
    })
}
