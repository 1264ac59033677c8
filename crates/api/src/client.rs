//! The web client, served from the API's own origin: one origin for the
//! pages and the API, so no CORS and one route in Traefik. `client/`'s
//! `npm run build` writes it to `ESTRADE_CLIENT_DIR` (Vite: `index.html`
//! and content-hashed files under `assets/`).
//!
//! - `/`, `/join/{code}` (a session's `join_url`), `/check` (the
//!   connectivity check), `/console` and `/console/sessions/{id}` (the
//!   teacher console) answer `index.html`, never cached, with a strict
//!   Content-Security-Policy: scripts, styles and everything else from this
//!   origin only; connections to this origin and to LiveKit's (its
//!   WebSocket, and the HTTP checks its SDK makes); media from `blob:` and
//!   `data:` (the client's sounds). TURN relays are reached by WebRTC,
//!   which the policy does not govern.
//! - `/assets/…` are cached for a year: their names change with their
//!   content.
//!
//! A client that is not built answers the API's 404 (the server logs it
//! once at start).

use std::path::Path;

use axum::Router;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use tower::ServiceBuilder;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::AppState;

/// The paths that open the client (its own router decides the screen).
pub const PAGES: [&str; 5] = [
    "/",
    "/join/{code}",
    "/check",
    "/console",
    "/console/sessions/{id}",
];

/// The Content-Security-Policy of the client's pages, for LiveKit at
/// `livekit_url` (`ws://…` or `wss://…`, as clients use it).
pub fn content_security_policy(livekit_url: &str) -> String {
    let livekit = origin(livekit_url);
    let livekit_http = livekit
        .strip_prefix("ws")
        .map(|rest| format!(" http{rest}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         media-src 'self' blob: data:; font-src 'self'; \
         connect-src 'self' {livekit}{livekit_http}; worker-src 'self' blob:; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => url.trim_end_matches('/').to_owned(),
    }
}

/// The routes serving the client in `dir`.
pub(crate) fn router(dir: &Path, livekit_url: &str) -> Router<AppState> {
    let csp =
        HeaderValue::from_str(&content_security_policy(livekit_url)).expect("the policy is ASCII");
    let page = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("microphone=(self), camera=(self), geolocation=()"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .service(ServeFile::new(dir.join("index.html")));
    let assets = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .service(ServeDir::new(dir.join("assets")));
    PAGES
        .iter()
        .fold(Router::new(), |router, path| {
            router.route_service(path, page.clone())
        })
        .nest_service("/assets", assets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_lets_the_client_reach_its_origin_and_livekit_only() {
        let csp = content_security_policy("wss://lk.example.org");
        assert!(csp.contains("connect-src 'self' wss://lk.example.org https://lk.example.org;"));
        assert!(csp.contains("script-src 'self';"));
        assert!(!csp.contains("unsafe"), "{csp}");
        let csp = content_security_policy("ws://127.0.0.1:7880");
        assert!(csp.contains("connect-src 'self' ws://127.0.0.1:7880 http://127.0.0.1:7880;"));
    }
}
