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
use ngx::http::Request;
use ngx::ngx_log_error;

use crate::backend_addr::{self, BackendAddr};
use crate::error::BackendAddrError;
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
    // SAFETY: a non-null `servers` is the upstream block's array of server entries,
    // created by nginx in the configuration pool.
    let s = unsafe { ngx_array_push(uscf.servers) } as *mut ngx_http_upstream_server_t;
    if s.is_null() {
        return false;
    }
    // SAFETY: the entry just pushed, room for one server entry; all zeroes is an
    // entry without address, which nothing reads (this upstream's `get` is ours).
    unsafe { ptr::write_bytes(s, 0, 1) };
    true
}

pub unsafe extern "C" fn init_upstream(
    _cf: *mut ngx_conf_t,
    us: *mut ngx_http_upstream_srv_conf_t,
) -> ngx_int_t {
    // SAFETY: nginx calls init_upstream with the upstream block being initialised.
    unsafe { (*us).peer.init = Some(init_peer) };
    NGX_OK as ngx_int_t
}

unsafe extern "C" fn init_peer(
    r: *mut ngx_http_request_t,
    _us: *mut ngx_http_upstream_srv_conf_t,
) -> ngx_int_t {
    // SAFETY: nginx calls init_peer with a live request whose upstream it has just
    // created; nothing else refers to them during the call.
    let request = unsafe { Request::from_ngx_http_request(r) };
    // Zeroed: a null request, an empty address, an empty name, `next` 0.
    let peer = request.pool().calloc(mem::size_of::<Peer>()) as *mut Peer;
    // SAFETY: null, or a fresh zeroed allocation the size of a Peer, in the request
    // pool (alive as long as the upstream that uses it); all zeroes is a valid Peer.
    let Some(peer) = (unsafe { peer.as_mut() }) else {
        return NGX_ERROR as ngx_int_t;
    };
    peer.r = r;
    // One try per address of the chosen backend: a retry (proxy_next_upstream)
    // goes to the next one.
    // SAFETY: the context is only read, during this call.
    let count = unsafe { request_ctx::get(request) }
        .and_then(|c| c.backend())
        .map_or(1, |b| backend_addr::addresses(b).count());
    let Some(u) = request.upstream() else {
        return NGX_ERROR as ngx_int_t;
    };
    // SAFETY: the request's upstream, live for this call (see above).
    let u = unsafe { &mut *u };
    u.peer.data = core::ptr::from_mut(peer).cast();
    u.peer.get = Some(get_peer);
    u.peer.free = Some(free_peer);
    u.peer.tries = count as ngx_uint_t;
    NGX_OK as ngx_int_t
}

unsafe extern "C" fn get_peer(pc: *mut ngx_peer_connection_t, data: *mut c_void) -> ngx_int_t {
    // SAFETY: `data` is the Peer init_peer put in `peer.data`, in the request pool;
    // nginx (or keepalive's `get`, which wraps ours) passes it with the upstream's
    // peer connection, alive for the call; nothing else refers to either meanwhile.
    let (peer, pc) = unsafe { (&mut *(data as *mut Peer), &mut *pc) };
    // SAFETY: the Peer's request is the live request of this upstream; its context
    // is only read, during this call.
    let ctx = unsafe { request_ctx::get(Request::from_ngx_http_request(peer.r)) };
    let list = match ctx.and_then(|c| c.backend()) {
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
    // SAFETY: nginx passes the upstream's peer connection, alive for the call.
    let pc = unsafe { &mut *pc };
    pc.tries = pc.tries.saturating_sub(1);
}

/// Writes the socket address of `backend` into `out`; returns its length.
fn fill_sockaddr(out: &mut SockaddrStorage, backend: &[u8]) -> Result<socklen_t, BackendAddrError> {
    // SAFETY: every variant of the union is a C socket address of integers and
    // byte arrays, for which all zeroes is valid (and the unused bytes C expects).
    *out = unsafe { mem::zeroed() };
    match backend_addr::parse(backend)? {
        BackendAddr::Unix(path) => {
            // SAFETY: (for the three variants) any bytes are a valid value of each
            // variant (see above), so writing through one after zeroing is sound.
            let un = unsafe { &mut out.un };
            un.sun_family = ngx::ffi::AF_UNIX as sa_family_t;
            for (d, s) in un.sun_path.iter_mut().zip(path) {
                *d = *s as _;
            }
            Ok((mem::size_of::<sa_family_t>() + path.len() + 1) as socklen_t)
        }
        BackendAddr::Ip(SocketAddr::V4(a)) => {
            // SAFETY: see the unix variant.
            let v4 = unsafe { &mut out.v4 };
            v4.sin_family = ngx::ffi::AF_INET as sa_family_t;
            v4.sin_port = a.port().to_be();
            v4.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            Ok(mem::size_of::<sockaddr_in>() as socklen_t)
        }
        BackendAddr::Ip(SocketAddr::V6(a)) => {
            // SAFETY: see the unix variant.
            let v6 = unsafe { &mut out.v6 };
            v6.sin6_family = ngx::ffi::AF_INET6 as sa_family_t;
            v6.sin6_port = a.port().to_be();
            v6.sin6_addr.__in6_u.__u6_addr8 = a.ip().octets();
            Ok(mem::size_of::<sockaddr_in6>() as socklen_t)
        }
    }
}
