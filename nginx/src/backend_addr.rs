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

#[cfg(test)]
mod tests {
    use super::*;

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
