//! Live updates (`GET /v1/sessions/{id}/events`) over real PostgreSQL and
//! Redis: the opening state, every change in order, across replicas,
//! resumption with `Last-Event-ID`, the end of a stream, presence from
//! LiveKit's webhooks, the warning before a limited turn ends, and bad
//! requests.

use std::time::Duration;

use estrade_tests::{Options, RedisServer, SseEvent, SseStream, TestApp, token};
use serde_json::{Value, json};
use sqlx::PgPool;

const WAIT: Duration = Duration::from_secs(10);

fn moderated() -> Value {
    json!({"mode": "moderated", "max_speakers": 1})
}

/// Asserts `event` is a `floor` event of `version` and returns its data.
fn floor_at(event: &SseEvent, version: i64) -> &Value {
    assert_eq!(event.event, "floor", "{event:?}");
    assert_eq!(event.data["version"], version, "{event:?}");
    &event.data
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_stream_opens_with_the_state_now_and_follows_every_change_in_order(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 2).await;
    let (a, b) = (&c.learners[0], &c.learners[1]);
    let base = app.url("");
    let mut teacher = SseStream::open(&base, c.id(), &c.teacher, None)
        .await
        .unwrap();
    let mut learner = SseStream::open(&base, c.id(), token(b), None)
        .await
        .unwrap();

    let opening = teacher.expect("session", WAIT).await;
    assert_eq!(opening.data["status"], "live");
    let start = opening.id.expect("an id");
    let floor = teacher.expect("floor", WAIT).await;
    assert_eq!(floor.id, Some(start));
    assert!(floor.data.get("position").is_none(), "no place for staff");
    let version = floor.data["version"].as_i64().unwrap();
    learner.expect("session", WAIT).await;
    assert_eq!(
        learner.expect("floor", WAIT).await.data["position"],
        Value::Null
    );

    // Four changes, made one after the other.
    for (path, bearer, body) in [
        ("/hand", token(a), json!({})),
        ("/hand", token(b), json!({})),
        ("/floor/grant", c.teacher.as_str(), json!({})),
        (
            "/floor/revoke",
            c.teacher.as_str(),
            json!({"participant_id": a["participant_id"]}),
        ),
    ] {
        let (status, body) = app.post_as(&c.path(path), bearer, body).await;
        assert_eq!(status, 200, "{path}: {body}");
    }

    // Each arrives once, in order, with consecutive ids.
    let mut seen = Vec::new();
    for step in 1..=4 {
        let event = teacher.expect("floor", WAIT).await;
        assert_eq!(event.id, Some(start + step));
        seen.push(floor_at(&event, version + step).clone());
    }
    assert_eq!(seen[0]["queue"][0]["participant_id"], a["participant_id"]);
    assert_eq!(seen[1]["queue"][1]["participant_id"], b["participant_id"]);
    assert_eq!(
        seen[2]["speakers"][0]["participant_id"],
        a["participant_id"]
    );
    assert_eq!(seen[3]["speakers"], json!([]));
    assert_eq!(seen[3]["queue"][0]["participant_id"], b["participant_id"]);

    // The learner sees the same changes with its own place in line.
    let positions: Vec<Value> = {
        let mut positions = Vec::new();
        for step in 1..=4 {
            let event = learner.expect("floor", WAIT).await;
            floor_at(&event, version + step);
            positions.push(event.data["position"].clone());
        }
        positions
    };
    assert_eq!(positions, [Value::Null, json!(2), json!(1), json!(1)]);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_change_made_on_one_replica_reaches_a_stream_on_another(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 1).await;
    let other = app.spawn_replica().await;
    let mut stream = SseStream::open(&other, c.id(), &c.teacher, None)
        .await
        .unwrap();
    stream.expect("session", WAIT).await;
    let version = stream.expect("floor", WAIT).await.data["version"]
        .as_i64()
        .unwrap();
    let (status, _) = app
        .post_as(&c.path("/hand"), token(&c.learners[0]), json!({}))
        .await;
    assert_eq!(status, 200);
    let event = stream.expect("floor", WAIT).await;
    assert_eq!(
        floor_at(&event, version + 1)["queue"][0]["participant_id"],
        c.learners[0]["participant_id"]
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn events_still_arrive_while_redis_is_down(db: PgPool) {
    let mut redis = RedisServer::start();
    let app = TestApp::spawn_with(
        db,
        Options {
            redis_url: redis.url.clone(),
            ..Options::default()
        },
    )
    .await;
    let c = app.class(moderated(), 1).await;
    let mut stream = SseStream::open(&app.url(""), c.id(), &c.teacher, None)
        .await
        .unwrap();
    stream.expect("session", WAIT).await;
    let version = stream.expect("floor", WAIT).await.data["version"]
        .as_i64()
        .unwrap();
    redis.stop();
    let (status, _) = app
        .post_as(&c.path("/hand"), token(&c.learners[0]), json!({}))
        .await;
    assert_eq!(status, 200, "the floor does not need Redis");
    // No notice can be published: the replica's poll finds the event.
    let event = stream.expect("floor", WAIT).await;
    floor_at(&event, version + 1);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_stream_resumed_with_last_event_id_receives_exactly_what_it_missed(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 2).await;
    let base = app.url("");
    let mut first = SseStream::open(&base, c.id(), &c.teacher, None)
        .await
        .unwrap();
    let last = first.expect("session", WAIT).await.id.unwrap();
    first.expect("floor", WAIT).await;
    drop(first);

    // Missed while disconnected: two hands, one lowered, one kick.
    let (a, b) = (&c.learners[0], &c.learners[1]);
    app.post_as(&c.path("/hand"), token(a), json!({})).await;
    app.post_as(&c.path("/hand"), token(b), json!({})).await;
    let (status, _) = app
        .call(
            reqwest::Method::DELETE,
            &c.path("/hand"),
            Some(token(a)),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let kick = format!(
        "/participants/{}/kick",
        b["participant_id"].as_str().unwrap()
    );
    let (status, body) = app.post_as(&c.path(&kick), &c.teacher, json!({})).await;
    assert_eq!(status, 200, "{body}");

    let mut resumed = SseStream::open(&base, c.id(), &c.teacher, Some(&last.to_string()))
        .await
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        let event = resumed.next(WAIT).await.expect("still open");
        got.push((event.id.unwrap() - last, event.event.clone()));
    }
    assert_eq!(
        got,
        [
            (1, "floor".to_owned()),
            (2, "floor".to_owned()),
            (3, "floor".to_owned()),
            (4, "presence".to_owned()),
            (5, "floor".to_owned()),
        ],
        "exactly the missed events, in order, no opening state"
    );

    // An id from the future (another session's, say) starts afresh.
    let mut fresh = SseStream::open(&base, c.id(), &c.teacher, Some("999999"))
        .await
        .unwrap();
    let opening = fresh.expect("session", WAIT).await;
    assert_eq!(opening.id, Some(last + 5));
    fresh.expect("floor", WAIT).await;
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_kicked_learner_stream_ends_and_every_stream_ends_with_the_session(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 2).await;
    let base = app.url("");
    let (a, b) = (&c.learners[0], &c.learners[1]);
    let mut teacher = SseStream::open(&base, c.id(), &c.teacher, None)
        .await
        .unwrap();
    let mut kicked = SseStream::open(&base, c.id(), token(a), None)
        .await
        .unwrap();
    let mut staying = SseStream::open(&base, c.id(), token(b), None)
        .await
        .unwrap();
    for stream in [&mut teacher, &mut kicked, &mut staying] {
        stream.expect("session", WAIT).await;
        stream.expect("floor", WAIT).await;
    }

    let kick = format!(
        "/participants/{}/kick",
        a["participant_id"].as_str().unwrap()
    );
    let (status, body) = app.post_as(&c.path(&kick), &c.teacher, json!({})).await;
    assert_eq!(status, 200, "{body}");
    for stream in [&mut teacher, &mut kicked, &mut staying] {
        let event = stream.expect("presence", WAIT).await;
        assert_eq!(event.data["participant_id"], a["participant_id"]);
        assert_eq!(event.data["presence"], "kicked");
    }
    assert!(kicked.next(WAIT).await.is_none(), "the kicked stream ends");
    let again = SseStream::open(&base, c.id(), token(a), None).await;
    assert!(matches!(again, Err((401 | 404, _))), "and cannot reopen");

    let (status, body) = app.post_as(&c.path("/end"), &c.teacher, json!({})).await;
    assert_eq!(status, 200, "{body}");
    for stream in [&mut teacher, &mut staying] {
        let event = stream.expect("session", WAIT).await;
        assert_eq!(event.data["status"], "ended");
        assert_eq!(event.data["end_reason"], "ended_by_teacher");
        assert!(stream.next(WAIT).await.is_none(), "the stream ends");
    }
    // A stream opened on an ended session says so and ends.
    let mut late = SseStream::open(&base, c.id(), &c.teacher, None)
        .await
        .unwrap();
    assert_eq!(late.expect("session", WAIT).await.data["status"], "ended");
    late.expect("floor", WAIT).await;
    assert!(late.next(WAIT).await.is_none());
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn presence_follows_livekit_and_names_are_shown_to_the_class(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        Options {
            worker: true,
            webhooks_to_app: true,
            ..Options::default()
        },
    )
    .await;
    let c = app.class(moderated(), 0).await;
    let mut stream = SseStream::open(&app.url(""), c.id(), &c.teacher, None)
        .await
        .unwrap();
    stream.expect("session", WAIT).await;
    stream.expect("floor", WAIT).await;
    let code = c.session["join_code"].as_str().unwrap();
    let (status, joined) = app.join(code, "Noor").await;
    assert_eq!(status, 200);
    app.stub
        .connect(joined["livekit_token"].as_str().unwrap())
        .unwrap();
    let event = stream.expect("presence", WAIT).await;
    assert_eq!(event.data["participant_id"], joined["participant_id"]);
    assert_eq!(event.data["presence"], "present");
    assert_eq!(event.data["name"], "Noor");
    assert_eq!(event.data["kind"], "learner");
    app.stub
        .disconnect(c.room(), joined["identity"].as_str().unwrap(), true)
        .unwrap();
    let event = stream.expect("presence", WAIT).await;
    assert_eq!(event.data["presence"], "left");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn streams_are_refused_to_outsiders_and_for_a_bad_last_event_id(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 1).await;
    let other = app.class(moderated(), 1).await;
    let base = app.url("");
    let refused = |r: Result<SseStream, (u16, Value)>| match r {
        Ok(_) => panic!("a stream was opened"),
        Err((status, body)) => (status, body["error"]["code"].clone()),
    };
    let no_token = app.get(&c.path("/events")).await;
    assert_eq!(no_token.status().as_u16(), 401);
    assert_eq!(
        refused(SseStream::open(&base, c.id(), token(&other.learners[0]), None).await),
        (404, json!("not_found")),
        "a learner of another session"
    );
    assert_eq!(
        refused(SseStream::open(&base, c.id(), &other.teacher, None).await),
        (404, json!("not_found")),
        "another teacher"
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        refused(SseStream::open(&base, &unknown, &c.teacher, None).await),
        (404, json!("not_found"))
    );
    assert_eq!(
        refused(SseStream::open(&base, c.id(), &c.teacher, Some("yesterday")).await),
        (422, json!("invalid_last_event_id"))
    );
    assert_eq!(
        refused(SseStream::open(&base, c.id(), &c.teacher, Some("-3")).await),
        (422, json!("invalid_last_event_id"))
    );
}
