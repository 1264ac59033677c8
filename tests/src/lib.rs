//! The shared test harness: starts the real API router on a random port
//! against real PostgreSQL (a fresh database per test, from `#[sqlx::test]`),
//! real Redis (`REDIS_URL`, or a private `redis-server`) and an in-process
//! LiveKit stand-in.

pub mod backlog;
pub mod bot;
pub mod signal;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::collections::HashMap;
use std::sync::Arc;

use estrade_api::AppState;
use estrade_core::config::{Config, LiveKitConfig};
use estrade_livekit::Gateway;
use estrade_livekit_stub::{Stub, StubConfig};
use livekit_api::access_token::{AccessToken, VideoGrants};
use redis::Commands as _;
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// The LiveKit API key every test uses.
pub const LIVEKIT_KEY: &str = "testkey";
/// The LiveKit API secret every test uses.
pub const LIVEKIT_SECRET: &str = "test-secret-0123456789abcdef0123456789";

/// An HTTP client for tests. reqwest is built with rustls but no crypto
/// provider (livekit-api chooses that), so the process-wide provider is
/// installed here once.
///
/// It lets go of a kept-alive connection after 5 s idle, before the API
/// closes it (`ESTRADE_HEADER_READ_TIMEOUT_S`, 10 s), as Traefik does
/// (traefik/dynamic/estrade.yml): otherwise a request sent after about
/// 10 s of quiet can meet the connection as the API closes it, and fail.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client")
}

/// The Redis the suite uses: `REDIS_URL`, else the default local one.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Gateway settings pointing at a stand-in.
pub fn livekit_config(url: &str) -> LiveKitConfig {
    LiveKitConfig {
        url: url.parse().expect("stub url"),
        api_key: LIVEKIT_KEY.to_owned(),
        api_secret: SecretString::from(LIVEKIT_SECRET),
        request_timeout: Duration::from_secs(2),
        token_ttl: Duration::from_secs(900),
    }
}

/// Starts a LiveKit stand-in with the test credentials.
pub async fn start_stub() -> Stub {
    start_stub_with(StubConfig::new(LIVEKIT_KEY, LIVEKIT_SECRET)).await
}

/// Starts a LiveKit stand-in with a custom configuration.
pub async fn start_stub_with(config: StubConfig) -> Stub {
    Stub::start(config)
        .await
        .expect("start the LiveKit stand-in")
}

/// A gateway speaking to `stub` with the test credentials.
pub fn gateway(stub: &Stub) -> Gateway {
    Gateway::new(&livekit_config(&stub.url()))
}

/// A server-API token with the grants `set` chooses, for requests our
/// gateway would never make.
pub fn service_token(set: impl FnOnce(&mut VideoGrants)) -> String {
    let mut grants = VideoGrants::default();
    set(&mut grants);
    AccessToken::with_api_key(LIVEKIT_KEY, LIVEKIT_SECRET)
        .with_grants(grants)
        .to_jwt()
        .unwrap()
}

/// A token with `roomAdmin` on `room`.
pub fn admin_token(room: &str) -> String {
    service_token(|g| {
        g.room_admin = true;
        g.room = room.to_owned();
    })
}

/// Options for [`TestApp::spawn_with`].
pub struct Options {
    /// Redis to use.
    pub redis_url: String,
    /// Configuration variables set on top of the test defaults
    /// (`ESTRADE_BODY_LIMIT_BYTES`, rate limits…).
    pub env: Vec<(&'static str, String)>,
    /// Whether the stand-in sends its webhooks to the app.
    pub webhooks_to_app: bool,
    /// Whether the worker (webhook consumer, sweeper) runs in-process.
    pub worker: bool,
    /// Whether the app talks to a real `livekit-server` (which then posts
    /// its webhooks to the app) instead of the stand-in.
    pub real_livekit: bool,
    /// With `real_livekit`, how many LiveKit nodes (more than one: its
    /// distributed mode over the test's Redis; the app talks to the first).
    pub livekit_nodes: u16,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            redis_url: redis_url(),
            env: Vec::new(),
            webhooks_to_app: false,
            worker: false,
            real_livekit: false,
            livekit_nodes: 1,
        }
    }
}

/// The worker settings for a test configuration.
pub fn worker_config(config: &Config) -> estrade_worker::WorkerConfig {
    estrade_worker::WorkerConfig {
        drain: Duration::from_secs(5),
        retention: config.retention,
        requeue_after: config.webhook_requeue_after,
        concurrency: config.worker_concurrency,
        reconcile_cron: config.reconcile_cron(),
        delete_orphan_rooms: config.delete_orphan_rooms,
    }
}

/// The secret participant tokens are signed with in tests.
pub const PARTICIPANT_SECRET: &str = "participant-secret-0123456789abcdef";

/// The configuration a test app runs with.
pub fn test_config(stub_url: &str, options: &Options) -> Config {
    let mut vars: HashMap<&str, String> = [
        (
            "DATABASE_URL",
            "postgres://unused@127.0.0.1/unused".to_owned(),
        ),
        ("REDIS_URL", options.redis_url.clone()),
        ("LIVEKIT_URL", stub_url.to_owned()),
        ("LIVEKIT_API_KEY", LIVEKIT_KEY.to_owned()),
        ("LIVEKIT_API_SECRET", LIVEKIT_SECRET.to_owned()),
        ("ESTRADE_LIVEKIT_TIMEOUT_MS", "2000".to_owned()),
        ("ESTRADE_PUBLIC_URL", "https://app.estrade.test".to_owned()),
        (
            "ESTRADE_PARTICIPANT_TOKEN_SECRET",
            PARTICIPANT_SECRET.to_owned(),
        ),
        // Tests that drive presence with hand-made webhooks have no
        // matching LiveKit connections: a scheduled reconciliation would
        // (rightly) undo them. Tests of the schedule turn it on.
        ("ESTRADE_RECONCILE_EVERY_S", "0".to_owned()),
        // A departed learner's hand is lowered at the next tick of the
        // floor timers; the tests of the grace itself set their own.
        ("ESTRADE_DEPARTURE_GRACE_S", "0".to_owned()),
        // Tests start many classes of one teacher; the tests of the
        // admission limits set their own.
        ("ESTRADE_MAX_LIVE_SESSIONS_PER_TEACHER", "100000".to_owned()),
        ("ESTRADE_MAX_LIVE_SESSIONS", "100000".to_owned()),
        ("ESTRADE_MAX_PARTICIPANTS", "10000000".to_owned()),
    ]
    .into_iter()
    .collect();
    vars.extend(options.env.iter().cloned());
    Config::from_lookup(|k| vars.get(k).cloned()).expect("test configuration")
}

/// The test's listener limits: its configuration's, with a short drain.
fn serving(config: &Config) -> estrade_serve::Serving {
    estrade_serve::Serving {
        drain: Duration::from_secs(5),
        ..estrade_serve::Serving::from_config(config)
    }
}

/// A running API with its dependencies.
pub struct TestApp {
    /// Where the API listens.
    pub addr: SocketAddr,
    /// The test's own database.
    pub db: PgPool,
    /// The LiveKit stand-in the API talks to (started but unused when the
    /// app runs against the real server).
    pub stub: Stub,
    /// The real LiveKit server the API talks to, if it was asked for.
    pub livekit: Option<estrade_livekit::server::LiveKitServer>,
    /// The other nodes of its cluster (`Options::livekit_nodes`).
    pub more_livekit: Vec<estrade_livekit::server::LiveKitServer>,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// The configuration it runs with.
    pub config: Config,
    shutdown: CancellationToken,
}

impl TestApp {
    /// Starts the API against `db`, the suite's Redis and a fresh stand-in.
    pub async fn spawn(db: PgPool) -> Self {
        Self::spawn_with(db, Options::default()).await
    }

    /// Starts the API with explicit options. Its Redis keys live under a
    /// namespace of its own, so tests sharing a Redis never take each
    /// other's jobs.
    pub async fn spawn_with(db: PgPool, mut options: Options) -> Self {
        if !options
            .env
            .iter()
            .any(|(k, _)| *k == "ESTRADE_REDIS_NAMESPACE")
        {
            use std::hash::{BuildHasher as _, RandomState};
            let db_name = db
                .connect_options()
                .get_database()
                .unwrap_or("t")
                .to_owned();
            let tag = RandomState::new().hash_one((db_name, std::process::id()));
            options
                .env
                .push(("ESTRADE_REDIS_NAMESPACE", format!("test-{tag:x}")));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut stub_config = StubConfig::new(LIVEKIT_KEY, LIVEKIT_SECRET);
        // Permission changes in the order they took effect (`Stub::permission_updates`).
        stub_config.record_calls = true;
        if options.webhooks_to_app {
            stub_config.webhook_url = Some(format!("http://{addr}/webhooks/livekit"));
        }
        let stub = start_stub_with(stub_config).await;
        let webhooks = format!("http://{addr}/webhooks/livekit");
        let node = |index: u16| {
            use estrade_livekit::server::LiveKitServer;
            let started = if options.livekit_nodes > 1 {
                let redis = options
                    .redis_url
                    .trim_start_matches("redis://")
                    .trim_end_matches('/');
                LiveKitServer::start_node(
                    LIVEKIT_KEY,
                    LIVEKIT_SECRET,
                    Some(&webhooks),
                    redis,
                    index,
                )
            } else {
                LiveKitServer::start(LIVEKIT_KEY, LIVEKIT_SECRET, Some(&webhooks))
            };
            started.expect("start the real LiveKit server")
        };
        let livekit = options.real_livekit.then(|| node(0));
        let more_livekit: Vec<_> = if options.real_livekit {
            (1..options.livekit_nodes).map(node).collect()
        } else {
            Vec::new()
        };
        let livekit_url = livekit
            .as_ref()
            .map_or_else(|| stub.url(), |lk| lk.url.clone());
        let config = test_config(&livekit_url, &options);
        let state = AppState::new(&config, db.clone()).expect("redis url");
        let shutdown = CancellationToken::new();
        state.close_streams_on(shutdown.clone());
        tokio::spawn(estrade_serve::serve(
            listener,
            estrade_api::app(state),
            shutdown.clone(),
            serving(&config),
        ));
        let app = Self {
            addr,
            db,
            stub,
            livekit,
            more_livekit,
            client: http_client(),
            config,
            shutdown,
        };
        if options.worker {
            app.start_worker();
        }
        app
    }

    /// Starts an in-process worker (webhook consumer, sweeper, timers,
    /// LiveKit retries) for this app; it stops with the app.
    pub fn start_worker(&self) {
        let deps = estrade_app::Deps::new(&self.config, self.db.clone()).expect("redis url");
        tokio::spawn(estrade_worker::run(
            worker_config(&self.config),
            deps,
            self.shutdown.clone(),
        ));
    }

    /// Starts another API replica (same configuration, database, Redis and
    /// LiveKit stand-in) on its own port; returns its base URL. It stops
    /// with this app.
    pub async fn spawn_replica(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = AppState::new(&self.config, self.db.clone()).expect("redis url");
        state.close_streams_on(self.shutdown.clone());
        tokio::spawn(estrade_serve::serve(
            listener,
            estrade_api::app(state),
            self.shutdown.clone(),
            serving(&self.config),
        ));
        format!("http://{addr}")
    }

    /// The URL of the test's own database (same server as `DATABASE_URL`).
    pub fn database_url(&self) -> String {
        let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
        let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
        url.set_path(self.db.connect_options().get_database().unwrap_or_default());
        url.to_string()
    }

    /// The environment `estrade worker` needs to work for this app (for
    /// tests that run it as a child process).
    pub fn worker_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", self.database_url()),
            (
                "REDIS_URL",
                self.config.redis_url.expose_secret().to_owned(),
            ),
            ("LIVEKIT_URL", self.config.livekit.api_url()),
            ("LIVEKIT_API_KEY", LIVEKIT_KEY.to_owned()),
            ("LIVEKIT_API_SECRET", LIVEKIT_SECRET.to_owned()),
            ("ESTRADE_PUBLIC_URL", "https://app.estrade.test".to_owned()),
            (
                "ESTRADE_PARTICIPANT_TOKEN_SECRET",
                PARTICIPANT_SECRET.to_owned(),
            ),
            (
                "ESTRADE_REDIS_NAMESPACE",
                self.config.redis_namespace.clone(),
            ),
            ("ESTRADE_METRICS_LISTEN", "127.0.0.1:0".to_owned()),
            (
                "ESTRADE_WEBHOOK_REQUEUE_AFTER_S",
                self.config.webhook_requeue_after.as_secs().to_string(),
            ),
            (
                "ESTRADE_RECONCILE_EVERY_S",
                self.config.reconcile_every_s.to_string(),
            ),
            (
                "ESTRADE_DEPARTURE_GRACE_S",
                self.config.graces.departure.as_secs().to_string(),
            ),
            (
                "ESTRADE_ARRIVAL_GRACE_S",
                self.config.graces.arrival.as_secs().to_string(),
            ),
            (
                "ESTRADE_MAX_LIVE_SESSIONS_PER_TEACHER",
                self.config.capacity.live_sessions_per_teacher.to_string(),
            ),
            (
                "ESTRADE_MAX_LIVE_SESSIONS",
                self.config.capacity.live_sessions.to_string(),
            ),
            (
                "ESTRADE_MAX_PARTICIPANTS",
                self.config.capacity.participants.to_string(),
            ),
        ]
    }

    /// `bin role` (the `estrade` binary, as the caller's
    /// `CARGO_BIN_EXE_estrade` names it) with this app's environment
    /// (`worker_env`) and `env` on top, nothing else inherited but `PATH`,
    /// logging warnings only, its stdout dropped.
    pub fn estrade_command(&self, bin: &str, role: &str, env: &[(&str, String)]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.arg(role)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ESTRADE_LOG", "warn")
            .stdout(Stdio::null());
        for (k, v) in self.worker_env() {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// GETs `path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Sends `method path` with an optional bearer credential and JSON
    /// body; returns the status and the JSON body (`null` when empty).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, json)
    }

    /// POST with a credential and a JSON body.
    pub async fn post_as(
        &self,
        path: &str,
        bearer: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::POST, path, Some(bearer), Some(body))
            .await
    }

    /// GET with a credential.
    pub async fn get_as(&self, path: &str, bearer: &str) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::GET, path, Some(bearer), None)
            .await
    }

    /// An admin account's key, created directly in the database (as
    /// `estrade admin create-key` does).
    pub async fn admin_key(&self) -> String {
        let name = estrade_core::domain::AccountName::parse("IT desk").unwrap();
        let role = estrade_core::domain::AccountRole::Admin;
        let actor = estrade_db::audit::Actor::System;
        let (_, key) = estrade_app::accounts::create(&self.db, actor, &name, role)
            .await
            .unwrap();
        key.expose().to_owned()
    }

    /// A teacher created through the API; returns its id and key.
    pub async fn teacher(&self, admin: &str, name: &str) -> (String, String) {
        let body = serde_json::json!({"name": name, "role": "teacher"});
        let (status, body) = self.post_as("/v1/admin/accounts", admin, body).await;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        (id, body["api_key"].as_str().unwrap().to_owned())
    }

    /// A live session of `teacher`; returns its JSON.
    pub async fn live_session(&self, teacher: &str, body: serde_json::Value) -> serde_json::Value {
        let (status, session) = self.post_as("/v1/sessions", teacher, body).await;
        assert_eq!(status, 201, "{session}");
        let path = format!("/v1/sessions/{}/start", session["id"].as_str().unwrap());
        let (status, session) = self.post_as(&path, teacher, serde_json::json!({})).await;
        assert_eq!(status, 200, "{session}");
        session
    }

    /// The teacher's publish token for `session_id` (asserting a 200).
    pub async fn publish_token(&self, teacher: &str, session_id: &str) -> serde_json::Value {
        let (status, publish) = self
            .post_as(
                &format!("/v1/sessions/{session_id}/publish-token"),
                teacher,
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, 200, "{publish}");
        publish
    }

    /// Joins with `code` as a learner named `name`; returns status and body.
    pub async fn join(&self, code: &str, name: &str) -> (u16, serde_json::Value) {
        let body = serde_json::json!({"code": code, "name": name});
        self.call(reqwest::Method::POST, "/v1/join", None, Some(body))
            .await
    }

    /// Counts rows of `table`.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&self.db)
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        // Leave the shared Redis as we found it: remove this app's keys.
        let url = self.config.redis_url.expose_secret().to_owned();
        let pattern = format!("{}:*", self.config.redis_namespace);
        let _ = std::thread::spawn(move || {
            let mut conn =
                redis::Client::open(url)?.get_connection_with_timeout(Duration::from_secs(1))?;
            let keys: Vec<String> = conn.scan_match(&pattern)?.collect::<Result<_, _>>()?;
            for chunk in keys.chunks(500) {
                redis::cmd("DEL").arg(chunk).exec(&mut conn)?;
            }
            Ok::<(), redis::RedisError>(())
        })
        .join();
    }
}

/// A private `redis-server` on a free port, for tests that stop, restart
/// or pause Redis.
pub struct RedisServer {
    /// Its URL.
    pub url: String,
    port: u16,
    /// Where it keeps its append-only file, when persistent.
    dir: Option<std::path::PathBuf>,
    child: Child,
}

impl RedisServer {
    /// Starts one that keeps nothing, and waits until it answers.
    pub fn start() -> Self {
        Self::start_on(free_port(), None)
    }

    /// Starts one with an append-only file in `dir` (fsync on every write),
    /// so a restart keeps its data.
    pub fn start_persistent(dir: &std::path::Path) -> Self {
        Self::start_on(free_port(), Some(dir.to_owned()))
    }

    fn start_on(port: u16, dir: Option<std::path::PathBuf>) -> Self {
        let mut cmd = Command::new("redis-server");
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ]);
        match &dir {
            Some(d) => cmd
                .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
                .arg(d),
            None => cmd.args(["--appendonly", "no"]),
        };
        let child = cmd
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test installs it)");
        let server = Self {
            url: format!("redis://127.0.0.1:{port}"),
            port,
            dir,
            child,
        };
        wait_until(Duration::from_secs(10), || server.answers());
        server
    }

    fn answers(&self) -> bool {
        std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
    }

    /// Kills it and waits until it is gone.
    pub fn stop(&mut self) {
        self.child.kill().expect("kill redis-server");
        self.child.wait().expect("reap redis-server");
    }

    /// Starts it again on the same port (and the same file, if persistent).
    pub fn restart(&mut self) {
        assert!(!self.answers(), "stop it before restarting it");
        let again = Self::start_on(self.port, self.dir.clone());
        let old = std::mem::replace(self, again);
        drop(old);
    }

    /// Sends it a signal (`STOP` pauses it, `CONT` resumes it).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal}");
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` until it holds, panicking after `timeout` (async).
pub async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One webhook request as received.
#[derive(Debug, Clone)]
pub struct ReceivedWebhook {
    /// The `Authorization` header, verbatim.
    pub authorization: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The exact body bytes.
    pub body: Vec<u8>,
}

/// An HTTP endpoint that records webhooks and answers with scripted
/// statuses (200 once the script is exhausted).
#[derive(Clone, Default)]
pub struct WebhookSink {
    received: Arc<std::sync::Mutex<Vec<ReceivedWebhook>>>,
    statuses: Arc<std::sync::Mutex<std::collections::VecDeque<u16>>>,
}

impl WebhookSink {
    /// Starts it; returns the sink and its URL.
    pub async fn start() -> (Self, String) {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, StatusCode};
        let sink = Self::default();
        let handler_sink = sink.clone();
        let app = axum::Router::new().route(
            "/webhooks/livekit",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let sink = handler_sink.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    sink.received.lock().unwrap().push(ReceivedWebhook {
                        authorization: header("authorization"),
                        content_type: header("content-type"),
                        body: body.to_vec(),
                    });
                    let status = sink.statuses.lock().unwrap().pop_front().unwrap_or(200);
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks/livekit", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (sink, url)
    }

    /// The next answers, in order.
    pub fn answer_with(&self, statuses: &[u16]) {
        self.statuses.lock().unwrap().extend(statuses);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<ReceivedWebhook> {
        self.received.lock().unwrap().clone()
    }

    /// The events received so far, parsed.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.received()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }
}

/// Polls `condition` until it holds, panicking after `timeout`.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Copies `scripts/gen-secrets` and every file it reads or renders into
/// `dir`, laid out as in the repository, and returns the copy's path: the
/// script then writes into `dir`, never into the checkout.
pub fn gen_secrets_copy(dir: &std::path::Path) -> std::path::PathBuf {
    let repo = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    for path in [
        "scripts/gen-secrets",
        "compose/livekit.yaml",
        "compose/turnserver.conf",
        "traefik/traefik.yml",
        "traefik/dynamic/estrade.yml",
    ] {
        let to = dir.join(path);
        std::fs::create_dir_all(to.parent().expect("a folder")).expect("mkdir");
        std::fs::copy(repo.join(path), &to).expect("copy");
    }
    dir.join("scripts/gen-secrets")
}

/// Polls an async `condition` until it holds, panicking after `timeout`.
pub async fn until<F, Fut>(timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !condition().await {
        assert!(
            Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Signs a webhook body as LiveKit does (raw JWT with the body's SHA-256).
pub fn sign_webhook(body: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let sha = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body));
    AccessToken::with_api_key(LIVEKIT_KEY, LIVEKIT_SECRET)
        .with_ttl(Duration::from_secs(300))
        .with_sha256(&sha)
        .to_jwt()
        .expect("sign")
}

impl TestApp {
    /// Posts `event` to `/webhooks/livekit`, signed; returns the status.
    pub async fn deliver(&self, event: &serde_json::Value) -> u16 {
        let body = event.to_string();
        self.client
            .post(self.url("/webhooks/livekit"))
            .header("content-type", "application/webhook+json")
            .header("authorization", sign_webhook(&body))
            .body(body)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }

    /// The inbox status of `event_id`.
    pub async fn inbox_status(&self, event_id: &str) -> Option<String> {
        sqlx::query_scalar("select status from webhook_inbox where event_id = $1")
            .bind(event_id)
            .fetch_optional(&self.db)
            .await
            .expect("inbox")
    }

    /// Waits until every stored event is applied (and there is at least one).
    pub async fn inbox_drained(&self, timeout: Duration) {
        let db = self.db.clone();
        until(timeout, || {
            let db = db.clone();
            async move {
                let (pending, all): (i64, i64) = sqlx::query_as(
                    "select count(*) filter (where status <> 'processed'), count(*) from webhook_inbox",
                )
                .fetch_one(&db)
                .await
                .expect("inbox");
                pending == 0 && all > 0
            }
        })
        .await;
    }
}

/// One server-sent event as a client receives it.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// Its id (`id:`), if any.
    pub id: Option<i64>,
    /// Its name (`event:`).
    pub event: String,
    /// Its data, parsed as JSON.
    pub data: serde_json::Value,
}

/// A client of `GET /v1/sessions/{id}/events`, parsing the stream as a
/// browser's `EventSource` does (comments, used as keep-alives, skipped).
pub struct SseStream {
    response: reqwest::Response,
    buffer: String,
    ended: bool,
}

impl SseStream {
    /// Opens the stream of `session` at `base` as `bearer`, resuming after
    /// `last_event_id` if given. Returns the status and, on 200, the stream
    /// (otherwise the error body).
    pub async fn open(
        base: &str,
        session: &str,
        bearer: &str,
        last_event_id: Option<&str>,
    ) -> Result<Self, (u16, serde_json::Value)> {
        let mut request = http_client()
            .get(format!("{base}/v1/sessions/{session}/events"))
            .bearer_auth(bearer)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("events request");
        let status = response.status().as_u16();
        if status != 200 {
            return Err((status, response.json().await.unwrap_or_default()));
        }
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "an event stream"
        );
        Ok(Self {
            response,
            buffer: String::new(),
            ended: false,
        })
    }

    /// The next event; `None` once the server has ended the stream. Panics
    /// if nothing comes within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_sse_block(&block) {
                    return Some(event);
                }
                continue;
            }
            if self.ended {
                return None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no event within {timeout:?}"))
                .expect("stream read");
            match chunk {
                Some(bytes) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                None => self.ended = true,
            }
        }
    }

    /// The next event, which must be named `event`.
    pub async fn expect(&mut self, event: &str, timeout: Duration) -> SseEvent {
        let got = self
            .next(timeout)
            .await
            .unwrap_or_else(|| panic!("the stream ended before a `{event}` event"));
        assert_eq!(got.event, event, "unexpected event: {got:?}");
        got
    }
}

fn parse_sse_block(block: &str) -> Option<SseEvent> {
    let (mut id, mut event, mut data) = (None, String::from("message"), String::new());
    let mut any = false;
    for line in block.lines() {
        if line.starts_with(':') || line.is_empty() {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        any = true;
        match field {
            "id" => id = value.parse().ok(),
            "event" => event = value.to_owned(),
            "data" => {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            }
            _ => {}
        }
    }
    any.then(|| SseEvent {
        id,
        event,
        data: serde_json::from_str(&data).expect("event data is JSON"),
    })
}

/// A live session with its teacher and learners.
pub struct Class {
    /// The teacher's API key.
    pub teacher: String,
    /// The session, as created.
    pub session: serde_json::Value,
    /// The learners' join answers.
    pub learners: Vec<serde_json::Value>,
}

impl Class {
    /// A path under the session: `/v1/sessions/{id}{rest}`.
    pub fn path(&self, rest: &str) -> String {
        format!("/v1/sessions/{}{rest}", self.id())
    }

    /// The session's id.
    pub fn id(&self) -> &str {
        self.session["id"].as_str().unwrap()
    }

    /// Its LiveKit room.
    pub fn room(&self) -> &str {
        self.session["room_name"].as_str().unwrap()
    }
}

/// A learner's participant token, from its join answer.
pub fn token(learner: &serde_json::Value) -> &str {
    learner["participant_token"].as_str().unwrap()
}

impl TestApp {
    /// A live session (`floor` settings) with `n` learners connected to
    /// the LiveKit stand-in.
    pub async fn class(&self, floor: serde_json::Value, n: usize) -> Class {
        let admin = self.admin_key().await;
        let (_, teacher) = self.teacher(&admin, "Chef").await;
        let session = self
            .live_session(
                &teacher,
                serde_json::json!({"title": "Bread", "floor": floor}),
            )
            .await;
        let mut learners = Vec::new();
        for i in 0..n {
            let (status, joined) = self
                .join(
                    session["join_code"].as_str().unwrap(),
                    &format!("Learner {i}"),
                )
                .await;
            assert_eq!(status, 200, "{joined}");
            self.stub
                .connect(joined["livekit_token"].as_str().unwrap())
                .unwrap();
            learners.push(joined);
        }
        Class {
            teacher,
            session,
            learners,
        }
    }
}

/// One address on loopback that forwards each new connection to a port
/// the test moves: what a virtual IP, or a proxy that failover tooling
/// (Patroni, Sentinel's client scripts, keepalived) repoints, is to the
/// clients. Connections already made stay with their server.
pub struct Forwarder {
    /// The address's port.
    pub port: u16,
    target: Arc<std::sync::atomic::AtomicU16>,
}

impl Forwarder {
    /// Forwards to `port` on 127.0.0.1 until moved.
    pub async fn start(port: u16) -> Self {
        let target = Arc::new(std::sync::atomic::AtomicU16::new(port));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let own = listener.local_addr().expect("addr").port();
        let to = target.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let port = to.load(std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(mut server) =
                        tokio::net::TcpStream::connect(("127.0.0.1", port)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { port: own, target }
    }

    /// New connections go to `port` from now on.
    pub fn point_to(&self, port: u16) {
        self.target.store(port, std::sync::atomic::Ordering::SeqCst);
    }
}
