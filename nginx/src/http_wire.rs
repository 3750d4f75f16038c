//! HTTP/1.1 on the wire for `proxy_http_call`: the request a filter's header map
//! becomes, and the response bytes that become the filter's `HttpCallResponse`.
//! Pure (no nginx calls), so it is unit-tested; `http_call` does the I/O.

use proxy_wasm_host::embedder::HttpCallResponse;
use proxy_wasm_host::header_map::HeaderMap;

/// Responses larger than this fail the call instead of growing worker memory.
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;
const MAX_HEADERS: usize = 100;

/// An HTTP field name (RFC 9110 token).
pub fn is_token(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(c))
}

/// An HTTP field value without CR, LF or other controls (no response splitting).
pub fn is_field_value(b: &[u8]) -> bool {
    b.iter().all(|c| *c == b'\t' || (*c >= 0x20 && *c != 0x7f))
}

/// The request bytes, with `Connection: close` (the response then ends at EOF at the
/// latest) and the body's length. Refuses what would let a filter inject headers or
/// requests (CR/LF in names, values, method or path).
pub fn encode_request(headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, &'static str> {
    let method = headers.get(b":method").ok_or("no :method")?;
    let path = headers.get(b":path").ok_or("no :path")?;
    let authority = headers.get(b":authority").ok_or("no :authority")?;
    if !is_token(method) {
        return Err("bad :method");
    }
    if path.first() != Some(&b'/') || !path.iter().all(|c| c.is_ascii_graphic()) {
        return Err("bad :path");
    }
    if authority.is_empty() || !authority.iter().all(|c| c.is_ascii_graphic()) {
        return Err("bad :authority");
    }
    let mut out = Vec::with_capacity(128 + body.len());
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(path);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(authority);
    out.extend_from_slice(b"\r\n");
    for (k, v) in headers.pairs() {
        if k.first() == Some(&b':') {
            continue;
        }
        let skip = [&b"host"[..], b"connection", b"content-length", b"transfer-encoding"];
        if skip.iter().any(|s| k.eq_ignore_ascii_case(s)) {
            continue;
        }
        if !is_token(k) || !is_field_value(v) {
            return Err("bad header field");
        }
        out.extend_from_slice(k);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || method != b"GET" && method != b"HEAD" {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(body);
    Ok(out)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Need more bytes.
    Incomplete,
    Done(HttpCallResponse),
    Invalid(&'static str),
}

/// Parses what has arrived so far; `eof` says the peer closed the connection.
pub fn parse_response(buf: &[u8], eof: bool) -> Parsed {
    let mut hdrs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut hdrs);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if eof => return Parsed::Invalid("connection closed before the response header"),
        Ok(httparse::Status::Partial) => return Parsed::Incomplete,
        Err(_) => return Parsed::Invalid("malformed response header"),
    };
    let status = resp.code.unwrap_or(0);
    let mut headers = HeaderMap::new();
    headers.add(b":status", status.to_string().as_bytes());
    let mut content_length = None;
    let mut chunked = false;
    for h in resp.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        if name == "content-length" {
            match core::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse::<usize>().ok()) {
                Some(n) => content_length = Some(n),
                None => return Parsed::Invalid("bad content-length"),
            }
        } else if name == "transfer-encoding" {
            chunked = h.value.eq_ignore_ascii_case(b"chunked");
        }
        headers.add(name.as_bytes(), h.value);
    }
    let rest = &buf[head_len..];
    // Responses without a body by definition.
    if status == 204 || status == 304 || (100..200).contains(&status) {
        return Parsed::Done(HttpCallResponse { headers, body: Vec::new(), trailers: HeaderMap::new() });
    }
    let body = if chunked {
        match decode_chunked(rest) {
            Ok(Some(body)) => body,
            Ok(None) if eof => return Parsed::Invalid("connection closed inside a chunked body"),
            Ok(None) => return Parsed::Incomplete,
            Err(e) => return Parsed::Invalid(e),
        }
    } else if let Some(n) = content_length {
        if rest.len() < n {
            if eof {
                return Parsed::Invalid("connection closed before the whole body");
            }
            return Parsed::Incomplete;
        }
        rest[..n].to_vec()
    } else if eof {
        rest.to_vec()
    } else {
        return Parsed::Incomplete;
    };
    Parsed::Done(HttpCallResponse { headers, body, trailers: HeaderMap::new() })
}

/// The body of a complete chunked message, `None` while incomplete.
fn decode_chunked(mut buf: &[u8]) -> Result<Option<Vec<u8>>, &'static str> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = buf.windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
        let size_text = core::str::from_utf8(&buf[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        buf = &buf[line_end + 2..];
        if size == 0 {
            // Trailers are ignored; the message ends at the empty line.
            return Ok(if buf.windows(2).any(|w| w == b"\r\n") { Some(body) } else { None });
        }
        if size > MAX_RESPONSE_BYTES || buf.len() < size + 2 {
            return if size > MAX_RESPONSE_BYTES { Err("chunk too large") } else { Ok(None) };
        }
        body.extend_from_slice(&buf[..size]);
        if &buf[size..size + 2] != b"\r\n" {
            return Err("bad chunk terminator");
        }
        buf = &buf[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&str, &str)]) -> HeaderMap {
        HeaderMap::from_pairs(pairs.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())))
    }

    #[test]
    fn encodes_a_get() {
        let h = req(&[(":method", "GET"), (":path", "/resolve/a.com"), (":authority", "api"), ("accept", "application/json")]);
        let out = String::from_utf8(encode_request(&h, b"").unwrap()).unwrap();
        assert_eq!(out, "GET /resolve/a.com HTTP/1.1\r\nHost: api\r\naccept: application/json\r\nConnection: close\r\n\r\n");
    }

    #[test]
    fn refuses_header_injection() {
        let h = req(&[(":method", "GET"), (":path", "/a\r\nX: y"), (":authority", "api")]);
        assert!(encode_request(&h, b"").is_err());
        let h = req(&[(":method", "GET"), (":path", "/"), (":authority", "api"), ("x", "a\r\nevil: 1")]);
        assert!(encode_request(&h, b"").is_err());
        let h = req(&[(":method", "G ET"), (":path", "/"), (":authority", "api")]);
        assert!(encode_request(&h, b"").is_err());
    }

    #[test]
    fn parses_content_length_and_chunked_and_eof_bodies() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
        assert!(matches!(parse_response(&r[..r.len() - 1], false), Parsed::Incomplete));
        let Parsed::Done(d) = parse_response(r, false) else { panic!() };
        assert_eq!(d.headers.get(b":status"), Some(&b"200"[..]));
        assert_eq!(d.body, b"hi");

        let r = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n";
        let Parsed::Done(d) = parse_response(r, false) else { panic!() };
        assert_eq!(d.body, b"abcd");
        assert_eq!(d.headers.get(b":status"), Some(&b"404"[..]));

        let r = b"HTTP/1.0 200 OK\r\n\r\nuntil-eof";
        assert_eq!(parse_response(r, false), Parsed::Incomplete);
        let Parsed::Done(d) = parse_response(r, true) else { panic!() };
        assert_eq!(d.body, b"until-eof");
    }

    #[test]
    fn truncated_or_garbage_responses_are_invalid() {
        assert!(matches!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", true), Parsed::Invalid(_)));
        assert!(matches!(parse_response(b"garbage\r\n\r\n", false), Parsed::Invalid(_)));
        assert!(matches!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false), Parsed::Invalid(_)));
    }
}
