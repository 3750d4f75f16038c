//! `proxy_http_call` on nginx's event loop: one non-blocking connection per call
//! to a cluster (unix socket or TCP), the request written, the response read and
//! parsed, under one deadline. No thread ever blocks; completion is a callback.

use core::mem;
use core::ptr;

use ngx::ffi::{
    ngx_add_timer, ngx_close_connection, ngx_connection_t, ngx_cycle, ngx_del_timer, ngx_event_connect_peer,
    ngx_event_get_peer, ngx_event_t, ngx_handle_read_event, ngx_handle_write_event, ngx_log_t, ngx_msec_t,
    ngx_peer_connection_t, ngx_post_event, ngx_posted_events, ngx_str_t, NGX_AGAIN, NGX_LOG_WARN,
};
use ngx::ngx_log_error;
use proxy_wasm_host::HttpCallResponse;

use crate::conf::Cluster;
use crate::http_wire::{self, Parsed, MAX_RESPONSE_BYTES};

pub type Done = Box<dyn FnOnce(Option<HttpCallResponse>)>;

thread_local! {
    /// Calls in flight in this worker, so that a worker leaving can close them.
    static LIVE: core::cell::RefCell<std::collections::HashSet<usize>> = Default::default();
}

struct Call {
    pc: ngx_peer_connection_t,
    /// Deadline of the whole call; also used to complete a call that failed to start.
    timer: ngx_event_t,
    name: ngx_str_t,
    cluster: String,
    request: Vec<u8>,
    sent: usize,
    response: Vec<u8>,
    done: Option<Done>,
    /// Set when `timer` fires to report a failure found before any I/O.
    failed_early: bool,
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
        name: ngx_str_t { len: 0, data: ptr::null_mut() },
        cluster: cluster.name.clone(),
        request,
        sent: 0,
        response: Vec::new(),
        done: Some(done),
        failed_early: false,
    }));
    LIVE.with(|l| l.borrow_mut().insert(call as usize));
    let c = unsafe { &mut *call };
    c.name = ngx_str_t { len: cluster.address.len(), data: cluster.address.as_ptr() as *mut u8 };
    c.timer.handler = Some(on_timer);
    c.timer.data = call.cast();
    c.timer.log = cycle_log();
    // A call alone (e.g. the change feed's long-poll) must not hold a worker back
    // from a graceful exit; a request waiting for it has its own, non-cancelable,
    // pause timer, which does.
    c.timer.set_cancelable(1);
    c.pc.sockaddr = cluster.sockaddr;
    c.pc.socklen = cluster.socklen;
    c.pc.name = &mut c.name;
    c.pc.get = Some(ngx_event_get_peer);
    c.pc.log = cycle_log();
    c.pc.set_log_error(ngx::ffi::ngx_connection_log_error_e_NGX_ERROR_ERR);

    let rc = unsafe { ngx_event_connect_peer(&mut c.pc) };
    if rc != ngx::ffi::NGX_OK as isize && rc != NGX_AGAIN as isize {
        // ERROR, BUSY or DECLINED: report asynchronously.
        if !c.pc.connection.is_null() {
            unsafe { ngx_close_connection(c.pc.connection) };
            c.pc.connection = ptr::null_mut();
        }
        c.failed_early = true;
        unsafe { ngx_post_event(&mut c.timer, &raw mut ngx_posted_events) };
        return;
    }
    let conn = unsafe { &mut *c.pc.connection };
    conn.data = call.cast();
    unsafe {
        (*conn.read).handler = Some(on_read);
        (*conn.write).handler = Some(on_write);
        (*conn.read).log = cycle_log();
        (*conn.write).log = cycle_log();
        ngx_add_timer(&mut c.timer, timeout_ms.max(1));
    }
    if rc == ngx::ffi::NGX_OK as isize {
        // Connected at once (usual for unix sockets). Write from the event loop all the
        // same: this runs inside the filter's dispatch, and a failure found now must
        // not complete the call while the filter host is busy.
        unsafe { ngx_post_event(conn.write, &raw mut ngx_posted_events) };
    }
}

unsafe fn call_of(ev: *mut ngx_event_t) -> *mut Call {
    let conn = unsafe { (*ev).data as *mut ngx_connection_t };
    unsafe { (*conn).data as *mut Call }
}

unsafe extern "C" fn on_timer(ev: *mut ngx_event_t) {
    let call = unsafe { (*ev).data as *mut Call };
    if !unsafe { (*call).failed_early } {
        ngx_log_error!(NGX_LOG_WARN, cycle_log(), "set_backend: http call to cluster \"{}\" timed out", unsafe { &(*call).cluster });
    } else {
        ngx_log_error!(NGX_LOG_WARN, cycle_log(), "set_backend: http call to cluster \"{}\" could not connect", unsafe { &(*call).cluster });
    }
    unsafe { finish(call, None) };
}

unsafe extern "C" fn on_write(wev: *mut ngx_event_t) {
    let call = unsafe { call_of(wev) };
    let c = unsafe { &mut *call };
    let conn = unsafe { &mut *c.pc.connection };
    if unsafe { (*wev).timedout() } != 0 {
        return unsafe { finish(call, None) };
    }
    while c.sent < c.request.len() {
        let send = conn.send.expect("nginx connections have a send function");
        let n = unsafe { send(conn, c.request.as_mut_ptr().add(c.sent), c.request.len() - c.sent) };
        if n == NGX_AGAIN as isize {
            if unsafe { ngx_handle_write_event(wev, 0) } != 0 {
                return unsafe { finish(call, None) };
            }
            return;
        }
        if n <= 0 {
            return unsafe { finish(call, None) };
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
        // Readable before the request is out (e.g. the peer closed): let on_write see it.
        return;
    }
    let conn = unsafe { &mut *c.pc.connection };
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let recv = conn.recv.expect("nginx connections have a recv function");
        let n = unsafe { recv(conn, chunk.as_mut_ptr(), chunk.len()) };
        if n == NGX_AGAIN as isize {
            match http_wire::parse_response(&c.response, false) {
                Parsed::Done(resp) => return unsafe { finish(call, Some(resp)) },
                Parsed::Invalid(why) => return unsafe { fail(call, why) },
                Parsed::Incomplete => {}
            }
            if unsafe { ngx_handle_read_event(rev, 0) } != 0 {
                return unsafe { finish(call, None) };
            }
            return;
        }
        if n < 0 {
            return unsafe { fail(call, "read error") };
        }
        if n == 0 {
            return match http_wire::parse_response(&c.response, true) {
                Parsed::Done(resp) => unsafe { finish(call, Some(resp)) },
                Parsed::Invalid(why) => unsafe { fail(call, why) },
                Parsed::Incomplete => unsafe { fail(call, "incomplete response") },
            };
        }
        c.response.extend_from_slice(&chunk[..n as usize]);
        if c.response.len() > MAX_RESPONSE_BYTES {
            return unsafe { fail(call, "response too large") };
        }
    }
}

unsafe fn fail(call: *mut Call, why: &str) {
    ngx_log_error!(NGX_LOG_WARN, cycle_log(), "set_backend: http call to cluster \"{}\" failed: {}", unsafe { &(*call).cluster }, why);
    unsafe { finish(call, None) };
}

/// Closes the connection, frees the call, then reports — in that order, so the
/// callback may start new calls freely.
unsafe fn finish(call: *mut Call, response: Option<HttpCallResponse>) {
    let done = unsafe { release(call) };
    if let Some(done) = done {
        done(response);
    }
}

/// The worker is exiting (exit_process): close every call still in flight without
/// reporting (the filter host is going away too). Otherwise nginx finds their
/// sockets open at exit and logs an alert.
pub fn abort_all() {
    let calls: Vec<usize> = LIVE.with(|l| l.borrow_mut().drain().collect());
    for call in calls {
        drop(unsafe { release(call as *mut Call) });
    }
}

/// Stops the timer, closes the connection and frees the call; returns its callback.
unsafe fn release(call: *mut Call) -> Option<Done> {
    LIVE.with(|l| l.borrow_mut().remove(&(call as usize)));
    let mut call = unsafe { Box::from_raw(call) };
    if call.timer.timer_set() != 0 {
        unsafe { ngx_del_timer(&mut call.timer) };
    }
    if call.timer.posted() != 0 {
        unsafe { ngx::ffi::ngx_delete_posted_event(&mut call.timer) };
    }
    if !call.pc.connection.is_null() {
        unsafe { ngx_close_connection(call.pc.connection) };
    }
    call.done.take()
}
