//! proxy_http_call round trips, failed calls, local responses, ticks.

mod common;

use std::time::Duration;

use common::*;
use proxy_wasm_host::{Action, Event, HeaderMap, HostError, HttpCallResponse, Status, StreamType};

fn body() -> String {
    let (call_headers, call_len) = wat_map(&[
        (":method", "GET"),
        (":path", "/resolve/a.example"),
        (":authority", "route-api"),
    ]);
    let (no_authority, na_len) = wat_map(&[(":method", "GET"), (":path", "/x")]);
    let (resp_headers, rh_len) = wat_map(&[("content-type", "text/plain")]);
    format!(
        r#"
      (data (i32.const 2048) "route_api")        ;; 9
      (data (i32.const 2064) ":status")          ;; 7
      (data (i32.const 2080) "backend")          ;; 7
      (data (i32.const 2096) "no route")         ;; 8
      (data (i32.const 2112) "{resp_headers}")
      (data (i32.const 2304) "{call_headers}")
      (data (i32.const 2560) "{no_authority}")
      (func $call (param $name i32) (result i32)
        (call $report (local.get $name) (i32.const 1)
          (call $proxy_http_call (i32.const 2048) (i32.const 9) (i32.const 2304) (i32.const {call_len})
            (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 500) (i32.const 1020)))
        (i32.load (i32.const 1020)))
      (func (export "proxy_on_configure") (param i32 i32) (result i32)
        (drop (call $proxy_set_tick_period_milliseconds (i32.const 1000))) (i32.const 1))
      (func (export "proxy_on_tick") (param i32)
        (call $report (i32.const 110) (i32.const 1) (call $call (i32.const 111))))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (if (i32.eq (local.get 1) (i32.const 3)) (then unreachable))
        (call $report (i32.const 101) (i32.const 1) (call $call (i32.const 100)))   ;; a: status, b: token
        (call $report (i32.const 102) (i32.const 1)
          (call $proxy_http_call (i32.const 2048) (i32.const 9) (i32.const 2560) (i32.const {na_len})
            (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 500) (i32.const 1020)))
        (i32.const 1))
      (func (export "proxy_on_http_call_response") (param $ctx i32) (param $token i32) (param $nh i32) (param $body i32) (param $nt i32)
        (call $report (i32.const 103) (i32.const 1) (local.get $nh))     ;; d
        (call $report (i32.const 104) (i32.const 1) (local.get $token))  ;; e
        (if (i32.eqz (local.get $nh)) (then
          (call $report (i32.const 105) (i32.const 1)                    ;; f
            (call $proxy_send_local_response (i32.const 503) (i32.const 0) (i32.const 0)
              (i32.const 2096) (i32.const 8) (i32.const 2112) (i32.const {rh_len}) (i32.const -1)))
          (return)))
        (drop (call $proxy_get_header_map_value (i32.const 6) (i32.const 2064) (i32.const 7) (i32.const 1008) (i32.const 1012)))
        (call $report_bytes (i32.const 106) (i32.const 1) (i32.load (i32.const 1008)) (i32.load (i32.const 1012)))  ;; g
        (drop (call $proxy_get_status (i32.const 1016) (i32.const 1008) (i32.const 1012)))
        (call $report (i32.const 107) (i32.const 1) (i32.load (i32.const 1016)))                                  ;; h
        (drop (call $proxy_get_buffer_bytes (i32.const 4) (i32.const 0) (local.get $body) (i32.const 1008) (i32.const 1012)))
        (drop (call $proxy_set_property (i32.const 2080) (i32.const 7) (i32.load (i32.const 1008)) (i32.load (i32.const 1012))))
        (call $report (i32.const 108) (i32.const 1) (call $proxy_continue_stream (i32.const 0)))                 ;; i
        (call $report (i32.const 109) (i32.const 1) (call $proxy_continue_stream (i32.const 9))))                ;; j
    "#
    )
}

fn calls(h: &Harness) -> Vec<(u32, u32, proxy_wasm_host::HttpCallRequest)> {
    h.all_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::HttpCall {
                context,
                token,
                request,
            } => Some((context, token, request)),
            _ => None,
        })
        .collect()
}

#[test]
fn http_call_round_trip_sets_the_backend_and_resumes() {
    let mut h = Harness::new(&body());
    let (id, action) = h.request(&[(":authority", "a.example")]);
    assert_eq!(action.unwrap(), Action::Pause);
    assert_eq!(h.num(id, "a"), 0);
    assert_eq!(
        h.num(id, "c"),
        Status::BadArgument as u32,
        "headers without :authority"
    );
    let calls = calls(&h);
    assert_eq!(calls.len(), 1);
    let (ctx, token, req) = &calls[0];
    assert_eq!((*ctx, *token), (id, h.num(id, "b")));
    assert_eq!(req.upstream, "route_api");
    assert_eq!(req.timeout_ms, 500);
    assert_eq!(req.headers.get(b":path"), Some(&b"/resolve/a.example"[..]));

    let resp = HttpCallResponse {
        headers: HeaderMap::from_pairs([(":status", "200"), ("content-type", "application/json")]),
        body: b"10.0.0.7:3000".to_vec(),
        trailers: HeaderMap::new(),
    };
    assert_eq!(
        h.host
            .deliver_http_call_response(*token, Some(resp))
            .unwrap(),
        Some(id)
    );
    assert_eq!(h.num(id, "d"), 2);
    assert_eq!(h.num(id, "e"), *token);
    assert_eq!(h.bytes(id, "g").unwrap(), b"200");
    assert_eq!(h.num(id, "h"), 200, "proxy_get_status");
    assert_eq!(h.bytes(id, "backend").unwrap(), b"10.0.0.7:3000");
    assert_eq!(h.num(id, "i"), 0);
    assert_eq!(h.num(id, "j"), Status::BadArgument as u32);
    assert!(h.all_events().contains(&Event::Continue {
        context: id,
        stream: StreamType::HttpRequest
    }));
    // A token is answered once.
    assert!(matches!(
        h.host.deliver_http_call_response(*token, None),
        Err(HostError::UnknownHttpCall(_))
    ));
}

#[test]
fn failed_call_reaches_the_filter_as_no_headers_and_local_response_is_recorded() {
    let mut h = Harness::new(&body());
    let (id, _) = h.request(&[]);
    let token = h.num(id, "b");
    assert_eq!(
        h.host.deliver_http_call_response(token, None).unwrap(),
        Some(id)
    );
    assert_eq!(h.num(id, "d"), 0);
    assert_eq!(h.num(id, "f"), 0);
    let local = h
        .all_events()
        .into_iter()
        .find_map(|e| match e {
            Event::LocalResponse { context, response } if context == id => Some(response),
            _ => None,
        })
        .expect("local response recorded");
    assert_eq!(local.status, 503);
    assert_eq!(local.body, b"no route");
    assert_eq!(
        local.headers,
        HeaderMap::from_pairs([("content-type", "text/plain")])
    );
}

#[test]
fn calls_from_ticks_answer_on_the_root_context() {
    let mut h = Harness::new(&body());
    assert_eq!(h.host.tick_period(), Some(Duration::from_secs(1)));
    h.host.on_tick().unwrap();
    assert_eq!(h.num(1, "l"), 0);
    let token = h.num(1, "k");
    let (ctx, _, _) = calls(&h)[0].clone();
    assert_eq!(ctx, 1);
    let resp = HttpCallResponse {
        headers: HeaderMap::from_pairs([(":status", "200")]),
        ..Default::default()
    };
    assert_eq!(
        h.host
            .deliver_http_call_response(token, Some(resp))
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        h.num(1, "i"),
        Status::NotFound as u32,
        "root context has no stream to continue"
    );
}

#[test]
fn answers_for_finished_requests_are_dropped() {
    let mut h = Harness::new(&body());
    let (id, _) = h.request(&[]);
    let token = h.num(id, "b");
    h.host.finish_request(id).unwrap();
    assert_eq!(
        h.host.deliver_http_call_response(token, None).unwrap(),
        None
    );
    assert!(
        matches!(
            h.host.deliver_http_call_response(token, None),
            Err(HostError::UnknownHttpCall(_))
        ),
        "only once"
    );
    assert!(matches!(
        h.host.deliver_http_call_response(9999, None),
        Err(HostError::UnknownHttpCall(9999))
    ));
}

#[test]
fn answers_for_calls_lost_with_a_trapped_instance_are_errors() {
    let mut h = Harness::new(&body());
    let (id1, _) = h.request(&[]);
    let (id2, _) = h.request(&[]);
    let (t1, t2) = (h.num(id1, "b"), h.num(id2, "b"));
    let (_, r) = h.request(&[("a", "1"), ("b", "2"), ("c", "3")]);
    assert!(r.unwrap_err().is_trap());
    // Before the next instance starts...
    assert!(matches!(
        h.host.deliver_http_call_response(t1, None),
        Err(HostError::CallContextLost(t)) if t == t1
    ));
    // ...and after.
    let (id3, _) = h.request(&[]);
    assert!(matches!(
        h.host.deliver_http_call_response(t2, None),
        Err(HostError::CallContextLost(t)) if t == t2
    ));
    let t3 = h.num(id3, "b");
    assert!(
        t3 != t1 && t3 != t2,
        "tokens are not reused across instances"
    );
    assert_eq!(
        h.host.deliver_http_call_response(t3, None).unwrap(),
        Some(id3)
    );
}
