//! `proxy_http_call` on nginx's event loop: non-blocking connections to a cluster
//! (unix socket or TCP), the request written, the response read and parsed, under
//! one deadline. No thread ever blocks; completion is a callback.
//!
//! Connections are kept alive between calls (a few idle ones per cluster). A reused
//! connection may have been closed by the server just before; a call that fails on
//! one before any response byte arrives is retried once on a fresh connection, so
//! the filter never sees such a spurious failure.
//!
//! The call invariant, which the SAFETY comments below rely on: a `Call` is a box
//! leaked by `start` and listed in `LIVE`; only `release` frees it, after deleting
//! its timer and closing (or parking, with its `data` reset) its connection. So
//! while nginx can still call one of its handlers, the `Call` that the timer's or
//! the connection's `data` points at is alive. Everything runs on the worker's
//! only thread, and a handler does not run while another one is using the call.

use core::mem;
use core::ptr;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use ngx::ffi::{
    NGX_AGAIN, NGX_LOG_WARN, NGX_OK, ngx_add_timer, ngx_close_connection, ngx_connection_t,
    ngx_del_timer, ngx_delete_posted_event, ngx_event_connect_peer, ngx_event_get_peer,
    ngx_event_t, ngx_handle_read_event, ngx_handle_write_event, ngx_log_t, ngx_msec_t,
    ngx_peer_connection_t, ngx_post_event, ngx_posted_events, ngx_reusable_connection, ngx_str_t,
};
use ngx::ngx_log_error;
use proxy_wasm_host::HttpCallResponse;

use crate::conf::Cluster;
use crate::error::CallError;
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
    ngx::log::ngx_cycle_log().as_ptr()
}

/// Starts a call; `done` runs exactly once, later, from the event loop (never from
/// inside this function, so a filter call in progress is never re-entered).
pub fn start(cluster: &Cluster, request: Vec<u8>, timeout_ms: ngx_msec_t, done: Done) {
    let call = Box::into_raw(Box::new(Call {
        // SAFETY: plain C data; all zeroes is nginx's unset peer connection.
        pc: unsafe { mem::zeroed() },
        // SAFETY: plain C data; all zeroes is nginx's unset event (it callocs them).
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
    // SAFETY: just leaked, and not yet known to nginx.
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
    // SAFETY: the timer lives in the call, which `release` frees only after deleting it.
    unsafe { ngx_add_timer(&mut c.timer, timeout_ms.max(1)) };
    match take_idle(&c.cluster.name) {
        Some(conn) => {
            c.reused = true;
            // SAFETY: a live call (above) and an idle connection taken off the pool.
            unsafe { attach(call, conn, true) };
        }
        // SAFETY: a live call with no connection.
        None => unsafe { connect(call) },
    }
}

/// Opens a fresh connection for `call`. Whatever happens, progress is reported
/// from the event loop: this may run inside the filter's dispatch.
///
/// # Safety
/// `call` is a live call (the call invariant) without a connection, not otherwise
/// in use.
unsafe fn connect(call: *mut Call) {
    // SAFETY: the contract.
    let c = unsafe { &mut *call };
    // SAFETY: plain C data; all zeroes is nginx's unset peer connection.
    c.pc = unsafe { mem::zeroed() };
    c.pc.sockaddr = c.cluster.sockaddr;
    c.pc.socklen = c.cluster.socklen;
    c.pc.name = &mut c.name;
    c.pc.get = Some(ngx_event_get_peer);
    c.pc.log = cycle_log();
    c.pc.set_log_error(ngx::ffi::ngx_connection_log_error_e_NGX_ERROR_ERR);
    // SAFETY: the peer connection lives in the call; its name and address in the
    // call's cluster (the address in the configuration pool, kept for the cycle).
    let rc = unsafe { ngx_event_connect_peer(&mut c.pc) };
    if rc != NGX_OK as isize && rc != NGX_AGAIN as isize {
        // ERROR, BUSY or DECLINED: report through the (posted) timer event.
        if !c.pc.connection.is_null() {
            // SAFETY: the connection nginx just made for this peer, used by nothing else.
            unsafe { ngx_close_connection(c.pc.connection) };
            c.pc.connection = ptr::null_mut();
        }
        c.failed_early = true;
        // SAFETY: the call's own timer (the call invariant); the flag says whether
        // it is in the timer tree.
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
    // SAFETY: the live call and the connection nginx just made for it.
    unsafe { attach(call, c.pc.connection, rc == NGX_OK as isize) };
}

/// Makes `conn` (connected, connecting, or idle from the pool) carry `call`;
/// `write_now` posts the write event instead of waiting for it.
///
/// # Safety
/// `call` is a live call, not otherwise in use; `conn` a live connection that
/// nothing else uses.
unsafe fn attach(call: *mut Call, conn: *mut ngx_connection_t, write_now: bool) {
    // SAFETY: the contract.
    let c = unsafe { &mut *call };
    c.pc.connection = conn;
    // SAFETY: the contract; a connection's read and write events live with it.
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

/// The call a connection event belongs to.
///
/// # Safety
/// `ev` is the read or write event of a connection `attach` gave a call, passed by
/// nginx to the handler `attach` set.
unsafe fn call_of(ev: *mut ngx_event_t) -> *mut Call {
    // SAFETY: a connection event's data is its connection, whose data is the call
    // (set by `attach`; the handlers are replaced before parking resets it).
    unsafe {
        let conn = (*ev).data as *mut ngx_connection_t;
        (*conn).data as *mut Call
    }
}

unsafe extern "C" fn on_timer(ev: *mut ngx_event_t) {
    // SAFETY: the timer's data is its call, alive while its timer can fire (the
    // call invariant).
    let call = unsafe { (*ev).data as *mut Call };
    // SAFETY: as above; only read here.
    let c = unsafe { &*call };
    let what = if c.failed_early {
        "could not connect"
    } else {
        "timed out"
    };
    ngx_log_error!(
        NGX_LOG_WARN,
        cycle_log(),
        "set_backend: http call to cluster \"{}\" {}",
        &c.cluster.name,
        what
    );
    // SAFETY: the live call, no longer borrowed.
    unsafe { finish(call, None) };
}

unsafe extern "C" fn on_write(wev: *mut ngx_event_t) {
    // SAFETY: nginx calls the write handler `attach` set, with its connection's event.
    let call = unsafe { call_of(wev) };
    // SAFETY: the live call (the call invariant) and its connection; the references
    // end before `fail` or `on_read` take the call over.
    let (c, conn) = unsafe { (&mut *call, &mut *(*call).pc.connection) };
    while c.sent < c.request.len() {
        let send = conn.send.expect("nginx connections have a send function");
        // SAFETY: the connection's own send function, with the unsent rest of the
        // request (`sent` < len).
        let n = unsafe {
            send(
                conn,
                c.request.as_mut_ptr().add(c.sent),
                c.request.len() - c.sent,
            )
        };
        if n == NGX_AGAIN as isize {
            // SAFETY: the connection's live write event.
            if unsafe { ngx_handle_write_event(wev, 0) } != 0 {
                // SAFETY: the live call, no longer borrowed.
                return unsafe { fail(call, CallError::WaitToWrite) };
            }
            return;
        }
        if n <= 0 {
            // SAFETY: the live call, no longer borrowed.
            return unsafe { fail(call, CallError::Write) };
        }
        c.sent += n as usize;
    }
    // Request written: nothing more to do on write readiness.
    // SAFETY: the connection's live write event; then its read event, whose
    // handler `attach` set (it reads the call's response).
    unsafe {
        (*wev).handler = Some(ignore);
        on_read(conn.read);
    }
}

unsafe extern "C" fn ignore(_ev: *mut ngx_event_t) {}

unsafe extern "C" fn on_read(rev: *mut ngx_event_t) {
    // SAFETY: nginx (or on_write) calls the read handler `attach` set, with its
    // connection's event.
    let call = unsafe { call_of(rev) };
    // SAFETY: the live call (the call invariant); the reference ends before
    // `complete` or `fail` take the call over.
    let c = unsafe { &mut *call };
    if c.sent < c.request.len() {
        // Readable before the request is out (e.g. the peer closed): on_write sees it.
        return;
    }
    // SAFETY: the call's live connection (it has one while its handlers run).
    let conn = unsafe { &mut *c.pc.connection };
    let mut chunk = [0u8; 16 * 1024];
    // The outcome, acted on once `c` and `conn` are no longer used.
    let outcome = loop {
        let recv = conn.recv.expect("nginx connections have a recv function");
        // SAFETY: the connection's own recv function, into `chunk`, its length.
        let n = unsafe { recv(conn, chunk.as_mut_ptr(), chunk.len()) };
        if n == NGX_AGAIN as isize {
            // SAFETY: the connection's live read event.
            if unsafe { ngx_handle_read_event(rev, 0) } != 0 {
                break Err(CallError::WaitToRead);
            }
            return;
        }
        if n < 0 {
            break Err(CallError::Read);
        }
        if n == 0 {
            break match http_wire::parse_response(&c.response, true) {
                Parsed::Done(resp, _) => Ok((resp, false)),
                Parsed::Invalid(why) => Err(why.into()),
                Parsed::Incomplete => Err(CallError::Incomplete),
            };
        }
        c.response.extend_from_slice(&chunk[..n as usize]);
        if c.response.len() > MAX_RESPONSE_BYTES {
            break Err(CallError::TooLarge);
        }
        match http_wire::parse_response(&c.response, false) {
            Parsed::Done(resp, reusable) => break Ok((resp, reusable)),
            Parsed::Invalid(why) => break Err(why.into()),
            Parsed::Incomplete => {}
        }
    };
    match outcome {
        // SAFETY: the live call, no longer borrowed.
        Ok((resp, reusable)) => unsafe { complete(call, resp, reusable) },
        // SAFETY: as above.
        Err(why) => unsafe { fail(call, why) },
    }
}

/// A whole response: keep the connection if it can carry another call, then report.
///
/// # Safety
/// `call` is a live call with a connection, not otherwise in use.
unsafe fn complete(call: *mut Call, resp: HttpCallResponse, reusable: bool) {
    // SAFETY: the contract.
    let c = unsafe { &mut *call };
    // SAFETY: nginx sets the flag on this same thread.
    let exiting = unsafe { ngx::ffi::ngx_exiting } != 0;
    // SAFETY: the call's live connection, which the call stops using if parked.
    if reusable && !exiting && unsafe { park(&c.cluster.name, c.pc.connection) } {
        c.pc.connection = ptr::null_mut();
    }
    // SAFETY: the contract; `c` is no longer used.
    unsafe { finish(call, Some(resp)) };
}

/// The call failed: retried once on a fresh connection if a reused one failed
/// before any answer, else reported.
///
/// # Safety
/// `call` is a live call, not otherwise in use.
unsafe fn fail(call: *mut Call, why: CallError) {
    // SAFETY: the contract.
    let c = unsafe { &mut *call };
    if c.reused && c.response.is_empty() {
        // The server closed the idle connection as we reused it: one fresh try.
        // SAFETY: the call's live connection, which nothing else uses.
        unsafe { ngx_close_connection(c.pc.connection) };
        c.pc.connection = ptr::null_mut();
        c.reused = false;
        c.sent = 0;
        // SAFETY: the contract; the call has no connection now.
        return unsafe { connect(call) };
    }
    ngx_log_error!(
        NGX_LOG_WARN,
        cycle_log(),
        "set_backend: http call to cluster \"{}\" failed: {}",
        &c.cluster.name,
        why
    );
    // SAFETY: the contract; `c` is no longer used.
    unsafe { finish(call, None) };
}

/// Frees the call, then reports — in that order, so the callback may start new
/// calls freely.
///
/// # Safety
/// As for [`release`].
unsafe fn finish(call: *mut Call, response: Option<HttpCallResponse>) {
    // SAFETY: the contract.
    let done = unsafe { release(call) };
    if let Some(done) = done {
        done(response);
    }
}

/// Stops the timer, closes the connection (unless parked) and frees the call;
/// returns its callback.
///
/// # Safety
/// `call` is a live call, not otherwise in use; it is freed (dangling) afterwards.
unsafe fn release(call: *mut Call) -> Option<Done> {
    LIVE.with(|l| l.borrow_mut().remove(&(call as usize)));
    // SAFETY: the contract: the box `start` leaked, freed only here.
    let mut call = unsafe { Box::from_raw(call) };
    if call.timer.timer_set() != 0 {
        // SAFETY: the flag says the call's timer is in nginx's timer tree.
        unsafe { ngx_del_timer(&mut call.timer) };
    }
    if call.timer.posted() != 0 {
        // SAFETY: the flag says it is in the posted-events queue.
        unsafe { ngx_delete_posted_event(&mut call.timer) };
    }
    if !call.pc.connection.is_null() {
        // SAFETY: the call's own connection (a parked one was detached from it).
        unsafe { ngx_close_connection(call.pc.connection) };
    }
    call.done.take()
}

/// Puts a connection that finished a call into the cluster's idle pool; false when
/// the pool is full (the caller closes it).
///
/// # Safety
/// `conn` is a live connection that its call stops using if this returns true.
unsafe fn park(cluster: &str, conn: *mut ngx_connection_t) -> bool {
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
    // SAFETY: the contract; from now on the idle pool owns the connection, and its
    // events' handlers no longer reach a call.
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
    // SAFETY: a parked connection is live while listed (`on_idle_event` unlists it
    // before closing it); taken off the list, it is ours alone.
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
    // SAFETY: the handler `park` set on a parked connection's read event, whose
    // data is that connection.
    let conn = unsafe { (*rev).data as *mut ngx_connection_t };
    IDLE.with(|idle| {
        for list in idle.borrow_mut().values_mut() {
            list.retain(|c| *c != conn as usize);
        }
    });
    // SAFETY: the live connection, now unlisted: nothing else refers to it.
    unsafe { ngx_close_connection(conn) };
}

/// The worker is exiting (exit_process): close every call still in flight without
/// reporting (the filter host is going away too) and every idle connection.
/// Otherwise nginx finds their sockets open at exit and logs an alert.
pub fn abort_all() {
    let calls: Vec<usize> = LIVE.with(|l| l.borrow_mut().drain().collect());
    for call in calls {
        // SAFETY: every call listed in LIVE is live and, here in exit_process, in use
        // by no handler.
        drop(unsafe { release(call as *mut Call) });
    }
    let idle: Vec<usize> = IDLE.with(|i| i.borrow_mut().drain().flat_map(|(_, l)| l).collect());
    for conn in idle {
        // SAFETY: listed idle connections are live, and now unlisted.
        unsafe { ngx_close_connection(conn as *mut ngx_connection_t) };
    }
}
