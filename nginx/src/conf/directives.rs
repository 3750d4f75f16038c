//! The directive table and one handler per directive. Every handler either stores a
//! checked value or logs a message naming the directive and the bad argument, so
//! `nginx -t` says what is wrong.

use core::ffi::{c_char, c_void};
use core::ptr;

use ngx::core::Pool;
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::ngx_shm_zone_t;
use ngx::ffi::{
    NGX_CONF_NOARGS, NGX_CONF_TAKE1, NGX_CONF_TAKE2, NGX_HTTP_LOC_CONF, NGX_HTTP_LOC_CONF_OFFSET,
    NGX_HTTP_MAIN_CONF, NGX_HTTP_MAIN_CONF_OFFSET, NGX_HTTP_SRV_CONF, NGX_HTTP_SRV_CONF_OFFSET,
    NGX_HTTP_UPS_CONF, NGX_HTTP_VAR_CHANGEABLE, NGX_LOG_EMERG, ngx_command_t, ngx_conf_full_name,
    ngx_conf_t, ngx_http_add_variable, ngx_http_get_variable_index, ngx_msec_t, ngx_parse_size,
    ngx_parse_time, ngx_shared_memory_add, ngx_str_t, ngx_uint_t,
};
use ngx::http::{
    HttpModuleLocationConf, HttpModuleMainConf, HttpModuleServerConf, NgxHttpCoreModule,
    NgxHttpUpstreamModule,
};
use ngx::{ngx_conf_log_error, ngx_string};

use super::{LocConf, MainConf, UpstreamConf, cluster};
use crate::error::ConfError;
use crate::{Module, balancer, edge_metrics, filter_file, metrics_page, pool, shared, variable};

/// Smallest zone: nginx's slab allocator needs a few pages for itself.
const MIN_ZONE_SIZE: usize = 32 * 1024;

const MAIN: ngx_uint_t = NGX_HTTP_MAIN_CONF as ngx_uint_t;

/// nginx reads (and never writes) the table while it parses the configuration.
pub static mut COMMANDS: [ngx_command_t; 11] = [
    command(
        ngx_string!("set_backend_filter"),
        MAIN | NGX_CONF_TAKE1 as ngx_uint_t,
        set_filter,
        NGX_HTTP_MAIN_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_filter_config"),
        MAIN | NGX_CONF_TAKE1 as ngx_uint_t,
        set_filter_config,
        NGX_HTTP_MAIN_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_filter_config_file"),
        MAIN | NGX_CONF_TAKE1 as ngx_uint_t,
        set_filter_config_file,
        NGX_HTTP_MAIN_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_filter_timeout"),
        MAIN | NGX_CONF_TAKE1 as ngx_uint_t,
        set_filter_timeout,
        NGX_HTTP_MAIN_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_pause_timeout"),
        MAIN | NGX_CONF_TAKE1 as ngx_uint_t,
        set_pause_timeout,
        NGX_HTTP_MAIN_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_shared_zone"),
        MAIN | NGX_CONF_TAKE2 as ngx_uint_t,
        set_shared_zone,
        NGX_HTTP_MAIN_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_cluster"),
        MAIN | NGX_CONF_TAKE2 as ngx_uint_t,
        set_cluster,
        NGX_HTTP_MAIN_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend"),
        (NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS | NGX_CONF_TAKE1) as ngx_uint_t,
        set_backend,
        NGX_HTTP_LOC_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_balancer"),
        (NGX_HTTP_UPS_CONF | NGX_CONF_NOARGS) as ngx_uint_t,
        set_balancer,
        NGX_HTTP_SRV_CONF_OFFSET,
    ),
    command(
        ngx_string!("set_backend_metrics"),
        (NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS) as ngx_uint_t,
        set_metrics,
        NGX_HTTP_LOC_CONF_OFFSET,
    ),
    ngx_command_t::empty(),
];

type SetFn = unsafe extern "C" fn(*mut ngx_conf_t, *mut ngx_command_t, *mut c_void) -> *mut c_char;

const fn command(name: ngx_str_t, type_: ngx_uint_t, set: SetFn, conf: usize) -> ngx_command_t {
    ngx_command_t {
        name,
        type_,
        set: Some(set),
        conf: conf as ngx_uint_t,
        offset: 0,
        post: ptr::null_mut(),
    }
}

/// The C entry nginx calls for a directive: runs `$body` with the directive and
/// this module's `$conf` struct of the level the command's offset selects.
macro_rules! directive {
    ($name:ident, $conf:ty, $body:path) => {
        unsafe extern "C" fn $name(
            cf: *mut ngx_conf_t,
            _cmd: *mut ngx_command_t,
            conf: *mut c_void,
        ) -> *mut c_char {
            // SAFETY: nginx calls a directive's handler with the configuration being
            // parsed and, for the offset COMMANDS gives this directive, this module's
            // configuration struct of that level: a `$conf` made by create_*_conf.
            unsafe { run::<$conf>(cf, conf, $body) }
        }
    };
}

/// Runs a directive's body; its error, if any, is logged after the directive's name.
///
/// # Safety
/// `cf` is the configuration nginx is parsing, during a directive's handler; `conf`
/// is this module's configuration struct `C` for the directive's level.
unsafe fn run<C>(
    cf: *mut ngx_conf_t,
    conf: *mut c_void,
    body: impl FnOnce(&Directive, &mut C) -> Result<(), ConfError>,
) -> *mut c_char {
    let d = Directive { cf };
    // SAFETY: the contract; nginx hands each configuration struct to one handler at a time.
    let conf = unsafe { &mut *conf.cast::<C>() };
    match body(&d, conf) {
        Ok(()) => NGX_CONF_OK,
        Err(ConfError::LoggedByNginx) => NGX_CONF_ERROR,
        Err(e) => {
            ngx_conf_log_error!(NGX_LOG_EMERG, cf, "\"{}\" {}", d.name(), e);
            NGX_CONF_ERROR
        }
    }
}

/// The directive being parsed: nginx's configuration state during its handler
/// (only `run` makes one).
struct Directive {
    cf: *mut ngx_conf_t,
}

impl Directive {
    fn conf(&self) -> &ngx_conf_t {
        // SAFETY: live for the handler's call (see `run`).
        unsafe { &*self.cf }
    }

    fn as_ptr(&self) -> *mut ngx_conf_t {
        self.cf
    }

    /// The configuration's pool: what is allocated in it lives for the cycle.
    fn pool(&self) -> Pool {
        // SAFETY: the configuration's pool is the live cycle's pool.
        unsafe { Pool::from_ngx_pool(self.conf().pool) }
    }

    /// The directive's words: its name, then its arguments (as many as the
    /// command's NGX_CONF_TAKE flags let nginx accept). They live in the
    /// configuration pool.
    fn words(&self) -> &[ngx_str_t] {
        // SAFETY: nginx fills `args` with the directive's words (`ngx_str_t`s)
        // before it calls the handler.
        unsafe { (*self.conf().args).as_slice() }
    }

    fn name(&self) -> &str {
        core::str::from_utf8(self.words()[0].as_bytes()).unwrap_or("?")
    }

    /// The arguments, as nginx strings (copies of the descriptors, same bytes).
    fn args(&self) -> Vec<ngx_str_t> {
        self.words()[1..].to_vec()
    }

    /// The arguments as UTF-8 (nginx.conf is bytes; ours are all text).
    fn str_args(&self) -> Result<Vec<String>, ConfError> {
        self.words()[1..]
            .iter()
            .map(|a| {
                a.to_str()
                    .map(str::to_string)
                    .map_err(|_| ConfError::NotUtf8)
            })
            .collect()
    }

    /// Resolves a path against nginx's configuration prefix (`-p`/`-c`), as other
    /// directives do.
    fn full_path(&self, path: &str) -> Result<String, ConfError> {
        let mut name =
            pool::copy_str(&self.pool(), path.as_bytes()).ok_or(ConfError::LoggedByNginx)?;
        // SAFETY: the live cycle, and a name in its pool (which the call may replace
        // by a longer copy in the same pool).
        if unsafe { ngx_conf_full_name(self.conf().cycle, &mut name, 1) } != 0 {
            return Err(ConfError::LoggedByNginx);
        }
        Ok(String::from_utf8_lossy(name.as_bytes()).into_owned())
    }

    fn read_file(&self, path: &str) -> Result<(String, Vec<u8>), ConfError> {
        let full = self.full_path(path)?;
        match std::fs::read(&full) {
            Ok(bytes) => Ok((full, bytes)),
            Err(source) => Err(ConfError::Read { path: full, source }),
        }
    }

    /// Adds a shared memory zone tagged with this module; Err(name) when another
    /// directive already uses the name.
    fn add_zone(
        &self,
        mut name: ngx_str_t,
        size: usize,
    ) -> Result<&'static mut ngx_shm_zone_t, ConfError> {
        // SAFETY: the configuration being parsed; the name lives in the configuration
        // pool or is static (nginx keeps it for the cycle); the tag is this module.
        let zone = unsafe {
            ngx_shared_memory_add(
                self.cf,
                &mut name,
                size,
                (&raw mut crate::ngx_http_set_backend_module).cast(),
            )
        };
        // SAFETY: null, or the zone entry nginx keeps in the cycle's list for the
        // cycle's life; nothing else refers to it while directives are parsed.
        let zone = unsafe { zone.as_mut() }.ok_or(ConfError::LoggedByNginx)?;
        // Data is null unless another directive (or module) took the name.
        if !zone.data.is_null() {
            return Err(ConfError::ZoneTaken(name.to_string()));
        }
        Ok(zone)
    }
}

directive!(set_filter, MainConf, filter);
directive!(set_filter_config, MainConf, filter_config);
directive!(set_filter_config_file, MainConf, filter_config_file);
directive!(set_filter_timeout, MainConf, filter_timeout);
directive!(set_pause_timeout, MainConf, pause_timeout);
directive!(set_shared_zone, MainConf, shared_zone);
directive!(set_cluster, MainConf, cluster);
directive!(set_backend, LocConf, backend);
directive!(set_balancer, UpstreamConf, balancer);
directive!(set_metrics, LocConf, metrics);

fn filter(d: &Directive, mcf: &mut MainConf) -> Result<(), ConfError> {
    if mcf.filter_path.is_some() {
        return Err(ConfError::Duplicate);
    }
    let a = d.str_args()?;
    let (full, bytes) = d.read_file(&a[0])?;
    match filter_file::check(&bytes) {
        Ok(kind) => mcf.filter_precompiled = kind == filter_file::Kind::Precompiled,
        Err(source) => return Err(ConfError::FilterFile { path: full, source }),
    }
    mcf.filter_path = Some(full);
    mcf.filter_bytes = bytes;
    Ok(())
}

fn store_config(mcf: &mut MainConf, bytes: Vec<u8>, origin: String) -> Result<(), ConfError> {
    if mcf.filter_config.is_some() {
        return Err(ConfError::DuplicateFilterConfig);
    }
    if let Err(source) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        return Err(ConfError::Json { origin, source });
    }
    mcf.filter_config = Some(bytes);
    Ok(())
}

fn filter_config(d: &Directive, mcf: &mut MainConf) -> Result<(), ConfError> {
    let a = d.str_args()?;
    store_config(mcf, a[0].as_bytes().to_vec(), "value".into())
}

fn filter_config_file(d: &Directive, mcf: &mut MainConf) -> Result<(), ConfError> {
    let a = d.str_args()?;
    let (full, bytes) = d.read_file(&a[0])?;
    store_config(mcf, bytes, format!("file \"{full}\""))
}

/// A positive duration argument (`10ms`, `1s`) for a setting not set yet.
fn parse_time(d: &Directive, slot: &Option<ngx_msec_t>) -> Result<ngx_msec_t, ConfError> {
    if slot.is_some() {
        return Err(ConfError::Duplicate);
    }
    let mut value = d.args()[0];
    // SAFETY: an argument's string, in the configuration pool; nginx's parser only reads it.
    let ms = unsafe { ngx_parse_time(&mut value, 0) };
    if ms <= 0 {
        return Err(ConfError::Time(value.to_string()));
    }
    Ok(ms as ngx_msec_t)
}

fn filter_timeout(d: &Directive, mcf: &mut MainConf) -> Result<(), ConfError> {
    mcf.filter_timeout = Some(parse_time(d, &mcf.filter_timeout)?);
    Ok(())
}

fn pause_timeout(d: &Directive, mcf: &mut MainConf) -> Result<(), ConfError> {
    mcf.pause_timeout = Some(parse_time(d, &mcf.pause_timeout)?);
    Ok(())
}

fn shared_zone(d: &Directive, mcf: &mut MainConf) -> Result<(), ConfError> {
    if !mcf.shm_zone.is_null() {
        return Err(ConfError::Duplicate);
    }
    let [name, mut size_arg] = d.args()[..] else {
        return Err(ConfError::LoggedByNginx);
    };
    if name.len == 0 {
        return Err(ConfError::ZoneName);
    }
    // SAFETY: an argument's string, in the configuration pool; nginx's parser only reads it.
    let size = unsafe { ngx_parse_size(&mut size_arg) };
    if size < 0 {
        return Err(ConfError::Size(size_arg.to_string()));
    }
    if (size as usize) < MIN_ZONE_SIZE {
        return Err(ConfError::ZoneTooSmall {
            name: name.to_string(),
            size,
        });
    }
    let zone = d.add_zone(name, size as usize)?;
    zone.init = Some(shared::init_zone);
    zone.data = ptr::from_mut(zone).cast();
    mcf.shm_zone = zone;
    Ok(())
}

fn cluster(d: &Directive, mcf: &mut MainConf) -> Result<(), ConfError> {
    let a = d.str_args()?;
    if mcf.clusters.iter().any(|c| c.name == a[0]) {
        return Err(ConfError::ClusterTwice(a[0].clone()));
    }
    mcf.clusters.push(cluster::parse(&d.pool(), &a[0], &a[1])?);
    Ok(())
}

fn backend(d: &Directive, lcf: &mut LocConf) -> Result<(), ConfError> {
    if lcf.set_backend.is_some() {
        return Err(ConfError::Duplicate);
    }
    let mut index = None;
    let mut var_name = None;
    if let [v] = d.args()[..] {
        let Some(mut name) = v.strip_prefix(b"$").filter(|n| n.len > 0) else {
            return Err(ConfError::VariableName(v.to_string()));
        };
        // SAFETY: the configuration being parsed; nginx copies the name into its
        // variable entry.
        let var = unsafe {
            ngx_http_add_variable(d.as_ptr(), &mut name, NGX_HTTP_VAR_CHANGEABLE as ngx_uint_t)
        };
        // SAFETY: null, or the variable entry nginx added or found, in the
        // configuration pool; nothing else refers to it during this call.
        let var = unsafe { var.as_mut() }.ok_or(ConfError::LoggedByNginx)?;
        // Another module (e.g. `set`) may own the variable already; then we only write to it.
        if var.get_handler.is_none() {
            var.get_handler = Some(variable::get_backend);
        }
        // SAFETY: as for ngx_http_add_variable.
        let i = unsafe { ngx_http_get_variable_index(d.as_ptr(), &mut name) };
        if i < 0 {
            return Err(ConfError::LoggedByNginx);
        }
        index = Some(i);
        var_name = Some(name.as_bytes().to_ascii_lowercase());
    }
    lcf.set_backend = Some(index);
    let mcf = Module::main_conf_mut(d.conf()).ok_or(ConfError::LoggedByNginx)?;
    mcf.used = true;
    if let Some(n) = var_name
        && !mcf.backend_vars.contains(&n)
    {
        mcf.backend_vars.push(n);
    }
    Ok(())
}

fn balancer(d: &Directive, ucf: &mut UpstreamConf) -> Result<(), ConfError> {
    if ucf.balancer {
        return Err(ConfError::Duplicate);
    }
    let uscf = NgxHttpUpstreamModule::server_conf_mut(d.conf()).ok_or(ConfError::LoggedByNginx)?;
    if uscf.peer.init_upstream.is_some() {
        return Err(ConfError::BalancerNotFirst);
    }
    if !balancer::add_placeholder_server(uscf) {
        return Err(ConfError::LoggedByNginx);
    }
    uscf.peer.init_upstream = Some(balancer::init_upstream);
    ucf.balancer = true;
    Ok(())
}

/// `set_backend_metrics;`: this location answers with the edge metrics. The first use
/// adds the zone they live in.
fn metrics(d: &Directive, _lcf: &mut LocConf) -> Result<(), ConfError> {
    let clcf = NgxHttpCoreModule::location_conf_mut(d.conf()).ok_or(ConfError::LoggedByNginx)?;
    if clcf.handler.is_some() {
        return Err(ConfError::ContentHandlerTaken);
    }
    clcf.handler = Some(metrics_page::handler);
    let mcf = Module::main_conf_mut(d.conf()).ok_or(ConfError::LoggedByNginx)?;
    if !mcf.metrics_zone.is_null() {
        return Ok(());
    }
    let name = ngx_str_t {
        len: edge_metrics::ZONE_NAME.len(),
        data: edge_metrics::ZONE_NAME.as_ptr().cast_mut(),
    };
    let zone = match d.add_zone(name, edge_metrics::ZONE_SIZE) {
        Err(ConfError::ZoneTaken(_)) => {
            return Err(ConfError::MetricsZoneTaken(edge_metrics::ZONE_NAME));
        }
        other => other?,
    };
    zone.init = Some(edge_metrics::init_zone);
    zone.data = ptr::from_mut(zone).cast();
    mcf.metrics_zone = zone;
    Ok(())
}
