//! The request as the filter sees it: its header map, filled from nginx's request
//! (called by the host while `proxy_on_request_headers` starts, see handler.rs).

use core::{iter, slice};

use ngx::ffi::{ngx_list_part_t, ngx_list_t, ngx_table_elt_t};
use ngx::http::Request;
use proxy_wasm_host::HeaderMap;

/// Pseudo-headers first, then every header as received, with lowercase names
/// (nginx's own lowercase copy of each name).
pub fn fill(r: &Request, h: &mut HeaderMap) {
    let r = r.as_ref();
    // SAFETY: nginx sets `headers_in.host` to null or to an element of
    // `headers_in.headers`, in the request pool, alive as long as the request.
    let host = unsafe { r.headers_in.host.as_ref() };
    h.add(b":authority", host.map_or(&[][..], |h| h.value.as_bytes()));
    h.add(b":method", r.method_name.as_bytes());
    h.add(b":path", r.unparsed_uri.as_bytes());
    // SAFETY: a request's connection outlives the request.
    let https = unsafe { !(*r.connection).ssl.is_null() };
    h.add(b":scheme", if https { b"https" } else { b"http" });
    // SAFETY: nginx initialised the request's header list when it created the
    // request; the list and its parts live in the request pool.
    for field in unsafe { fields(&r.headers_in.headers) } {
        // nginx fills lowcase_key for every request header it parsed; a module
        // that pushed a header without one gets its name lowercased here.
        let lowercase_name;
        let name = if field.lowcase_key.is_null() {
            lowercase_name = field.key.as_bytes().to_ascii_lowercase();
            &lowercase_name[..]
        } else {
            // SAFETY: nginx allocates `lowcase_key` with the key's length when it
            // parses a header, in the request pool.
            unsafe { slice::from_raw_parts(field.lowcase_key, field.key.len) }
        };
        if name == b"host" {
            continue;
        }
        h.add(name, field.value.as_bytes());
    }
}

/// The fields of an nginx header list, in order, as whole entries (the `ngx`
/// crate's `list_iterator` yields only key and value, not `lowcase_key`).
///
/// # Safety
/// `list` must be an initialised list of `ngx_table_elt_t` whose parts stay alive
/// and unchanged while the iterator is used.
unsafe fn fields(list: &ngx_list_t) -> impl Iterator<Item = &ngx_table_elt_t> {
    let mut part: &ngx_list_part_t = &list.part;
    let mut i = 0;
    iter::from_fn(move || {
        loop {
            // SAFETY: per the contract, `elts` holds `nelts` initialised elements
            // (nginx allocates `elts` when it creates a part, even an empty one).
            let elts = unsafe { slice::from_raw_parts(part.elts.cast(), part.nelts) };
            if let Some(field) = elts.get(i) {
                i += 1;
                return Some(field);
            }
            // SAFETY: `next` is null or the list's next part (the contract).
            part = unsafe { part.next.as_ref() }?;
            i = 0;
        }
    })
}
