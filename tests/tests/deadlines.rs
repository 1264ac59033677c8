//! Slow and greedy clients (security review, issue 22, items 5 and 7): a
//! connection that does not finish its headers is closed, a request whose
//! body dawdles is answered 408, a live-update stream is exempt from both
//! but ends when its participant token does, and one participant (or the
//! whole process) holds a bounded number of streams.
//!
//! The deadlines are set to a second here; the waits below are how long
//! the test gives the server to act, never what it measures.

use std::time::Duration;

use estrade_api::auth::ParticipantTokens;
use estrade_tests::{Options, PARTICIPANT_SECRET, SseStream, TestApp, token};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use uuid::Uuid;

/// How long the server has to close or answer: many times its deadline.
const GRACE: Duration = Duration::from_secs(10);

async fn spawn(db: PgPool, env: &[(&'static str, &str)]) -> TestApp {
    let options = Options {
        env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        ..Options::default()
    };
    TestApp::spawn_with(db, options).await
}

/// Reads until the server closes the connection (or resets it); returns
/// what it sent. Panics if it is still open after [`GRACE`].
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(GRACE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&received).into_owned()
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_connection_that_never_finishes_its_headers_is_closed(db: PgPool) {
    let app = spawn(db, &[("ESTRADE_HEADER_READ_TIMEOUT_S", "1")]).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    // Headers without the blank line that ends them.
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: estrade\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut stream).await;
    assert!(
        !answer.contains("200 OK"),
        "answered a half-sent request: {answer}"
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn headers_dripped_a_byte_at_a_time_do_not_keep_a_connection_open(db: PgPool) {
    let app = spawn(db, &[("ESTRADE_HEADER_READ_TIMEOUT_S", "1")]).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        .await
        .unwrap();
    // One byte every 100 ms for up to GRACE: each byte would reset a
    // deadline between reads; the header deadline is for the whole header.
    let dripping = async {
        loop {
            if stream.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut probe = [0u8; 1];
            let peeked =
                tokio::time::timeout(Duration::from_millis(1), stream.peek(&mut probe)).await;
            if let Ok(Ok(0) | Err(_)) = peeked {
                return;
            }
        }
    };
    assert!(
        tokio::time::timeout(GRACE, dripping).await.is_ok(),
        "a connection dripping its headers stayed open"
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn an_idle_connection_is_closed_after_the_header_deadline(db: PgPool) {
    let app = spawn(db, &[("ESTRADE_HEADER_READ_TIMEOUT_S", "1")]).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: estrade\r\n\r\n")
        .await
        .unwrap();
    // The first request is answered, then the connection, kept alive and
    // sent nothing more, is closed.
    let answer = until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_request_whose_body_arrives_too_slowly_is_answered_408_and_changes_nothing(db: PgPool) {
    let app = spawn(
        db,
        &[
            ("ESTRADE_REQUEST_TIMEOUT_S", "1"),
            ("ESTRADE_HEADER_READ_TIMEOUT_S", "30"),
        ],
    )
    .await;
    let admin = app.admin_key().await;
    let accounts = app.count("accounts").await;
    let body = json!({"name": "Slow Teacher", "role": "teacher"}).to_string();
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /v1/admin/accounts HTTP/1.1\r\nHost: estrade\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Half the body, then nothing.
    stream
        .write_all(&body.as_bytes()[..body.len() / 2])
        .await
        .unwrap();
    let answer = until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let json: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(json["error"]["code"], "request_timeout", "{json}");
    assert_eq!(app.count("accounts").await, accounts, "nothing was created");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_live_update_stream_outlives_the_request_timeout(db: PgPool) {
    let app = spawn(db, &[("ESTRADE_REQUEST_TIMEOUT_S", "1")]).await;
    let c = app
        .class(json!({"mode": "moderated", "max_speakers": 1}), 1)
        .await;
    let learner = &c.learners[0];
    let mut stream = SseStream::open(&app.url(""), c.id(), &c.teacher, None)
        .await
        .unwrap();
    stream.expect("session", GRACE).await;
    stream.expect("floor", GRACE).await;
    // Past the request deadline, the stream still carries what happens.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, body) = app
        .post_as(&c.path("/hand"), token(learner), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let floor = stream.expect("floor", GRACE).await;
    assert_eq!(
        floor.data["queue"][0]["participant_id"],
        learner["participant_id"]
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_stream_ends_when_its_participant_token_expires(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = app
        .class(json!({"mode": "moderated", "max_speakers": 1}), 1)
        .await;
    let learner = &c.learners[0];
    let participant: Uuid = learner["participant_id"].as_str().unwrap().parse().unwrap();
    let session: Uuid = c.id().parse().unwrap();
    // A token of the learner's that lasts two seconds.
    let short = ParticipantTokens::new(PARTICIPANT_SECRET, Duration::from_secs(2))
        .sign(participant, session)
        .unwrap();
    let mut stream = SseStream::open(&app.url(""), c.id(), &short.token, None)
        .await
        .unwrap();
    stream.expect("session", GRACE).await;
    stream.expect("floor", GRACE).await;
    // Keep-alive comments come every 15 s: without the expiry the stream
    // would still be open at the end of GRACE, and `next` would panic.
    assert!(
        stream.next(GRACE).await.is_none(),
        "the stream went on after its token expired"
    );
    // The learner's own (long) token still opens a stream.
    assert!(
        SseStream::open(&app.url(""), c.id(), token(learner), None)
            .await
            .is_ok()
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn one_participant_holds_at_most_its_number_of_streams(db: PgPool) {
    let app = spawn(db, &[("ESTRADE_SSE_STREAMS_PER_PARTICIPANT", "2")]).await;
    let c = app
        .class(json!({"mode": "moderated", "max_speakers": 1}), 2)
        .await;
    let (a, b) = (&c.learners[0], &c.learners[1]);
    let base = app.url("");
    let _first = SseStream::open(&base, c.id(), token(a), None)
        .await
        .unwrap();
    let _second = SseStream::open(&base, c.id(), token(a), None)
        .await
        .unwrap();
    let refused = app
        .client
        .get(app.url(&c.path("/events")))
        .bearer_auth(token(a))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_streams", "{body}");
    // Another learner, and the teacher, are not affected.
    assert!(SseStream::open(&base, c.id(), token(b), None).await.is_ok());
    assert!(
        SseStream::open(&base, c.id(), &c.teacher, None)
            .await
            .is_ok()
    );
    let metrics = estrade_serve::metrics::handle().render();
    assert!(
        metrics.contains("events_streams_refused_total{reason=\"participant\"}"),
        "the refusal is counted"
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_process_holds_at_most_its_number_of_streams(db: PgPool) {
    let app = spawn(db, &[("ESTRADE_SSE_STREAMS_MAX", "1")]).await;
    let c = app
        .class(json!({"mode": "moderated", "max_speakers": 1}), 1)
        .await;
    let base = app.url("");
    let open = SseStream::open(&base, c.id(), &c.teacher, None)
        .await
        .unwrap();
    let (status, body) = SseStream::open(&base, c.id(), token(&c.learners[0]), None)
        .await
        .err()
        .expect("refused");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "streams_full", "{body}");
    // The client goes away; the server notices when it next writes to the
    // stream (here: the session's end), and the place is free again.
    drop(open);
    let (status, body) = app.post_as(&c.path("/end"), &c.teacher, json!({})).await;
    assert_eq!(status, 200, "{body}");
    estrade_tests::until(GRACE, || async {
        SseStream::open(&base, c.id(), &c.teacher, None)
            .await
            .is_ok()
    })
    .await;
}
