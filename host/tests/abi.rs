//! Loading: which modules are accepted, and that every 0.2.1 import links.

mod common;

use std::sync::Arc;

use common::*;
use proxy_wasm_host::hostcalls::HOST_FUNCTIONS;
use proxy_wasm_host::{FilterHost, FilterOptions, HostError, MemorySharedData, Recorder, Status};

#[test]
fn refuses_other_abi_versions_naming_them() {
    let rt = runtime();
    let wat = filter_with_marker("proxy_abi_version_0_2_0", "");
    let err = rt
        .compile(wat.as_bytes())
        .err()
        .expect("0.2.0 must be refused");
    assert!(
        matches!(&err, HostError::UnsupportedAbi { found } if found == "proxy_abi_version_0_2_0"),
        "{err}"
    );
    assert!(err.to_string().contains("proxy_abi_version_0_2_0"));
}

#[test]
fn refuses_modules_without_an_abi_marker() {
    let rt = runtime();
    let err = rt
        .compile(b"(module (memory (export \"memory\") 1))")
        .err()
        .unwrap();
    assert!(matches!(err, HostError::UnsupportedAbi { .. }));
    assert!(err.to_string().contains("no proxy_abi_version"), "{err}");
}

#[test]
fn refuses_garbage_and_modules_without_memory_or_allocator() {
    let rt = runtime();
    assert!(matches!(
        rt.compile(b"\0asm\x07garbage").err().unwrap(),
        HostError::Compile(_)
    ));
    let no_alloc =
        "(module (func (export \"proxy_abi_version_0_2_1\")) (memory (export \"memory\") 1))";
    assert!(matches!(
        rt.compile(no_alloc.as_bytes()).err().unwrap(),
        HostError::BadModule(_)
    ));
}

#[test]
fn refuses_imports_the_host_does_not_have() {
    let rt = runtime();
    let wat = r#"(module (import "env" "proxy_no_such_thing" (func))
        (func (export "proxy_abi_version_0_2_1")) (memory (export "memory") 1)
        (func (export "malloc") (param i32) (result i32) (i32.const 0)))"#;
    let module = rt.compile(wat.as_bytes()).unwrap();
    let err = FilterHost::new(
        &rt,
        &module,
        Recorder::new().environment(Arc::new(MemorySharedData::new())),
        FilterOptions::default(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("proxy_no_such_thing"), "{err}");
}

#[test]
fn every_table_entry_links_and_unimplemented_ones_answer_12() {
    // Call each unimplemented function with zeros and report its status.
    let mut calls = String::new();
    let unimplemented: Vec<_> = HOST_FUNCTIONS.iter().filter(|f| !f.implemented).collect();
    for (i, f) in unimplemented.iter().enumerate() {
        let zeros: String = f.params.iter().map(|t| format!("({t}.const 0) ")).collect();
        calls.push_str(&format!(
            "(call $report (i32.const {}) (i32.const 1) (call ${} {zeros}))\n",
            100 + i,
            f.name
        ));
    }
    let h = Harness::new(&format!(
        "(func (export \"proxy_on_vm_start\") (param i32 i32) (result i32) {calls} (i32.const 1))"
    ));
    assert!(unimplemented.len() >= 12);
    for (i, f) in unimplemented.iter().enumerate() {
        let name = ((b'a' + i as u8) as char).to_string();
        assert_eq!(h.num(1, &name), Status::Unimplemented as u32, "{}", f.name);
    }
    let names: Vec<_> = HOST_FUNCTIONS.iter().map(|f| f.name).collect();
    for required in [
        "proxy_log",
        "proxy_http_call",
        "proxy_get_shared_data",
        "proxy_grpc_call",
        "proxy_call_foreign_function",
        "fd_write",
    ] {
        assert!(
            names.contains(&required),
            "{required} missing from the table"
        );
    }
}

#[test]
fn precompiled_modules_load_and_run() {
    let rt = runtime();
    let wat = filter(
        r#"(func (export "proxy_on_vm_start") (param i32 i32) (result i32)
        (call $report (i32.const 100) (i32.const 1) (i32.const 42)) (i32.const 1))"#,
    );
    let bytes = rt.precompile(wat.as_bytes()).unwrap();
    let module = unsafe { rt.deserialize(&bytes) }.unwrap();
    let rec = Recorder::new();
    let _host = FilterHost::new(
        &rt,
        &module,
        rec.environment(Arc::new(MemorySharedData::new())),
        FilterOptions::default(),
    )
    .unwrap();
    assert!(rec.drain().iter().any(|e| matches!(e, proxy_wasm_host::Event::Property { value, .. } if value == &42u32.to_le_bytes())));
    // Garbage is refused with an error, not loaded.
    assert!(matches!(
        unsafe { rt.deserialize(b"not a module") }.err().unwrap(),
        HostError::Deserialize(_)
    ));
}

#[test]
fn the_precompile_tool_writes_a_loadable_artifact_and_refuses_bad_input() {
    let dir = std::env::temp_dir().join(format!("precompile-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wasm = dir.join("f.wat");
    let out = dir.join("f.cwasm");
    std::fs::write(&wasm, filter("")).unwrap();
    let tool = env!("CARGO_BIN_EXE_proxy-wasm-precompile");
    let status = std::process::Command::new(tool)
        .arg(&wasm)
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let rt = runtime();
    let module = unsafe { rt.deserialize(&std::fs::read(&out).unwrap()) }.unwrap();
    FilterHost::new(
        &rt,
        &module,
        Recorder::new().environment(Arc::new(MemorySharedData::new())),
        FilterOptions::default(),
    )
    .unwrap();

    std::fs::write(&wasm, filter_with_marker("proxy_abi_version_0_2_0", "")).unwrap();
    let refused = std::process::Command::new(tool)
        .arg(&wasm)
        .arg(dir.join("g.cwasm"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("proxy_abi_version_0_2_0"));
    assert!(!dir.join("g.cwasm").exists(), "nothing written on failure");
    std::fs::remove_dir_all(&dir).unwrap();
}
