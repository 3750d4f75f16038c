//! `proxy_http_call` on nginx's event loop: non-blocking connections to a cluster
//! (unix socket or TCP), the request written, the response read and parsed, under
//! one deadline. No thread ever blocks; completion is a callback.
//!
//! Connections are kept alive between calls (a few idle ones per cluster). A reused
//! connection may have been closed by the server just before; a call that fails on
//! one before any response byte arrives is retried once on a fresh connection, so
//! the filter never sees such a spurious failure.

use core::mem;
use core::ptr;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use ngx::ffi::{
    NGX_AGAIN, NGX_LOG_WARN, NGX_OK, ngx_add_timer, ngx_close_connection, ngx_connection_t,
    ngx_cycle, ngx_del_timer, ngx_delete_posted_event, ngx_event_connect_peer, ngx_event_get_peer,
    ngx_event_t, ngx_handle_read_event, ngx_handle_write_event, ngx_log_t, ngx_msec_t,
    ngx_peer_connection_t, ngx_post_event, ngx_posted_events, ngx_reusable_connection, ngx_str_t,
};
use ngx::ngx_log_error;
use proxy_wasm_host::HttpCallResponse;

use crate::conf::Cluster;
use crate::http_wire::{self, MAX_RESPONSE_BYTES, Parsed};

pub type Done = Box<dyn FnOnce(Option<HttpCallResponse>)>;

/// Idle connections kept per cluster and how long one may stay idle.
const MAX_IDLE_PER_CLUSTER: usize = 16;
const IDLE_TIMEOUT_MS: ngx_msec_t = 30_000;

thread_local! {
    /// Calls in flight in this worker, so that a worker leaving can close them.
    static LIVE: RefCell<HashSet<usize>> = RefCell::default();
    /// Idle keep-alive connections by cluster name.
    static IDLE: RefCell<HashMap<String, Vec<usize>>> = RefCell::default();
}

struct Call {
    pc: ngx_peer_connection_t,
    /// Deadline of the whole call; also used to complete a call that failed to start.
    timer: ngx_event_t,
    cluster: Cluster,
    name: ngx_str_t,
    request: Vec<u8>,
    sent: usize,
    response: Vec<u8>,
    done: Option<Done>,
    /// Set when `timer` is posted to report a failure found before any I/O.
    failed_early: bool,
    /// The connection came from the idle pool (a failure before any byte is retried).
    reused: bool,
}

fn cycle_log() -> *mut ngx_log_t {
    unsafe { (*ngx_cycle).log }
}

/// Starts a call; `done` runs exactly once, later, from the event loop (never from
/// inside this function, so a filter call in progress is never re-entered).
pub fn start(cluster: &Cluster, request: Vec<u8>, timeout_ms: ngx_msec_t, done: Done) {
    let call = Box::into_raw(Box::new(Call {
        pc: unsafe { mem::zeroed() },
        timer: unsafe { mem::zeroed() },
        cluster: cluster.clone(),
        name: ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        },
        request,
        sent: 0,
        response: Vec::new(),
        done: Some(done),
        failed_early: false,
        reused: false,
    }));
    LIVE.with(|l| l.borrow_mut().insert(call as usize));
    let c = unsafe { &mut *call };
    c.name = ngx_str_t {
        len: c.cluster.address.len(),
        data: c.cluster.address.as_ptr() as *mut u8,
    };
    c.timer.handler = Some(on_timer);
    c.timer.data = call.cast();
    c.timer.log = cycle_log();
    // A call alone (e.g. the change feed's long-poll) must not hold a worker back
    // from a graceful exit; a request waiting for it has its own, non-cancelable,
    // pause timer, which does.
    c.timer.set_cancelable(1);
    unsafe { ngx_add_timer(&mut c.timer, timeout_ms.max(1)) };
    match take_idle(&c.cluster.name) {
        Some(conn) => {
            c.reused = true;
            unsafe { attach(call, conn, true) };
        }
        None => unsafe { connect(call) },
    }
}

/// Opens a fresh connection for `call`. Whatever happens, progress is reported
/// from the event loop: this may run inside the filter's dispatch.
unsafe fn connect(call: *mut Call) {
    let c = unsafe { &mut *call };
    c.pc = unsafe { mem::zeroed() };
    c.pc.sockaddr = c.cluster.sockaddr;
    c.pc.socklen = c.cluster.socklen;
    c.pc.name = &mut c.name;
    c.pc.get = Some(ngx_event_get_peer);
    c.pc.log = cycle_log();
    c.pc.set_log_error(ngx::ffi::ngx_connection_log_error_e_NGX_ERROR_ERR);
    let rc = unsafe { ngx_event_connect_peer(&mut c.pc) };
    if rc != NGX_OK as isize && rc != NGX_AGAIN as isize {
        // ERROR, BUSY or DECLINED: report through the (posted) timer event.
        if !c.pc.connection.is_null() {
            unsafe { ngx_close_connection(c.pc.connection) };
            c.pc.connection = ptr::null_mut();
        }
        c.failed_early = true;
        unsafe {
            if c.timer.timer_set() != 0 {
                ngx_del_timer(&mut c.timer);
            }
            ngx_post_event(&mut c.timer, &raw mut ngx_posted_events);
        }
        return;
    }
    // Connected at once (usual for unix sockets): write from a posted event. Still
    // connecting: nginx calls the write handler when the connection is ready.
    unsafe { attach(call, c.pc.connection, rc == NGX_OK as isize) };
}

/// Makes `conn` (connected, connecting, or idle from the pool) carry `call`;
/// `write_now` posts the write event instead of waiting for it.
unsafe fn attach(call: *mut Call, conn: *mut ngx_connection_t, write_now: bool) {
    let c = unsafe { &mut *call };
    c.pc.connection = conn;
    unsafe {
        (*conn).data = call.cast();
        (*conn).log = cycle_log();
        (*(*conn).read).handler = Some(on_read);
        (*(*conn).write).handler = Some(on_write);
        (*(*conn).read).log = cycle_log();
        (*(*conn).write).log = cycle_log();
        if write_now {
            ngx_post_event((*conn).write, &raw mut ngx_posted_events);
        }
    }
}

unsafe fn call_of(ev: *mut ngx_event_t) -> *mut Call {
    let conn = unsafe { (*ev).data as *mut ngx_connection_t };
    unsafe { (*conn).data as *mut Call }
}

unsafe extern "C" fn on_timer(ev: *mut ngx_event_t) {
    let call = unsafe { (*ev).data as *mut Call };
    let what = if unsafe { (*call).failed_early } {
        "could not connect"
    } else {
        "timed out"
    };
    ngx_log_error!(
        NGX_LOG_WARN,
        cycle_log(),
        "set_backend: http call to cluster \"{}\" {}",
        unsafe { &(*call).cluster.name },
        what
    );
    unsafe { finish(call, None) };
}

unsafe extern "C" fn on_write(wev: *mut ngx_event_t) {
    let call = unsafe { call_of(wev) };
    let c = unsafe { &mut *call };
    let conn = unsafe { &mut *c.pc.connection };
    while c.sent < c.request.len() {
        let send = conn.send.expect("nginx connections have a send function");
        let n = unsafe {
            send(
                conn,
                c.request.as_mut_ptr().add(c.sent),
                c.request.len() - c.sent,
            )
        };
        if n == NGX_AGAIN as isize {
            if unsafe { ngx_handle_write_event(wev, 0) } != 0 {
                return unsafe { fail(call, "cannot wait to write") };
            }
            return;
        }
        if n <= 0 {
            return unsafe { fail(call, "write error") };
        }
        c.sent += n as usize;
    }
    // Request written: nothing more to do on write readiness.
    unsafe { (*wev).handler = Some(ignore) };
    unsafe { on_read(conn.read) };
}

unsafe extern "C" fn ignore(_ev: *mut ngx_event_t) {}

unsafe extern "C" fn on_read(rev: *mut ngx_event_t) {
    let call = unsafe { call_of(rev) };
    let c = unsafe { &mut *call };
    if c.sent < c.request.len() {
        // Readable before the request is out (e.g. the peer closed): on_write sees it.
        return;
    }
    let conn = unsafe { &mut *c.pc.connection };
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let recv = conn.recv.expect("nginx connections have a recv function");
        let n = unsafe { recv(conn, chunk.as_mut_ptr(), chunk.len()) };
        if n == NGX_AGAIN as isize {
            if unsafe { ngx_handle_read_event(rev, 0) } != 0 {
                return unsafe { fail(call, "cannot wait to read") };
            }
            return;
        }
        if n < 0 {
            return unsafe { fail(call, "read error") };
        }
        if n == 0 {
            return match http_wire::parse_response(&c.response, true) {
                Parsed::Done(resp, _) => unsafe { complete(call, resp, false) },
                Parsed::Invalid(why) => unsafe { fail(call, why) },
                Parsed::Incomplete => unsafe { fail(call, "incomplete response") },
            };
        }
        c.response.extend_from_slice(&chunk[..n as usize]);
        if c.response.len() > MAX_RESPONSE_BYTES {
            return unsafe { fail(call, "response too large") };
        }
        match http_wire::parse_response(&c.response, false) {
            Parsed::Done(resp, reusable) => return unsafe { complete(call, resp, reusable) },
            Parsed::Invalid(why) => return unsafe { fail(call, why) },
            Parsed::Incomplete => {}
        }
    }
}

/// A whole response: keep the connection if it can carry another call, then report.
unsafe fn complete(call: *mut Call, resp: HttpCallResponse, reusable: bool) {
    let c = unsafe { &mut *call };
    if reusable && unsafe { ngx::ffi::ngx_exiting } == 0 && park(&c.cluster.name, c.pc.connection) {
        c.pc.connection = ptr::null_mut();
    }
    unsafe { finish(call, Some(resp)) };
}

unsafe fn fail(call: *mut Call, why: &str) {
    let c = unsafe { &mut *call };
    if c.reused && c.response.is_empty() {
        // The server closed the idle connection as we reused it: one fresh try.
        unsafe { ngx_close_connection(c.pc.connection) };
        c.pc.connection = ptr::null_mut();
        c.reused = false;
        c.sent = 0;
        return unsafe { connect(call) };
    }
    ngx_log_error!(
        NGX_LOG_WARN,
        cycle_log(),
        "set_backend: http call to cluster \"{}\" failed: {}",
        &c.cluster.name,
        why
    );
    unsafe { finish(call, None) };
}

/// Frees the call, then reports — in that order, so the callback may start new
/// calls freely.
unsafe fn finish(call: *mut Call, response: Option<HttpCallResponse>) {
    let done = unsafe { release(call) };
    if let Some(done) = done {
        done(response);
    }
}

/// Stops the timer, closes the connection (unless parked) and frees the call;
/// returns its callback.
unsafe fn release(call: *mut Call) -> Option<Done> {
    LIVE.with(|l| l.borrow_mut().remove(&(call as usize)));
    let mut call = unsafe { Box::from_raw(call) };
    if call.timer.timer_set() != 0 {
        unsafe { ngx_del_timer(&mut call.timer) };
    }
    if call.timer.posted() != 0 {
        unsafe { ngx_delete_posted_event(&mut call.timer) };
    }
    if !call.pc.connection.is_null() {
        unsafe { ngx_close_connection(call.pc.connection) };
    }
    call.done.take()
}

/// Puts a connection that finished a call into the cluster's idle pool; false when
/// the pool is full (the caller closes it).
fn park(cluster: &str, conn: *mut ngx_connection_t) -> bool {
    let parked = IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let list = idle.entry(cluster.to_string()).or_default();
        if list.len() >= MAX_IDLE_PER_CLUSTER {
            return false;
        }
        list.push(conn as usize);
        true
    });
    if !parked {
        return false;
    }
    unsafe {
        let c = &mut *conn;
        c.data = ptr::null_mut();
        c.set_idle(1);
        (*c.read).handler = Some(on_idle_event);
        (*c.write).handler = Some(ignore);
        ngx_add_timer(c.read, IDLE_TIMEOUT_MS);
        // Lets nginx close it when short of connections and at a graceful exit.
        ngx_reusable_connection(conn, 1);
        if (*c.read).ready() != 0 {
            // Bytes after the response: the connection is not clean. Close it.
            ngx_post_event(c.read, &raw mut ngx_posted_events);
        }
    }
    true
}

fn take_idle(cluster: &str) -> Option<*mut ngx_connection_t> {
    let conn = IDLE.with(|idle| idle.borrow_mut().get_mut(cluster).and_then(|l| l.pop()))?
        as *mut ngx_connection_t;
    unsafe {
        let c = &mut *conn;
        c.set_idle(0);
        ngx_reusable_connection(conn, 0);
        if (*c.read).timer_set() != 0 {
            ngx_del_timer(c.read);
        }
        if (*c.read).posted() != 0 {
            ngx_delete_posted_event(c.read);
        }
    }
    Some(conn)
}

/// Anything on an idle connection (the server closing it, stray bytes, the idle
/// timeout, nginx reclaiming it) ends it.
unsafe extern "C" fn on_idle_event(rev: *mut ngx_event_t) {
    let conn = unsafe { (*rev).data as *mut ngx_connection_t };
    IDLE.with(|idle| {
        for list in idle.borrow_mut().values_mut() {
            list.retain(|c| *c != conn as usize);
        }
    });
    unsafe { ngx_close_connection(conn) };
}

/// The worker is exiting (exit_process): close every call still in flight without
/// reporting (the filter host is going away too) and every idle connection.
/// Otherwise nginx finds their sockets open at exit and logs an alert.
pub fn abort_all() {
    let calls: Vec<usize> = LIVE.with(|l| l.borrow_mut().drain().collect());
    for call in calls {
        drop(unsafe { release(call as *mut Call) });
    }
    let idle: Vec<usize> = IDLE.with(|i| i.borrow_mut().drain().flat_map(|(_, l)| l).collect());
    for conn in idle {
        unsafe { ngx_close_connection(conn as *mut ngx_connection_t) };
    }
}
