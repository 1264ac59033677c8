//! Reconciliation over real PostgreSQL and Redis and the LiveKit stand-in:
//! each kind of drift is made behind Estrade's back (in the stand-in, or in
//! PostgreSQL), one run repairs it, both sides agree afterwards, and the
//! report counts it.

use std::time::Duration;

use estrade_livekit::grants;
use estrade_livekit::proto::TrackSource;
use estrade_livekit_stub::Faults;
use estrade_tests::{Class, Options, TestApp, gateway, token, until};
use serde_json::{Value, json};
use sqlx::PgPool;

fn moderated() -> Value {
    json!({"mode": "moderated", "max_speakers": 1})
}

/// Runs reconciliation through the admin endpoint; returns the report.
async fn reconcile(app: &TestApp, admin: &str) -> Value {
    let (status, report) = app.post_as("/v1/admin/reconcile", admin, json!({})).await;
    assert_eq!(status, 200, "{report}");
    report
}

/// A live class of `n` learners in the stand-in, with the presence
/// webhooks lost: the first run marks them present (and finds nothing
/// else).
async fn settled_class(app: &TestApp, admin: &str, n: usize) -> Class {
    let c = app.class(moderated(), n).await;
    let report = reconcile(app, admin).await;
    assert_eq!(report["outcome"], "ok", "{report}");
    let expected = if n == 0 {
        json!({})
    } else {
        json!({"marked_present": n})
    };
    assert_eq!(report["repairs"], expected, "{report}");
    c
}

/// How many participants of `session` are present in PostgreSQL.
async fn present(app: &TestApp, session: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from participants where session_id = $1::uuid and presence = 'present'",
    )
    .bind(session)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

fn identity(learner: &Value) -> &str {
    learner["identity"].as_str().unwrap()
}

async fn scalar(app: &TestApp, sql: &str, id: &str) -> String {
    sqlx::query_scalar(sql)
        .bind(uuid::Uuid::parse_str(id).unwrap())
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_room_that_agrees_with_postgres_needs_no_repair(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        Options {
            worker: true,
            webhooks_to_app: true,
            ..Options::default()
        },
    )
    .await;
    let admin = app.admin_key().await;
    let c = app.class(moderated(), 3).await;
    let (a, b) = (&c.learners[0], &c.learners[1]);
    app.post_as(&c.path("/hand"), token(a), json!({})).await;
    app.post_as(&c.path("/hand"), token(b), json!({})).await;
    app.post_as(&c.path("/floor/grant"), &c.teacher, json!({}))
        .await;
    let session = c.id().to_owned();
    until(Duration::from_secs(10), || async {
        present(&app, &session).await == 3
    })
    .await;
    let report = reconcile(&app, &admin).await;
    assert_eq!(report["outcome"], "ok", "{report}");
    assert_eq!(
        report["repairs"],
        json!({}),
        "no drift, no repair: {report}"
    );
    assert_eq!(report["participants_checked"], 3);
    // O(rooms): one listing of rooms, one of this room's participants.
    assert_eq!(report["livekit_calls"], 2);
    let (status, last) = app.get_as("/v1/admin/reconcile/last", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(last["id"], report["id"]);
    assert_eq!(last["trigger"], "admin");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_live_session_whose_room_vanished_is_ended_and_its_floor_closed(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let c = settled_class(&app, &admin, 1).await;
    let grant = json!({"participant_id": c.learners[0]["participant_id"]});
    app.post_as(&c.path("/floor/grant"), &c.teacher, grant)
        .await;
    gateway(&app.stub).delete_room(c.room()).await.unwrap();

    let report = reconcile(&app, &admin).await;
    assert_eq!(report["repairs"], json!({"room_vanished": 1}), "{report}");
    let (_, session) = app.get_as(&c.path(""), &c.teacher).await;
    assert_eq!(session["status"], "ended");
    let reason = scalar(
        &app,
        "select end_reason from sessions where id = $1",
        c.id(),
    )
    .await;
    assert_eq!(reason, "room_vanished");
    let open: i64 = sqlx::query_scalar("select count(*) from floor_turns where state <> 'done'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(open, 0, "the floor is closed");
    // Nothing left to repair.
    assert_eq!(reconcile(&app, &admin).await["repairs"], json!({}));
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn rooms_no_live_session_owns_are_deleted_and_other_rooms_left_alone(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let c = settled_class(&app, &admin, 0).await;
    let livekit = gateway(&app.stub);
    let settings = estrade_livekit::RoomSettings {
        max_participants: 10,
        empty_timeout_s: 300,
    };
    let stray = format!("estrade-{}", uuid::Uuid::new_v4());
    livekit.create_room(&stray, settings).await.unwrap();
    livekit
        .create_room("someone-elses", settings)
        .await
        .unwrap();
    // Ended in PostgreSQL, but the room deletion never reached LiveKit.
    sqlx::query("update sessions set status = 'ended', ended_at = now() where id = $1::uuid")
        .bind(c.id())
        .execute(&app.db)
        .await
        .unwrap();

    let report = reconcile(&app, &admin).await;
    assert_eq!(
        report["repairs"],
        json!({"orphan_room_deleted": 2}),
        "{report}"
    );
    assert_eq!(app.stub.room_names(), ["someone-elses"]);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn orphan_rooms_are_only_reported_when_so_configured(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        Options {
            env: vec![("ESTRADE_RECONCILE_ORPHAN_ROOMS", "report".into())],
            ..Options::default()
        },
    )
    .await;
    let admin = app.admin_key().await;
    let stray = format!("estrade-{}", uuid::Uuid::new_v4());
    let settings = estrade_livekit::RoomSettings {
        max_participants: 10,
        empty_timeout_s: 300,
    };
    gateway(&app.stub)
        .create_room(&stray, settings)
        .await
        .unwrap();
    let report = reconcile(&app, &admin).await;
    assert_eq!(
        report["repairs"],
        json!({"orphan_room_reported": 1}),
        "{report}"
    );
    assert_eq!(app.stub.room_names(), [stray]);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn presence_is_repaired_both_ways_and_a_departure_releases_the_hand(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let c = settled_class(&app, &admin, 2).await;
    let (a, b) = (&c.learners[0], &c.learners[1]);
    let presence = |id: &Value| {
        let id = id.as_str().unwrap().to_owned();
        let app = &app;
        async move { scalar(app, "select presence from participants where id = $1", &id).await }
    };
    assert_eq!(presence(&a["participant_id"]).await, "present");
    // A raises a hand, then leaves LiveKit; the `left` webhook is lost.
    app.post_as(&c.path("/hand"), token(a), json!({})).await;
    app.stub.disconnect(c.room(), identity(a), true).unwrap();

    let report = reconcile(&app, &admin).await;
    assert_eq!(report["repairs"], json!({"marked_left": 1}), "{report}");
    assert_eq!(presence(&a["participant_id"]).await, "left");
    assert_eq!(presence(&b["participant_id"]).await, "present");
    let hand = scalar(
        &app,
        "select end_reason from floor_turns where participant_id = $1",
        a["participant_id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(hand, "left", "the hand is released");
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'reconcile.marked_left' and actor_kind = 'system'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn permissions_nobody_decided_are_repaired_and_lost_grants_delivered(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let c = settled_class(&app, &admin, 3).await;
    let (a, b, d) = (&c.learners[0], &c.learners[1], &c.learners[2]);
    let grant = json!({"participant_id": a["participant_id"]});
    let (status, _) = app
        .post_as(&c.path("/floor/grant"), &c.teacher, grant)
        .await;
    assert_eq!(status, 200);
    let livekit = gateway(&app.stub);
    // Behind our back: A's grant is lost, B may speak, D may share a camera.
    livekit
        .set_permission(c.room(), identity(a), grants::floor_permission(false))
        .await
        .unwrap();
    livekit
        .set_permission(c.room(), identity(b), grants::floor_permission(true))
        .await
        .unwrap();
    let mut camera = grants::floor_permission(false);
    camera.can_publish = true;
    camera.can_publish_sources = vec![TrackSource::Camera as i32];
    livekit
        .set_permission(c.room(), identity(d), camera)
        .await
        .unwrap();

    let report = reconcile(&app, &admin).await;
    assert_eq!(
        report["repairs"],
        json!({"permission_drift": 3}),
        "{report}"
    );
    let permission = |l: &Value| {
        app.stub
            .participant(c.room(), identity(l))
            .unwrap()
            .permission
            .unwrap()
    };
    assert_eq!(permission(a), grants::floor_permission(true));
    assert_eq!(permission(b), grants::floor_permission(false));
    assert_eq!(permission(d), grants::floor_permission(false));
    assert_eq!(reconcile(&app, &admin).await["repairs"], json!({}));
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_microphone_published_without_the_floor_is_revoked_and_muted(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let c = settled_class(&app, &admin, 1).await;
    let learner = &c.learners[0];
    gateway(&app.stub)
        .set_permission(c.room(), identity(learner), grants::floor_permission(true))
        .await
        .unwrap();
    app.stub
        .publish(c.room(), identity(learner), TrackSource::Microphone)
        .unwrap();

    let report = reconcile(&app, &admin).await;
    assert_eq!(
        report["repairs"],
        json!({"microphone_revoked": 1}),
        "{report}"
    );
    let info = app.stub.participant(c.room(), identity(learner)).unwrap();
    assert!(!info.permission.unwrap().can_publish);
    assert!(
        info.tracks
            .iter()
            .all(|t| t.source != TrackSource::Microphone as i32 || t.muted),
        "no live microphone: {:?}",
        info.tracks
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn stale_floor_attributes_are_mirrored_again(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let c = settled_class(&app, &admin, 1).await;
    let learner = &c.learners[0];
    let stale = [
        ("estrade.hand".to_owned(), "raised".to_owned()),
        ("estrade.queue_position".to_owned(), "4".to_owned()),
    ]
    .into_iter()
    .collect();
    gateway(&app.stub)
        .set_attributes(c.room(), identity(learner), stale)
        .await
        .unwrap();

    let report = reconcile(&app, &admin).await;
    assert_eq!(
        report["repairs"],
        json!({"attributes_drift": 1}),
        "{report}"
    );
    let attributes = app
        .stub
        .participant(c.room(), identity(learner))
        .unwrap()
        .attributes;
    assert_eq!(
        attributes.get("estrade.hand").map(String::as_str),
        Some("none")
    );
    assert!(!attributes.contains_key("estrade.queue_position"));
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_kicked_participant_still_in_the_room_is_removed(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let c = settled_class(&app, &admin, 1).await;
    let learner = &c.learners[0];
    // The kick committed, but LiveKit never heard of it.
    sqlx::query("update participants set kicked_at = now(), presence = 'left' where id = $1::uuid")
        .bind(learner["participant_id"].as_str().unwrap())
        .execute(&app.db)
        .await
        .unwrap();
    let report = reconcile(&app, &admin).await;
    assert_eq!(report["repairs"], json!({"kicked_removed": 1}), "{report}");
    assert!(app.stub.participant(c.room(), identity(learner)).is_none());
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn with_livekit_down_a_run_fails_cleanly_reports_it_and_changes_nothing(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let c = settled_class(&app, &admin, 1).await;
    gateway(&app.stub).delete_room(c.room()).await.unwrap();
    app.stub.set_faults(Faults {
        fail_next_twirp: 1000,
        ..Faults::default()
    });
    let report = reconcile(&app, &admin).await;
    app.stub.set_faults(Faults::default());
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["repairs"], json!({}));
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("listing LiveKit rooms"),
        "{report}"
    );
    let (_, session) = app.get_as(&c.path(""), &c.teacher).await;
    assert_eq!(session["status"], "live", "nothing changed");
    let (_, last) = app.get_as("/v1/admin/reconcile/last", &admin).await;
    assert_eq!(last["outcome"], "failed", "the failure is reported");
    // Once LiveKit answers, the next run repairs.
    let report = reconcile(&app, &admin).await;
    assert_eq!(report["repairs"], json!({"room_vanished": 1}), "{report}");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn one_run_at_a_time_and_only_for_admins(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let c = settled_class(&app, &admin, 0).await;
    let (status, body) = app
        .post_as("/v1/admin/reconcile", &c.teacher, json!({}))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = app.get_as("/v1/admin/reconcile/last", &c.teacher).await;
    assert_eq!(status, 403);
    // LiveKit answers slowly: the first run holds the lock while it waits,
    // and the second asks then.
    app.stub.set_faults(Faults {
        latency_ms: 500,
        ..Faults::default()
    });
    let (first, second) = tokio::join!(
        app.post_as("/v1/admin/reconcile", &admin, json!({})),
        async {
            // Ask once the first run holds the lock.
            until(Duration::from_secs(5), || async {
                let held: i64 = sqlx::query_scalar(
                    "select count(*) from pg_locks l join pg_database d on d.oid = l.database
                      where l.locktype = 'advisory' and l.granted and d.datname = current_database()",
                )
                .fetch_one(&app.db)
                .await
                .unwrap();
                held > 0
            })
            .await;
            app.post_as("/v1/admin/reconcile", &admin, json!({})).await
        }
    );
    app.stub.set_faults(Faults::default());
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(second.0, 409, "{}", second.1);
    assert_eq!(second.1["error"]["code"], "reconcile_running");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn the_worker_reconciles_on_its_schedule(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        Options {
            worker: true,
            env: vec![("ESTRADE_RECONCILE_EVERY_S", "1".into())],
            ..Options::default()
        },
    )
    .await;
    let c = app.class(moderated(), 2).await;
    // The presence webhooks were never sent: the schedule finds them.
    // A run repairs presence before it saves its report, so wait for the
    // report: by then both learners must be present.
    let reports = || {
        sqlx::query_scalar::<_, String>(
            "select trigger from reconcile_reports where repairs ? 'marked_present'",
        )
        .fetch_all(&app.db)
    };
    until(Duration::from_secs(10), || async {
        !reports().await.unwrap().is_empty()
    })
    .await;
    until(Duration::from_secs(10), || async {
        present(&app, c.id()).await == 2
    })
    .await;
    let triggers = reports().await.unwrap();
    assert!(triggers.iter().all(|t| t == "schedule"), "{triggers:?}");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn runs_during_a_grant_storm_break_no_floor_invariant(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let c = settled_class(&app, &admin, 6).await;
    let storm = {
        let (client, base) = (app.client.clone(), app.url(""));
        let (grant, revoke, teacher) = (
            c.path("/floor/grant"),
            c.path("/floor/revoke"),
            c.teacher.clone(),
        );
        let ids: Vec<Value> = c
            .learners
            .iter()
            .map(|l| l["participant_id"].clone())
            .collect();
        tokio::spawn(async move {
            for round in 0..200 {
                let id = &ids[round % ids.len()];
                for (path, body) in [
                    (&grant, json!({"participant_id": id})),
                    (&revoke, json!({"participant_id": id})),
                ] {
                    let status = client
                        .post(format!("{base}{path}"))
                        .bearer_auth(&teacher)
                        .json(&body)
                        .send()
                        .await
                        .unwrap()
                        .status();
                    assert!(status == 200 || status == 409, "{status}");
                }
            }
        })
    };
    let mut runs = 0;
    while !storm.is_finished() {
        let report = reconcile(&app, &admin).await;
        assert_eq!(report["outcome"], "ok", "{report}");
        runs += 1;
    }
    storm.await.unwrap();
    assert!(runs >= 2, "{runs} runs during the storm");
    // Afterwards LiveKit matches PostgreSQL for every learner: no run
    // undid a grant or a revoke made after it read.
    let (_, floor) = app.get_as(&c.path("/floor"), &c.teacher).await;
    assert!(floor["speakers"].as_array().unwrap().len() <= 1);
    for learner in &c.learners {
        let speaking = floor["speakers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["participant_id"] == learner["participant_id"]);
        let info = app.stub.participant(c.room(), identity(learner)).unwrap();
        assert_eq!(
            info.permission.unwrap().can_publish,
            speaking,
            "LiveKit and PostgreSQL disagree on {}",
            learner["participant_id"]
        );
    }
}
