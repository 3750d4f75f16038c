//! A backend as the filter names it → a socket address the balancer can connect to.
//! Pure: no nginx calls, so it is unit-tested.
//!
//! The filter hands over addresses only: a route whose backend is a name reaches
//! nginx as the addresses the route API resolved it to, separated by commas and
//! tried in order (docs/internal-api.md). The grammar of one backend is shared with
//! the route API and the filter through tests/vectors/backends.json.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::error::BackendAddrError;

#[derive(Debug, PartialEq, Eq)]
pub enum BackendAddr<'a> {
    Ip(SocketAddr),
    /// The path after `unix:` (absolute, without the prefix).
    Unix(&'a [u8]),
}

/// Longest unix socket path that fits in `sockaddr_un.sun_path` with its NUL.
pub const MAX_UNIX_PATH: usize = 107;

/// Separates the addresses of one backend in what the filter hands over.
pub const ADDRESS_SEPARATOR: u8 = b',';

/// The addresses in what the filter handed over, in the order to try them.
pub fn addresses(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&c| c == ADDRESS_SEPARATOR)
}

/// Accepts `unix:/path`, `a.b.c.d:port` and `[v6]:port`. DNS names are refused:
/// resolving them in the balancer would block the worker (the route API resolves them).
pub fn parse(backend: &[u8]) -> Result<BackendAddr<'_>, BackendAddrError> {
    if let Some(path) = backend.strip_prefix(b"unix:") {
        // The route API's unix path grammar: a ':' would end the socket path in
        // `proxy_pass http://$backend`, and the rest is what file names need.
        let usable = path.first() == Some(&b'/')
            && path.last() != Some(&b'/')
            && path.len() <= MAX_UNIX_PATH
            && path
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'/'));
        if !usable {
            return Err(BackendAddrError::UnixPath);
        }
        return Ok(BackendAddr::Unix(path));
    }
    if let Some(addr) = parse_plain_ipv4(backend) {
        return Ok(BackendAddr::Ip(SocketAddr::V4(addr)));
    }
    let text = core::str::from_utf8(backend).map_err(|_| BackendAddrError::NotText)?;
    let addr: SocketAddr = text.parse().map_err(|_| BackendAddrError::NotIpWithPort)?;
    if addr.port() == 0 {
        return Err(BackendAddrError::PortZero);
    }
    Ok(BackendAddr::Ip(addr))
}

/// The common case, `a.b.c.d:port` in canonical form (no leading zeros, port
/// 1–65535), without std's general parser: the balancer parses the backend of
/// every request. Anything else is `None` and goes to std's parser.
fn parse_plain_ipv4(b: &[u8]) -> Option<SocketAddrV4> {
    // A decimal number of 1–`max_digits` digits, without a leading zero.
    fn number(b: &[u8], max_digits: usize) -> Option<(u32, &[u8])> {
        let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > max_digits || (digits > 1 && b[0] == b'0') {
            return None;
        }
        let n = b[..digits]
            .iter()
            .fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
        Some((n, &b[digits..]))
    }
    let mut octets = [0u8; 4];
    let mut rest = b;
    for (i, octet) in octets.iter_mut().enumerate() {
        let (n, after) = number(rest, 3)?;
        *octet = u8::try_from(n).ok()?;
        let separator = if i == 3 { b':' } else { b'.' };
        rest = after.strip_prefix(&[separator])?;
    }
    let (port, after) = number(rest, 5)?;
    let port = u16::try_from(port).ok().filter(|p| *p != 0)?;
    after
        .is_empty()
        .then(|| SocketAddrV4::new(Ipv4Addr::from(octets), port))
}

/// The backend as `set_backend $var` stores it: the first address (the seed's
/// `proxy_pass http://$backend$request_uri` connects to one). nginx's URL syntax ends a unix
/// socket path with `:` (`http://unix:/run/app.sock:/uri`), so a `unix:/path` backend
/// gets that colon: the seed's form then works for unix sockets too.
pub fn as_variable(list: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let backend = addresses(list).next().unwrap_or_default();
    if backend.starts_with(b"unix:") && !backend.ends_with(b":") {
        let mut v = backend.to_vec();
        v.push(b':');
        std::borrow::Cow::Owned(v)
    } else {
        std::borrow::Cow::Borrowed(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_backends_end_with_a_colon_in_the_variable() {
        assert_eq!(&*as_variable(b"unix:/run/app.sock"), b"unix:/run/app.sock:");
        assert_eq!(
            &*as_variable(b"unix:/run/app.sock:"),
            b"unix:/run/app.sock:"
        );
        assert_eq!(&*as_variable(b"10.0.0.7:3000"), b"10.0.0.7:3000");
    }

    #[test]
    fn the_variable_holds_the_first_address_of_a_list() {
        assert_eq!(
            &*as_variable(b"127.0.0.1:3000,[::1]:3000"),
            b"127.0.0.1:3000"
        );
        assert_eq!(&*as_variable(b"unix:/a.sock,127.0.0.1:1"), b"unix:/a.sock:");
        let list: Vec<&[u8]> = addresses(b"127.0.0.1:3000,[::1]:3000").collect();
        assert_eq!(
            list,
            [b"127.0.0.1:3000".as_slice(), b"[::1]:3000".as_slice()]
        );
    }

    /// tests/vectors/backends.json, the grammar shared with the route API and the
    /// filter: every address form is accepted as that kind, names and invalid
    /// backends are refused (a name reaches the balancer only as its addresses).
    #[test]
    fn shared_backend_vectors() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/backends.json")).unwrap();
        let valid = vectors["valid"].as_array().unwrap();
        let invalid = vectors["invalid"].as_array().unwrap();
        assert!(valid.len() > 10 && invalid.len() > 10);
        for v in valid {
            let backend = v["backend"].as_str().unwrap();
            let got = parse(backend.as_bytes());
            match v["kind"].as_str().unwrap() {
                "name" => assert!(
                    got.is_err(),
                    "{backend}: a name must not reach the balancer"
                ),
                "unix" => assert!(
                    matches!(got, Ok(BackendAddr::Unix(_))),
                    "{backend}: {got:?}"
                ),
                "ipv4" => assert!(
                    matches!(got, Ok(BackendAddr::Ip(SocketAddr::V4(_)))),
                    "{backend}: {got:?}"
                ),
                "ipv6" => assert!(
                    matches!(got, Ok(BackendAddr::Ip(SocketAddr::V6(_)))),
                    "{backend}: {got:?}"
                ),
                other => panic!("unknown kind {other}"),
            }
        }
        for v in invalid {
            let backend = v["backend"].as_str().unwrap();
            assert!(
                parse(backend.as_bytes()).is_err(),
                "{backend} ({}) must be refused",
                v["why"]
            );
        }
    }

    #[test]
    fn accepts_ip_and_unix_backends() {
        assert_eq!(
            parse(b"127.0.0.1:8080"),
            Ok(BackendAddr::Ip("127.0.0.1:8080".parse().unwrap()))
        );
        assert_eq!(
            parse(b"[::1]:8080"),
            Ok(BackendAddr::Ip("[::1]:8080".parse().unwrap()))
        );
        assert_eq!(
            parse(b"unix:/run/app.sock"),
            Ok(BackendAddr::Unix(b"/run/app.sock"))
        );
    }

    #[test]
    fn the_ipv4_fast_path_agrees_with_std() {
        let mut cases: Vec<String> = [
            "127.0.0.1:8080",
            "0.0.0.0:1",
            "255.255.255.255:65535",
            "10.0.0.7:3000",
            "256.0.0.1:80",
            "1.2.3.4:0",
            "1.2.3.4:65536",
            "01.2.3.4:80",
            "1.2.3.4:080",
            "1.2.3:80",
            "1.2.3.4.5:80",
            "1.2.3.4:",
            ":80",
            "1.2.3.4:80x",
            "1.2.3.4 :80",
            "1..3.4:80",
            "[::1]:80",
            "1.2.3.4:99999",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // xorshift over an alphabet of digits, dots and colons: deterministic, no dependency.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let len = 7 + (x % 15) as usize;
            let s: String = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    b"0123456789.:1250"[(x % 16) as usize] as char
                })
                .collect();
            cases.push(s);
        }
        for case in cases {
            let std = case.parse::<SocketAddr>().ok().filter(|a| a.port() != 0);
            if let Some(fast) = parse_plain_ipv4(case.as_bytes()) {
                assert_eq!(Some(SocketAddr::V4(fast)), std, "{case}");
            }
            assert_eq!(
                parse(case.as_bytes()).ok(),
                std.map(BackendAddr::Ip),
                "{case}"
            );
        }
    }

    #[test]
    fn refuses_names_bad_ports_and_paths() {
        assert!(parse(b"example.com:80").is_err());
        assert!(parse(b"127.0.0.1").is_err());
        assert!(parse(b"127.0.0.1:0").is_err());
        assert!(parse(b"127.0.0.1:65536").is_err());
        assert!(parse(b"unix:relative").is_err());
        assert!(parse(b"unix:/a\0b").is_err());
        assert!(parse(&[b"unix:/".as_slice(), &[b'a'; 200]].concat()).is_err());
    }
}
