//! JS ⇄ Rust conversions for header lists and byte strings.

use proxy_wasm_host::HeaderMap;

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn pairs_from_js(pairs: &[(String, String)]) -> HeaderMap {
    HeaderMap::from_pairs(pairs.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())))
}

pub fn pairs_to_js(map: &HeaderMap) -> Vec<(String, String)> {
    map.pairs().map(|(k, v)| (text(k), text(v))).collect()
}
