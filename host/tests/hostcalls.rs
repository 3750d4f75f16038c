//! One test per group of implemented host functions, driven from WAT filters.

mod common;

use std::sync::Arc;

use common::*;
use proxy_wasm_host::{
    Event, FilterOptions, HeaderMap, LogLevel, MemorySharedData, MetricType, Status,
};

#[test]
fn request_header_map_read_and_write() {
    let (new_pairs, new_len) = wat_map(&[("k", "v")]);
    let body = format!(
        r#"
      (data (i32.const 2048) ":authority")   ;; 10
      (data (i32.const 2064) "x-a")          ;; 3
      (data (i32.const 2080) "1")
      (data (i32.const 2096) "host")         ;; 4
      (data (i32.const 2112) "missing")      ;; 7
      (data (i32.const 2128) "{new_pairs}")
      (func (export "proxy_on_request_headers") (param $ctx i32) (param $n i32) (param i32) (result i32)
        (if (i32.eq (local.get $n) (i32.const 1)) (then
          ;; one header: replace the whole map
          (call $report (i32.const 110) (i32.const 1) (call $proxy_set_header_map_pairs (i32.const 0) (i32.const 2128) (i32.const {new_len})))
          (return (i32.const 0))))
        (call $report (i32.const 100) (i32.const 1) (local.get $n))
        (drop (call $proxy_get_header_map_value (i32.const 0) (i32.const 2048) (i32.const 10) (i32.const 1008) (i32.const 1012)))
        (call $report_bytes (i32.const 101) (i32.const 1) (i32.load (i32.const 1008)) (i32.load (i32.const 1012)))
        (drop (call $proxy_get_header_map_size (i32.const 0) (i32.const 1016)))
        (call $report (i32.const 102) (i32.const 1) (i32.load (i32.const 1016)))
        (call $report (i32.const 103) (i32.const 1) (call $proxy_add_header_map_value (i32.const 0) (i32.const 2064) (i32.const 3) (i32.const 2080) (i32.const 1)))
        (call $report (i32.const 104) (i32.const 1) (call $proxy_add_header_map_value (i32.const 0) (i32.const 2064) (i32.const 3) (i32.const 2080) (i32.const 1)))
        (call $report (i32.const 105) (i32.const 1) (call $proxy_replace_header_map_value (i32.const 0) (i32.const 2096) (i32.const 4) (i32.const 2080) (i32.const 1)))
        (call $report (i32.const 106) (i32.const 1) (call $proxy_remove_header_map_value (i32.const 0) (i32.const 2112) (i32.const 7)))
        (call $report (i32.const 107) (i32.const 1) (call $proxy_get_header_map_value (i32.const 0) (i32.const 2112) (i32.const 7) (i32.const 1008) (i32.const 1012)))
        (call $report (i32.const 108) (i32.const 1) (call $proxy_get_header_map_size (i32.const 42) (i32.const 1016)))
        (call $report (i32.const 109) (i32.const 1) (call $proxy_get_header_map_size (i32.const 6) (i32.const 1016)))
        (drop (call $proxy_get_header_map_pairs (i32.const 0) (i32.const 1008) (i32.const 1012)))
        (call $report_bytes (i32.const 111) (i32.const 1) (i32.load (i32.const 1008)) (i32.load (i32.const 1012)))
        (call $report (i32.const 112) (i32.const 1) (call $proxy_add_header_map_value (i32.const 6) (i32.const 2064) (i32.const 3) (i32.const 2080) (i32.const 1)))
        (i32.const 0))"#
    );
    let mut h = Harness::new(&body);
    let headers = [
        (":authority", "Example.COM:8080"),
        (":method", "GET"),
        (":path", "/x"),
        ("host", "other"),
    ];
    let (id, action) = h.request(&headers);
    action.unwrap();
    assert_eq!(h.num(id, "a"), 4, "num_headers");
    assert_eq!(
        h.bytes(id, "b").unwrap(),
        b"Example.COM:8080",
        ":authority as received"
    );
    assert_eq!(
        h.num(id, "c") as usize,
        HeaderMap::from_pairs(headers).serialized_len()
    );
    assert_eq!(
        (
            h.num(id, "d"),
            h.num(id, "e"),
            h.num(id, "f"),
            h.num(id, "g")
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(h.num(id, "h"), Status::NotFound as u32, "missing key");
    assert_eq!(h.num(id, "i"), Status::BadArgument as u32, "unknown map");
    assert_eq!(
        h.num(id, "j"),
        Status::NotFound as u32,
        "no call response here"
    );
    assert_eq!(
        h.num(id, "m"),
        Status::BadArgument as u32,
        "call response maps are read-only"
    );
    let expected = HeaderMap::from_pairs([
        (":authority", "Example.COM:8080"),
        (":method", "GET"),
        (":path", "/x"),
        ("host", "1"),
        ("x-a", "1"),
        ("x-a", "1"),
    ]);
    assert_eq!(h.host.request_headers(id).unwrap(), &expected);
    assert_eq!(
        HeaderMap::deserialize(&h.bytes(id, "l").unwrap()).unwrap(),
        expected,
        "pairs as serialized"
    );

    let (id2, _) = h.request(&[("only", "one")]);
    assert_eq!(h.num(id2, "k"), 0);
    assert_eq!(
        h.host.request_headers(id2).unwrap(),
        &HeaderMap::from_pairs([("k", "v")])
    );
}

#[test]
fn properties_go_to_the_embedder_by_path() {
    let body = r#"
      (data (i32.const 2048) "ngx\00backend")    ;; 11
      (data (i32.const 2064) "10.0.0.7:3000")    ;; 13
      (data (i32.const 2080) "plugin_name")      ;; 11
      (data (i32.const 2096) "nope")             ;; 4
      (data (i32.const 2112) "backend\00")       ;; 8, trailing NUL
      (data (i32.const 2128) "a\00a\00a\00a\00a\00a\00a\00a\00a\00a\00a\00a\00a\00a\00a\00a\00a") ;; 17 segments in 33 bytes; the first 31 are 16 segments
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (call $report (i32.const 100) (i32.const 1) (call $proxy_set_property (i32.const 2048) (i32.const 11) (i32.const 2064) (i32.const 13)))
        (call $report (i32.const 101) (i32.const 1) (call $proxy_get_property (i32.const 2048) (i32.const 11) (i32.const 1008) (i32.const 1012)))
        (call $report_bytes (i32.const 102) (i32.const 1) (i32.load (i32.const 1008)) (i32.load (i32.const 1012)))
        (drop (call $proxy_get_property (i32.const 2080) (i32.const 11) (i32.const 1008) (i32.const 1012)))
        (call $report_bytes (i32.const 103) (i32.const 1) (i32.load (i32.const 1008)) (i32.load (i32.const 1012)))
        (call $report (i32.const 104) (i32.const 1) (call $proxy_get_property (i32.const 2096) (i32.const 4) (i32.const 1008) (i32.const 1012)))
        (call $report (i32.const 105) (i32.const 1) (call $proxy_set_property (i32.const 2096) (i32.const 0) (i32.const 2064) (i32.const 1)))
        (call $report (i32.const 106) (i32.const 1) (call $proxy_set_property (i32.const 2112) (i32.const 8) (i32.const 2064) (i32.const 13)))
        (call $report (i32.const 107) (i32.const 1) (call $proxy_set_property (i32.const 2128) (i32.const 33) (i32.const 2064) (i32.const 13)))
        (call $report (i32.const 108) (i32.const 1) (call $proxy_set_property (i32.const 2128) (i32.const 31) (i32.const 2064) (i32.const 13)))
        (i32.const 0))"#;
    let opts = FilterOptions {
        plugin_name: "resolver".into(),
        ..Default::default()
    };
    let mut h = Harness::try_new(body, opts, Arc::new(MemorySharedData::new())).unwrap();
    let (id, _) = h.request(&[]);
    assert_eq!(h.num(id, "a"), 0);
    assert_eq!(h.num(id, "b"), 0);
    assert_eq!(h.bytes(id, "c").unwrap(), b"10.0.0.7:3000");
    assert_eq!(
        h.bytes(id, "ngx.backend").unwrap(),
        b"10.0.0.7:3000",
        "path segments reach the sink"
    );
    assert_eq!(
        h.bytes(id, "backend").unwrap(),
        b"10.0.0.7:3000",
        "a trailing NUL ends the path"
    );
    assert_eq!(h.bytes(id, "d").unwrap(), b"resolver");
    assert_eq!(h.num(id, "e"), Status::NotFound as u32);
    assert_eq!(h.num(id, "f"), Status::BadArgument as u32, "empty path");
    assert_eq!(h.num(id, "g"), 0);
    assert_eq!(h.num(id, "h"), Status::BadArgument as u32, "17 segments");
    assert_eq!(h.num(id, "i"), 0, "16 segments");
}

#[test]
fn logging_log_level_and_fd_write() {
    let body = r#"
      (data (i32.const 2048) "hello from the filter")  ;; 21
      (data (i32.const 1100) "\00\08\00\00\05\00\00\00")    ;; iovec: ptr 2048, len 5
      (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
        (call $report (i32.const 100) (i32.const 1) (call $proxy_log (i32.const 3) (i32.const 2048) (i32.const 21)))
        (call $report (i32.const 101) (i32.const 1) (call $proxy_log (i32.const 9) (i32.const 2048) (i32.const 21)))
        (call $report (i32.const 102) (i32.const 1) (call $proxy_get_log_level (i32.const 1016)))
        (call $report (i32.const 103) (i32.const 1) (i32.load (i32.const 1016)))
        (call $report (i32.const 104) (i32.const 1) (call $fd_write (i32.const 2) (i32.const 1100) (i32.const 1) (i32.const 1016)))
        (call $report (i32.const 105) (i32.const 1) (i32.load (i32.const 1016)))
        (call $report (i32.const 106) (i32.const 1) (call $fd_write (i32.const 7) (i32.const 1100) (i32.const 1) (i32.const 1016)))
        (i32.const 1))"#;
    let h = Harness::new(body);
    assert_eq!(h.num(1, "a"), 0);
    assert_eq!(h.num(1, "b"), Status::BadArgument as u32, "unknown level");
    assert_eq!(h.num(1, "c"), 0);
    assert_eq!(
        h.num(1, "d"),
        LogLevel::Trace as u32,
        "the recorder keeps everything"
    );
    assert_eq!(h.num(1, "e"), 0, "fd_write SUCCESS");
    assert_eq!(h.num(1, "f"), 5);
    assert_eq!(h.num(1, "g"), 8, "BADF for other descriptors");
    let logs: Vec<_> = h
        .all_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Log { level, message, .. } => Some((level, message)),
            _ => None,
        })
        .collect();
    assert_eq!(
        logs,
        [
            (LogLevel::Warn, "hello from the filter".to_owned()),
            (LogLevel::Error, "hello".to_owned())
        ]
    );
}

#[test]
fn clocks_use_the_embedder_clock() {
    let body = r#"
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (call $report (i32.const 100) (i32.const 1) (call $proxy_get_current_time_nanoseconds (i32.const 1008)))
        (call $report_bytes (i32.const 101) (i32.const 1) (i32.const 1008) (i32.const 8))
        (call $report (i32.const 102) (i32.const 1) (call $clock_time_get (i32.const 1) (i64.const 0) (i32.const 1016)))
        (call $report_bytes (i32.const 103) (i32.const 1) (i32.const 1016) (i32.const 8))
        (call $report (i32.const 104) (i32.const 1) (call $clock_time_get (i32.const 9) (i64.const 0) (i32.const 1016)))
        (i32.const 0))"#;
    let mut h = Harness::new(body);
    h.recorder.set_time_nanos(Some(1_700_000_000_123_456_789));
    let (id, _) = h.request(&[]);
    assert_eq!(h.num(id, "a"), 0);
    assert_eq!(
        h.bytes(id, "b").unwrap(),
        1_700_000_000_123_456_789u64.to_le_bytes()
    );
    assert_eq!(h.num(id, "c"), 0);
    assert_eq!(
        h.bytes(id, "d").unwrap(),
        1_700_000_000_123_456_789u64.to_le_bytes()
    );
    assert_eq!(h.num(id, "e"), 58, "NOTSUP for unknown clocks");
}

#[test]
fn metrics_define_increment_record_get() {
    let body = r#"
      (data (i32.const 2048) "requests")  ;; 8
      (data (i32.const 2064) "inflight")  ;; 8
      (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
        (local $c i32) (local $g i32)
        (drop (call $proxy_define_metric (i32.const 0) (i32.const 2048) (i32.const 8) (i32.const 1008)))
        (local.set $c (i32.load (i32.const 1008)))
        (drop (call $proxy_define_metric (i32.const 1) (i32.const 2064) (i32.const 8) (i32.const 1008)))
        (local.set $g (i32.load (i32.const 1008)))
        (call $report (i32.const 100) (i32.const 1) (call $proxy_increment_metric (local.get $c) (i64.const 5)))
        (call $report (i32.const 101) (i32.const 1) (call $proxy_increment_metric (local.get $c) (i64.const -1)))
        (call $report (i32.const 102) (i32.const 1) (call $proxy_increment_metric (local.get $g) (i64.const 3)))
        (call $report (i32.const 103) (i32.const 1) (call $proxy_increment_metric (local.get $g) (i64.const -1)))
        (call $report (i32.const 104) (i32.const 1) (call $proxy_get_metric (local.get $c) (i32.const 1016)))
        (call $report (i32.const 105) (i32.const 1) (i32.load (i32.const 1016)))
        (call $report (i32.const 106) (i32.const 1) (call $proxy_record_metric (local.get $g) (i64.const 40)))
        (call $report (i32.const 107) (i32.const 1) (call $proxy_get_metric (i32.const 999) (i32.const 1016)))
        (call $report (i32.const 108) (i32.const 1) (call $proxy_define_metric (i32.const 7) (i32.const 2048) (i32.const 8) (i32.const 1008)))
        (call $report (i32.const 109) (i32.const 1) (call $proxy_increment_metric (i32.const 0) (i64.const 1)))
        (i32.const 1))"#;
    let h = Harness::new(body);
    assert_eq!(
        (h.num(1, "a"), h.num(1, "b")),
        (0, Status::BadArgument as u32),
        "counters only go up"
    );
    assert_eq!((h.num(1, "c"), h.num(1, "d")), (0, 0));
    assert_eq!((h.num(1, "e"), h.num(1, "f")), (0, 5));
    assert_eq!(h.num(1, "g"), 0);
    assert_eq!(h.num(1, "h"), Status::NotFound as u32);
    assert_eq!(
        h.num(1, "i"),
        Status::BadArgument as u32,
        "unknown metric type"
    );
    assert_eq!(h.num(1, "j"), Status::NotFound as u32, "id 0");
    let m = h.host.metrics();
    assert_eq!(m.len(), 2);
    assert_eq!(
        (m[0].name.as_str(), m[0].kind, m[0].value),
        ("requests", MetricType::Counter, 5)
    );
    assert_eq!(
        (m[1].name.as_str(), m[1].kind, m[1].value),
        ("inflight", MetricType::Gauge, 40)
    );
}

#[test]
fn wasi_environment_and_arguments_are_empty() {
    let body = r#"
      (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
        (i32.store (i32.const 1008) (i32.const 99))
        (call $report (i32.const 100) (i32.const 1) (call $environ_sizes_get (i32.const 1008) (i32.const 1012)))
        (call $report (i32.const 101) (i32.const 1) (i32.load (i32.const 1008)))
        (call $report (i32.const 102) (i32.const 1) (call $args_sizes_get (i32.const 1008) (i32.const 1012)))
        (call $report (i32.const 103) (i32.const 1) (call $random_get (i32.const 1016) (i32.const 16)))
        (call $report (i32.const 104) (i32.const 1) (call $random_get (i32.const 1016) (i32.const 1000000)))
        (i32.const 1))"#;
    let h = Harness::new(body);
    assert_eq!(
        (h.num(1, "a"), h.num(1, "b"), h.num(1, "c"), h.num(1, "d")),
        (0, 0, 0, 0)
    );
    assert_eq!(h.num(1, "e"), 28, "INVAL for oversized requests");
}
