//! `proxy-wasm-precompile <filter.wasm> <filter.cwasm>`: compiles a filter once,
//! ahead of time, with the same engine settings the host uses at run time, so
//! that workers load it with `Runtime::deserialize` in well under a millisecond
//! instead of compiling it (tens of milliseconds) each.
//!
//! The output is native code for this machine and this wasmtime version; the
//! loader refuses artifacts from another version or configuration, but trusts
//! the code inside — keep it where only the operator can write.

use std::process::ExitCode;

use proxy_wasm_host::{Runtime, RuntimeConfig};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: proxy-wasm-precompile <filter.wasm> <filter.cwasm>");
        return ExitCode::from(2);
    };
    let wasm = match std::fs::read(input) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("proxy-wasm-precompile: cannot read {input}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // No epoch thread: compiling does not run guest code.
    let runtime = match Runtime::new(RuntimeConfig {
        start_ticker: false,
        ..Default::default()
    }) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("proxy-wasm-precompile: {e}");
            return ExitCode::FAILURE;
        }
    };
    let artifact = match runtime.precompile(&wasm) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("proxy-wasm-precompile: {input}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Write beside the target and rename, so a reader never sees half a file.
    let tmp = format!("{output}.tmp-{}", std::process::id());
    if let Err(e) = std::fs::write(&tmp, &artifact).and_then(|()| std::fs::rename(&tmp, output)) {
        let _ = std::fs::remove_file(&tmp);
        eprintln!("proxy-wasm-precompile: cannot write {output}: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
