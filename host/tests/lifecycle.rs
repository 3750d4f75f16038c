//! Context lifecycle order, configuration buffers, ticks, proxy_done.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use proxy_wasm_host::{Action, FilterOptions, HostError, MemorySharedData, Status};

const LOGGING: &str = r#"
  (data (i32.const 2048) "vm_start")
  (data (i32.const 2064) "configure")
  (data (i32.const 2080) "create")
  (data (i32.const 2096) "headers")
  (data (i32.const 2112) "done")
  (data (i32.const 2128) "log")
  (data (i32.const 2144) "delete")
  (data (i32.const 2160) "tick")
  (global $deferred (mut i32) (i32.const 0))
  (func $log (param $p i32) (param $l i32) (drop (call $proxy_log (i32.const 2) (local.get $p) (local.get $l))))
  (func (export "proxy_on_context_create") (param i32 i32) (call $log (i32.const 2080) (i32.const 6)))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (call $log (i32.const 2048) (i32.const 8)) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (call $log (i32.const 2064) (i32.const 9))
    (drop (call $proxy_set_tick_period_milliseconds (i32.const 250)))
    (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (call $log (i32.const 2096) (i32.const 7)) (i32.const 0))
  ;; A request with 2 headers asks for deferred completion.
  (func (export "proxy_on_done") (param $ctx i32) (result i32)
    (call $log (i32.const 2112) (i32.const 4))
    (if (result i32) (i32.eq (global.get $deferred) (i32.const 0)) (then (i32.const 1)) (else (i32.const 0))))
  (func (export "proxy_on_log") (param i32) (call $log (i32.const 2128) (i32.const 3)))
  (func (export "proxy_on_delete") (param i32) (call $log (i32.const 2144) (i32.const 6)))
  (func (export "proxy_on_tick") (param i32)
    (call $log (i32.const 2160) (i32.const 4))
    (if (global.get $deferred) (then
      (call $report (i32.const 100) (i32.const 1) (call $proxy_set_effective_context (global.get $deferred)))
      (call $report (i32.const 101) (i32.const 1) (call $proxy_done))
      (call $report (i32.const 102) (i32.const 1) (call $proxy_done))
      (global.set $deferred (i32.const 0)))))
  (func (export "defer") (param i32))
"#;

#[test]
fn callbacks_run_in_spec_order() {
    let mut h = Harness::new(LOGGING);
    assert_eq!(h.logs(), ["create", "vm_start", "configure"]);
    let (id, action) = h.request(&[(":authority", "example.com")]);
    assert_eq!(action.unwrap(), Action::Continue);
    assert!(id > 1, "HTTP contexts never reuse the root id");
    h.host.finish_request(id).unwrap();
    assert_eq!(
        h.logs()[3..],
        ["create", "headers", "done", "log", "delete"]
    );
    assert!(h.host.http_context_ids().is_empty());
    assert_eq!(h.host.tick_period(), Some(Duration::from_millis(250)));
    h.host.on_tick().unwrap();
    assert_eq!(h.logs().last().unwrap(), "tick");
}

#[test]
fn on_done_false_waits_for_proxy_done() {
    // Same filter, but $deferred holds the context id to finish later.
    let body = LOGGING.replace(
        "(func (export \"proxy_on_request_headers\") (param i32 i32 i32) (result i32) (call $log (i32.const 2096) (i32.const 7)) (i32.const 0))",
        "(func (export \"proxy_on_request_headers\") (param $c i32) (param i32 i32) (result i32) (global.set $deferred (local.get $c)) (i32.const 0))",
    );
    let mut h = Harness::new(&body);
    let (id, _) = h.request(&[]);
    h.host.finish_request(id).unwrap();
    assert_eq!(
        h.logs().last().unwrap(),
        "done",
        "no on_log before proxy_done"
    );
    assert_eq!(h.host.http_context_ids(), [id]);
    h.host.on_tick().unwrap();
    assert_eq!(
        h.num(id, "a"),
        Status::Ok as u32,
        "set_effective_context (reported from the new effective context)"
    );
    assert_eq!(h.num(id, "b"), Status::Ok as u32, "proxy_done");
    assert_eq!(h.num(id, "c"), Status::NotFound as u32, "second proxy_done");
    assert_eq!(h.logs()[h.logs().len() - 2..], ["log", "delete"]);
    assert!(h.host.http_context_ids().is_empty());
}

#[test]
fn set_effective_context_rejects_unknown_ids() {
    let h = Harness::new(
        r#"(func (export "proxy_on_vm_start") (param i32 i32) (result i32)
            (call $report (i32.const 100) (i32.const 1) (call $proxy_set_effective_context (i32.const 77)))
            (call $report (i32.const 101) (i32.const 1) (call $proxy_done))
            (i32.const 1))"#,
    );
    assert_eq!(h.num(1, "a"), Status::BadArgument as u32);
    assert_eq!(
        h.num(1, "b"),
        Status::NotFound as u32,
        "root context is not pending finalization"
    );
}

#[test]
fn configuration_buffers_are_readable() {
    let body = r#"
      (func $read (param $buf i32) (param $start i32) (param $max i32) (param $name i32)
        (call $report (local.get $name) (i32.const 1)
          (call $proxy_get_buffer_bytes (local.get $buf) (local.get $start) (local.get $max) (i32.const 1008) (i32.const 1012)))
        (call $report_bytes (i32.add (local.get $name) (i32.const 1)) (i32.const 1) (i32.load (i32.const 1008)) (i32.load (i32.const 1012))))
      (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
        (call $report (i32.const 100) (i32.const 1) (local.get 1))                 ;; a: size argument
        (call $read (i32.const 6) (i32.const 0) (i32.const 100) (i32.const 101))   ;; b, c: whole vm config
        (call $read (i32.const 7) (i32.const 2) (i32.const 3) (i32.const 103))     ;; d, e: plugin config slice
        (call $report (i32.const 105) (i32.const 1) (call $proxy_get_buffer_status (i32.const 7) (i32.const 1016) (i32.const 1020)))
        (call $report (i32.const 106) (i32.const 1) (i32.load (i32.const 1016)))   ;; g: plugin config size
        (call $report (i32.const 107) (i32.const 1) (call $proxy_get_buffer_bytes (i32.const 7) (i32.const 999) (i32.const 1) (i32.const 1008) (i32.const 1012)))
        (call $report (i32.const 108) (i32.const 1) (call $proxy_get_buffer_bytes (i32.const 99) (i32.const 0) (i32.const 1) (i32.const 1008) (i32.const 1012)))
        (call $report (i32.const 109) (i32.const 1) (call $proxy_get_buffer_bytes (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 1008) (i32.const 1012)))
        (call $report (i32.const 110) (i32.const 1) (call $proxy_get_buffer_bytes (i32.const 4) (i32.const 0) (i32.const 1) (i32.const 1008) (i32.const 1012)))
        (i32.const 1))
      (func (export "proxy_on_configure") (param i32 i32) (result i32)
        (call $report (i32.const 111) (i32.const 1) (local.get 1)) (i32.const 1))"#;
    let opts = FilterOptions {
        vm_config: b"vm-conf".to_vec(),
        plugin_config: b"{\"k\":1}".to_vec(),
        ..Default::default()
    };
    let h = Harness::try_new(body, opts, Arc::new(MemorySharedData::new())).unwrap();
    assert_eq!(h.num(1, "a"), 7);
    assert_eq!(h.num(1, "b"), 0);
    assert_eq!(h.bytes(1, "c").unwrap(), b"vm-conf");
    assert_eq!(h.bytes(1, "e").unwrap(), b"k\":");
    assert_eq!(h.num(1, "f"), 0);
    assert_eq!(h.num(1, "g"), 7);
    assert_eq!(
        h.num(1, "h"),
        Status::BadArgument as u32,
        "start past the end"
    );
    assert_eq!(h.num(1, "i"), Status::BadArgument as u32, "unknown buffer");
    assert_eq!(
        h.num(1, "j"),
        Status::NotFound as u32,
        "request body is not available"
    );
    assert_eq!(
        h.num(1, "k"),
        Status::NotFound as u32,
        "no http call response outside its callback"
    );
    assert_eq!(h.num(1, "l"), 7, "configure gets the plugin config size");
}

#[test]
fn refusing_configuration_fails_start_with_a_clear_error() {
    let err = Harness::try_new(
        r#"(func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 0))"#,
        FilterOptions::default(),
        Arc::new(MemorySharedData::new()),
    )
    .err()
    .unwrap();
    assert!(matches!(
        err,
        HostError::StartRefused {
            callback: "proxy_on_configure"
        }
    ));
    assert!(
        err.to_string()
            .contains("proxy_on_configure returned false")
    );
}
