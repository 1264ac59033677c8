//! Chaos for the webhook pipeline, with `estrade worker` as a real child
//! process and real PostgreSQL and Redis servers that the tests kill,
//! restart and pause: every stored event is applied exactly once in effect,
//! and the worker recovers without being restarted by hand.

use std::process::Child;
use std::time::Duration;

use estrade_tests::backlog::Shape;
use estrade_tests::{Options, RedisServer, TestApp, until};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_estrade");
const WAIT: Duration = Duration::from_secs(60);

/// A worker child process, killed (SIGKILL) when dropped, so a failing
/// test leaves none behind.
struct Worker(Child);

impl Worker {
    fn kill(&mut self) {
        self.0.kill().expect("SIGKILL the worker");
        self.0.wait().expect("reap the worker");
    }

    fn is_running(&mut self) -> bool {
        self.0.try_wait().expect("worker status").is_none()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `estrade worker` for `app`, with `env` on top.
fn spawn_worker(app: &TestApp, env: &[(&str, String)]) -> Worker {
    let mut cmd = app.estrade_command(BIN, "worker", env);
    Worker(cmd.spawn().expect("start estrade worker"))
}

struct Class {
    room: String,
    /// `(participant id, identity)` of each learner.
    learners: Vec<(Uuid, String)>,
}

/// A live session with `n` learners admitted, each with a raised hand.
async fn class(app: &TestApp, n: usize) -> Class {
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let session = app
        .live_session(&teacher, json!({"title": "Bread", "max_learners": 1000}))
        .await;
    let session_id: Uuid = session["id"].as_str().unwrap().parse().unwrap();
    let code = session["join_code"].as_str().unwrap();
    let mut learners = Vec::new();
    for i in 0..n {
        let (status, joined) = app.join(code, &format!("Learner {i}")).await;
        assert_eq!(status, 200, "{joined}");
        let id: Uuid = joined["participant_id"].as_str().unwrap().parse().unwrap();
        sqlx::query(
            "insert into floor_turns (session_id, participant_id, state, raised_at)
             values ($1, $2, 'queued', now())",
        )
        .bind(session_id)
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
        learners.push((id, joined["identity"].as_str().unwrap().to_owned()));
    }
    Class {
        room: session["room_name"].as_str().unwrap().to_owned(),
        learners,
    }
}

fn presence_event(kind: &str, room: &str, identity: &str, n: usize) -> Value {
    let ms = 1_790_000_000_000_i64 + n as i64;
    json!({
        "event": kind, "id": format!("EV_{kind}_{identity}"), "createdAt": (ms / 1000).to_string(),
        "room": {"name": room, "sid": "RM_x"},
        "participant": {"sid": format!("PA_{n}"), "identity": identity, "joinedAtMs": ms.to_string()}
    })
}

async fn scalar(db: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

async fn processed(db: &PgPool) -> i64 {
    scalar(
        db,
        "select count(*) from webhook_inbox where status = 'processed'",
    )
    .await
}

async fn wait_processed(app: &TestApp, n: i64) {
    let db = app.db.clone();
    until(WAIT, || {
        let db = db.clone();
        async move { processed(&db).await >= n }
    })
    .await;
}

/// Whether `event_id` was applied from the API's own push through Redis
/// (not by the sweeper, straight from the inbox).
async fn applied_through_the_queue(db: &PgPool, event_id: &str) -> bool {
    sqlx::query_scalar(
        "select status = 'processed' and applied_via = 'queue' from webhook_inbox where event_id = $1",
    )
    .bind(event_id)
    .fetch_optional(db)
    .await
    .unwrap()
    .unwrap_or(false)
}

async fn wait_applied(app: &TestApp, event_id: &str) {
    until(WAIT, || async {
        app.inbox_status(event_id).await.as_deref() == Some("processed")
    })
    .await;
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_worker_killed_mid_stream_and_restarted_applies_every_event_exactly_once_in_effect(
    db: PgPool,
) {
    let app = TestApp::spawn_with(
        db,
        Options {
            env: vec![("ESTRADE_WEBHOOK_REQUEUE_AFTER_S", "1".into())],
            ..Options::default()
        },
    )
    .await;
    let n = 60;
    let class = class(&app, n).await;
    let mut worker = spawn_worker(&app, &[]);

    let events: Vec<Value> = ["participant_joined", "participant_left"]
        .iter()
        .flat_map(|kind| {
            class
                .learners
                .iter()
                .enumerate()
                .map(|(i, (_, identity))| presence_event(kind, &class.room, identity, i))
                .collect::<Vec<_>>()
        })
        .collect();
    let sender = {
        let client = app.client.clone();
        let url = app.url("/webhooks/livekit");
        let events = events.clone();
        tokio::spawn(async move {
            for event in events {
                let body = event.to_string();
                let status = client
                    .post(&url)
                    .header("content-type", "application/webhook+json")
                    .header("authorization", estrade_tests::sign_webhook(&body))
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert_eq!(status, 200);
            }
        })
    };
    // Mid-stream: some events applied, more still arriving.
    wait_processed(&app, 30).await;
    worker.kill();
    let at_kill = processed(&app.db).await;
    sender.await.unwrap();
    assert!(at_kill < 2 * n as i64, "killed before the end ({at_kill})");

    let mut worker = spawn_worker(&app, &[]);
    wait_processed(&app, 2 * n as i64).await;
    // The hands of those who left are lowered by the floor timers (at
    // their next tick: the tests run with no departure grace).
    let db = app.db.clone();
    until(WAIT, || {
        let db = db.clone();
        async move {
            scalar(
                &db,
                "select count(*) from floor_turns where state <> 'done'",
            )
            .await
                == 0
        }
    })
    .await;
    worker.kill();

    // Every learner joined then left, on the connection the events named;
    // each hand was released once.
    assert_eq!(
        scalar(
            &app.db,
            "select count(*) from participants where kind = 'learner' and presence = 'left'"
        )
        .await,
        n as i64
    );
    for (i, (id, _)) in class.learners.iter().enumerate() {
        let sid: Option<String> =
            sqlx::query_scalar("select livekit_sid from participants where id = $1")
                .bind(id)
                .fetch_one(&app.db)
                .await
                .unwrap();
        assert_eq!(sid, Some(format!("PA_{i}")));
    }
    assert_eq!(
        scalar(
            &app.db,
            "select count(*) from floor_turns where state <> 'done'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &app.db,
            "select count(*) from audit_log where action = 'floor.released'"
        )
        .await,
        n as i64
    );
    assert_eq!(app.count("webhook_inbox").await, 2 * n as i64);
}

/// Redis down for 10 s, then back (empty, or with its append-only file):
/// events stored meanwhile are applied, and the same worker process
/// consumes the queue again.
async fn redis_outage(db: PgPool, redis: &mut RedisServer) {
    let app = TestApp::spawn_with(
        db,
        Options {
            redis_url: redis.url.clone(),
            ..Options::default()
        },
    )
    .await;
    let class = class(&app, 3).await;
    let joined =
        |i: usize| presence_event("participant_joined", &class.room, &class.learners[i].1, i);
    // The sweeper leaves an event to the queue for 10 s before applying it
    // from the inbox.
    let mut worker = spawn_worker(&app, &[("ESTRADE_WEBHOOK_REQUEUE_AFTER_S", "10".into())]);

    assert_eq!(app.deliver(&joined(0)).await, 200);
    let first = joined(0)["id"].as_str().unwrap().to_owned();
    wait_applied(&app, &first).await;
    assert!(applied_through_the_queue(&app.db, &first).await);

    redis.stop();
    let during = joined(1);
    assert_eq!(
        app.deliver(&during).await,
        200,
        "stored in Postgres: LiveKit is answered"
    );
    // The fault itself: Redis stays down this long.
    tokio::time::sleep(Duration::from_secs(10)).await;
    redis.restart();
    until(WAIT, || async { app.get("/readyz").await.status() == 200 }).await;

    let after = joined(2);
    assert_eq!(app.deliver(&after).await, 200);
    let after_id = after["id"].as_str().unwrap().to_owned();
    wait_applied(&app, &after_id).await;
    assert!(
        applied_through_the_queue(&app.db, &after_id).await,
        "the consumer came back by itself"
    );
    wait_applied(&app, during["id"].as_str().unwrap()).await;
    assert!(worker.is_running(), "the worker never exited");
    worker.kill();
    assert_eq!(
        scalar(
            &app.db,
            "select count(*) from participants where presence = 'present'"
        )
        .await,
        3
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn redis_stopped_for_ten_seconds_and_restarted_empty_loses_nothing(db: PgPool) {
    let mut redis = RedisServer::start();
    redis_outage(db, &mut redis).await;
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn redis_stopped_for_ten_seconds_and_restarted_with_its_data_loses_nothing(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start_persistent(dir.path());
    redis_outage(db, &mut redis).await;
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn redis_paused_for_two_seconds_neither_delays_the_answer_nor_stops_the_worker(db: PgPool) {
    let redis = RedisServer::start();
    let app = TestApp::spawn_with(
        db,
        Options {
            redis_url: redis.url.clone(),
            ..Options::default()
        },
    )
    .await;
    let class = class(&app, 3).await;
    let joined =
        |i: usize| presence_event("participant_joined", &class.room, &class.learners[i].1, i);
    let mut worker = spawn_worker(&app, &[("ESTRADE_WEBHOOK_REQUEUE_AFTER_S", "10".into())]);
    let first = joined(0);
    assert_eq!(app.deliver(&first).await, 200);
    wait_applied(&app, first["id"].as_str().unwrap()).await;

    redis.signal("STOP");
    let during = joined(1);
    // The answer does not wait for Redis: the push happens after it.
    let answered = tokio::time::timeout(Duration::from_secs(1), app.deliver(&during)).await;
    assert_eq!(answered.ok(), Some(200));
    // The fault itself: Redis stays frozen this long.
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.signal("CONT");

    wait_applied(&app, during["id"].as_str().unwrap()).await;
    let after = joined(2);
    assert_eq!(app.deliver(&after).await, 200);
    let after_id = after["id"].as_str().unwrap().to_owned();
    wait_applied(&app, &after_id).await;
    assert!(applied_through_the_queue(&app.db, &after_id).await);
    assert!(worker.is_running(), "the worker never exited");
    worker.kill();
}

#[tokio::test]
async fn postgres_restarted_gets_503_while_down_and_the_worker_applies_what_it_could_not() {
    let pg = estrade::services::EmbeddedPostgres::start()
        .await
        .expect("a private PostgreSQL (initdb and pg_ctl are installed by scripts/test)");
    let db = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect(&pg.url)
        .await
        .unwrap();
    estrade_db::migrate(&db).await.unwrap();
    let app = TestApp::spawn_with(
        db.clone(),
        Options {
            env: vec![("ESTRADE_WEBHOOK_REQUEUE_AFTER_S", "1".into())],
            ..Options::default()
        },
    )
    .await;
    let class = class(&app, 3).await;
    let joined =
        |i: usize| presence_event("participant_joined", &class.room, &class.learners[i].1, i);
    let worker_env = [
        ("DATABASE_URL", pg.url.clone()),
        ("ESTRADE_WEBHOOK_REQUEUE_AFTER_S", "1".to_owned()),
    ];

    // Stored and queued while no worker runs.
    let queued = joined(0);
    assert_eq!(app.deliver(&queued).await, 200);
    pg.stop_server().await.unwrap();
    let refused = joined(1);
    assert_eq!(
        app.deliver(&refused).await,
        503,
        "not stored: LiveKit must retry"
    );
    // The worker takes the queued job while PostgreSQL is down: it cannot
    // apply it, and the row stays pending.
    let mut worker = spawn_worker(&app, &worker_env);
    let queue = estrade_app::WebhookQueue::new(
        estrade_app::redis_connection(app.config.redis_url.expose_secret()).unwrap(),
        &app.config.redis_namespace,
    );
    until(WAIT, || async { queue.depth().await.ok() == Some(0) }).await;
    // Taken from Redis while PostgreSQL is down: that attempt cannot commit.
    // Whether it waits out the outage on the pool (3 s) or fails and the
    // sweeper brings the event back, it must end applied once.
    pg.start_again().await.unwrap();

    assert_eq!(
        app.deliver(&refused).await,
        200,
        "LiveKit's retry is stored"
    );
    wait_applied(&app, queued["id"].as_str().unwrap()).await;
    wait_applied(&app, refused["id"].as_str().unwrap()).await;
    assert!(worker.is_running(), "the worker never exited");
    worker.kill();
    drop(app);
    db.close().await;
    pg.stop().await;
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn the_worker_serves_its_backlog_and_apply_metrics(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let class = class(&app, 1).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let mut worker = spawn_worker(
        &app,
        &[("ESTRADE_METRICS_LISTEN", format!("127.0.0.1:{port}"))],
    );
    let event = presence_event("participant_joined", &class.room, &class.learners[0].1, 0);
    assert_eq!(app.deliver(&event).await, 200);
    wait_applied(&app, event["id"].as_str().unwrap()).await;

    let client = app.client.clone();
    let scrape = || {
        let (client, url) = (client.clone(), metrics_url.clone());
        async move {
            match client.get(&url).send().await {
                Ok(res) => res.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            }
        }
    };
    until(WAIT, || async {
        let text = scrape().await;
        text.contains("webhooks_applied_total 1")
            && text.contains("webhooks_pending 0")
            && text.contains("webhooks_oldest_pending_seconds 0")
            && text.contains("webhook_apply_latency_seconds_count 1")
    })
    .await;
    worker.kill();
}

/// `rooms` live sessions of `per_room` admitted learners (no hands raised):
/// `(room, identities)` of each.
async fn rooms(app: &TestApp, rooms: usize, per_room: usize) -> Vec<(String, Vec<String>)> {
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let mut out = Vec::new();
    for r in 0..rooms {
        let session = app
            .live_session(
                &teacher,
                json!({"title": format!("Bread {r}"), "max_learners": 1000}),
            )
            .await;
        let code = session["join_code"].as_str().unwrap();
        let mut identities = Vec::new();
        for i in 0..per_room {
            let (status, joined) = app.join(code, &format!("Learner {i}")).await;
            assert_eq!(status, 200, "{joined}");
            identities.push(joined["identity"].as_str().unwrap().to_owned());
        }
        out.push((
            session["room_name"].as_str().unwrap().to_owned(),
            identities,
        ));
    }
    out
}

/// What a backlog run left: every event applied, once in effect. When
/// `in_order` (the inbox path applies a room's events in LiveKit's order),
/// every microphone was flagged before its unpublish; otherwise a track's
/// unpublish may have been applied first, and then its late publish
/// rightly flags nothing.
async fn assert_backlog_applied_once(db: &PgPool, shape: Shape, in_order: bool) {
    assert_eq!(
        processed(db).await,
        shape.events() as i64,
        "every stored event applied"
    );
    assert_eq!(
        scalar(
            db,
            "select count(*) from webhook_inbox where status <> 'processed' or applied_via is null"
        )
        .await,
        0,
        "no dead letter, nothing pending"
    );
    let (learners, tracks) = (shape.learners() as i64, shape.tracks() as i64);
    assert_eq!(
        scalar(
            db,
            "select count(*) from participant_tracks where unpublished_at is not null"
        )
        .await,
        tracks,
        "every microphone recorded, and unpublished"
    );
    let flagged = scalar(
        db,
        "select count(*) from participant_tracks where unauthorized",
    )
    .await;
    let audited = scalar(
        db,
        "select count(*) from audit_log where action = 'track.unauthorized'",
    )
    .await;
    let audited_tracks = scalar(
        db,
        "select count(distinct details->>'track_sid') from audit_log where action = 'track.unauthorized'",
    )
    .await;
    assert_eq!(audited, flagged, "one audit entry per flagged microphone");
    assert_eq!(audited, audited_tracks, "no microphone audited twice");
    if in_order {
        assert_eq!(
            flagged, tracks,
            "every microphone was published without the floor"
        );
    }
    // In effect: each learner ends gone, on its newest connection.
    let newest = format!("PA\\_%\\_{}", shape.cycles - 1);
    let on_newest: i64 = sqlx::query_scalar(
        "select count(*) from participants
          where kind = 'learner' and presence = 'left' and livekit_sid like $1",
    )
    .bind(newest)
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(
        on_newest, learners,
        "every learner left, on its newest connection"
    );
}

/// The worker's Prometheus metrics, once it serves them.
async fn scrape(app: &TestApp, url: &str) -> String {
    until(WAIT, || async {
        app.client
            .get(url)
            .send()
            .await
            .is_ok_and(|res| res.status().is_success())
    })
    .await;
    let res = app.client.get(url).send().await.expect("metrics");
    res.text().await.expect("metrics text")
}

/// The value of an unlabelled series in a Prometheus text page.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// 100,000 events accepted while no worker runs (stored and queued as the
/// API does), then a worker: `empty_redis` empties Redis in between (the
/// queue lost every job). Returns once every event is applied, with the
/// worker's metrics URL.
async fn backlog(db: PgPool, redis: &RedisServer, empty_redis: bool) -> (TestApp, String, Worker) {
    let shape = Shape::HUNDRED_THOUSAND;
    let app = TestApp::spawn_with(
        db,
        Options {
            redis_url: redis.url.clone(),
            ..Options::default()
        },
    )
    .await;
    let rooms = rooms(&app, shape.rooms, shape.learners_per_room).await;
    let events = estrade_tests::backlog::events(&rooms, shape.cycles);
    let queue = estrade_app::Deps::new(&app.config, app.db.clone())
        .expect("redis url")
        .queue;
    estrade_tests::backlog::fill(&app.db, &queue, &events).await;
    let total = events.len() as u64;
    assert_eq!(queue.depth().await.unwrap(), total, "every event queued");
    if empty_redis {
        let mut conn = redis::Client::open(redis.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        redis::cmd("FLUSHALL").query::<()>(&mut conn).unwrap();
        assert_eq!(queue.depth().await.unwrap(), 0);
    }
    assert_eq!(processed(&app.db).await, 0, "no worker ran yet");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let worker = spawn_worker(
        &app,
        &[
            ("ESTRADE_METRICS_LISTEN", format!("127.0.0.1:{port}")),
            ("ESTRADE_WEBHOOK_REQUEUE_AFTER_S", "5".into()),
        ],
    );
    let started = std::time::Instant::now();
    let db = app.db.clone();
    until(Duration::from_secs(900), || {
        let db = db.clone();
        async move { processed(&db).await == total as i64 }
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{total} events applied in {secs:.1} s ({:.0}/s) from {} (a debug build; bench/webhook_backlog.sh measures the release)",
        total as f64 / secs,
        if empty_redis {
            "the inbox"
        } else {
            "the queue"
        }
    );
    assert_backlog_applied_once(&app.db, shape, empty_redis).await;
    (app, metrics_url, worker)
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_backlog_of_100000_events_queued_while_no_worker_ran_is_drained_with_no_consumer_failure(
    db: PgPool,
) {
    let redis = RedisServer::start();
    let (app, metrics_url, mut worker) = backlog(db, &redis, false).await;
    let metrics = scrape(&app, &metrics_url).await;
    assert_eq!(
        metric(&metrics, "webhooks_consumer_failures_total"),
        Some(0.0),
        "{metrics}"
    );
    // The consumer took every job (the inbox path helped with the oldest,
    // in order, while the queue was behind).
    let queue = estrade_app::Deps::new(&app.config, app.db.clone())
        .expect("redis url")
        .queue;
    until(WAIT, || async { queue.depth().await.unwrap() == 0 }).await;
    assert!(worker.is_running(), "the worker never exited");
    worker.kill();
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_backlog_of_100000_events_that_redis_lost_is_drained_from_the_inbox_in_order_per_room(
    db: PgPool,
) {
    let redis = RedisServer::start();
    let (app, metrics_url, mut worker) = backlog(db, &redis, true).await;
    let metrics = scrape(&app, &metrics_url).await;
    assert_eq!(
        metric(&metrics, "webhooks_consumer_failures_total"),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "webhooks_applied_from_inbox_total"),
        Some(100_000.0),
        "{metrics}"
    );
    assert_eq!(
        scalar(
            &app.db,
            "select count(*) from webhook_inbox where applied_via = 'inbox'"
        )
        .await,
        100_000
    );
    // Within a room, no event was applied before one LiveKit sent earlier.
    let out_of_order = scalar(
        &app.db,
        "select count(*) from (
           select processed_at < lag(processed_at) over (
                    partition by room_name order by event_created_at, received_at, event_id) as early
             from webhook_inbox) e
          where early",
    )
    .await;
    assert_eq!(out_of_order, 0, "events applied in order per room");
    assert!(worker.is_running(), "the worker never exited");
    worker.kill();
}
