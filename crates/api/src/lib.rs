//! Estrade's HTTP API. [`app`] builds the whole router from an [`AppState`];
//! the binary (or a test) binds the listener and passes the shutdown signal,
//! so tests run the real router on port 0.

pub mod auth;
pub mod client;
pub mod console;
pub mod error;
pub mod events;
pub mod extract;
pub mod limits;
pub mod openapi;
pub mod routes;
pub mod streams;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use estrade_core::config::Config;
use secrecy::ExposeSecret as _;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use error::Error;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// What the use cases reach: PostgreSQL, LiveKit, the notices, the
    /// webhook queue.
    pub deps: estrade_app::Deps,
    /// Redis, for the readiness probe and the rate limits.
    pub redis: redis::aio::ConnectionManager,
    /// Checks LiveKit's webhook signatures.
    pub webhooks: estrade_livekit::WebhookVerifier,
    /// This process's live-update feeds.
    pub events: Arc<events::Hub>,
    /// How many live-update streams are open, and may be.
    pub streams: Arc<streams::Streams>,
    /// Runs reconciliation on request.
    pub reconciler: estrade_app::reconcile::Reconciler,
    /// Settings read from the configuration.
    pub settings: Arc<Settings>,
    /// The last readiness probe, shared by `/readyz` requests.
    pub readiness: routes::health::ReadinessCache,
}

/// The parts of the configuration the API reads per request.
#[derive(Debug)]
pub struct Settings {
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Base of join links.
    pub public_url: url::Url,
    /// LiveKit's URL as clients use it.
    pub livekit_url: String,
    /// Signs and checks participant tokens.
    pub participant_tokens: auth::ParticipantTokens,
    /// Join and minting rate limits.
    pub limits: limits::JoinLimits,
    /// Makes and checks the keys of join links.
    pub join_links: auth::JoinLinks,
    /// Failed console sign-ins per client.
    pub sign_in_limits: limits::FailureBudget,
    /// Typed questions per participant.
    pub question_limits: limits::QuestionLimits,
    /// The console's sign-in cookie.
    pub console: console::ConsoleCookies,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// TURN relays for `GET /v1/connectivity`.
    pub turn: Option<estrade_core::config::TurnConfig>,
    /// The built web client.
    pub client_dir: std::path::PathBuf,
    /// How long a participant LiveKit does not have keeps its seat.
    pub graces: estrade_core::domain::Graces,
    /// How long a request may take until its answer starts.
    pub request_timeout: Duration,
}

impl Settings {
    /// Settings from the configuration.
    pub fn from_config(config: &Config) -> Self {
        Self {
            body_limit_bytes: config.body_limit_bytes,
            public_url: config.public_url.clone(),
            livekit_url: config.livekit.client_url(),
            participant_tokens: auth::ParticipantTokens::new(
                config.participant_token_secret.expose_secret(),
                config.participant_token_ttl,
            ),
            limits: limits::JoinLimits::new(config.limits, &config.redis_namespace),
            join_links: auth::JoinLinks::new(config.participant_token_secret.expose_secret()),
            sign_in_limits: limits::FailureBudget::per_minute(
                config.limits.sign_in_failures_per_ip_per_min,
            ),
            question_limits: limits::QuestionLimits::default(),
            console: console::ConsoleCookies::new(&config.public_url, config.console_session_ttl),
            trusted_proxies: config.trusted_proxies.clone(),
            turn: config.turn.clone(),
            graces: config.graces,
            client_dir: config.client_dir.clone(),
            request_timeout: config.request_timeout,
        }
    }
}

impl AppState {
    /// The state for `config`, with `db` as the pool (tests pass their own).
    pub fn new(config: &Config, db: PgPool) -> redis::RedisResult<Self> {
        let redis = estrade_app::redis_connection(config.redis_url.expose_secret())?;
        let hub = events::Hub::new(
            db.clone(),
            redis::Client::open(config.redis_url.expose_secret())?,
            estrade_app::events::channel(&config.redis_namespace),
        );
        let deps = estrade_app::Deps::with_redis(config, db, redis.clone());
        Ok(Self {
            reconciler: estrade_app::reconcile::Reconciler {
                deps: deps.clone(),
                delete_orphan_rooms: config.delete_orphan_rooms,
            },
            deps,
            events: Arc::new(hub),
            streams: Arc::new(streams::Streams::new(
                config.streams_per_participant,
                config.streams_max,
            )),
            redis,
            webhooks: estrade_livekit::WebhookVerifier::new(
                &config.livekit.api_key,
                config.livekit.expose_secret(),
            ),
            settings: Arc::new(Settings::from_config(config)),
            readiness: routes::health::ReadinessCache::default(),
        })
    }

    /// Ends every live-update stream when `shutdown` is cancelled (a
    /// graceful shutdown waits for open responses, and a stream never ends
    /// by itself).
    pub fn close_streams_on(&self, shutdown: CancellationToken) {
        let closing = self.events.closing();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            closing.cancel();
        });
    }
}

/// The whole API router.
pub fn app(state: AppState) -> Router {
    let body_limit = state.settings.body_limit_bytes;
    let request_timeout = state.settings.request_timeout;
    let client = client::router(&state.settings.client_dir, &state.settings.livekit_url);
    let routes = Router::new()
        .merge(client)
        .merge(routes::health::router())
        .merge(routes::accounts::router())
        .merge(routes::console::router())
        .merge(routes::audit::router())
        .merge(routes::sessions::router())
        .merge(routes::join::router())
        .merge(routes::participants::router())
        .merge(routes::floor::router())
        .merge(routes::questions::router())
        .merge(routes::polls::router())
        .merge(routes::privacy::router())
        .merge(routes::outbound::router())
        .merge(routes::events::router())
        .merge(routes::reconcile::router())
        .merge(routes::report::router())
        .merge(routes::connectivity::router())
        .merge(routes::webhooks::router())
        .merge(openapi::router())
        .with_state(state);
    with_common_layers(routes, body_limit, request_timeout)
}

/// What every route gets: the error shape for every error (including
/// unknown paths and methods), the body limit, the request timeout,
/// metrics, request spans, request ids and panic recovery.
fn with_common_layers(routes: Router, body_limit: usize, request_timeout: Duration) -> Router {
    routes
        .fallback(|| async { Error::NotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            within(request_timeout, req, next)
        }))
        .layer(middleware::from_fn(ensure_error_shape))
        // Holding the handle guarantees the recorder is installed before the
        // first request is counted.
        .layer(middleware::from_fn_with_state(
            estrade_serve::metrics::handle(),
            estrade_serve::metrics::track,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // The matched route, never the raw URI: paths carry ids
                    // and query strings may carry tokens.
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", |p| p.as_str());
                    let request_id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        http.method = %req.method(),
                        http.route = route,
                        request.id = request_id,
                    )
                })
                .on_request(())
                .on_response(|res: &Response, latency: Duration, _span: &tracing::Span| {
                    tracing::info!(
                        http.status = res.status().as_u16(),
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "request done"
                    );
                }),
        )
        .layer(CatchPanicLayer::custom(|_panic| {
            Error::Internal(anyhow::anyhow!("handler panicked")).into_response_now()
        }))
        .layer(middleware::from_fn(no_store_by_default))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::from_fn(bound_request_id))
}

/// Answers 408 `request_timeout`, and closes the connection, when a request
/// (its body included) is not answered within `limit`: a client sending
/// its body slowly cannot hold a connection and a handler. Only the wait
/// for the answer's start is bounded, so a live-update stream, answered at
/// once, goes on.
async fn within(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            ::metrics::counter!("http_requests_timed_out_total").increment(1);
            let mut response = Error::TimedOut(limit).into_response_now();
            // The body may be half-read: this connection cannot carry another request.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// The longest `X-Request-Id` a client may choose.
const MAX_REQUEST_ID: usize = 64;

/// A client's `X-Request-Id` is kept (logged, echoed) only when it is at
/// most 64 characters of `[A-Za-z0-9._-]`; any other is dropped, and a
/// fresh UUID takes its place, so no client writes what it likes into the
/// logs.
async fn bound_request_id(mut req: Request, next: Next) -> Response {
    let plain = |v: &HeaderValue| {
        v.len() <= MAX_REQUEST_ID
            && v.as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    if req.headers().get("x-request-id").is_some_and(|v| !plain(v)) {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

/// Answers carry participant tokens, LiveKit tokens, API keys and
/// learners' names: no cache may keep them. Every response without a
/// `Cache-Control` of its own (the web client's files set theirs) gets
/// `no-store`.
async fn no_store_by_default(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

impl Error {
    fn into_response_now(self) -> Response {
        axum::response::IntoResponse::into_response(self)
    }
}

/// Gives every error response the API.md shape, including those produced
/// by the framework (a path that does not parse, a missing header): any
/// 4xx/5xx whose body is not JSON is replaced by the standard error body
/// for its status. Headers such as `Allow` and `Retry-After` are kept.
async fn ensure_error_shape(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let replacement = Error::for_status(status);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, replacement.into_body())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::post;
    use serde_json::Value;
    use tower::ServiceExt as _;

    use super::*;
    use crate::extract::Json;

    #[derive(serde::Deserialize)]
    struct Named {
        #[allow(dead_code)]
        name: String,
    }

    async fn boom() -> &'static str {
        panic!("bug")
    }

    /// A JSON route behind the real layers, to exercise the rejections.
    fn echo_app() -> Router {
        let routes = Router::new()
            .route("/echo", post(|Json(_): Json<Named>| async { "ok" }))
            .route("/boom", post(boom));
        with_common_layers(routes, 1024, Duration::from_secs(30))
    }

    async fn call(request: Request<Body>) -> (StatusCode, Value) {
        let response = echo_app().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).expect("every error body is JSON"),
        )
    }

    fn post_json(body: impl Into<Body>) -> Request<Body> {
        Request::post("/echo")
            .header("content-type", "application/json")
            .body(body.into())
            .unwrap()
    }

    #[tokio::test]
    async fn malformed_json_is_a_400_in_the_error_shape() {
        let (status, body) = call(post_json("{not json")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "malformed_request");
        assert!(body["error"]["message"].as_str().unwrap().len() > 10);
    }

    #[tokio::test]
    async fn json_of_the_wrong_shape_is_a_422_in_the_error_shape() {
        let (status, body) = call(post_json(r#"{"title": 3}"#)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "invalid_body");
        assert!(body["error"]["message"].as_str().unwrap().contains("name"));
    }

    #[tokio::test]
    async fn a_json_body_that_is_not_an_object_is_a_422_even_when_serde_could_read_it() {
        // serde reads a struct from an array of its fields: `["Ana"]` would pass.
        for body in [r#"["Ana"]"#, "null", "  3", r#""Ana""#] {
            let (status, answer) = call(post_json(body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(answer["error"]["code"], "invalid_body", "{body}");
        }
        let request = Request::post("/echo")
            .header("content-type", "application/json")
            .body(Body::from(r#" {"name": "Ana"}"#))
            .unwrap();
        let response = echo_app().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn whole_numbers_may_be_written_as_floats_and_fractions_are_refused() {
        #[derive(serde::Deserialize)]
        struct Counts {
            #[serde(deserialize_with = "crate::extract::whole")]
            n: i32,
            #[serde(default, deserialize_with = "crate::extract::whole_or_none")]
            m: Option<i32>,
        }
        let read = |s: &str| serde_json::from_str::<Counts>(s).map(|c| (c.n, c.m));
        assert_eq!(read(r#"{"n": 15}"#).unwrap(), (15, None));
        assert_eq!(read(r#"{"n": 15.0, "m": 2.0}"#).unwrap(), (15, Some(2)));
        assert_eq!(read(r#"{"n": -1, "m": null}"#).unwrap(), (-1, None));
        for bad in [
            r#"{"n": 1.5}"#,
            r#"{"n": "1"}"#,
            r#"{"n": 3e10}"#,
            r#"{"n": 1, "m": 0.5}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_a_415_in_the_error_shape() {
        let request = Request::post("/echo")
            .header("content-type", "text/plain")
            .body(Body::from("hi"))
            .unwrap();
        let (status, body) = call(request).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }

    #[tokio::test]
    async fn an_oversized_body_is_a_413_in_the_error_shape() {
        let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(2048));
        let (status, body) = call(post_json(big)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["error"]["code"], "payload_too_large");
    }

    #[tokio::test]
    async fn a_panicking_handler_is_an_opaque_500_in_the_error_shape() {
        let request = Request::post("/boom").body(Body::empty()).unwrap();
        let (status, body) = call(request).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("bug"));
    }

    #[tokio::test]
    async fn an_unknown_route_and_a_wrong_method_answer_in_the_error_shape() {
        let (status, body) = call(Request::get("/nowhere").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
        let (status, body) = call(Request::get("/echo").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["error"]["code"], "method_not_allowed");
    }
}
