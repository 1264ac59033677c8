//! The worker applies stored LiveKit events: presence with its ordering
//! guards, the floor released on leaving, sessions ended with their room,
//! published tracks recorded and unauthorized microphones flagged; each
//! event once in effect, however often and in whatever order it arrives;
//! failures retried then dead-lettered; the sweeper covering what Redis
//! never delivered. Real PostgreSQL, real Redis, the LiveKit stand-in.

use std::time::Duration;

use estrade_livekit_stub::Faults;
use estrade_tests::{Options, RedisServer, TestApp, eventually, until};
use livekit_protocol::TrackSource;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(15);

async fn app_with_worker(db: PgPool, webhooks_to_app: bool) -> TestApp {
    TestApp::spawn_with(
        db,
        Options {
            webhooks_to_app,
            worker: true,
            env: vec![("ESTRADE_WEBHOOK_REQUEUE_AFTER_S", "1".into())],
            ..Options::default()
        },
    )
    .await
}

/// A live session and a learner admitted to it: `(session, join answer)`.
async fn session_with_learner(app: &TestApp) -> (Value, Value) {
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let session = app.live_session(&teacher, json!({"title": "Bread"})).await;
    let (status, joined) = app
        .join(session["join_code"].as_str().unwrap(), "Ana")
        .await;
    assert_eq!(status, 200, "{joined}");
    (session, joined)
}

fn id_of(v: &Value, key: &str) -> Uuid {
    v[key].as_str().unwrap().parse().unwrap()
}

async fn presence(db: &PgPool, participant: Uuid) -> (String, Option<String>) {
    sqlx::query_as("select presence, livekit_sid from participants where id = $1")
        .bind(participant)
        .fetch_one(db)
        .await
        .unwrap()
}

async fn wait_presence(app: &TestApp, participant: Uuid, expected: &str) {
    let db = app.db.clone();
    until(WAIT, || {
        let db = db.clone();
        async move { presence(&db, participant).await.0 == expected }
    })
    .await;
}

async fn raise_hand(db: &PgPool, session: Uuid, participant: Uuid) {
    sqlx::query(
        "insert into floor_turns (session_id, participant_id, state, raised_at)
         values ($1, $2, 'queued', now())",
    )
    .bind(session)
    .bind(participant)
    .execute(db)
    .await
    .unwrap();
}

async fn open_turns(db: &PgPool, participant: Uuid) -> i64 {
    sqlx::query_scalar(
        "select count(*) from floor_turns where participant_id = $1 and state <> 'done'",
    )
    .bind(participant)
    .fetch_one(db)
    .await
    .unwrap()
}

async fn audit_count(db: &PgPool, action: &str) -> i64 {
    sqlx::query_scalar("select count(*) from audit_log where action = $1")
        .bind(action)
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_learner_connecting_then_leaving_in_livekit_becomes_present_then_gone_and_loses_its_hand(
    db: PgPool,
) {
    let app = app_with_worker(db, true).await;
    let (session, joined) = session_with_learner(&app).await;
    let learner = id_of(&joined, "participant_id");
    assert_eq!(presence(&app.db, learner).await.0, "invited");

    let info = app
        .stub
        .connect(joined["livekit_token"].as_str().unwrap())
        .unwrap();
    wait_presence(&app, learner, "present").await;
    assert_eq!(presence(&app.db, learner).await.1, Some(info.sid));

    raise_hand(&app.db, id_of(&session, "id"), learner).await;
    let room = session["room_name"].as_str().unwrap();
    let identity = joined["identity"].as_str().unwrap();
    app.stub.disconnect(room, identity, false).unwrap();
    wait_presence(&app, learner, "left").await;
    // With no departure grace (the tests' default), the floor timers lower
    // the hand at their next tick.
    let db = app.db.clone();
    until(WAIT, || {
        let db = db.clone();
        async move { open_turns(&db, learner).await == 0 }
    })
    .await;
    assert_eq!(audit_count(&app.db, "floor.released").await, 1);
    app.inbox_drained(WAIT).await;
    // The learner's name was in LiveKit's events; it is not kept.
    let with_names: i64 = sqlx::query_scalar(
        "select count(*) from webhook_inbox where payload -> 'participant' ? 'name'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let with_participant: i64 =
        sqlx::query_scalar("select count(*) from webhook_inbox where payload ? 'participant'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((with_names, with_participant > 0), (0, true));
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_learner_who_left_frees_its_seat_for_someone_else(db: PgPool) {
    let app = app_with_worker(db, true).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let session = app
        .live_session(&teacher, json!({"title": "Bread", "max_learners": 1}))
        .await;
    let code = session["join_code"].as_str().unwrap();
    let (status, first) = app.join(code, "Ana").await;
    assert_eq!(status, 200);
    assert_eq!(app.join(code, "Ben").await.0, 409, "the one seat is taken");

    app.stub
        .connect(first["livekit_token"].as_str().unwrap())
        .unwrap();
    wait_presence(&app, id_of(&first, "participant_id"), "present").await;
    let room = session["room_name"].as_str().unwrap();
    app.stub
        .disconnect(room, first["identity"].as_str().unwrap(), true)
        .unwrap();
    wait_presence(&app, id_of(&first, "participant_id"), "left").await;
    assert_eq!(app.join(code, "Ben").await.0, 200, "the seat is free again");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn duplicated_deliveries_have_one_effect(db: PgPool) {
    let app = app_with_worker(db, true).await;
    let (session, joined) = session_with_learner(&app).await;
    let learner = id_of(&joined, "participant_id");
    app.stub.set_faults(Faults {
        duplicate_webhooks: 100,
        ..Faults::default()
    });
    app.stub
        .connect(joined["livekit_token"].as_str().unwrap())
        .unwrap();
    wait_presence(&app, learner, "present").await;
    raise_hand(&app.db, id_of(&session, "id"), learner).await;
    let room = session["room_name"].as_str().unwrap();
    app.stub
        .disconnect(room, joined["identity"].as_str().unwrap(), false)
        .unwrap();
    wait_presence(&app, learner, "left").await;
    app.inbox_drained(WAIT).await;

    // Every event was delivered twice (the leave's second copy may still be
    // on its way after the first was applied); each is stored and applied
    // once.
    eventually(WAIT, || {
        let twice = app.stub.deliveries();
        twice.iter().filter(|d| d.attempts == [200, 200]).count() >= 2
    })
    .await;
    let deliveries = app.stub.deliveries();
    assert_eq!(app.count("webhook_inbox").await, deliveries.len() as i64);
    let db = app.db.clone();
    until(WAIT, || {
        let db = db.clone();
        async move { audit_count(&db, "floor.released").await >= 1 }
    })
    .await;
    assert_eq!(audit_count(&app.db, "floor.released").await, 1);

    // The same body and signature posted again by hand: still one effect.
    let left: Value = sqlx::query_scalar(
        "select payload from webhook_inbox where event_type = 'participant_left'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(app.deliver(&left).await, 200);
    assert_eq!(app.deliver(&left).await, 200);
    assert_eq!(app.count("webhook_inbox").await, deliveries.len() as i64);
    assert_eq!(presence(&app.db, learner).await.0, "left");
}

fn participant_event(
    kind: &str,
    id: &str,
    room: &str,
    identity: &str,
    sid: &str,
    ms: i64,
) -> Value {
    json!({
        "event": kind, "id": id, "createdAt": (ms / 1000).to_string(),
        "room": {"name": room, "sid": "RM_x"},
        "participant": {"sid": sid, "identity": identity, "joinedAt": (ms / 1000).to_string(), "joinedAtMs": ms.to_string()}
    })
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn reordered_events_leave_the_presence_of_the_newest_connection(db: PgPool) {
    let app = app_with_worker(db, false).await;
    let (session, joined) = session_with_learner(&app).await;
    let learner = id_of(&joined, "participant_id");
    let room = session["room_name"].as_str().unwrap();
    let identity = joined["identity"].as_str().unwrap();
    let t = 1_790_000_000_000;

    // A reload: connection 2 joins before LiveKit reports connection 1
    // left, and connection 1's own join is delivered last of all.
    for event in [
        participant_event(
            "participant_joined",
            "EV_j2",
            room,
            identity,
            "PA_2",
            t + 5_000,
        ),
        participant_event("participant_left", "EV_l1", room, identity, "PA_1", t),
        participant_event("participant_joined", "EV_j1", room, identity, "PA_1", t),
    ] {
        assert_eq!(app.deliver(&event).await, 200);
        // One at a time, so the order is the one under test.
        let id = event["id"].as_str().unwrap().to_owned();
        until(WAIT, || async {
            app.inbox_status(&id).await.as_deref() == Some("processed")
        })
        .await;
    }
    assert_eq!(
        presence(&app.db, learner).await,
        ("present".into(), Some("PA_2".into()))
    );

    // A left that overtook its own join: the join does not resurrect it.
    for event in [
        participant_event(
            "participant_left",
            "EV_l3",
            room,
            identity,
            "PA_3",
            t + 9_000,
        ),
        participant_event(
            "participant_joined",
            "EV_j3",
            room,
            identity,
            "PA_3",
            t + 9_000,
        ),
    ] {
        assert_eq!(app.deliver(&event).await, 200);
        let id = event["id"].as_str().unwrap().to_owned();
        until(WAIT, || async {
            app.inbox_status(&id).await.as_deref() == Some("processed")
        })
        .await;
    }
    assert_eq!(
        presence(&app.db, learner).await,
        ("left".into(), Some("PA_3".into()))
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn reordered_and_delayed_deliveries_from_the_stand_in_end_with_the_right_presence(
    db: PgPool,
) {
    let app = app_with_worker(db, true).await;
    let (session, joined) = session_with_learner(&app).await;
    let learner = id_of(&joined, "participant_id");
    let room = session["room_name"].as_str().unwrap().to_owned();
    let identity = joined["identity"].as_str().unwrap().to_owned();
    app.stub.set_faults(Faults {
        reorder_webhooks: 100,
        webhook_delay_ms: 300,
        ..Faults::default()
    });
    let token = joined["livekit_token"].as_str().unwrap();
    // Connect, drop, reconnect: the final state is present on the newest sid.
    app.stub.connect(token).unwrap();
    app.stub.disconnect(&room, &identity, true).unwrap();
    let newest = app.stub.connect(token).unwrap();
    let db = app.db.clone();
    let sid = newest.sid.clone();
    until(WAIT, || {
        let (db, sid) = (db.clone(), sid.clone());
        async move { presence(&db, learner).await == ("present".into(), Some(sid)) }
    })
    .await;
    app.inbox_drained(WAIT).await;
    assert_eq!(
        presence(&app.db, learner).await,
        ("present".into(), Some(newest.sid))
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_room_livekit_closes_ends_its_session_and_closes_the_floor(db: PgPool) {
    let app = app_with_worker(db, true).await;
    let (session, joined) = session_with_learner(&app).await;
    let session_id = id_of(&session, "id");
    let learner = id_of(&joined, "participant_id");
    app.stub
        .connect(joined["livekit_token"].as_str().unwrap())
        .unwrap();
    wait_presence(&app, learner, "present").await;
    raise_hand(&app.db, session_id, learner).await;

    // Behind our back: the room is deleted in LiveKit.
    estrade_tests::gateway(&app.stub)
        .delete_room(session["room_name"].as_str().unwrap())
        .await
        .unwrap();
    let db = app.db.clone();
    until(WAIT, || {
        let db = db.clone();
        async move {
            let row: (String, Option<String>) =
                sqlx::query_as("select status, end_reason from sessions where id = $1")
                    .bind(session_id)
                    .fetch_one(&db)
                    .await
                    .unwrap();
            row == ("ended".into(), Some("room_finished".into()))
        }
    })
    .await;
    assert_eq!(open_turns(&app.db, learner).await, 0);
    assert_eq!(presence(&app.db, learner).await.0, "left");
    let actor: String = sqlx::query_scalar(
        "select actor_kind from audit_log where action = 'session.ended' and session_id = $1",
    )
    .bind(session_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(actor, "livekit");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn published_tracks_are_recorded_and_a_learner_microphone_without_a_grant_is_flagged(
    db: PgPool,
) {
    let app = app_with_worker(db, true).await;
    let (session, joined) = session_with_learner(&app).await;
    let learner = id_of(&joined, "participant_id");
    let room = session["room_name"].as_str().unwrap();
    let identity = joined["identity"].as_str().unwrap();
    app.stub
        .connect(joined["livekit_token"].as_str().unwrap())
        .unwrap();
    wait_presence(&app, learner, "present").await;
    assert!(
        app.stub
            .publish(room, identity, TrackSource::Microphone)
            .is_err(),
        "LiveKit refuses a microphone the token does not allow"
    );

    // Someone grants the microphone in LiveKit behind Postgres's back.
    estrade_tests::gateway(&app.stub)
        .grant_floor(room, identity)
        .await
        .unwrap();
    let track = app
        .stub
        .publish(room, identity, TrackSource::Microphone)
        .unwrap();
    let db = app.db.clone();
    let sid = track.sid.clone();
    until(WAIT, || {
        let (db, sid) = (db.clone(), sid.clone());
        async move {
            sqlx::query_scalar::<_, bool>(
                "select unauthorized from participant_tracks where track_sid = $1",
            )
            .bind(sid)
            .fetch_optional(&db)
            .await
            .unwrap()
                == Some(true)
        }
    })
    .await;
    assert_eq!(audit_count(&app.db, "track.unauthorized").await, 1);
    // The teacher's list of participants shows who holds it.
    let admin = app.admin_key().await;
    let participants = format!(
        "/v1/sessions/{}/participants",
        session["id"].as_str().unwrap()
    );
    let flagged = || async {
        let (status, list) = app.get_as(&participants, &admin).await;
        assert_eq!(status, 200, "{list}");
        list["participants"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["unauthorized_microphone"] == true)
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(flagged().await, vec![learner.to_string()]);

    app.stub.unpublish(room, identity, &track.sid).unwrap();
    until(WAIT, || {
        let (db, sid) = (db.clone(), track.sid.clone());
        async move {
            sqlx::query_scalar::<_, bool>(
                "select unpublished_at is not null from participant_tracks where track_sid = $1",
            )
            .bind(sid)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    })
    .await;
    assert!(
        flagged().await.is_empty(),
        "an unpublished microphone is not held"
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_late_track_published_after_its_unpublish_leaves_the_track_unpublished(db: PgPool) {
    let app = app_with_worker(db, false).await;
    let (session, joined) = session_with_learner(&app).await;
    let room = session["room_name"].as_str().unwrap();
    let identity = joined["identity"].as_str().unwrap();
    let track = |kind: &str, id: &str| {
        let mut e = participant_event(kind, id, room, identity, "PA_1", 1_790_000_000_000);
        e["track"] = json!({"sid": "TR_1", "type": "AUDIO", "source": "MICROPHONE"});
        e
    };
    for event in [
        track("track_unpublished", "EV_u"),
        track("track_published", "EV_p"),
    ] {
        assert_eq!(app.deliver(&event).await, 200);
        let id = event["id"].as_str().unwrap().to_owned();
        until(WAIT, || async {
            app.inbox_status(&id).await.as_deref() == Some("processed")
        })
        .await;
    }
    let still_published: bool = sqlx::query_scalar(
        "select unpublished_at is null from participant_tracks where track_sid = 'TR_1'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(!still_published);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn events_we_do_not_act_on_are_marked_processed_and_change_nothing(db: PgPool) {
    let app = app_with_worker(db, false).await;
    let (session, _) = session_with_learner(&app).await;
    let before = app.count("audit_log").await;
    let room = json!({"name": session["room_name"], "sid": "RM_x"});
    for (id, kind) in [
        ("EV_e", "egress_started"),
        ("EV_i", "ingress_ended"),
        ("EV_n", "a_type_from_the_future"),
        ("EV_s", "room_started"),
    ] {
        let event = json!({"event": kind, "id": id, "createdAt": "1790000000", "room": room});
        assert_eq!(app.deliver(&event).await, 200);
    }
    app.inbox_drained(WAIT).await;
    assert_eq!(app.count("webhook_inbox").await, 4);
    assert_eq!(app.count("audit_log").await, before);
    let status: String = sqlx::query_scalar("select status from sessions where id = $1")
        .bind(id_of(&session, "id"))
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "live");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn an_event_that_can_never_apply_is_a_dead_letter_that_admins_list_and_replay(db: PgPool) {
    let app = app_with_worker(db, false).await;
    let admin = app.admin_key().await;
    // Signed, with an id, but a participant_left without its participant.
    let broken = json!({"event": "participant_left", "id": "EV_broken", "room": {"name": "r"}});
    assert_eq!(app.deliver(&broken).await, 200, "stored: it is signed");
    until(WAIT, || async {
        app.inbox_status("EV_broken").await.as_deref() == Some("failed")
    })
    .await;

    let (status, list) = app.get_as("/v1/admin/webhooks?status=failed", &admin).await;
    assert_eq!(status, 200, "{list}");
    let events = list["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_id"], "EV_broken");
    assert_eq!(events[0]["attempts"], 1);
    assert!(
        events[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("participant.identity")
    );
    assert!(
        events[0].get("payload").is_none(),
        "payloads may hold names"
    );
    let (_, pending) = app
        .get_as("/v1/admin/webhooks?status=pending", &admin)
        .await;
    assert_eq!(pending["events"], json!([]));

    // Replay of an event that still cannot apply: pending again with a
    // fresh count, attempted again, a dead letter again.
    let (status, replayed) = app
        .post_as("/v1/admin/webhooks/EV_broken/replay", &admin, json!({}))
        .await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["previous_status"], "failed");
    assert_eq!(audit_count(&app.db, "webhook.replayed").await, 1);
    until(WAIT, || async {
        let row: (String, i32) = sqlx::query_as(
            "select status, attempts from webhook_inbox where event_id = 'EV_broken'",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        row == ("failed".into(), 1)
    })
    .await;
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn the_webhook_admin_endpoints_refuse_bad_input_and_non_admins(db: PgPool) {
    let app = app_with_worker(db, false).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let event = json!({"event": "room_started", "id": "EV_ok", "room": {"name": "r"}});
    assert_eq!(app.deliver(&event).await, 200);
    app.inbox_drained(WAIT).await;

    for (path, code) in [
        ("/v1/admin/webhooks?status=lost", "invalid_query"),
        ("/v1/admin/webhooks?limit=0", "invalid_query"),
        ("/v1/admin/webhooks?limit=abc", "invalid_query"),
        ("/v1/admin/webhooks?before=yesterday", "invalid_query"),
    ] {
        let (status, body) = app.get_as(path, &admin).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some(code)),
            "{path}"
        );
    }
    let (status, _) = app.get_as("/v1/admin/webhooks", &teacher).await;
    assert_eq!(status, 403);
    let (status, _) = app
        .post_as("/v1/admin/webhooks/EV_ok/replay", &teacher, json!({}))
        .await;
    assert_eq!(status, 403);
    let (status, body) = app
        .post_as("/v1/admin/webhooks/EV_nope/replay", &admin, json!({}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, body) = app
        .post_as("/v1/admin/webhooks/EV_ok/replay", &admin, json!({}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("already_processed"))
    );
    assert_eq!(
        app.inbox_status("EV_ok").await.as_deref(),
        Some("processed")
    );
    assert_eq!(audit_count(&app.db, "webhook.replayed").await, 0);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn an_event_stored_but_never_queued_is_applied_by_the_sweeper(db: PgPool) {
    let app = app_with_worker(db, false).await;
    let (session, joined) = session_with_learner(&app).await;
    let learner = id_of(&joined, "participant_id");
    // As if Redis lost the job: the row exists, no job does.
    let event = participant_event(
        "participant_joined",
        "EV_lost",
        session["room_name"].as_str().unwrap(),
        joined["identity"].as_str().unwrap(),
        "PA_1",
        1_790_000_000_000,
    );
    sqlx::query(
        "insert into webhook_inbox (event_id, event_type, room_name, payload)
         values ('EV_lost', 'participant_joined', $1, $2)",
    )
    .bind(session["room_name"].as_str().unwrap())
    .bind(&event)
    .execute(&app.db)
    .await
    .unwrap();
    wait_presence(&app, learner, "present").await;
    assert_eq!(
        app.inbox_status("EV_lost").await.as_deref(),
        Some("processed")
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn with_redis_down_events_are_still_acknowledged_and_applied(db: PgPool) {
    let mut redis = RedisServer::start();
    let url = redis.url.clone();
    redis.stop();
    let app = TestApp::spawn_with(
        db,
        Options {
            redis_url: url,
            worker: true,
            env: vec![("ESTRADE_WEBHOOK_REQUEUE_AFTER_S", "1".into())],
            ..Options::default()
        },
    )
    .await;
    let (session, joined) = session_with_learner(&app).await;
    let learner = id_of(&joined, "participant_id");
    let event = participant_event(
        "participant_joined",
        "EV_noredis",
        session["room_name"].as_str().unwrap(),
        joined["identity"].as_str().unwrap(),
        "PA_1",
        1_790_000_000_000,
    );
    assert_eq!(
        app.deliver(&event).await,
        200,
        "stored in Postgres: LiveKit is answered"
    );
    wait_presence(&app, learner, "present").await;
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_replayed_dead_letter_is_applied_once_its_cause_is_gone(db: PgPool) {
    let app = app_with_worker(db, false).await;
    let admin = app.admin_key().await;
    let (session, joined) = session_with_learner(&app).await;
    let learner = id_of(&joined, "participant_id");
    // As if PostgreSQL had failed it eight times: a valid event, dead.
    let event = participant_event(
        "participant_joined",
        "EV_dead",
        session["room_name"].as_str().unwrap(),
        joined["identity"].as_str().unwrap(),
        "PA_1",
        1_790_000_000_000,
    );
    sqlx::query(
        "insert into webhook_inbox (event_id, event_type, payload, status, attempts, last_error)
         values ('EV_dead', 'participant_joined', $1, 'failed', 8, 'connection reset')",
    )
    .bind(&event)
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(
        presence(&app.db, learner).await.0,
        "invited",
        "a dead letter changes nothing"
    );

    let (status, body) = app
        .post_as("/v1/admin/webhooks/EV_dead/replay", &admin, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    wait_presence(&app, learner, "present").await;
    assert_eq!(
        app.inbox_status("EV_dead").await.as_deref(),
        Some("processed")
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_late_room_finished_for_an_earlier_instance_of_the_room_leaves_the_session_live(
    db: PgPool,
) {
    let app = app_with_worker(db, false).await;
    let (session, _) = session_with_learner(&app).await;
    let room = session["room_name"].as_str().unwrap();
    let stale = json!({"event": "room_finished", "id": "EV_old", "room": {"name": room, "sid": "RM_earlier"}});
    assert_eq!(app.deliver(&stale).await, 200);
    until(WAIT, || async {
        app.inbox_status("EV_old").await.as_deref() == Some("processed")
    })
    .await;
    let status: String = sqlx::query_scalar("select status from sessions where id = $1")
        .bind(id_of(&session, "id"))
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "live");

    let sid: String = sqlx::query_scalar("select room_sid from sessions where id = $1")
        .bind(id_of(&session, "id"))
        .fetch_one(&app.db)
        .await
        .unwrap();
    let current =
        json!({"event": "room_finished", "id": "EV_now", "room": {"name": room, "sid": sid}});
    assert_eq!(app.deliver(&current).await, 200);
    until(WAIT, || async {
        app.inbox_status("EV_now").await.as_deref() == Some("processed")
    })
    .await;
    let status: String = sqlx::query_scalar("select status from sessions where id = $1")
        .bind(id_of(&session, "id"))
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "ended");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_learner_who_drops_out_and_comes_back_within_the_grace_keeps_its_place_in_line(
    db: PgPool,
) {
    let app = TestApp::spawn_with(
        db,
        Options {
            webhooks_to_app: true,
            worker: true,
            env: vec![("ESTRADE_DEPARTURE_GRACE_S", "3".into())],
            ..Options::default()
        },
    )
    .await;
    let (session, joined) = session_with_learner(&app).await;
    let (sid, learner) = (id_of(&session, "id"), id_of(&joined, "participant_id"));
    let room = session["room_name"].as_str().unwrap();
    let identity = joined["identity"].as_str().unwrap();
    let livekit_token = joined["livekit_token"].as_str().unwrap();
    app.stub.connect(livekit_token).unwrap();
    wait_presence(&app, learner, "present").await;
    let (status, _) = app
        .post_as(
            &format!("/v1/sessions/{sid}/hand"),
            joined["participant_token"].as_str().unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);

    // Gone, and back on a new connection within the grace: the hand stays.
    app.stub.disconnect(room, identity, true).unwrap();
    wait_presence(&app, learner, "left").await;
    let left_at: f64 = sqlx::query_scalar(
        "select extract(epoch from left_at)::float8 from participants where id = $1",
    )
    .bind(learner)
    .fetch_one(&app.db)
    .await
    .unwrap();
    app.stub.connect(livekit_token).unwrap();
    wait_presence(&app, learner, "present").await;
    // Until the departure is older than the grace (3 s) and a timer tick:
    // a hand still kept for a departure that old is kept for good.
    let db = app.db.clone();
    until(WAIT, || {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, bool>("select extract(epoch from now()) > $1 + 5")
                .bind(left_at)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(open_turns(&app.db, learner).await, 1, "still in line");

    // Gone for good: lowered once the grace is over, not before.
    app.stub.disconnect(room, identity, false).unwrap();
    wait_presence(&app, learner, "left").await;
    let db = app.db.clone();
    until(WAIT, || {
        let db = db.clone();
        async move { open_turns(&db, learner).await == 0 }
    })
    .await;
    let waited: f64 = sqlx::query_scalar(
        "select extract(epoch from (a.at - p.left_at))::float8
           from audit_log a, participants p
          where a.action = 'floor.released' and p.id = $1",
    )
    .bind(learner)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(
        waited >= 3.0,
        "lowered {waited} s after leaving, not before the grace"
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn joins_that_never_reach_livekit_give_their_seats_and_hands_back_after_the_arrival_grace(
    db: PgPool,
) {
    let app = TestApp::spawn_with(
        db,
        Options {
            webhooks_to_app: true,
            worker: true,
            env: vec![("ESTRADE_ARRIVAL_GRACE_S", "2".into())],
            ..Options::default()
        },
    )
    .await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let session = app
        .live_session(&teacher, json!({"title": "Bread", "max_learners": 2}))
        .await;
    let code = session["join_code"].as_str().unwrap();
    // Two joins that never connect to LiveKit fill the class, and one of
    // them waits in line.
    let (_, ghost) = app.join(code, "Ghost").await;
    let (status, _) = app.join(code, "Ghost two").await;
    assert_eq!(status, 200);
    let (status, full) = app.join(code, "Ana").await;
    assert_eq!(
        (status, full["error"]["code"].as_str()),
        (409, Some("session_full"))
    );
    let sid = id_of(&session, "id");
    let (status, _) = app
        .post_as(
            &format!("/v1/sessions/{sid}/hand"),
            ghost["participant_token"].as_str().unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let ghost_id = id_of(&ghost, "participant_id");
    assert_eq!(open_turns(&app.db, ghost_id).await, 1);

    // Once the grace is over the seats are free again: a real learner gets in.
    let deadline = std::time::Instant::now() + WAIT;
    let ana = loop {
        let (status, ana) = app.join(code, "Ana").await;
        if status == 200 {
            break ana;
        }
        assert_eq!(ana["error"]["code"], "session_full");
        assert!(std::time::Instant::now() < deadline, "no seat came free");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    app.stub
        .connect(ana["livekit_token"].as_str().unwrap())
        .unwrap();
    wait_presence(&app, id_of(&ana, "participant_id"), "present").await;
    // The ghost's hand is lowered by the floor timers.
    let db = app.db.clone();
    until(WAIT, || {
        let db = db.clone();
        async move { open_turns(&db, ghost_id).await == 0 }
    })
    .await;
    let (status, floor) = app
        .get_as(&format!("/v1/sessions/{sid}/floor"), &teacher)
        .await;
    assert_eq!(status, 200);
    assert_eq!(floor["queue"].as_array().map(Vec::len), Some(0), "{floor}");

    // A third learner takes the last seat; the ghost connecting late then
    // finds none, and LiveKit is told to let it go.
    let (status, bea) = app.join(code, "Bea").await;
    assert_eq!(status, 200, "{bea}");
    let room = session["room_name"].as_str().unwrap();
    let ghost_identity = ghost["identity"].as_str().unwrap();
    app.stub
        .connect(ghost["livekit_token"].as_str().unwrap())
        .unwrap();
    until(WAIT, || async {
        app.stub.participant(room, ghost_identity).is_none()
    })
    .await;
    // Its departure (the only one in this room) is applied like any other:
    // the ghost was in the room for a moment and has left, seatless.
    until(WAIT, || async {
        let left = app.stub.deliveries().into_iter().find(|d| {
            d.room == room
                && d.event == "participant_left"
                && d.outcome == estrade_livekit_stub::Outcome::Delivered
        });
        match left {
            Some(d) => app.inbox_status(&d.event_id).await.as_deref() == Some("processed"),
            None => false,
        }
    })
    .await;
    assert_eq!(presence(&app.db, ghost_id).await.0, "left");
    let seated: i64 = sqlx::query_scalar(
        "select count(*) from participants where session_id = $1 and presence = 'present'
            and kind in ('learner', 'classroom')",
    )
    .bind(sid)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        seated, 1,
        "only Ana is in the room; Bea's seat waits for her"
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn start_up_delays_are_taken_once_from_livekits_webhooks_and_reported(db: PgPool) {
    let app = app_with_worker(db, false).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let session = app.live_session(&teacher, json!({"title": "Bread"})).await;
    let id = session["id"].as_str().unwrap();
    let room = session["room_name"].as_str().unwrap();
    let publish = app.publish_token(&teacher, id).await;
    let teacher_identity = publish["identity"].as_str().unwrap();
    let (_, joined) = app
        .join(session["join_code"].as_str().unwrap(), "Ana")
        .await;
    let learner = id_of(&joined, "participant_id");
    let identity = joined["identity"].as_str().unwrap();
    // As if the class started 5 s ago and Ana joined through the API 2 s ago.
    sqlx::query("update sessions set started_at = now() - interval '5 s' where id = $1::uuid")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("update participants set created_at = now() - interval '2 s' where id = $1")
        .bind(learner)
        .execute(&app.db)
        .await
        .unwrap();

    let t = 1_790_000_000_000;
    let camera = {
        let mut e = participant_event(
            "track_published",
            "EV_cam",
            room,
            teacher_identity,
            "PA_t",
            t,
        );
        e["track"] = json!({"sid": "TR_cam", "type": "VIDEO", "source": "CAMERA"});
        e
    };
    let applied = |event_id: &'static str| {
        let app = &app;
        async move {
            until(WAIT, || async {
                app.inbox_status(event_id).await.as_deref() == Some("processed")
            })
            .await;
        }
    };
    for (event, event_id) in [
        (
            participant_event("participant_joined", "EV_j1", room, identity, "PA_1", t),
            "EV_j1",
        ),
        (camera, "EV_cam"),
    ] {
        assert_eq!(app.deliver(&event).await, 200);
        applied(event_id).await;
    }
    let first_connection = || async {
        sqlx::query_scalar::<_, Option<chrono::DateTime<chrono::Utc>>>(
            "select first_connected_at from participants where id = $1",
        )
        .bind(learner)
        .fetch_one(&app.db)
        .await
        .unwrap()
    };
    let first = first_connection().await;
    assert!(first.is_some());

    // A reconnection later, and a second track: neither moves the marks.
    let mut microphone = participant_event(
        "track_published",
        "EV_mic",
        room,
        teacher_identity,
        "PA_t",
        t + 3_000,
    );
    microphone["track"] = json!({"sid": "TR_mic", "type": "AUDIO", "source": "MICROPHONE"});
    for (event, event_id) in [
        (
            participant_event("participant_left", "EV_l1", room, identity, "PA_1", t),
            "EV_l1",
        ),
        (
            participant_event(
                "participant_joined",
                "EV_j2",
                room,
                identity,
                "PA_2",
                t + 5_000,
            ),
            "EV_j2",
        ),
        (microphone, "EV_mic"),
    ] {
        assert_eq!(app.deliver(&event).await, 200);
        applied(event_id).await;
    }
    assert_eq!(
        first_connection().await,
        first,
        "the first connection stays the first"
    );

    let (status, report) = app
        .get_as(&format!("/v1/sessions/{id}/report"), &admin)
        .await;
    assert_eq!(status, 200, "{report}");
    let startup = &report["startup"];
    assert_eq!(startup["learners_connected"], 1);
    let connect = startup["learner_connect_max_s"].as_f64().unwrap();
    assert!(
        (2.0..2.0 + WAIT.as_secs_f64()).contains(&connect),
        "{startup}"
    );
    assert_eq!(
        startup["learner_connect_median_s"],
        startup["learner_connect_max_s"]
    );
    let first_track = startup["teacher_first_track_s"].as_f64().unwrap();
    assert!(
        (5.0..5.0 + 2.0 * WAIT.as_secs_f64()).contains(&first_track),
        "{startup}"
    );
    let metrics = estrade_serve::metrics::handle().render();
    for histogram in [
        "participant_connect_seconds_count",
        "session_first_track_seconds_count",
    ] {
        assert!(metrics.contains(histogram), "{histogram} in {metrics}");
    }
}

/// A batch of webhooks spanning rooms takes its sessions' locks in id
/// order, as a join batch does, so the two never deadlock: found by
/// bench/classes.sh (50 classes joining while their webhooks arrived:
/// "deadlock detected" on joins) when the batch took them in the events'
/// order. Here a join-like transaction holds the lower session; the batch,
/// whose first event is the higher session's, waits for it without holding
/// the higher one, which the other transaction can then take.
#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_webhook_batch_across_rooms_locks_its_sessions_in_id_order(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let (a, learner_a) = session_with_learner(&app).await;
    let (b, learner_b) = session_with_learner(&app).await;
    let (low, high) = if id_of(&a, "id") < id_of(&b, "id") {
        ((a, learner_a), (b, learner_b))
    } else {
        ((b, learner_b), (a, learner_a))
    };
    let joined = |(session, learner): &(Value, Value), n: usize| {
        json!({
            "event": "participant_joined", "id": format!("EV_lock_{n}"), "createdAt": "1790000000",
            "room": {"name": session["room_name"], "sid": "RM_x"},
            "participant": {"sid": format!("PA_{n}"), "identity": learner["identity"],
                            "joinedAtMs": "1790000000000"}
        })
    };
    // The higher session's event first.
    for (n, side) in [&high, &low].into_iter().enumerate() {
        assert_eq!(app.deliver(&joined(side, n)).await, 200);
    }
    let low_id = id_of(&low.0, "id");
    let high_id = id_of(&high.0, "id");
    let mut holder = app.db.begin().await.unwrap();
    sqlx::query("select id from sessions where id = $1 for update")
        .bind(low_id)
        .execute(&mut *holder)
        .await
        .unwrap();
    let deps = estrade_app::Deps::new(&app.config, app.db.clone()).unwrap();
    let ids = vec!["EV_lock_0".to_owned(), "EV_lock_1".to_owned()];
    let batch = tokio::spawn(async move {
        let via = estrade_db::webhooks::Via::Queue;
        estrade_app::webhooks::apply_in_order(&deps, &ids, via).await
    });
    // The batch waits on a row lock: the lower session.
    until(WAIT, || async {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
              where datname = current_database() and wait_event_type = 'Lock'",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        waiting == 1
    })
    .await;
    // Meanwhile the higher session is free: a join batch can take it.
    let mut other = app.db.begin().await.unwrap();
    let taken = sqlx::query("select id from sessions where id = $1 for update nowait")
        .bind(high_id)
        .execute(&mut *other)
        .await;
    assert!(
        taken.is_ok(),
        "the batch holds the higher session while it waits for the lower: {taken:?}"
    );
    other.rollback().await.unwrap();
    holder.commit().await.unwrap();
    let applied = batch.await.unwrap().unwrap();
    assert_eq!(applied, 2, "both applied in the one batch");
    for learner in [&low.1, &high.1] {
        assert_eq!(
            presence(&app.db, id_of(learner, "participant_id")).await.0,
            "present"
        );
    }
}
