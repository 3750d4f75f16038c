//! The world as the filter sees it inside nginx: the host's embedder traits,
//! implemented by recording into the bridge (see bridge.rs) or by acting on
//! nginx's event loop without blocking.

use ngx::ffi::{
    NGX_LOG_ALERT, NGX_LOG_DEBUG, NGX_LOG_ERR, NGX_LOG_INFO, NGX_LOG_NOTICE, NGX_LOG_WARN,
    ngx_hash_key, ngx_http_get_variable, ngx_http_request_t, ngx_log_t, ngx_msec_t, ngx_str_t,
};
use ngx::ngx_log_error;
use proxy_wasm_host::{
    Clock, HttpCallRequest, HttpCalls, LocalResponse, LogLevel, Logger, Properties, Status,
    StreamType, Streams,
};

use crate::{bridge, http_call, http_wire, worker};

/// Calls without a timeout from the filter get this one; longer ones are capped.
const DEFAULT_CALL_TIMEOUT_MS: u32 = 5_000;
const MAX_CALL_TIMEOUT_MS: u32 = 60_000;

fn cycle_log() -> *mut ngx_log_t {
    ngx::log::ngx_cycle_log().as_ptr()
}

/// The filter's clock is nginx's cached time, as for every nginx module: updated
/// once per event-loop iteration, with millisecond resolution, and free to read
/// (the filter reads it on every request to check cache lifetimes).
pub struct CachedClock;

impl Clock for CachedClock {
    fn now_nanos(&self) -> u64 {
        // SAFETY: nginx points ngx_cached_time at a valid slot before any module
        // code runs in a worker, and only this thread updates it.
        let t = unsafe { &*core::ptr::read_volatile(&raw const ngx::ffi::ngx_cached_time) };
        (t.sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(t.msec as u64 * 1_000_000)
    }
}

/// Filter log lines go to nginx's error log at the matching level.
pub struct ErrorLog {
    pub filter: String,
}

impl Logger for ErrorLog {
    fn log(&mut self, context_id: u32, level: LogLevel, message: &str) {
        let ngx_level = match level {
            LogLevel::Trace | LogLevel::Debug => NGX_LOG_DEBUG,
            LogLevel::Info => NGX_LOG_INFO,
            LogLevel::Warn => NGX_LOG_WARN,
            LogLevel::Error => NGX_LOG_ERR,
            LogLevel::Critical => NGX_LOG_ALERT,
        };
        ngx_log_error!(
            ngx_level,
            cycle_log(),
            "set_backend filter \"{}\" (context {}): {}",
            self.filter,
            context_id,
            message
        );
    }

    fn level(&self) -> LogLevel {
        // SAFETY: the cycle's log, alive as long as the cycle this worker runs.
        let level = unsafe { (*cycle_log()).log_level } as u32;
        if level >= NGX_LOG_DEBUG {
            LogLevel::Debug
        } else if level >= NGX_LOG_INFO {
            LogLevel::Info
        } else if level >= NGX_LOG_NOTICE {
            LogLevel::Warn
        } else if level >= NGX_LOG_ERR {
            LogLevel::Error
        } else {
            LogLevel::Critical
        }
    }
}

/// `backend` and `ngx.<name>` are written; `ngx.<name>` and `request.*` are read.
pub struct RequestProperties;

impl Properties for RequestProperties {
    fn get_property(&mut self, context_id: u32, path: &[&[u8]]) -> Option<Vec<u8>> {
        let r = bridge::with_slot(context_id, |s| s.request).flatten()?;
        // SAFETY: a slot's request is live until its pool cleanup closes the slot;
        // during a guest call nginx touches no request (single thread).
        let request = unsafe { &*r };
        match path {
            // SAFETY: as above.
            [b"ngx", name] => unsafe { variable(r, name) },
            [b"request", b"path"] => Some(request.unparsed_uri.as_bytes().to_vec()),
            [b"request", b"method"] => Some(request.method_name.as_bytes().to_vec()),
            [b"backend"] => {
                bridge::with_slot(context_id, |s| s.backend().map(<[u8]>::to_vec)).flatten()
            }
            _ => None,
        }
    }

    fn set_property(
        &mut self,
        context_id: u32,
        path: &[&[u8]],
        value: &[u8],
    ) -> Result<(), Status> {
        bridge::with(|b| {
            let is_backend = match path {
                [b"backend"] => true,
                [b"ngx", name] => b.backend_vars.iter().any(|v| v == name),
                _ => return Err(Status::NotFound),
            };
            let slot = b.slots.get_mut(&context_id).ok_or(Status::NotFound)?;
            if is_backend {
                slot.set_backend(value);
            } else if let [b"ngx", name] = path {
                slot.ngx_vars.push((name.to_vec(), value.to_vec()));
            }
            Ok(())
        })
    }
}

/// The value of nginx variable `name` for `r`, if it has one.
///
/// # Safety
/// `r` must be a live request.
unsafe fn variable(r: *mut ngx_http_request_t, name: &[u8]) -> Option<Vec<u8>> {
    let mut lower = name.to_ascii_lowercase();
    let mut s = ngx_str_t {
        len: lower.len(),
        data: lower.as_mut_ptr(),
    };
    // SAFETY: `s` points at `lower`'s `len` bytes.
    let key = unsafe { ngx_hash_key(s.data, s.len) };
    // SAFETY: a live request (the contract) and a name alive for the call; nginx
    // keeps nothing of it (a variable's value lives in the request pool).
    let v = unsafe { ngx_http_get_variable(r, &mut s, key) };
    // SAFETY: null or the request's value of the variable, in its pool.
    let v = unsafe { v.as_ref() }?;
    if v.not_found() != 0 || v.valid() == 0 {
        return None;
    }
    // SAFETY: a valid, found value holds `len` bytes at `data`.
    Some(unsafe { core::slice::from_raw_parts(v.data, v.len() as usize) }.to_vec())
}

/// Calls go out on nginx's event loop; their answers come back through
/// `worker::deliver_http_call_response`.
pub struct EventLoopCalls;

impl HttpCalls for EventLoopCalls {
    fn dispatch(
        &mut self,
        context_id: u32,
        token: u32,
        request: HttpCallRequest,
    ) -> Result<(), Status> {
        let cluster = bridge::with(|b| {
            b.clusters
                .iter()
                .find(|c| c.name == request.upstream)
                .cloned()
        });
        let Some(cluster) = cluster else {
            ngx_log_error!(
                NGX_LOG_ERR,
                cycle_log(),
                "set_backend: http call to unknown cluster \"{}\" (declare it with set_backend_cluster)",
                request.upstream
            );
            return Err(Status::BadArgument);
        };
        let bytes = http_wire::encode_request(&request.headers, &request.body).map_err(|why| {
            ngx_log_error!(
                NGX_LOG_ERR,
                cycle_log(),
                "set_backend: http call to \"{}\" refused: {}",
                request.upstream,
                why
            );
            Status::BadArgument
        })?;
        let timeout = match request.timeout_ms {
            0 => DEFAULT_CALL_TIMEOUT_MS,
            t => t.min(MAX_CALL_TIMEOUT_MS),
        };
        bridge::with(|b| {
            b.calls.insert(token, context_id);
            if let Some(slot) = b.slots.get_mut(&context_id) {
                slot.pending_calls += 1;
            }
        });
        http_call::start(
            &cluster,
            bytes,
            timeout as ngx_msec_t,
            Box::new(move |resp| worker::deliver_http_call_response(token, resp)),
        );
        Ok(())
    }
}

pub struct RequestStreams;

impl Streams for RequestStreams {
    fn send_local_response(
        &mut self,
        context_id: u32,
        response: LocalResponse,
    ) -> Result<(), Status> {
        bridge::with_slot(context_id, |s| {
            if s.request.is_none() {
                return Err(Status::NotFound);
            }
            s.local_response = Some(response);
            Ok(())
        })
        .unwrap_or(Err(Status::NotFound))?;
        bridge::with(|b| b.woken.push(context_id));
        Ok(())
    }

    fn continue_stream(&mut self, context_id: u32, stream: StreamType) -> Result<(), Status> {
        if stream != StreamType::HttpRequest {
            return Err(Status::Unimplemented);
        }
        bridge::with_slot(context_id, |s| s.continued = true).ok_or(Status::NotFound)?;
        bridge::with(|b| b.woken.push(context_id));
        Ok(())
    }
}
