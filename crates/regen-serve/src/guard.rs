//! What a request must show before any handler reads it: a `Host` that names this server
//! (a page on another site that rebinds its own domain name to 127.0.0.1 sends its own
//! name, so it is refused: DNS rebinding), an `Origin`, when there is one, of this server
//! (another site's page cannot post photos to it), and a declared body no larger than the
//! upload limit.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::App;
use crate::request::ApiError;

/// The checks for one bound address.
pub struct Guard {
    addr: SocketAddr,
    /// Largest request body, in bytes.
    pub max_upload: usize,
}

impl Guard {
    pub fn new(addr: SocketAddr, max_upload: usize) -> Guard {
        Guard { addr, max_upload }
    }

    /// Whether `host` (a `Host` header's value) names this server: its bound address, or
    /// `localhost`, with its port. Bound to every interface (0.0.0.0 or ::), any IP address
    /// with the port is this server, since an address (unlike a name) cannot be rebound.
    pub fn host_allowed(&self, host: &str) -> bool {
        // "name:port", "[v6]:port", or without the port when it is HTTP's 80.
        let (name, port) = match host.strip_prefix('[') {
            Some(rest) => match rest.split_once(']') {
                Some((ip, "")) => (ip, Some(80)),
                Some((ip, p)) => (ip, p.strip_prefix(':').and_then(|p| p.parse().ok())),
                None => return false,
            },
            None => match host.rsplit_once(':') {
                Some((name, p)) => (name, p.parse::<u16>().ok()),
                None => (host, Some(80)),
            },
        };
        if port != Some(self.addr.port()) {
            return false;
        }
        if name.eq_ignore_ascii_case("localhost") {
            return true;
        }
        match name.parse::<IpAddr>() {
            Ok(ip) if self.addr.ip().is_unspecified() => !ip.is_multicast(),
            Ok(ip) => ip == self.addr.ip(),
            Err(_) => false,
        }
    }

    /// Whether `origin` (an `Origin` header's value) is a page of this server.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        origin
            .strip_prefix("http://")
            .is_some_and(|host| self.host_allowed(host))
    }
}

/// Refuses, before its body is read, a request that fails the [`Guard`]'s checks.
pub async fn check(State(app): State<App>, req: Request, next: Next) -> Response {
    if let Some(refusal) = refusal(&app.guard, req.headers()) {
        return refusal.into_response();
    }
    next.run(req).await
}

/// Why a request with `headers` is refused, if it is.
fn refusal(g: &Guard, headers: &header::HeaderMap) -> Option<ApiError> {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("").to_string())
    };
    let refusal = match (text(header::HOST), text(header::ORIGIN)) {
        (None, _) => Some(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the request has no Host header",
        )),
        (Some(h), _) if !g.host_allowed(&h) => Some(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "Host {h:?} is not this server; use http://localhost:{}/",
                g.addr.port()
            ),
        )),
        (_, Some(o)) if !g.origin_allowed(&o) => Some(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("requests from pages of {o:?} are not accepted"),
        )),
        _ => None,
    };
    if refusal.is_some() {
        return refusal;
    }
    let declared = text(header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    declared.filter(|&n| n > g.max_upload as u64).map(|n| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the upload is {} MB, over the limit of {} MB (--max-upload-mb)",
                n.div_ceil(1 << 20),
                g.max_upload >> 20
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_the_bound_address_or_localhost_with_the_port() {
        let g = Guard::new("127.0.0.1:8320".parse().unwrap(), 1);
        for ok in ["127.0.0.1:8320", "localhost:8320", "LOCALHOST:8320"] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example:8320",
            "127.0.0.1:8321",
            "127.0.0.1",
            "localhost",
            "192.168.1.5:8320",
            "127.0.0.1.evil.example:8320",
            "",
        ] {
            assert!(!g.host_allowed(bad), "{bad}");
        }
        assert!(g.origin_allowed("http://localhost:8320"));
        assert!(!g.origin_allowed("http://evil.example"));
        assert!(!g.origin_allowed("null"));

        let v6 = Guard::new("[::1]:80".parse().unwrap(), 1);
        assert!(v6.host_allowed("[::1]:80"));
        assert!(v6.host_allowed("[::1]"));
        assert!(v6.host_allowed("localhost"));
        assert!(!v6.host_allowed("127.0.0.1:80"));

        let all = Guard::new("0.0.0.0:8320".parse().unwrap(), 1);
        assert!(all.host_allowed("192.168.1.5:8320"));
        assert!(!all.host_allowed("rebound.example:8320"));
    }
}
