//! Shared data through the guest: CAS exactly per spec, full-key comparison,
//! one store seen by several filter hosts (nginx workers).

mod common;

use std::sync::Arc;

use common::*;
use proxy_wasm_host::{FilterOptions, MemorySharedData, SharedData, Status};

const BODY: &str = r#"
  (data (i32.const 2048) "route:a.example")  ;; 15
  (data (i32.const 2064) "v1v2v3")
  (func $get (param $klen i32) (param $name i32)
    (call $report (local.get $name) (i32.const 1)
      (call $proxy_get_shared_data (i32.const 2048) (local.get $klen) (i32.const 1008) (i32.const 1012) (i32.const 1016))))
  (func $set (param $v i32) (param $cas i32) (param $name i32)
    (call $report (local.get $name) (i32.const 1)
      (call $proxy_set_shared_data (i32.const 2048) (i32.const 15) (local.get $v) (i32.const 2) (local.get $cas))))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (local $cas i32)
    (call $get (i32.const 15) (i32.const 100))                 ;; a: NOT_FOUND
    (call $set (i32.const 2064) (i32.const 5) (i32.const 101)) ;; b: cas on absent key → CAS_MISMATCH
    (call $set (i32.const 2064) (i32.const 0) (i32.const 102)) ;; c: unconditional → OK
    (call $get (i32.const 15) (i32.const 103))                 ;; d: OK
    (local.set $cas (i32.load (i32.const 1016)))
    (call $report (i32.const 104) (i32.const 1) (local.get $cas))           ;; e: cas
    (call $report_bytes (i32.const 105) (i32.const 1) (i32.load (i32.const 1008)) (i32.load (i32.const 1012))) ;; f: value
    (call $set (i32.const 2066) (local.get $cas) (i32.const 106))           ;; g: matching cas → OK
    (call $set (i32.const 2068) (local.get $cas) (i32.const 107))           ;; h: stale cas → CAS_MISMATCH
    (call $set (i32.const 2068) (i32.const 0) (i32.const 108))              ;; i: cas 0 overwrites → OK
    (call $get (i32.const 14) (i32.const 109))                              ;; j: key prefix → NOT_FOUND
    (i32.const 0))"#;

#[test]
fn cas_semantics_follow_the_spec() {
    let mut h = Harness::new(BODY);
    let (id, _) = h.request(&[]);
    assert_eq!(h.num(id, "a"), Status::NotFound as u32);
    assert_eq!(h.num(id, "b"), Status::CasMismatch as u32);
    assert_eq!(h.num(id, "c"), 0);
    assert_eq!(h.num(id, "d"), 0);
    assert_ne!(h.num(id, "e"), 0, "cas of an existing entry is never 0");
    assert_eq!(h.bytes(id, "f").unwrap(), b"v1");
    assert_eq!(h.num(id, "g"), 0);
    assert_eq!(h.num(id, "h"), Status::CasMismatch as u32);
    assert_eq!(h.num(id, "i"), 0);
    assert_eq!(
        h.num(id, "j"),
        Status::NotFound as u32,
        "keys compare in full"
    );
    assert_eq!(h.shared.get(b"route:a.example").unwrap().0, b"v3");
}

#[test]
fn hosts_sharing_a_store_see_each_others_writes() {
    let shared = Arc::new(MemorySharedData::new());
    shared.set(b"route:a.example", b"10.0.0.7:3000", 0).unwrap();
    let reader = r#"
      (data (i32.const 2048) "route:a.example")
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (drop (call $proxy_get_shared_data (i32.const 2048) (i32.const 15) (i32.const 1008) (i32.const 1012) (i32.const 1016)))
        (call $report_bytes (i32.const 100) (i32.const 1) (i32.load (i32.const 1008)) (i32.load (i32.const 1012)))
        (i32.const 0))"#;
    let mut a = Harness::try_new(reader, FilterOptions::default(), shared.clone()).unwrap();
    let mut b = Harness::try_new(reader, FilterOptions::default(), shared.clone()).unwrap();
    let (ia, _) = a.request(&[]);
    assert_eq!(a.bytes(ia, "a").unwrap(), b"10.0.0.7:3000");
    shared.set(b"route:a.example", b"10.0.0.8:3000", 0).unwrap();
    let (ib, _) = b.request(&[]);
    assert_eq!(b.bytes(ib, "a").unwrap(), b"10.0.0.8:3000");
}
