//! A backend as the filter names it → a socket address the balancer can connect to.
//! Pure: no nginx calls, so it is unit-tested.

use std::net::SocketAddr;

#[derive(Debug, PartialEq, Eq)]
pub enum BackendAddr<'a> {
    Ip(SocketAddr),
    /// The path after `unix:` (absolute, without the prefix).
    Unix(&'a [u8]),
}

/// Longest unix socket path that fits in `sockaddr_un.sun_path` with its NUL.
pub const MAX_UNIX_PATH: usize = 107;

/// Accepts `unix:/path`, `a.b.c.d:port` and `[v6]:port`. DNS names are refused:
/// resolving them in the balancer would block the worker.
pub fn parse(backend: &[u8]) -> Result<BackendAddr<'_>, &'static str> {
    if let Some(path) = backend.strip_prefix(b"unix:") {
        if path.first() != Some(&b'/') || path.len() > MAX_UNIX_PATH || path.contains(&0) {
            return Err("is not a usable unix socket path");
        }
        return Ok(BackendAddr::Unix(path));
    }
    let text = core::str::from_utf8(backend).map_err(|_| "is not text")?;
    let addr: SocketAddr = text
        .parse()
        .map_err(|_| "is not an IP address with a port (the balancer form needs ip:port, [ipv6]:port or unix:/path)")?;
    if addr.port() == 0 {
        return Err("has port 0");
    }
    Ok(BackendAddr::Ip(addr))
}

/// The backend as `set_backend $var` stores it. nginx's URL syntax ends a unix
/// socket path with `:` (`http://unix:/run/app.sock:/uri`), so a `unix:/path` backend
/// gets that colon: the seed's `proxy_pass http://$backend$request_uri;` then works
/// for unix sockets too. Everything else is unchanged.
pub fn as_variable(backend: &[u8]) -> std::borrow::Cow<'_, [u8]> {
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
        assert_eq!(&*as_variable(b"unix:/run/app.sock:"), b"unix:/run/app.sock:");
        assert_eq!(&*as_variable(b"10.0.0.7:3000"), b"10.0.0.7:3000");
    }

    #[test]
    fn accepts_ip_and_unix_backends() {
        assert_eq!(parse(b"127.0.0.1:8080"), Ok(BackendAddr::Ip("127.0.0.1:8080".parse().unwrap())));
        assert_eq!(parse(b"[::1]:8080"), Ok(BackendAddr::Ip("[::1]:8080".parse().unwrap())));
        assert_eq!(parse(b"unix:/run/app.sock"), Ok(BackendAddr::Unix(b"/run/app.sock")));
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
