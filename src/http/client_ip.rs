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
        ready(Ok(ClientIp(ClientAddr::from_request(peer, xff, trusted))))
    }
}

/// Whether the request reached spurlos over HTTPS (directly or via a trusted proxy), or from
/// a browser that treats the host as secure (localhost).
pub fn is_secure(req: &HttpRequest) -> bool {
    let info = req.connection_info();
    if info.scheme() == "https" {
        return true;
    }
    let host = info.host().split(':').next().unwrap_or("");
    host == "localhost" || host.ends_with(".localhost")
}
