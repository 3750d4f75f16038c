//! `set_backend_balancer`: an upstream whose peers are the addresses of the backend the
//! filter chose for this request (one, or several when its name resolved to several),
//! tried in order while connecting fails (`proxy_next_upstream error`). Its `get` fills
//! `pc->sockaddr`; balancers configured after it in the same upstream (nginx's
//! `keepalive`) wrap it, so idle connections are pooled per backend address.

use core::ffi::c_void;
use core::mem;
use core::ptr;
use std::net::SocketAddr;

use ngx::ffi::{
    NGX_BUSY, NGX_ERROR, NGX_LOG_ERR, NGX_OK, ngx_array_push, ngx_conf_t, ngx_http_request_t,
    ngx_http_upstream_server_t, ngx_http_upstream_srv_conf_t, ngx_int_t, ngx_peer_connection_t,
    ngx_str_t, ngx_uint_t, sa_family_t, sockaddr, sockaddr_in, sockaddr_in6, sockaddr_un,
    socklen_t,
};
use ngx::ngx_log_error;

use crate::backend_addr::{self, BackendAddr};
use crate::request_ctx;

/// Per-request peer state, in the request pool. The address outlives the connection
/// attempt because nginx's keepalive cache copies it when it keeps a connection.
#[repr(C)]
struct Peer {
    r: *mut ngx_http_request_t,
    addr: SockaddrStorage,
    name: ngx_str_t,
    /// Which of the backend's addresses the next `get` connects to.
    next: usize,
}

#[repr(C)]
union SockaddrStorage {
    v4: sockaddr_in,
    v6: sockaddr_in6,
    un: sockaddr_un,
}

/// Adds the `server` entry nginx requires in every upstream block (it refuses one
/// without servers); this upstream's peer comes from the filter, so nothing reads it.
pub fn add_placeholder_server(uscf: &mut ngx_http_upstream_srv_conf_t) -> bool {
    if uscf.servers.is_null() {
        return false;
    }
    let s = unsafe { ngx_array_push(uscf.servers) } as *mut ngx_http_upstream_server_t;
    if s.is_null() {
        return false;
    }
    unsafe { ptr::write_bytes(s, 0, 1) };
    true
}

pub unsafe extern "C" fn init_upstream(
    _cf: *mut ngx_conf_t,
    us: *mut ngx_http_upstream_srv_conf_t,
) -> ngx_int_t {
    unsafe { (*us).peer.init = Some(init_peer) };
    NGX_OK as ngx_int_t
}

unsafe extern "C" fn init_peer(
    r: *mut ngx_http_request_t,
    _us: *mut ngx_http_upstream_srv_conf_t,
) -> ngx_int_t {
    let peer = unsafe { ngx::ffi::ngx_pcalloc((*r).pool, mem::size_of::<Peer>()) } as *mut Peer;
    if peer.is_null() {
        return NGX_ERROR as ngx_int_t;
    }
    unsafe {
        (*peer).r = r;
        let u = &mut *(*r).upstream;
        u.peer.data = peer.cast();
        u.peer.get = Some(get_peer);
        u.peer.free = Some(free_peer);
        // One try per address of the chosen backend: a retry (proxy_next_upstream)
        // goes to the next one.
        let count = request_ctx::get(r)
            .and_then(|c| c.backend())
            .map_or(1, |b| backend_addr::addresses(b).count());
        u.peer.tries = count as ngx_uint_t;
    }
    NGX_OK as ngx_int_t
}

unsafe extern "C" fn get_peer(pc: *mut ngx_peer_connection_t, data: *mut c_void) -> ngx_int_t {
    let peer = unsafe { &mut *(data as *mut Peer) };
    let pc = unsafe { &mut *pc };
    let list = match unsafe { request_ctx::get(peer.r) }.and_then(|c| c.backend()) {
        Some(b) => b,
        None => {
            ngx_log_error!(
                NGX_LOG_ERR,
                pc.log,
                "set_backend_balancer: no backend was chosen for this request (is set_backend in its location?)"
            );
            return NGX_BUSY as ngx_int_t;
        }
    };
    let Some(backend) = backend_addr::addresses(list).nth(peer.next) else {
        return NGX_BUSY as ngx_int_t; // every address was tried
    };
    peer.next += 1;
    let len = match fill_sockaddr(&mut peer.addr, backend) {
        Ok(len) => len,
        Err(why) => {
            ngx_log_error!(
                NGX_LOG_ERR,
                pc.log,
                "set_backend_balancer: backend \"{}\" {}",
                String::from_utf8_lossy(backend),
                why
            );
            return NGX_BUSY as ngx_int_t;
        }
    };
    peer.name = ngx_str_t {
        len: backend.len(),
        data: backend.as_ptr() as *mut u8,
    };
    pc.sockaddr = (&raw mut peer.addr).cast::<sockaddr>();
    pc.socklen = len;
    pc.name = &mut peer.name;
    pc.set_cached(0);
    pc.connection = ptr::null_mut();
    NGX_OK as ngx_int_t
}

unsafe extern "C" fn free_peer(
    pc: *mut ngx_peer_connection_t,
    _data: *mut c_void,
    _state: ngx_uint_t,
) {
    let pc = unsafe { &mut *pc };
    pc.tries = pc.tries.saturating_sub(1);
}

/// Writes the socket address of `backend` into `out`; returns its length.
fn fill_sockaddr(out: &mut SockaddrStorage, backend: &[u8]) -> Result<socklen_t, &'static str> {
    unsafe { ptr::write_bytes(out as *mut SockaddrStorage, 0, 1) };
    match backend_addr::parse(backend)? {
        BackendAddr::Unix(path) => {
            let un = unsafe { &mut out.un };
            un.sun_family = ngx::ffi::AF_UNIX as sa_family_t;
            for (d, s) in un.sun_path.iter_mut().zip(path) {
                *d = *s as _;
            }
            Ok((mem::size_of::<sa_family_t>() + path.len() + 1) as socklen_t)
        }
        BackendAddr::Ip(SocketAddr::V4(a)) => {
            let v4 = unsafe { &mut out.v4 };
            v4.sin_family = ngx::ffi::AF_INET as sa_family_t;
            v4.sin_port = a.port().to_be();
            v4.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            Ok(mem::size_of::<sockaddr_in>() as socklen_t)
        }
        BackendAddr::Ip(SocketAddr::V6(a)) => {
            let v6 = unsafe { &mut out.v6 };
            v6.sin6_family = ngx::ffi::AF_INET6 as sa_family_t;
            v6.sin6_port = a.port().to_be();
            v6.sin6_addr.__in6_u.__u6_addr8 = a.ip().octets();
            Ok(mem::size_of::<sockaddr_in6>() as socklen_t)
        }
    }
}
