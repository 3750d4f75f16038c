//! Node binding of the proxy-wasm host (work in progress).
