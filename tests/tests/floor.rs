//! Voice floor control end to end: decided in PostgreSQL, enforced in the
//! LiveKit stand-in (a learner's microphone is refused by the SFU until
//! the floor is granted, and cut when it is revoked), with the API's
//! refusals for bad input.

use std::time::Duration;

use estrade_livekit_stub::Faults;
use estrade_tests::{TestApp, eventually};
use livekit_protocol::TrackSource;
use serde_json::{Value, json};
use sqlx::PgPool;

struct Class {
    teacher: String,
    session: Value,
    learners: Vec<Value>,
}

impl Class {
    fn path(&self, rest: &str) -> String {
        format!(
            "/v1/sessions/{}{rest}",
            self.session["id"].as_str().unwrap()
        )
    }

    fn room(&self) -> &str {
        self.session["room_name"].as_str().unwrap()
    }
}

/// A live session (`floor` settings) with `n` learners connected to LiveKit.
async fn class(app: &TestApp, floor: Value, n: usize) -> Class {
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let session = app
        .live_session(&teacher, json!({"title": "Bread", "floor": floor}))
        .await;
    let mut learners = Vec::new();
    for i in 0..n {
        let (status, joined) = app
            .join(
                session["join_code"].as_str().unwrap(),
                &format!("Learner {i}"),
            )
            .await;
        assert_eq!(status, 200, "{joined}");
        app.stub
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

fn token(learner: &Value) -> &str {
    learner["participant_token"].as_str().unwrap()
}

fn moderated() -> Value {
    json!({"mode": "moderated", "max_speakers": 1})
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (u16, Value) {
    app.call(method, path, Some(bearer), body).await
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_learner_microphone_reaches_the_room_only_while_the_floor_is_granted(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = class(&app, moderated(), 1).await;
    let learner = &c.learners[0];
    let identity = learner["identity"].as_str().unwrap();

    let (status, floor) = app
        .post_as(&c.path("/hand"), token(learner), json!({}))
        .await;
    assert_eq!(status, 200, "{floor}");
    assert_eq!(floor["position"], 1);
    assert_eq!(
        floor["queue"][0]["participant_id"],
        learner["participant_id"]
    );
    assert!(
        app.stub
            .publish(c.room(), identity, TrackSource::Microphone)
            .is_err(),
        "a raised hand is not a grant"
    );

    let (status, floor) = app
        .post_as(&c.path("/floor/grant"), &c.teacher, json!({}))
        .await;
    assert_eq!(status, 200, "{floor}");
    assert_eq!(
        floor["speakers"][0]["participant_id"],
        learner["participant_id"]
    );
    assert_eq!(floor["queue"], json!([]));
    let track = app
        .stub
        .publish(c.room(), identity, TrackSource::Microphone)
        .expect("granted: LiveKit accepts the microphone");

    let body = json!({"participant_id": learner["participant_id"]});
    let (status, floor) = app
        .post_as(&c.path("/floor/revoke"), &c.teacher, body)
        .await;
    assert_eq!(status, 200, "{floor}");
    assert_eq!(floor["speakers"], json!([]));
    let info = app.stub.participant(c.room(), identity).unwrap();
    assert!(
        info.tracks.iter().all(|t| t.sid != track.sid || t.muted),
        "the microphone is cut at the SFU"
    );
    assert!(
        app.stub
            .publish(c.room(), identity, TrackSource::Microphone)
            .is_err()
    );
    let permission = info.permission.unwrap();
    assert!(!permission.can_publish);

    // Postgres keeps the history of every step.
    let turns: Vec<(String, Option<String>)> =
        sqlx::query_as("select state, end_reason from floor_turns order by raised_at")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(turns, [("done".to_owned(), Some("revoked".to_owned()))]);
    let version: i64 = sqlx::query_scalar("select floor_version from sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(version, 3, "raise, grant, revoke");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn hands_queue_in_order_and_lowering_is_idempotent(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = class(&app, moderated(), 2).await;
    let (a, b) = (&c.learners[0], &c.learners[1]);
    assert_eq!(
        app.post_as(&c.path("/hand"), token(a), json!({})).await.0,
        200
    );
    let (_, floor) = app.post_as(&c.path("/hand"), token(b), json!({})).await;
    assert_eq!(floor["position"], 2);

    let (status, body) = app.post_as(&c.path("/hand"), token(a), json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("hand_already_raised"))
    );

    let (status, floor) = call(
        &app,
        reqwest::Method::DELETE,
        &c.path("/hand"),
        token(a),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(floor["position"], Value::Null);
    assert_eq!(floor["queue"][0]["participant_id"], b["participant_id"]);
    assert_eq!(floor["queue"][0]["position"], 1);
    let (status, again) = call(
        &app,
        reqwest::Method::DELETE,
        &c.path("/hand"),
        token(a),
        None,
    )
    .await;
    assert_eq!(status, 200, "lowering without a hand changes nothing");
    assert_eq!(again["version"], floor["version"]);

    let (status, seen) = app.get_as(&c.path("/floor"), token(b)).await;
    assert_eq!(status, 200);
    assert_eq!(seen["position"], 1);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn an_open_floor_grants_a_raise_at_once_while_a_slot_is_free(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = class(&app, json!({"mode": "open", "max_speakers": 1}), 2).await;
    let (a, b) = (&c.learners[0], &c.learners[1]);
    let (_, floor) = app.post_as(&c.path("/hand"), token(a), json!({})).await;
    assert_eq!(floor["speakers"][0]["participant_id"], a["participant_id"]);
    let (_, floor) = app.post_as(&c.path("/hand"), token(b), json!({})).await;
    assert_eq!(floor["position"], 1, "no free slot: waits");
    let (_, floor) = call(
        &app,
        reqwest::Method::DELETE,
        &c.path("/hand"),
        token(a),
        None,
    )
    .await;
    assert_eq!(floor["speakers"][0]["participant_id"], b["participant_id"]);
    let identity = b["identity"].as_str().unwrap();
    assert!(
        app.stub
            .publish(c.room(), identity, TrackSource::Microphone)
            .is_ok()
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn closing_the_floor_revokes_every_learner_and_refuses_new_hands(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = class(&app, json!({"mode": "moderated", "max_speakers": 2}), 2).await;
    let (a, b) = (&c.learners[0], &c.learners[1]);
    let grant = json!({"participant_id": a["participant_id"]});
    assert_eq!(
        app.post_as(&c.path("/floor/grant"), &c.teacher, grant)
            .await
            .0,
        200
    );
    assert_eq!(
        app.post_as(&c.path("/hand"), token(b), json!({})).await.0,
        200
    );

    let body = json!({"mode": "closed", "max_speakers": 2});
    let (status, floor) = call(
        &app,
        reqwest::Method::PUT,
        &c.path("/floor"),
        &c.teacher,
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{floor}");
    assert_eq!(
        (floor["speakers"].clone(), floor["queue"].clone()),
        (json!([]), json!([]))
    );
    assert_eq!(floor["mode"], "closed");
    let info = app
        .stub
        .participant(c.room(), a["identity"].as_str().unwrap())
        .unwrap();
    assert!(!info.permission.unwrap().can_publish);
    let (status, body) = app.post_as(&c.path("/hand"), token(b), json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("floor_closed"))
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn bad_floor_requests_are_refused_and_change_nothing(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = class(&app, moderated(), 1).await;
    let learner = &c.learners[0];
    let before = app.count("audit_log").await;

    let stranger = json!({"participant_id": uuid::Uuid::new_v4()});
    let (status, _) = app
        .post_as(&c.path("/floor/grant"), &c.teacher, stranger)
        .await;
    assert_eq!(status, 404, "granting someone not in the session");
    let (status, body) = app
        .post_as(&c.path("/floor/grant"), &c.teacher, json!({}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("queue_empty"))
    );
    for path in ["/floor/grant", "/floor/revoke"] {
        let (status, _) = app.post_as(&c.path(path), token(learner), json!({})).await;
        assert_eq!(status, 403, "a learner calling {path}");
    }
    let (status, _) = call(
        &app,
        reqwest::Method::PUT,
        &c.path("/floor"),
        token(learner),
        Some(moderated()),
    )
    .await;
    assert_eq!(status, 403);
    for body in [
        json!({"mode": "anarchy", "max_speakers": 1}),
        json!({"mode": "open", "max_speakers": 0}),
        json!({"mode": "open", "max_speakers": 21}),
    ] {
        let (status, _) = call(
            &app,
            reqwest::Method::PUT,
            &c.path("/floor"),
            &c.teacher,
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}");
    }
    let (status, body) = app
        .post_as(&c.path("/floor/revoke"), &c.teacher, json!({}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_revoke"))
    );

    // Another teacher does not even see the session.
    let admin = app.admin_key().await;
    let (_, other) = app.teacher(&admin, "Other").await;
    let (status, _) = app.get_as(&c.path("/floor"), &other).await;
    assert_eq!(status, 404);

    assert_eq!(app.count("floor_turns").await, 0);
    assert_eq!(
        app.count("audit_log").await,
        before + 1,
        "only the other teacher's account"
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_grant_decided_while_livekit_fails_reaches_livekit_after_it_recovers(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = class(&app, moderated(), 1).await;
    let learner = &c.learners[0];
    let identity = learner["identity"].as_str().unwrap().to_owned();
    app.stub.set_faults(Faults {
        fail_next_twirp: 3,
        ..Faults::default()
    });
    let grant = json!({"participant_id": learner["participant_id"]});
    let (status, floor) = app
        .post_as(&c.path("/floor/grant"), &c.teacher, grant)
        .await;
    assert_eq!(status, 200, "the decision stands: {floor}");
    assert_eq!(
        floor["speakers"][0]["participant_id"],
        learner["participant_id"]
    );
    let room = c.room().to_owned();
    eventually(Duration::from_secs(15), || {
        app.stub
            .participant(&room, &identity)
            .and_then(|p| p.permission)
            .is_some_and(|p| p.can_publish)
    })
    .await;
}
