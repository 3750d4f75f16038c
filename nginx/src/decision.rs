//! What the filter decided for a request, acted on after its guest call (or when the
//! request is woken after a pause): continue → the backend goes to `$var` (and to
//! the balancer, which reads it from the request context) and the phases go on;
//! local response → nginx sends it; failure → 500; still paused → wait, bounded by
//! the pause timer.

use std::fmt::Display;

use ngx::ffi::{
    NGX_DECLINED, NGX_DONE, NGX_ERROR, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_LOG_ERR, ngx_int_t,
};
use ngx::http::{HttpModuleMainConf, Request};
use ngx::ngx_log_error;
use proxy_wasm_host::Action;

use crate::conf::LocConf;
use crate::error::RequestError;
use crate::metrics_text::{Outcome, request_counter};
use crate::request_ctx::RequestCtx;
use crate::{Module, bridge, edge_metrics, local_response, variable};

/// Acts on the filter's state after a guest call (`action`) or after a wake-up (`None`).
pub fn decide(
    r: &mut Request,
    ctx: &mut RequestCtx,
    lcf: &LocConf,
    action: Option<Action>,
) -> ngx_int_t {
    let Some(id) = ctx.context_id else {
        return NGX_DECLINED as ngx_int_t;
    };
    let pool = r.pool();
    let taken = bridge::with_slot(id, |s| {
        let kept = s.take_backend(|b| ctx.set_backend(&pool, b));
        (
            kept,
            std::mem::take(&mut s.ngx_vars),
            s.local_response.take(),
            s.continued,
            s.pending_calls,
            s.failed,
        )
    });
    let Some((kept, ngx_vars, local, continued, pending, failed)) = taken else {
        return fail(r, ctx, &RequestError::ContextLost);
    };
    if kept == Some(false) {
        finish(ctx, Outcome::Error);
        return NGX_ERROR as ngx_int_t;
    }
    variable::apply(r, ctx, lcf, &ngx_vars);
    if failed {
        ctx.stop_pause_timer();
        return fail(r, ctx, &RequestError::Failed);
    }
    if let Some(resp) = local {
        finish(ctx, Outcome::Page(resp.status));
        ctx.stop_pause_timer();
        return local_response::send(r, resp);
    }
    if action == Some(Action::Continue) || continued {
        finish(ctx, Outcome::Backend);
        ctx.paused = false;
        ctx.stop_pause_timer();
        return NGX_DECLINED as ngx_int_t;
    }
    if ctx.pause_timed_out {
        let limit = Module::main_conf(&*r).map_or(0, |m| m.pause_timeout());
        return fail(r, ctx, &RequestError::PauseTimeout { limit, pending });
    }
    // Paused: wait for a wake-up (worker::wake) or the pause timer. A request may
    // wait with no call of its own, e.g. joining another request's lookup.
    if !ctx.paused {
        ctx.paused = true;
        let Some(mcf) = Module::main_conf(&*r) else {
            return NGX_ERROR as ngx_int_t;
        };
        ctx.arm_pause_timer(r, mcf.pause_timeout());
    }
    NGX_DONE as ngx_int_t
}

/// The request's routing is decided: it is marked done, and counted by how it ended
/// and whether it waited (paused for a lookup) first.
fn finish(ctx: &mut RequestCtx, outcome: Outcome) {
    ctx.done = true;
    edge_metrics::count(request_counter(ctx.paused, outcome));
}

/// The filter run failed: counted, logged, and the request answered 500.
pub fn fail(r: &Request, ctx: &mut RequestCtx, why: &RequestError) -> ngx_int_t {
    finish(ctx, Outcome::Error);
    internal_error(r, why)
}

/// A request that failed before it had a context: counted as an error, not paused.
pub fn count_unstarted_error() {
    edge_metrics::count(request_counter(false, Outcome::Error));
}

/// Logs why the request fails, naming the filter; the request gets a 500.
pub fn internal_error(r: &Request, why: &impl Display) -> ngx_int_t {
    let filter = Module::main_conf(r).and_then(|m| m.filter_path.as_deref());
    ngx_log_error!(
        NGX_LOG_ERR,
        r.log(),
        "set_backend: filter \"{}\": {}",
        filter.unwrap_or_default(),
        why
    );
    NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t
}
