//! Several API processes and workers at once (issue 21, docs/SCALING.md):
//! two APIs (the test's own, and `estrade serve` as a child process that
//! the test restarts) and two `estrade worker` child processes (one killed
//! with SIGKILL mid-run) over one PostgreSQL, one Redis and the LiveKit
//! stand-in, whose webhooks go to the first API. A class of 60 joins,
//! raises hands and is granted the floor through both APIs in turn, as a
//! round-robin load balancer would send them; a request that finds an API
//! down goes to the other (a connection refused, never an answer, is
//! retried). Every invariant is checked afterwards in PostgreSQL, LiveKit's
//! view and a live stream.

use std::process::{Child, Command};
use std::sync::atomic::Ordering;
use std::time::Duration;

use estrade_tests::{Options, SseStream, TestApp, until};
use serde_json::{Value, json};
use sqlx::PgPool;

const BIN: &str = env!("CARGO_BIN_EXE_estrade");
const WAIT: Duration = Duration::from_secs(60);
const LEARNERS: usize = 60;

/// A child process, killed (SIGKILL) when dropped.
struct Proc(Child);

impl Proc {
    fn kill(&mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reap");
    }

    /// SIGTERM, then waits for it to drain and exit.
    fn stop(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let exit = self.0.wait().expect("reap");
        assert!(exit.success(), "a drained API exits cleanly: {exit}");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(app: &TestApp, role: &str, env: &[(&str, String)]) -> Proc {
    let mut cmd = app.estrade_command(BIN, role, env);
    Proc(cmd.spawn().expect("start estrade"))
}

/// `estrade serve` on `port`, once it answers `/readyz`.
async fn serve(app: &TestApp, port: u16) -> Proc {
    let api = spawn(
        app,
        "serve",
        &[
            ("ESTRADE_LISTEN", format!("127.0.0.1:{port}")),
            ("ESTRADE_SHUTDOWN_TIMEOUT_S", "5".to_owned()),
        ],
    );
    let ready = format!("http://127.0.0.1:{port}/readyz");
    until(WAIT, || async {
        app.client
            .get(&ready)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    api
}

/// The APIs, tried in turn from `turn`: the first that answers answers.
struct Balancer {
    client: reqwest::Client,
    bases: [String; 2],
    /// Answers from each API.
    answered: [std::sync::atomic::AtomicUsize; 2],
    /// Requests that found their API down and went to the other.
    failed_over: std::sync::atomic::AtomicUsize,
}

impl Balancer {
    async fn post(
        &self,
        turn: usize,
        path: &str,
        bearer: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        for i in 0..2 {
            let base = &self.bases[(turn + i) % 2];
            let mut request = self.client.post(format!("{base}{path}")).json(&body);
            if let Some(bearer) = bearer {
                request = request.bearer_auth(bearer);
            }
            match request.send().await {
                Ok(answer) => {
                    self.answered[(turn + i) % 2].fetch_add(1, Ordering::Relaxed);
                    let status = answer.status().as_u16();
                    let body = answer.json().await.unwrap_or(Value::Null);
                    return (status, body);
                }
                // Down: not an answer, so the balancer tries the other.
                Err(e) if e.is_connect() => {
                    self.failed_over.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Err(e) => panic!("{path}: {e}"),
            }
        }
        panic!("{path}: neither API answered");
    }
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_class_of_60_through_two_apis_and_two_workers_keeps_every_invariant_when_a_worker_is_killed_and_an_api_restarted(
    db: PgPool,
) {
    let app = TestApp::spawn_with(
        db,
        Options {
            webhooks_to_app: true,
            env: vec![("ESTRADE_WEBHOOK_REQUEUE_AFTER_S", "1".into())],
            ..Options::default()
        },
    )
    .await;
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut second = serve(&app, port).await;
    let worker_env = [("ESTRADE_WEBHOOK_REQUEUE_AFTER_S", "1".to_owned())];
    let mut first_worker = spawn(&app, "worker", &worker_env);
    let _second_worker = spawn(&app, "worker", &worker_env);
    let lb = Balancer {
        // A connection per request: a stopped API is refused, never a
        // request written onto a connection it had closed.
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
        bases: [app.url(""), format!("http://127.0.0.1:{port}")],
        answered: Default::default(),
        failed_over: Default::default(),
    };

    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let session = app
        .live_session(
            &teacher,
            json!({"title": "Bread", "floor": {"mode": "moderated", "max_speakers": 1}}),
        )
        .await;
    let id = session["id"].as_str().unwrap().to_owned();
    let code = session["join_code"].as_str().unwrap().to_owned();
    let mut stream = SseStream::open(&app.url(""), &id, &teacher, None)
        .await
        .expect("the teacher's stream");

    let mut learners = Vec::new();
    for i in 0..LEARNERS {
        if i == 20 {
            first_worker.kill();
        }
        // The second API is down for ten joins, then back.
        if i == 40 {
            second.stop();
        }
        if i == 50 {
            second = serve(&app, port).await;
        }
        let body = json!({"code": code, "name": format!("Learner {i}")});
        let (status, joined) = lb.post(i, "/v1/join", None, body).await;
        assert_eq!(status, 200, "join {i}: {joined}");
        app.stub
            .connect(joined["livekit_token"].as_str().unwrap())
            .unwrap();
        learners.push(joined);
    }
    // LiveKit's webhooks, applied by the worker left: everyone is present.
    until(WAIT, || async {
        let present: i64 = sqlx::query_scalar(
            "select count(*) from participants
              where session_id = $1::uuid and kind = 'learner' and presence = 'present'",
        )
        .bind(&id)
        .fetch_one(&app.db)
        .await
        .unwrap();
        present == LEARNERS as i64
    })
    .await;

    // Hands and grants, each through one API or the other; the second API
    // down again for a while.
    let grants = 20;
    for (k, learner) in learners.iter().enumerate().take(grants) {
        if k == 5 {
            second.stop();
        }
        if k == 10 {
            second = serve(&app, port).await;
        }
        let hand = format!("/v1/sessions/{id}/hand");
        let token = learner["participant_token"].as_str().unwrap();
        let (status, floor) = lb.post(k, &hand, Some(token), json!({})).await;
        assert_eq!(status, 200, "hand {k}: {floor}");
        let target = json!({"participant_id": learner["participant_id"]});
        let grant = format!("/v1/sessions/{id}/floor/grant");
        let (status, floor) = lb.post(k + 1, &grant, Some(&teacher), target.clone()).await;
        assert_eq!(status, 200, "grant {k}: {floor}");
        let speakers = floor["speakers"].as_array().unwrap();
        assert_eq!(speakers.len(), 1, "{floor}");
        let revoke = format!("/v1/sessions/{id}/floor/revoke");
        let (status, floor) = lb.post(k, &revoke, Some(&teacher), target).await;
        assert_eq!(status, 200, "revoke {k}: {floor}");
    }

    let answered = |i: usize| lb.answered[i].load(Ordering::Relaxed);
    assert!(answered(0) > 0 && answered(1) > 0, "both APIs answered");
    assert!(
        lb.failed_over.load(Ordering::Relaxed) >= 10,
        "requests met the stopped API and went to the other"
    );

    // PostgreSQL: every join is one participant row with one audit entry;
    // every grant one finished turn; nobody speaks now.
    let count = |sql: &'static str| {
        let db = app.db.clone();
        let id = id.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        count("select count(*) from participants where session_id = $1::uuid and kind = 'learner'")
            .await,
        LEARNERS as i64
    );
    assert_eq!(
        count("select count(*) from audit_log where session_id = $1::uuid and action = 'participant.joined' and details->>'kind' = 'learner'")
            .await,
        LEARNERS as i64,
        "each join audited once"
    );
    assert_eq!(
        count("select count(*) from floor_turns where session_id = $1::uuid and granted_at is not null and state = 'done'")
            .await,
        grants as i64
    );
    assert_eq!(
        count("select count(*) from floor_turns where session_id = $1::uuid and state <> 'done'")
            .await,
        0
    );
    // The inbox: every event LiveKit sent applied, none failed.
    until(WAIT, || async {
        let pending: i64 =
            sqlx::query_scalar("select count(*) from webhook_inbox where status <> 'processed'")
                .fetch_one(&app.db)
                .await
                .unwrap();
        pending == 0
    })
    .await;
    let joined_events: i64 = sqlx::query_scalar(
        "select count(*) from webhook_inbox where event_type = 'participant_joined'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        joined_events, LEARNERS as i64,
        "one event per connection, stored once"
    );
    // LiveKit: each granted learner was let publish, and nobody may now.
    let updates = app.stub.permission_updates();
    for learner in &learners[..grants] {
        let identity = learner["identity"].as_str().unwrap();
        let mine: Vec<bool> = updates
            .iter()
            .filter(|u| u.identity == identity)
            .map(|u| u.can_publish)
            .collect();
        assert_eq!(
            mine.first(),
            Some(&true),
            "{identity} was let speak: {mine:?}"
        );
        assert_eq!(
            mine.last(),
            Some(&false),
            "{identity} was stopped: {mine:?}"
        );
    }
    // The live stream on the first API saw the floor's last version.
    let version: i64 = count("select floor_version from sessions where id = $1::uuid").await;
    loop {
        let event = stream.next(WAIT).await.expect("the stream goes on");
        if event.event == "floor" && event.data["version"].as_i64() == Some(version) {
            break;
        }
    }
}
