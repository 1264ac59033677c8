//! Webhooks to the LMS, end to end: the API writes the outbox in the
//! transactions of the changes, the worker (in process, or `estrade
//! worker` as a child process that the test kills) delivers them to a real
//! receiver on loopback (`tests/sdk/webhook_receiver.py`), which checks
//! every delivery with the Standard Webhooks reference verifier (PyPI
//! `standardwebhooks`, pinned). State is asserted on both sides: what the
//! receiver got and verified, and the delivery log in PostgreSQL and the
//! API.

use std::process::{Child, Stdio};
use std::time::Duration;

use estrade_tests::{Options, TestApp, until};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::io::AsyncBufReadExt as _;

const BIN: &str = env!("CARGO_BIN_EXE_estrade");
const WAIT: Duration = Duration::from_secs(30);
const ENDPOINTS: &str = "/v1/admin/webhook-endpoints";

/// The outbound settings of these tests: loopback allowed (the receiver
/// is there), quick retries, a short time limit per attempt.
fn outbound_env(allow_loopback: bool) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("ESTRADE_OUTBOUND_RETRY_BASE_MS", "200".to_owned()),
        ("ESTRADE_OUTBOUND_RETRY_CAP_S", "1".to_owned()),
        ("ESTRADE_OUTBOUND_TIMEOUT_S", "2".to_owned()),
    ];
    if allow_loopback {
        env.push(("ESTRADE_OUTBOUND_ALLOWED_RANGES", "127.0.0.0/8".to_owned()));
    }
    env
}

/// The app with `env`, and its worker in process when `worker`.
async fn app(db: PgPool, env: Vec<(&'static str, String)>, worker: bool) -> TestApp {
    TestApp::spawn_with(
        db,
        Options {
            env,
            worker,
            ..Options::default()
        },
    )
    .await
}

async fn app_with_worker(db: PgPool) -> TestApp {
    app(db, outbound_env(true), true).await
}

/// The receiver process, killed when dropped.
struct Receiver {
    port: u16,
    client: reqwest::Client,
    _child: tokio::process::Child,
}

impl Receiver {
    async fn start() -> Self {
        let sdk = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/sdk");
        let mut child = tokio::process::Command::new("python3")
            .arg(format!("{sdk}/webhook_receiver.py"))
            .env("PYTHONPATH", format!("{sdk}/.deps/python"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the receiver (scripts/test installs standardwebhooks)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        tokio::io::BufReader::new(stdout)
            .read_line(&mut line)
            .await
            .expect("the receiver's port");
        let port = line.trim().parse().expect("a port number");
        Self {
            port,
            client: reqwest::Client::new(),
            _child: child,
        }
    }

    /// The URL deliveries for `name` are posted to, on `host`.
    fn url_on(&self, host: &str, name: &str) -> String {
        format!("http://{host}:{}/hook/{name}", self.port)
    }

    fn url(&self, name: &str) -> String {
        self.url_on("127.0.0.1", name)
    }

    /// How the receiver answers `name`'s requests, verifying with `secret`.
    async fn script(&self, name: &str, secret: &str, steps: &[&str]) {
        let status = self
            .client
            .put(format!("http://127.0.0.1:{}/script/{name}", self.port))
            .json(&json!({ "secret": secret, "steps": steps }))
            .send()
            .await
            .expect("script the receiver")
            .status();
        assert_eq!(status, 204);
    }

    /// Every request `name` received, in order.
    async fn received(&self, name: &str) -> Vec<Value> {
        self.client
            .get(format!("http://127.0.0.1:{}/received/{name}", self.port))
            .send()
            .await
            .expect("ask the receiver")
            .json()
            .await
            .expect("JSON")
    }
}

/// Registers an endpoint at `url` for `events`; returns its id and secret.
async fn register(app: &TestApp, admin: &str, url: &str, events: &[&str]) -> (String, String) {
    let body = json!({ "url": url, "events": events, "description": "Moodle" });
    let (status, endpoint) = app.post_as(ENDPOINTS, admin, body).await;
    assert_eq!(status, 201, "{endpoint}");
    let secret = endpoint["secret"].as_str().expect("a secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (endpoint["id"].as_str().expect("an id").to_owned(), secret)
}

/// The endpoint's delivery log.
async fn log(app: &TestApp, admin: &str, endpoint: &str) -> Vec<Value> {
    let (status, log) = app
        .get_as(&format!("{ENDPOINTS}/{endpoint}/deliveries"), admin)
        .await;
    assert_eq!(status, 200, "{log}");
    log["deliveries"].as_array().expect("deliveries").clone()
}

/// Waits until every delivery of the endpoint is `status`, and returns the log.
async fn log_when_all(
    app: &TestApp,
    admin: &str,
    endpoint: &str,
    n: usize,
    status: &str,
) -> Vec<Value> {
    until(WAIT, || async {
        let log = log(app, admin, endpoint).await;
        log.len() == n && log.iter().all(|d| d["status"] == status)
    })
    .await;
    log(app, admin, endpoint).await
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn an_lms_endpoint_receives_each_event_it_asked_for_signed_as_standard_webhooks_verify(
    db: PgPool,
) {
    let app = app_with_worker(db).await;
    let receiver = Receiver::start().await;
    let admin = app.admin_key().await;
    let (all, all_secret) = register(
        &app,
        &admin,
        &receiver.url("all"),
        &[
            "session.started",
            "session.ended",
            "report.ready",
            "participant.kicked",
        ],
    )
    .await;
    receiver.script("all", &all_secret, &["ok"]).await;
    let (ends, ends_secret) =
        register(&app, &admin, &receiver.url("ends"), &["session.ended"]).await;
    receiver.script("ends", &ends_secret, &["ok"]).await;

    let class = app
        .class(json!({"mode": "moderated", "max_speakers": 1}), 1)
        .await;
    let learner = class.learners[0]["participant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kick = class.path(&format!("/participants/{learner}/kick"));
    let (status, _) = app.post_as(&kick, &class.teacher, json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post_as(&class.path("/end"), &class.teacher, json!({}))
        .await;
    assert_eq!(status, 200);

    let delivered = log_when_all(&app, &admin, &all, 4, "delivered").await;
    let got = receiver.received("all").await;
    assert_eq!(got.len(), 4, "one request per event: {got:?}");
    assert!(got.iter().all(|r| r["verified"] == true), "{got:?}");
    // Deliveries of one pass go out together, in no promised order (the
    // body's timestamp says when each change was committed).
    let of = |event: &str| {
        let found: Vec<&Value> = got.iter().filter(|r| r["body"]["type"] == event).collect();
        assert_eq!(found.len(), 1, "{event} once: {got:?}");
        found[0]["body"]["data"].clone()
    };
    let session = class.id();
    assert!(
        got.iter()
            .all(|r| r["body"]["data"]["session_id"] == session)
    );
    assert_eq!(of("session.started")["title"], "Bread");
    assert_eq!(of("participant.kicked")["participant_id"], learner.as_str());
    assert_eq!(of("participant.kicked")["kind"], "learner");
    assert_eq!(of("session.ended")["reason"], "ended_by_teacher");
    assert_eq!(
        of("report.ready")["report"],
        format!("/v1/sessions/{session}/report")
    );
    assert!(
        got.iter()
            .all(|r| !r["body"].to_string().contains("Learner 0"))
    );
    // The log agrees: each delivered at its first attempt, with its webhook-id.
    for d in &delivered {
        assert_eq!(d["attempts"], 1, "{d}");
        assert_eq!(d["log"][0]["status_code"], 200, "{d}");
        assert!(
            got.iter().any(|r| r["webhook_id"] == d["webhook_id"]),
            "{d}"
        );
    }
    let ends_log = log_when_all(&app, &admin, &ends, 1, "delivered").await;
    assert_eq!(ends_log[0]["event"], "session.ended");
    let got = receiver.received("ends").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["verified"], true);
    let (status, endpoint) = app.get_as(&format!("{ENDPOINTS}/{all}"), &admin).await;
    assert_eq!(status, 200);
    assert_eq!(
        (endpoint["delivered"].as_i64(), endpoint["pending"].as_i64()),
        (Some(4), Some(0))
    );
    assert!(endpoint.get("secret").is_none(), "the secret is shown once");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_receiver_that_fails_twice_then_drops_the_connection_gets_the_same_webhook_id_until_it_answers(
    db: PgPool,
) {
    let app = app_with_worker(db).await;
    let receiver = Receiver::start().await;
    let admin = app.admin_key().await;
    let (endpoint, secret) =
        register(&app, &admin, &receiver.url("flaky"), &["session.started"]).await;
    receiver
        .script("flaky", &secret, &["fail", "fail", "drop", "ok"])
        .await;
    app.class(json!({"mode": "moderated", "max_speakers": 1}), 0)
        .await;

    let delivered = log_when_all(&app, &admin, &endpoint, 1, "delivered").await;
    let got = receiver.received("flaky").await;
    assert_eq!(got.len(), 4, "{got:?}");
    let id = &got[0]["webhook_id"];
    assert!(
        got.iter()
            .all(|r| &r["webhook_id"] == id && r["verified"] == true)
    );
    assert_eq!(&delivered[0]["webhook_id"], id);
    let attempts: Vec<(Value, Value)> = delivered[0]["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["status_code"].clone(), a["error"].clone()))
        .collect();
    assert_eq!(attempts.len(), 4, "{attempts:?}");
    assert_eq!(attempts[0], (json!(500), json!("http_status")));
    assert_eq!(attempts[1], (json!(500), json!("http_status")));
    assert_eq!(
        attempts[2].0,
        Value::Null,
        "a dropped connection has no status"
    );
    assert_eq!(attempts[3], (json!(200), Value::Null));
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_delivery_failing_past_its_retry_window_is_marked_failed_and_a_manual_retry_delivers_it(
    db: PgPool,
) {
    let mut env = outbound_env(true);
    env.push(("ESTRADE_OUTBOUND_RETRY_FOR_S", "2".to_owned()));
    let app = app(db, env, true).await;
    let receiver = Receiver::start().await;
    let admin = app.admin_key().await;
    let (endpoint, secret) =
        register(&app, &admin, &receiver.url("down"), &["session.started"]).await;
    receiver.script("down", &secret, &["fail"]).await;
    app.class(json!({"mode": "moderated", "max_speakers": 1}), 0)
        .await;

    let failed = log_when_all(&app, &admin, &endpoint, 1, "failed").await;
    // Attempts begin on the worker's ticks (every second), so how many fit
    // in the two seconds varies; each one reached the receiver.
    let tried = failed[0]["attempts"].as_i64().unwrap();
    assert!(tried >= 1, "{failed:?}");
    assert_eq!(receiver.received("down").await.len() as i64, tried);
    assert_eq!(failed[0]["log"].as_array().unwrap().len() as i64, tried);
    let (status, endpoint_now) = app.get_as(&format!("{ENDPOINTS}/{endpoint}"), &admin).await;
    assert_eq!(status, 200);
    assert_eq!(endpoint_now["failed"], 1);

    receiver.script("down", &secret, &["ok"]).await;
    let delivery = failed[0]["id"].as_str().unwrap();
    let retry = format!("{ENDPOINTS}/{endpoint}/deliveries/{delivery}/retry");
    let (status, retried) = app.post_as(&retry, &admin, json!({})).await;
    assert_eq!(status, 202, "{retried}");
    assert_eq!(retried["status"], "pending");
    assert_eq!(
        retried["log"].as_array().unwrap().len() as i64,
        tried,
        "the log so far"
    );
    let delivered = log_when_all(&app, &admin, &endpoint, 1, "delivered").await;
    assert_eq!(delivered[0]["attempts"].as_i64(), Some(tried + 1));
    let got = receiver.received("down").await;
    assert_eq!(got.len() as i64, tried + 1);
    assert!(
        got.iter()
            .all(|r| r["webhook_id"] == got[0]["webhook_id"] && r["verified"] == true)
    );
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'webhook_delivery.retried'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

/// `estrade worker` for `app` with the outbound settings, killed when dropped.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_worker(app: &TestApp) -> Worker {
    let mut cmd = app.estrade_command(BIN, "worker", &outbound_env(true));
    Worker(cmd.spawn().expect("start estrade worker"))
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_worker_killed_during_a_delivery_loses_nothing_and_the_next_sends_the_same_webhook_id(
    db: PgPool,
) {
    let app = app(db, outbound_env(true), false).await;
    let receiver = Receiver::start().await;
    let admin = app.admin_key().await;
    let (endpoint, secret) =
        register(&app, &admin, &receiver.url("slow"), &["session.started"]).await;
    receiver.script("slow", &secret, &["hang", "ok"]).await;
    app.class(json!({"mode": "moderated", "max_speakers": 1}), 0)
        .await;

    let mut worker = spawn_worker(&app);
    until(WAIT, || async {
        receiver.received("slow").await.len() == 1
    })
    .await;
    // The receiver holds the request: the attempt is in flight.
    worker.0.kill().expect("SIGKILL the worker");
    worker.0.wait().expect("reap the worker");
    let pending = log(&app, &admin, &endpoint).await;
    assert_eq!(pending[0]["status"], "pending");
    assert_eq!(pending[0]["attempts"], 1);
    assert_eq!(
        pending[0]["log"].as_array().unwrap().len(),
        0,
        "never finished"
    );

    let _worker = spawn_worker(&app);
    let delivered = log_when_all(&app, &admin, &endpoint, 1, "delivered").await;
    let got = receiver.received("slow").await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["webhook_id"], got[1]["webhook_id"]);
    assert!(got.iter().all(|r| r["verified"] == true));
    assert_eq!(delivered[0]["attempts"], 2);
    let log = delivered[0]["log"].as_array().unwrap();
    assert_eq!(log.len(), 1, "only the finished attempt: {log:?}");
    assert_eq!(
        (log[0]["attempt"].as_i64(), log[0]["status_code"].as_i64()),
        (Some(2), Some(200))
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn deliveries_never_reach_loopback_link_local_or_private_addresses_unless_allowed(
    db: PgPool,
) {
    let app = app(db, outbound_env(false), true).await;
    let receiver = Receiver::start().await;
    let admin = app.admin_key().await;
    // An address in the URL is refused at once, and nothing is stored.
    for url in [
        receiver.url("direct"),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://10.0.0.1/hooks".to_owned(),
    ] {
        let body = json!({ "url": url, "events": ["session.started"] });
        let (status, refused) = app.post_as(ENDPOINTS, &admin, body).await;
        assert_eq!(status, 403, "{refused}");
        assert_eq!(refused["error"]["code"], "refused_destination");
    }
    assert_eq!(app.count("webhook_endpoints").await, 0);
    // A name is checked when a delivery resolves it: `localhost` is loopback.
    let (endpoint, secret) = register(
        &app,
        &admin,
        &receiver.url_on("localhost", "named"),
        &["session.started"],
    )
    .await;
    receiver.script("named", &secret, &["ok"]).await;
    app.class(json!({"mode": "moderated", "max_speakers": 1}), 0)
        .await;
    until(WAIT, || async {
        let log = log(&app, &admin, &endpoint).await;
        log.len() == 1 && !log[0]["log"].as_array().unwrap().is_empty()
    })
    .await;
    let log_now = log(&app, &admin, &endpoint).await;
    assert_eq!(log_now[0]["log"][0]["error"], "refused_destination");
    assert_eq!(
        log_now[0]["status"], "pending",
        "retried, in case the name moves"
    );
    assert!(
        receiver.received("named").await.is_empty(),
        "nothing reached it"
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_redirect_is_a_failed_attempt_and_is_not_followed(db: PgPool) {
    let app = app_with_worker(db).await;
    let receiver = Receiver::start().await;
    let admin = app.admin_key().await;
    let (endpoint, secret) =
        register(&app, &admin, &receiver.url("moved"), &["session.started"]).await;
    receiver.script("moved", &secret, &["redirect", "ok"]).await;
    receiver.script("moved-moved", &secret, &["ok"]).await;
    app.class(json!({"mode": "moderated", "max_speakers": 1}), 0)
        .await;
    let delivered = log_when_all(&app, &admin, &endpoint, 1, "delivered").await;
    assert_eq!(delivered[0]["log"][0]["status_code"], 307);
    assert_eq!(delivered[0]["log"][0]["error"], "http_status");
    assert!(receiver.received("moved-moved").await.is_empty());
    assert_eq!(receiver.received("moved").await.len(), 2);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn bad_endpoints_are_refused_with_the_field_named_and_nothing_is_stored(db: PgPool) {
    let app = app(db, outbound_env(true), false).await;
    let admin = app.admin_key().await;
    let audited = app.count("audit_log").await;
    let url = "https://lms.example.org/hooks";
    for (body, code) in [
        (
            json!({"url": "ftp://lms.example.org/", "events": ["session.started"]}),
            "invalid_url",
        ),
        (
            json!({"url": "https://u:p@lms.example.org/", "events": ["session.started"]}),
            "invalid_url",
        ),
        (json!({"url": url, "events": []}), "invalid_events"),
        (
            json!({"url": url, "events": ["session.paused"]}),
            "invalid_events",
        ),
        (
            json!({"url": url, "events": ["session.started"], "description": "a\u{7}b"}),
            "invalid_description",
        ),
    ] {
        let (status, refused) = app.post_as(ENDPOINTS, &admin, body.clone()).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (422, Some(code)),
            "{body}"
        );
    }
    let (status, _) = app
        .post_as(
            ENDPOINTS,
            &admin,
            json!({"url": url, "events": ["session.started"], "secret": "mine"}),
        )
        .await;
    assert_eq!(status, 422, "unknown fields are refused");
    assert_eq!(app.count("webhook_endpoints").await, 0);
    assert_eq!(app.count("audit_log").await, audited, "nothing audited");

    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let body = json!({"url": url, "events": ["session.started"]});
    let (status, _) = app.post_as(ENDPOINTS, &teacher, body).await;
    assert_eq!(status, 403, "admins only");
    let (status, _) = app.get_as(ENDPOINTS, &teacher).await;
    assert_eq!(status, 403);

    let (id, _) = register(&app, &admin, url, &["session.started"]).await;
    let (status, list) = app.get_as(ENDPOINTS, &admin).await;
    assert_eq!(status, 200);
    assert_eq!(list["endpoints"].as_array().unwrap().len(), 1);
    assert_eq!(list["endpoints"][0]["url"], url);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("{ENDPOINTS}/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("{ENDPOINTS}/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .get_as(&format!("{ENDPOINTS}/{id}/deliveries"), &admin)
        .await;
    assert_eq!(status, 404);
    let (status, bad) = app
        .get_as(&format!("{ENDPOINTS}/{id}/deliveries?status=lost"), &admin)
        .await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (422, Some("invalid_query"))
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn the_outbox_is_written_with_the_change_even_while_no_worker_runs(db: PgPool) {
    let app = app(db, outbound_env(true), false).await;
    let admin = app.admin_key().await;
    register(
        &app,
        &admin,
        "https://lms.example.org/a",
        &["session.started", "session.ended"],
    )
    .await;
    register(&app, &admin, "https://lms.example.org/b", &["report.ready"]).await;
    let class = app
        .class(json!({"mode": "moderated", "max_speakers": 1}), 0)
        .await;
    let count = |event: &'static str| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from webhook_deliveries where event = $1 and status = 'pending'",
            )
            .bind(event)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    assert_eq!(count("session.started").await, 1);
    assert_eq!(count("session.ended").await, 0);
    let (status, _) = app
        .post_as(&class.path("/end"), &class.teacher, json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post_as(&class.path("/end"), &class.teacher, json!({}))
        .await;
    assert_eq!(status, 200, "ending again");
    assert_eq!(count("session.ended").await, 1, "told once");
    assert_eq!(count("report.ready").await, 1);
    assert_eq!(count("participant.kicked").await, 0);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn finished_deliveries_past_the_retention_period_are_deleted_with_their_attempts(db: PgPool) {
    let app = app_with_worker(db).await;
    let receiver = Receiver::start().await;
    let admin = app.admin_key().await;
    let (endpoint, secret) =
        register(&app, &admin, &receiver.url("kept"), &["session.started"]).await;
    receiver.script("kept", &secret, &["fail", "ok"]).await;
    app.class(json!({"mode": "moderated", "max_speakers": 1}), 0)
        .await;
    app.class(json!({"mode": "moderated", "max_speakers": 1}), 0)
        .await;
    log_when_all(&app, &admin, &endpoint, 2, "delivered").await;
    let retention = app.config.retention;
    // One of the two finished longer ago than the retention period.
    let old: uuid::Uuid = sqlx::query_scalar(
        "update webhook_deliveries set finished_at = now() - make_interval(secs => $1) - interval '1 minute'
          where id = (select id from webhook_deliveries order by created_at limit 1) returning id",
    )
    .bind(retention.as_secs() as f64)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let erased = estrade_app::retention::erase_expired(&app.db, retention)
        .await
        .unwrap();
    assert_eq!(erased.deliveries, 1);
    let left: Vec<uuid::Uuid> = sqlx::query_scalar("select id from webhook_deliveries")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0], old);
    let attempts_of_old: i64 =
        sqlx::query_scalar("select count(*) from webhook_attempts where delivery_id = $1")
            .bind(old)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(attempts_of_old, 0, "its attempts went with it");
    assert_eq!(log(&app, &admin, &endpoint).await.len(), 1);
}
