//! `POST /webhooks/livekit`: verified events are stored before the 200,
//! everything forged or tampered is refused with nothing stored, a
//! redelivery is a no-op, and an event we cannot store gets a 5xx so LiveKit
//! retries.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use estrade_livekit::RoomSettings;
use estrade_tests::{LIVEKIT_KEY, LIVEKIT_SECRET, Options, TestApp, eventually, gateway};
use hmac::Mac as _;
use livekit_api::access_token::AccessToken;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;

fn event(id: &str, kind: &str) -> String {
    json!({"event": kind, "id": id, "createdAt": "1790000000", "room": {"sid": "RM_1", "name": "estrade-room"}})
        .to_string()
}

fn sha(body: &str) -> String {
    STANDARD.encode(Sha256::digest(body.as_bytes()))
}

/// A token as LiveKit signs one, for `signed_body`.
fn signed(key: &str, secret: &str, signed_body: &str) -> String {
    AccessToken::with_api_key(key, secret)
        .with_ttl(Duration::from_secs(300))
        .with_sha256(&sha(signed_body))
        .to_jwt()
        .unwrap()
}

/// Signs arbitrary claims, for tokens LiveKit's builder never makes.
fn raw_token(claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(LIVEKIT_SECRET.as_bytes()).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    format!(
        "{header}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn post(app: &TestApp, authorization: Option<&str>, body: String) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url("/webhooks/livekit"))
        .header("content-type", "application/webhook+json")
        .body(body);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_signed_event_is_stored_once_however_often_it_is_delivered(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let body = event("EV_one", "participant_joined");
    let token = signed(LIVEKIT_KEY, LIVEKIT_SECRET, &body);

    let (status, first) = post(&app, Some(&token), body.clone()).await;
    assert_eq!((status, &first["status"]), (200, &json!("stored")));
    let (status, again) = post(&app, Some(&token), body.clone()).await;
    assert_eq!((status, &again["status"]), (200, &json!("duplicate")));
    let (status, _) = post(&app, Some(&format!("Bearer {token}")), body).await;
    assert_eq!(status, 200, "a Bearer prefix added by a proxy is accepted");

    let row: (String, String, Option<String>, String, Value) = sqlx::query_as(
        "select event_id, event_type, room_name, status, payload from webhook_inbox",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        (
            row.0.as_str(),
            row.1.as_str(),
            row.2.as_deref(),
            row.3.as_str()
        ),
        (
            "EV_one",
            "participant_joined",
            Some("estrade-room"),
            "pending"
        )
    );
    assert_eq!(row.4["room"]["sid"], "RM_1", "the whole event is kept");
    let created: i64 = sqlx::query_scalar(
        "select extract(epoch from event_created_at)::bigint from webhook_inbox",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(created, 1_790_000_000);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn an_event_of_a_type_we_do_not_know_is_stored_and_acknowledged(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let body = event("EV_new", "agent_session_started");
    let (status, _) = post(
        &app,
        Some(&signed(LIVEKIT_KEY, LIVEKIT_SECRET, &body)),
        body,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.count("webhook_inbox").await, 1);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn forged_tampered_or_malformed_webhooks_are_refused_and_nothing_is_stored(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let body = event("EV_x", "room_started");
    let other = event("EV_y", "room_started");
    let exp = now() + 300;
    let cases: Vec<(&str, Option<String>, String, u16, &str)> = vec![
        ("no header", None, body.clone(), 401, "invalid_webhook"),
        (
            "another API key",
            Some(signed("OtherKey", LIVEKIT_SECRET, &body)),
            body.clone(),
            401,
            "invalid_webhook",
        ),
        (
            "another secret",
            Some(signed(
                LIVEKIT_KEY,
                "another-secret-0123456789abcdef0123",
                &body,
            )),
            body.clone(),
            401,
            "invalid_webhook",
        ),
        (
            "tampered body",
            Some(signed(LIVEKIT_KEY, LIVEKIT_SECRET, &body)),
            body.replace("room_started", "room_finished"),
            401,
            "invalid_webhook",
        ),
        (
            "a valid token for another body",
            Some(signed(LIVEKIT_KEY, LIVEKIT_SECRET, &other)),
            body.clone(),
            401,
            "invalid_webhook",
        ),
        (
            "expired",
            Some(raw_token(
                json!({"iss": LIVEKIT_KEY, "exp": now() - 120, "sha256": sha(&body)}),
            )),
            body.clone(),
            401,
            "invalid_webhook",
        ),
        (
            "no sha256 claim",
            Some(raw_token(json!({"iss": LIVEKIT_KEY, "exp": exp}))),
            body.clone(),
            401,
            "invalid_webhook",
        ),
        (
            "no expiry",
            Some(raw_token(json!({"iss": LIVEKIT_KEY, "sha256": sha(&body)}))),
            body.clone(),
            401,
            "invalid_webhook",
        ),
        (
            "garbage token",
            Some("not-a-jwt".to_owned()),
            body.clone(),
            401,
            "invalid_webhook",
        ),
        (
            "signed, not JSON",
            Some(signed(LIVEKIT_KEY, LIVEKIT_SECRET, "{oops")),
            "{oops".to_owned(),
            400,
            "malformed_request",
        ),
        (
            "signed, no id",
            Some(signed(
                LIVEKIT_KEY,
                LIVEKIT_SECRET,
                r#"{"event":"room_started"}"#,
            )),
            r#"{"event":"room_started"}"#.to_owned(),
            400,
            "malformed_request",
        ),
    ];
    for (what, auth, body, status, code) in cases {
        let (got, response) = post(&app, auth.as_deref(), body).await;
        assert_eq!(
            (got, response["error"]["code"].as_str().unwrap_or("")),
            (status, code),
            "{what}: {response}"
        );
    }
    let huge = format!(
        r#"{{"event":"room_started","id":"EV_big","pad":"{}"}}"#,
        "x".repeat(10 * 1024 * 1024)
    );
    let (status, _) = post(
        &app,
        Some(&signed(LIVEKIT_KEY, LIVEKIT_SECRET, &huge)),
        huge,
    )
    .await;
    assert_eq!(status, 413);

    assert_eq!(app.count("webhook_inbox").await, 0, "nothing was stored");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_signed_event_that_cannot_be_stored_gets_503_so_livekit_retries(_db: PgPool) {
    // A pool whose PostgreSQL is down (nothing listens on port 1).
    let down = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy("postgres://nobody@127.0.0.1:1/none")
        .unwrap();
    let app = TestApp::spawn(down).await;
    let body = event("EV_lost", "participant_left");
    let (status, response) = post(
        &app,
        Some(&signed(LIVEKIT_KEY, LIVEKIT_SECRET, &body)),
        body,
    )
    .await;
    assert_eq!(
        (status, &response["error"]["code"]),
        (503, &json!("unavailable"))
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn events_the_stand_in_sends_arrive_in_the_inbox(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        Options {
            webhooks_to_app: true,
            ..Options::default()
        },
    )
    .await;
    let gw = gateway(&app.stub);
    gw.create_room(
        "estrade-room",
        RoomSettings {
            max_participants: 5,
            empty_timeout_s: 60,
        },
    )
    .await
    .unwrap();
    let token = gw
        .mint(
            estrade_livekit::Role::Learner,
            "estrade-room",
            "l-ana0001",
            "Ana",
        )
        .unwrap();
    app.stub.connect(&token.jwt).unwrap();

    let db = app.db.clone();
    let stored = || {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "select event_type from webhook_inbox order by event_created_at, received_at",
            )
            .fetch_all(&db)
            .await
            .unwrap()
        }
    };
    // The stand-in records a delivery as done only on our 200, which comes
    // after the row is committed.
    eventually(Duration::from_secs(5), || {
        let deliveries = app.stub.deliveries();
        deliveries.len() == 2
            && deliveries
                .iter()
                .all(|d| d.outcome == estrade_livekit_stub::Outcome::Delivered)
    })
    .await;
    assert_eq!(stored().await, ["room_started", "participant_joined"]);
}

/// Sends a webhook's headers and only the first bytes of a 900 KB body,
/// then waits for an answer: one that comes proves the body was not read.
async fn half_sent(app: &TestApp, authorization: &str, wait: Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /webhooks/livekit HTTP/1.1\r\nhost: {}\r\nauthorization: {authorization}\r\n\
         content-type: application/webhook+json\r\ncontent-length: 900000\r\n\r\n{{\"event\":",
        app.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    match tokio::time::timeout(wait, stream.read(&mut answer)).await {
        Ok(Ok(n)) if n > 0 => Some(String::from_utf8_lossy(&answer[..n]).into_owned()),
        _ => None,
    }
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_webhook_whose_token_cannot_be_livekits_is_refused_before_its_body_is_read(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let forged = signed(LIVEKIT_KEY, "another-secret-of-thirty-two-bytes!!", "{}");
    let expired = raw_token(json!({"iss": LIVEKIT_KEY, "exp": now() - 3600, "sha256": sha("{}")}));
    for token in [forged.as_str(), expired.as_str(), "not-a-jwt"] {
        let answer = half_sent(&app, token, Duration::from_secs(5))
            .await
            .expect("an answer while the body is still coming");
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        assert!(answer.contains("invalid_webhook"), "{answer}");
    }
    // A token that is LiveKit's waits for the body, as it must (watched
    // for 2 s: an absence).
    let genuine = signed(LIVEKIT_KEY, LIVEKIT_SECRET, "{}");
    assert_eq!(
        half_sent(&app, &genuine, Duration::from_secs(2)).await,
        None
    );
    assert_eq!(app.count("webhook_inbox").await, 0);
}
