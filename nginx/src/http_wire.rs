//! HTTP/1.1 on the wire for `proxy_http_call`: the request a filter's header map
//! becomes, and the response bytes that become the filter's `HttpCallResponse`.
//! Pure (no nginx calls), so it is unit-tested; `http_call` does the I/O.

use proxy_wasm_host::embedder::HttpCallResponse;
use proxy_wasm_host::header_map::HeaderMap;

use crate::error::{CallRequestError, ResponseError};

/// Responses larger than this fail the call instead of growing worker memory.
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;
const MAX_HEADERS: usize = 100;

/// An HTTP field name (RFC 9110 token).
pub fn is_token(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(c))
}

/// An HTTP field value without CR, LF or other controls (no response splitting).
pub fn is_field_value(b: &[u8]) -> bool {
    b.iter().all(|c| *c == b'\t' || (*c >= 0x20 && *c != 0x7f))
}

/// The request bytes (HTTP/1.1, so the connection may be kept alive for the next
/// call) with the body's length. Refuses what would let a filter inject headers or
/// requests (CR/LF in names, values, method or path).
pub fn encode_request(headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, CallRequestError> {
    let method = headers.get(b":method").ok_or(CallRequestError::NoMethod)?;
    let path = headers.get(b":path").ok_or(CallRequestError::NoPath)?;
    let authority = headers
        .get(b":authority")
        .ok_or(CallRequestError::NoAuthority)?;
    if !is_token(method) {
        return Err(CallRequestError::Method);
    }
    if path.first() != Some(&b'/') || !path.iter().all(|c| c.is_ascii_graphic()) {
        return Err(CallRequestError::Path);
    }
    if authority.is_empty() || !authority.iter().all(|c| c.is_ascii_graphic()) {
        return Err(CallRequestError::Authority);
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
        let skip = [
            &b"host"[..],
            b"connection",
            b"content-length",
            b"transfer-encoding",
        ];
        if skip.iter().any(|s| k.eq_ignore_ascii_case(s)) {
            continue;
        }
        if !is_token(k) || !is_field_value(v) {
            return Err(CallRequestError::HeaderField);
        }
        out.extend_from_slice(k);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || method != b"GET" && method != b"HEAD" {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(out)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Need more bytes.
    Incomplete,
    /// The response, and whether the connection can carry another request: the
    /// message was framed (length or chunked), HTTP/1.1 without `Connection: close`,
    /// and nothing followed it.
    Done(HttpCallResponse, bool),
    Invalid(ResponseError),
}

/// Parses what has arrived so far; `eof` says the peer closed the connection.
pub fn parse_response(buf: &[u8], eof: bool) -> Parsed {
    let mut hdrs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut hdrs);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if eof => {
            return Parsed::Invalid(ResponseError::ClosedBeforeHeader);
        }
        Ok(httparse::Status::Partial) => return Parsed::Incomplete,
        Err(_) => return Parsed::Invalid(ResponseError::MalformedHeader),
    };
    let status = resp.code.unwrap_or(0);
    let mut keep_alive = resp.version == Some(1);
    let mut headers = HeaderMap::new();
    headers.add(b":status", status.to_string().as_bytes());
    let mut content_length = None;
    let mut chunked = false;
    for h in resp.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        if name == "content-length" {
            match core::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
            {
                Some(n) => content_length = Some(n),
                None => return Parsed::Invalid(ResponseError::ContentLength),
            }
        } else if name == "transfer-encoding" {
            chunked = h.value.eq_ignore_ascii_case(b"chunked");
        } else if name == "connection" {
            keep_alive &= !h
                .value
                .split(|c| *c == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
        headers.add(name.as_bytes(), h.value);
    }
    let rest = &buf[head_len..];
    let done = |body: Vec<u8>, consumed: usize, framed: bool| {
        let reusable = framed && keep_alive && consumed == rest.len() && !eof;
        Parsed::Done(
            HttpCallResponse {
                headers: headers.clone(),
                body,
                trailers: HeaderMap::new(),
            },
            reusable,
        )
    };
    // Responses without a body by definition.
    if status == 204 || status == 304 || (100..200).contains(&status) {
        return done(Vec::new(), 0, true);
    }
    if chunked {
        return match decode_chunked(rest) {
            Ok(Some((body, consumed))) => done(body, consumed, true),
            Ok(None) if eof => Parsed::Invalid(ResponseError::ClosedInChunkedBody),
            Ok(None) => Parsed::Incomplete,
            Err(e) => Parsed::Invalid(e),
        };
    }
    if let Some(n) = content_length {
        if rest.len() < n {
            if eof {
                return Parsed::Invalid(ResponseError::ClosedBeforeBody);
            }
            return Parsed::Incomplete;
        }
        return done(rest[..n].to_vec(), n, true);
    }
    if eof {
        return done(rest.to_vec(), rest.len(), false);
    }
    Parsed::Incomplete
}

/// The body of a complete chunked message and the bytes it took, `None` while incomplete.
fn decode_chunked(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, ResponseError> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text =
            core::str::from_utf8(&rest[..line_end]).map_err(|_| ResponseError::ChunkSize)?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| ResponseError::ChunkSize)?;
        at += line_end + 2;
        if size == 0 {
            // Trailer fields (ignored) up to the empty line that ends the message.
            loop {
                let rest = &buf[at..];
                let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                at += end + 2;
                if end == 0 {
                    return Ok(Some((body, at)));
                }
            }
        }
        if size > MAX_RESPONSE_BYTES {
            return Err(ResponseError::ChunkTooLarge);
        }
        let rest = &buf[at..];
        if rest.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        if &rest[size..size + 2] != b"\r\n" {
            return Err(ResponseError::ChunkTerminator);
        }
        at += size + 2;
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
        let h = req(&[
            (":method", "GET"),
            (":path", "/resolve/a.com"),
            (":authority", "api"),
            ("accept", "application/json"),
        ]);
        let out = String::from_utf8(encode_request(&h, b"").unwrap()).unwrap();
        assert_eq!(
            out,
            "GET /resolve/a.com HTTP/1.1\r\nHost: api\r\naccept: application/json\r\n\r\n"
        );
    }

    #[test]
    fn refuses_header_injection() {
        let h = req(&[
            (":method", "GET"),
            (":path", "/a\r\nX: y"),
            (":authority", "api"),
        ]);
        assert!(encode_request(&h, b"").is_err());
        let h = req(&[
            (":method", "GET"),
            (":path", "/"),
            (":authority", "api"),
            ("x", "a\r\nevil: 1"),
        ]);
        assert!(encode_request(&h, b"").is_err());
        let h = req(&[(":method", "G ET"), (":path", "/"), (":authority", "api")]);
        assert!(encode_request(&h, b"").is_err());
    }

    #[test]
    fn parses_content_length_and_chunked_and_eof_bodies() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
        assert!(matches!(
            parse_response(&r[..r.len() - 1], false),
            Parsed::Incomplete
        ));
        let Parsed::Done(d, reusable) = parse_response(r, false) else {
            panic!()
        };
        assert_eq!(d.headers.get(b":status"), Some(&b"200"[..]));
        assert_eq!(d.body, b"hi");
        assert!(reusable);

        let r = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n";
        let Parsed::Done(d, reusable) = parse_response(r, false) else {
            panic!()
        };
        assert_eq!(d.body, b"abcd");
        assert!(reusable);
        assert_eq!(d.headers.get(b":status"), Some(&b"404"[..]));

        let r = b"HTTP/1.0 200 OK\r\n\r\nuntil-eof";
        assert_eq!(parse_response(r, false), Parsed::Incomplete);
        let Parsed::Done(d, reusable) = parse_response(r, true) else {
            panic!()
        };
        assert_eq!(d.body, b"until-eof");
        assert!(!reusable);
    }

    #[test]
    fn reuse_needs_http11_framing_no_close_and_no_extra_bytes() {
        let reusable = |r: &[u8]| match parse_response(r, false) {
            Parsed::Done(_, reusable) => reusable,
            other => panic!("{other:?}"),
        };
        assert!(reusable(b"HTTP/1.1 204 No Content\r\n\r\n"));
        assert!(!reusable(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!reusable(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!reusable(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(!reusable(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab"));
        assert!(reusable(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nx-t: 1\r\n\r\n"
        ));
        assert!(!reusable(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nextra"
        ));
    }

    #[test]
    fn truncated_or_garbage_responses_are_invalid() {
        assert!(matches!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", true),
            Parsed::Invalid(_)
        ));
        assert!(matches!(
            parse_response(b"garbage\r\n\r\n", false),
            Parsed::Invalid(_)
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false),
            Parsed::Invalid(_)
        ));
    }
}
