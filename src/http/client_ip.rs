//! The `ClientIp` extractor: the only place that reads the socket peer and `X-Forwarded-For`.
//! It yields a [`ClientAddr`], which can only be range-checked or truncated.

use super::AppState;
use crate::ingest::privacy::ClientAddr;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use std::future::{ready, Ready};
use std::net::{IpAddr, Ipv4Addr};

/// The client of a request, as a [`ClientAddr`].
pub struct ClientIp(pub ClientAddr);

impl FromRequest for ClientIp {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(ClientIp(client_addr(req))))
    }
}

/// The client address of a request (see [`ClientIp`]).
pub fn client_addr(req: &HttpRequest) -> ClientAddr {
    {
        let peer = req
            .peer_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let trusted = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.trusted_proxies.as_slice())
            .unwrap_or(&[]);
        let xff = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        ClientAddr::from_request(peer, xff, trusted)
    }
}

/// Whether the socket peer is one of `SPURLOS_TRUSTED_PROXIES`.
fn from_trusted_proxy(req: &HttpRequest) -> bool {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return false;
    };
    req.app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.trusted_proxies.iter().any(|net| net.contains(&peer)))
}

/// The scheme and host (with port) the request was made for. A trusted proxy's `Forwarded`
/// or `X-Forwarded-Proto`/`-Host` count; from anyone else, only the connection and `Host`.
pub fn request_origin(req: &HttpRequest) -> (String, String) {
    if from_trusted_proxy(req) {
        let info = req.connection_info();
        return (info.scheme().to_string(), info.host().to_ascii_lowercase());
    }
    let config = req.app_config();
    let scheme = if config.secure() { "https" } else { "http" };
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or(config.host());
    (scheme.to_string(), host.to_ascii_lowercase())
}

/// Whether the request reached spurlos over HTTPS (directly or via a trusted proxy), or from
/// a browser that treats the host as secure (localhost).
pub fn is_secure(req: &HttpRequest) -> bool {
    let (scheme, host) = request_origin(req);
    if scheme == "https" {
        return true;
    }
    let host = host.split(':').next().unwrap_or("");
    host == "localhost" || host.ends_with(".localhost")
}

/// Whether the request reached spurlos over HTTPS (HSTS is sent then).
pub fn is_https(req: &HttpRequest) -> bool {
    request_origin(req).0 == "https"
}
