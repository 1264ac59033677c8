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
//! - `/docs`, the API reference: Scalar's page for `/openapi.json`, its
//!   script (`/docs/scalar.js`, Scalar's standalone bundle, which the
//!   client's build writes to `docs/` with a gzipped copy) and ours that
//!   starts it (`/docs/start.js`) from this origin too, under a policy of
//!   its own (`DOCS_POLICY`).
//!
//! A client that is not built answers the API's 404 (the server logs it
//! once at start), `/docs` included, with a message saying so.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::AppState;
use crate::error::Error;

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

/// The Content-Security-Policy of `/docs`: everything from this origin
/// only, as on the client's pages, with no LiveKit and no media, and one
/// exception: `style-src 'unsafe-inline'`, because Scalar writes its
/// styles into the page at run time (`<style>` elements, some without the
/// nonce it offers, and `style` attributes, which no nonce covers). Inline
/// styles cannot reach another origin here: images, fonts and connections
/// are this origin's only. No script is inline or evaluated.
pub const DOCS_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The page at `/docs`: our script that sets Scalar up, then Scalar's.
const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Estrade API</title>
</head>
<body>
<div id="reference"></div>
<script src="/docs/start.js"></script>
<script src="/docs/scalar.js"></script>
</body>
</html>
"#;

/// Runs before Scalar's script. zod, inside it, would probe whether it may
/// evaluate strings (`Function("")`), which the policy refuses: its own
/// setting for that (`jitless`) keeps it from trying. Once the page is
/// read, Scalar starts on `/openapi.json` with none of Scalar's own
/// services: no fonts from its CDN, no request proxy (test requests go
/// straight to this origin), no AI agent or MCP, no link to its hosted
/// client, no developer toolbar, no telemetry.
const DOCS_START: &str = r#"globalThis.__zod_globalConfig = { jitless: true }
document.addEventListener('DOMContentLoaded', () => {
  Scalar.createApiReference('#reference', {
    url: '/openapi.json',
    withDefaultFonts: false,
    proxyUrl: '',
    agent: { disabled: true },
    mcp: { disabled: true },
    hideClientButton: true,
    showDeveloperTools: 'never',
    telemetry: false,
  })
})
"#;

/// `/docs/start.js`.
async fn docs_start() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        DOCS_START,
    )
}

/// `/docs`, when the client's build has Scalar's script.
async fn docs_page(script: PathBuf) -> Response {
    if !tokio::fs::metadata(&script)
        .await
        .is_ok_and(|m| m.is_file())
    {
        return Error::Missing {
            code: "not_found",
            message: "The API reference's script comes with the web client's build \
                      (npm run build in client/, ESTRADE_CLIENT_DIR), which this server \
                      does not have; the OpenAPI document is at /openapi.json."
                .to_owned(),
        }
        .into_response();
    }
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
            (CONTENT_SECURITY_POLICY, DOCS_POLICY),
            (REFERRER_POLICY, "no-referrer"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        DOCS_PAGE,
    )
        .into_response()
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
    // Scalar's script keeps one name across versions: revalidated each time.
    let script = dir.join("docs/scalar.js");
    let scalar = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .service(ServeFile::new(&script).precompressed_gzip());
    PAGES
        .iter()
        .fold(Router::new(), |router, path| {
            router.route_service(path, page.clone())
        })
        .nest_service("/assets", assets)
        .route("/docs", get(move || docs_page(script.clone())))
        .route_service("/docs/scalar.js", scalar)
        .route("/docs/start.js", get(docs_start))
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

    #[test]
    fn the_docs_policy_names_no_other_origin_and_allows_no_inline_script() {
        let csp = DOCS_POLICY;
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("style-src 'self' 'unsafe-inline';"), "{csp}");
        assert!(csp.contains("connect-src 'self';"), "{csp}");
        assert!(
            !csp.contains("unsafe-eval") && !csp.contains("://"),
            "{csp}"
        );
    }
}
