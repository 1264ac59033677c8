//! Voice floor control end to end: decided in PostgreSQL, enforced in the
//! LiveKit stand-in (a learner's microphone is refused by the SFU until
//! the floor is granted, and cut when it is revoked), with the API's
//! refusals for bad input.

use std::time::Duration;

use estrade_livekit_stub::Faults;
use estrade_tests::{TestApp, eventually, token, until};
use livekit_protocol::TrackSource;
use serde_json::{Value, json};
use sqlx::PgPool;

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
    let c = app.class(moderated(), 1).await;
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
    // Mirrored for any LiveKit client to see.
    let attrs = app.stub.participant(c.room(), identity).unwrap().attributes;
    assert_eq!(
        attrs.get("estrade.hand").map(String::as_str),
        Some("raised")
    );
    assert_eq!(
        attrs.get("estrade.queue_position").map(String::as_str),
        Some("1")
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
    let attrs = app.stub.participant(c.room(), identity).unwrap().attributes;
    assert_eq!(
        attrs.get("estrade.floor").map(String::as_str),
        Some("speaking")
    );
    assert_eq!(attrs.get("estrade.hand").map(String::as_str), Some("none"));
    assert!(!attrs.contains_key("estrade.queue_position"));

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
    let c = app.class(moderated(), 2).await;
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
    // Everyone whose place changed sees it in LiveKit.
    let attrs = |who: &Value| {
        app.stub
            .participant(c.room(), who["identity"].as_str().unwrap())
            .unwrap()
            .attributes
    };
    assert_eq!(
        attrs(b).get("estrade.queue_position").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        attrs(a).get("estrade.hand").map(String::as_str),
        Some("none")
    );
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
    let c = app
        .class(json!({"mode": "open", "max_speakers": 1}), 2)
        .await;
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
    let c = app
        .class(json!({"mode": "moderated", "max_speakers": 2}), 2)
        .await;
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
    let c = app.class(moderated(), 1).await;
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
        before + 2,
        "only the new admin's account and the other teacher's"
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_grant_decided_while_livekit_fails_reaches_livekit_after_it_recovers(db: PgPool) {
    // No worker at first: the retry must be durable, not a task of the
    // process that decided.
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 1).await;
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
    let can_publish = || {
        app.stub
            .participant(&room, &identity)
            .and_then(|p| p.permission)
            .is_some_and(|p| p.can_publish)
    };
    assert!(!can_publish(), "LiveKit refused the grant");
    assert_eq!(app.count("floor_repairs").await, 1, "the retry is recorded");
    app.start_worker();
    eventually(Duration::from_secs(15), can_publish).await;
    until(Duration::from_secs(5), || async {
        app.count("floor_repairs").await == 0
    })
    .await;
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_grant_that_reaches_livekit_after_a_later_revoke_is_undone_by_its_own_enforcer(
    db: PgPool,
) {
    // No worker and no reconciliation: only the enforcers can repair it.
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 1).await;
    let learner = &c.learners[0];
    let identity = learner["identity"].as_str().unwrap().to_owned();
    let id = learner["participant_id"].clone();
    // The grant's UpdateParticipant takes a slow path: it lands after the
    // revoke decided later.
    app.stub.set_faults(Faults {
        hold_next_grant: true,
        ..Faults::default()
    });
    let grant = {
        let (client, url, teacher) = (
            app.client.clone(),
            app.url(&c.path("/floor/grant")),
            c.teacher.clone(),
        );
        let body = json!({"participant_id": id});
        tokio::spawn(async move {
            let r = client.post(url).bearer_auth(teacher).json(&body).send();
            r.await.unwrap().status()
        })
    };
    // The grant is decided and its call is held in LiveKit's path.
    eventually(Duration::from_secs(5), || app.stub.held_grants() == 1).await;
    let (status, floor) = app
        .post_as(
            &c.path("/floor/revoke"),
            &c.teacher,
            json!({"participant_id": id}),
        )
        .await;
    assert_eq!(status, 200, "{floor}");
    app.stub.release_held_grant();
    assert_eq!(grant.await.unwrap(), 200);

    // LiveKit saw the revoke, then the late grant, then the grant's
    // enforcer, finding the floor moved, applied the current decision.
    let seen: Vec<bool> = app
        .stub
        .permission_updates()
        .iter()
        .filter(|u| u.identity == identity)
        .map(|u| u.can_publish)
        .collect();
    assert_eq!(seen, [false, true, false], "the order LiveKit applied them");
    let can_publish = app
        .stub
        .participant(c.room(), &identity)
        .and_then(|p| p.permission)
        .is_some_and(|p| p.can_publish);
    assert!(!can_publish, "LiveKit must end at the latest decision");
}

/// Checks what must hold in any floor a client can observe.
fn assert_floor_invariants(floor: &Value) {
    let max = floor["max_speakers"].as_u64().unwrap() as usize;
    let speakers: Vec<&Value> = floor["speakers"].as_array().unwrap().iter().collect();
    let queue: Vec<&Value> = floor["queue"].as_array().unwrap().iter().collect();
    assert!(speakers.len() <= max, "more speakers than allowed: {floor}");
    for s in &speakers {
        assert!(
            queue
                .iter()
                .all(|h| h["participant_id"] != s["participant_id"]),
            "queued and speaking at once: {floor}"
        );
    }
    for (i, h) in queue.iter().enumerate() {
        assert_eq!(h["position"], i + 1, "{floor}");
    }
    let raised: Vec<&str> = queue
        .iter()
        .map(|h| h["raised_at"].as_str().unwrap())
        .collect();
    let mut sorted = raised.clone();
    sorted.sort();
    assert_eq!(raised, sorted, "queue not in raise order: {floor}");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn two_replicas_hammered_concurrently_keep_the_floor_consistent_with_livekit(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let n = 12;
    let c = app
        .class(json!({"mode": "moderated", "max_speakers": 3}), n)
        .await;
    let replicas = [app.url(""), app.spawn_replica().await];
    let client = app.client.clone();
    // A live stream on the second replica sees every change.
    let mut stream = estrade_tests::SseStream::open(&replicas[1], c.id(), &c.teacher, None)
        .await
        .unwrap();
    stream.expect("session", Duration::from_secs(5)).await;
    let opening = stream.expect("floor", Duration::from_secs(5)).await;
    let ops = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));

    let send = {
        let (client, replicas, ops) = (client.clone(), replicas.clone(), ops.clone());
        move |replica: usize, method: reqwest::Method, path: String, bearer: String, body: Value| {
            let (client, base, ops) = (client.clone(), replicas[replica % 2].clone(), ops.clone());
            async move {
                let res = client
                    .request(method, format!("{base}{path}"))
                    .bearer_auth(bearer)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                ops.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap();
                assert!(status == 200 || status == 409, "{status} {body}");
                if status == 200 {
                    assert_floor_invariants(&body);
                }
            }
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    for (i, learner) in c.learners.iter().enumerate() {
        let (send, hand, bearer) = (send.clone(), c.path("/hand"), token(learner).to_owned());
        tasks.spawn(async move {
            for round in 0..60 {
                let method = if (i + round) % 2 == 0 {
                    reqwest::Method::POST
                } else {
                    reqwest::Method::DELETE
                };
                send(i + round, method, hand.clone(), bearer.clone(), json!({})).await;
            }
        });
    }
    let ids: Vec<Value> = c
        .learners
        .iter()
        .map(|l| l["participant_id"].clone())
        .collect();
    for t in 0..2 {
        let (send, grant, revoke, teacher, ids) = (
            send.clone(),
            c.path("/floor/grant"),
            c.path("/floor/revoke"),
            c.teacher.clone(),
            ids.clone(),
        );
        tasks.spawn(async move {
            for round in 0..150 {
                let (path, body) = match (round + t) % 5 {
                    0..=2 => (grant.clone(), json!({})),
                    3 => (
                        revoke.clone(),
                        json!({"participant_id": ids[(round * 7 + t) % ids.len()]}),
                    ),
                    _ => (revoke.clone(), json!({"all": true})),
                };
                send(
                    round + t,
                    reqwest::Method::POST,
                    path,
                    teacher.clone(),
                    body,
                )
                .await;
            }
        });
    }
    // An observer reading through both replicas while it all happens.
    let observer = {
        let (client, replicas, path, teacher) = (
            client.clone(),
            replicas.clone(),
            c.path("/floor"),
            c.teacher.clone(),
        );
        tokio::spawn(async move {
            let mut seen = 0;
            for i in 0..200 {
                let floor: Value = client
                    .get(format!("{}{path}", replicas[i % 2]))
                    .bearer_auth(&teacher)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_floor_invariants(&floor);
                seen += 1;
            }
            seen
        })
    };
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_eq!(observer.await.unwrap(), 200);
    let total = ops.load(std::sync::atomic::Ordering::Relaxed);
    assert!(total >= 1_000, "{total} operations");

    // Afterwards: Postgres's decision is what LiveKit enforces, learner by
    // learner (the last writer re-reads the decision before it stops).
    let (_, floor) = app.get_as(&c.path("/floor"), &c.teacher).await;
    assert_floor_invariants(&floor);

    // The stream: every version once, in order, each one valid, up to the
    // final one.
    let (mut id, mut version) = (
        opening.id.unwrap(),
        opening.data["version"].as_i64().unwrap(),
    );
    while version < floor["version"].as_i64().unwrap() {
        let event = stream.expect("floor", Duration::from_secs(10)).await;
        assert_eq!(event.id, Some(id + 1), "consecutive ids");
        assert_eq!(
            event.data["version"],
            version + 1,
            "every version, in order"
        );
        assert_floor_invariants(&event.data);
        (id, version) = (id + 1, version + 1);
    }
    let speaking: Vec<&Value> = floor["speakers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["participant_id"])
        .collect();
    let db_speakers: i64 =
        sqlx::query_scalar("select count(*) from floor_turns where state = 'speaking'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(db_speakers as usize, speaking.len());
    for learner in &c.learners {
        let info = app
            .stub
            .participant(c.room(), learner["identity"].as_str().unwrap())
            .unwrap();
        let granted = info.permission.is_some_and(|p| p.can_publish);
        assert_eq!(
            granted,
            speaking.contains(&&learner["participant_id"]),
            "LiveKit and Postgres disagree on {}",
            learner["participant_id"]
        );
        let expected_position = floor["queue"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["participant_id"] == learner["participant_id"])
            .map(|h| h["position"].to_string());
        assert_eq!(
            info.attributes.get("estrade.queue_position").cloned(),
            expected_position,
            "mirrored queue position of {}",
            learner["participant_id"]
        );
    }
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_limited_grant_ends_by_itself_and_livekit_cuts_the_microphone(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        estrade_tests::Options {
            worker: true,
            ..estrade_tests::Options::default()
        },
    )
    .await;
    let c = app
        .class(
            json!({"mode": "moderated", "max_speakers": 1, "speaking_time_limit_s": 5}),
            1,
        )
        .await;
    let learner = &c.learners[0];
    let mut stream = estrade_tests::SseStream::open(&app.url(""), c.id(), token(learner), None)
        .await
        .unwrap();
    stream.expect("session", Duration::from_secs(5)).await;
    stream.expect("floor", Duration::from_secs(5)).await;
    let grant = json!({"participant_id": learner["participant_id"]});
    let (status, floor) = app
        .post_as(&c.path("/floor/grant"), &c.teacher, grant)
        .await;
    assert_eq!(status, 200, "{floor}");
    let expires_at = floor["speakers"][0]["expires_at"]
        .as_str()
        .unwrap()
        .to_owned();
    // Clients hear of the grant, then (the turn being shorter than 10 s)
    // at once that it is ending, then that it ended.
    let wait = Duration::from_secs(10);
    let granted = stream.expect("floor", wait).await;
    assert_eq!(
        granted.data["speakers"][0]["participant_id"],
        learner["participant_id"]
    );
    let warning = stream.expect("turn_ending", wait).await;
    assert_eq!(warning.data["participant_id"], learner["participant_id"]);
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(warning.data["expires_at"].as_str().unwrap()).unwrap(),
        chrono::DateTime::parse_from_rfc3339(&expires_at).unwrap()
    );
    assert!(warning.data["seconds_left"].as_f64().unwrap() <= 5.0);
    let ended = stream.expect("floor", wait).await;
    assert_eq!(ended.data["speakers"], json!([]));
    let warnings: i64 =
        sqlx::query_scalar("select count(*) from session_events where event = 'turn_ending'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(warnings, 1, "one warning per turn");
    let since = floor["speakers"][0]["since"].as_str().unwrap().to_owned();
    let span = chrono::DateTime::parse_from_rfc3339(&expires_at).unwrap()
        - chrono::DateTime::parse_from_rfc3339(&since).unwrap();
    assert_eq!(span.num_seconds(), 5);

    let db = app.db.clone();
    estrade_tests::until(Duration::from_secs(15), || {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>("select end_reason from floor_turns")
                .fetch_one(&db)
                .await
                .unwrap()
                .as_deref()
                == Some("expired")
        }
    })
    .await;
    let room = c.room().to_owned();
    let identity = learner["identity"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(10), || {
        app.stub
            .participant(&room, &identity)
            .and_then(|p| p.permission)
            .is_some_and(|p| !p.can_publish)
    })
    .await;
    let actor: String =
        sqlx::query_scalar("select actor_kind from audit_log where action = 'floor.expired'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(actor, "system");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn when_a_speaker_leaves_an_open_floor_the_next_in_line_can_speak_in_livekit(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        estrade_tests::Options {
            worker: true,
            webhooks_to_app: true,
            ..estrade_tests::Options::default()
        },
    )
    .await;
    let c = app
        .class(json!({"mode": "open", "max_speakers": 1}), 3)
        .await;
    let (a, b, d) = (&c.learners[0], &c.learners[1], &c.learners[2]);
    for l in [a, b, d] {
        assert_eq!(
            app.post_as(&c.path("/hand"), token(l), json!({})).await.0,
            200
        );
    }
    // a speaks; b is first in line, d second.
    app.stub
        .disconnect(c.room(), a["identity"].as_str().unwrap(), false)
        .unwrap();
    let (room, b_id, d_id) = (
        c.room().to_owned(),
        b["identity"].as_str().unwrap().to_owned(),
        d["identity"].as_str().unwrap().to_owned(),
    );
    eventually(Duration::from_secs(15), || {
        let b_speaks = app
            .stub
            .participant(&room, &b_id)
            .and_then(|p| p.permission)
            .is_some_and(|p| p.can_publish);
        let d_first = app.stub.participant(&room, &d_id).is_some_and(|p| {
            p.attributes
                .get("estrade.queue_position")
                .map(String::as_str)
                == Some("1")
        });
        b_speaks && d_first
    })
    .await;
    let (_, floor) = app.get_as(&c.path("/floor"), &c.teacher).await;
    assert_eq!(floor["speakers"][0]["participant_id"], b["participant_id"]);
    assert_eq!(floor["queue"][0]["participant_id"], d["participant_id"]);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn only_the_classs_own_teacher_runs_the_floor_an_admin_sees_it_and_may_kick(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let session = app
        .live_session(&teacher, json!({"title": "C", "floor": moderated()}))
        .await;
    let id = session["id"].as_str().unwrap();
    let (_, joined) = app
        .join(session["join_code"].as_str().unwrap(), "Ana")
        .await;
    let pid = joined["participant_id"].as_str().unwrap();
    let hand = format!("/v1/sessions/{id}/hand");
    let learner = joined["participant_token"].as_str().unwrap();
    assert_eq!(app.post_as(&hand, learner, json!({})).await.0, 200);

    for (path, body) in [
        (format!("/v1/sessions/{id}/floor/grant"), json!({})),
        (
            format!("/v1/sessions/{id}/floor/revoke"),
            json!({"all": true}),
        ),
    ] {
        let (status, refused) = app.post_as(&path, &admin, body).await;
        assert_eq!(
            (status, &refused["error"]["code"]),
            (403, &json!("owner_only")),
            "{path}"
        );
    }
    let (status, refused) = app
        .call(
            reqwest::Method::PUT,
            &format!("/v1/sessions/{id}/floor"),
            Some(&admin),
            Some(json!({"mode": "open", "max_speakers": 2, "speaking_time_limit_s": null})),
        )
        .await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (403, &json!("owner_only"))
    );
    // Nothing changed: Ana still waits, the mode is still moderated.
    let (_, floor) = app
        .get_as(&format!("/v1/sessions/{id}/floor"), &admin)
        .await;
    assert_eq!(floor["mode"], "moderated");
    assert_eq!(floor["queue"][0]["participant_id"], pid);
    assert!(floor["speakers"].as_array().unwrap().is_empty());
    // The teacher runs it; the admin may still remove her.
    let (status, _) = app
        .post_as(
            &format!("/v1/sessions/{id}/floor/grant"),
            &teacher,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let kick = format!("/v1/sessions/{id}/participants/{pid}/kick");
    assert_eq!(app.post_as(&kick, &admin, json!({})).await.0, 200);
}

/// Every teacher command on the floor of a session that is not live.
fn teacher_commands(learner: &str) -> Vec<(reqwest::Method, &'static str, Value)> {
    vec![
        (reqwest::Method::POST, "/floor/grant", json!({})),
        (
            reqwest::Method::POST,
            "/floor/grant",
            json!({"participant_id": learner}),
        ),
        (
            reqwest::Method::POST,
            "/floor/revoke",
            json!({"participant_id": learner}),
        ),
        (reqwest::Method::POST, "/floor/revoke", json!({"all": true})),
        (reqwest::Method::PUT, "/floor", moderated()),
    ]
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn every_floor_command_on_a_session_that_is_not_live_is_refused_as_the_docs_say(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;

    // Scheduled: no participant can be in it yet; every teacher command
    // gets 409 session_not_live, whatever participant it names.
    let (status, scheduled) = app
        .post_as(
            "/v1/sessions",
            &teacher,
            json!({"title": "Later", "floor": moderated()}),
        )
        .await;
    assert_eq!(status, 201, "{scheduled}");
    let scheduled = format!("/v1/sessions/{}", scheduled["id"].as_str().unwrap());
    let nobody = uuid::Uuid::new_v4().to_string();
    for (method, path, body) in teacher_commands(&nobody) {
        let (status, answer) = call(
            &app,
            method,
            &format!("{scheduled}{path}"),
            &teacher,
            Some(body),
        )
        .await;
        assert_eq!(status, 409, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "session_not_live", "{path}");
    }

    // Ended: the teacher's commands get session_not_live before anything is
    // said about the participant (who left when the class ended); the
    // learner's own token is over (410 session_ended).
    let c = app.class(moderated(), 1).await;
    let learner = &c.learners[0];
    let (status, body) = app
        .post_as(&c.path("/hand"), token(learner), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.post_as(&c.path("/end"), &c.teacher, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let version = |floor: &Value| floor["version"].as_i64().unwrap();
    let (_, floor) = app.get_as(&c.path("/floor"), &c.teacher).await;
    let before = version(&floor);
    let learner_id = learner["participant_id"].as_str().unwrap();
    for (method, path, body) in teacher_commands(learner_id) {
        let (status, answer) = call(&app, method, &c.path(path), &c.teacher, Some(body)).await;
        assert_eq!(status, 409, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "session_not_live", "{path}");
    }
    for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
        let (status, answer) = call(&app, method, &c.path("/hand"), token(learner), None).await;
        assert_eq!(status, 410, "{answer}");
        assert_eq!(answer["error"]["code"], "session_ended");
    }
    let (_, floor) = app.get_as(&c.path("/floor"), &c.teacher).await;
    assert_eq!(
        version(&floor),
        before,
        "no refused command moved the floor"
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn ending_a_session_is_a_floor_transition_with_its_version_and_its_event(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 2).await;
    let (a, b) = (&c.learners[0], &c.learners[1]);
    for learner in [a, b] {
        let (status, body) = app
            .post_as(&c.path("/hand"), token(learner), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = app
        .post_as(&c.path("/floor/grant"), &c.teacher, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let version = body["version"].as_i64().unwrap();
    let mut stream = estrade_tests::SseStream::open(&app.url(""), c.id(), &c.teacher, None)
        .await
        .unwrap();
    stream.expect("session", Duration::from_secs(10)).await;
    stream.expect("floor", Duration::from_secs(10)).await;

    let (status, body) = app.post_as(&c.path("/end"), &c.teacher, json!({})).await;
    assert_eq!(status, 200, "{body}");
    // The floor event comes first (a speaker and a hand let go), then the end.
    let floor = stream.expect("floor", Duration::from_secs(10)).await;
    assert_eq!(floor.data["version"], version + 1, "{:?}", floor.data);
    assert_eq!(floor.data["speakers"], json!([]));
    assert_eq!(floor.data["queue"], json!([]));
    let ended = stream.expect("session", Duration::from_secs(10)).await;
    assert_eq!(ended.data["status"], "ended");
    let (_, now) = app.get_as(&c.path("/floor"), &c.teacher).await;
    assert_eq!(now["version"], version + 1);
    assert_eq!(now["speakers"], json!([]));

    // Ending again changes nothing, so the floor stays where it is.
    let (status, _) = app.post_as(&c.path("/end"), &c.teacher, json!({})).await;
    assert_eq!(status, 200);
    let (_, again) = app.get_as(&c.path("/floor"), &c.teacher).await;
    assert_eq!(again["version"], version + 1);
}
