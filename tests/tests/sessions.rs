//! Accounts, sessions and tokens end to end: the real router, real
//! PostgreSQL and Redis, and the LiveKit stand-in verifying our tokens.

use std::time::Duration;

use estrade_livekit::proto::TrackSource;
use estrade_tests::{Options, TestApp, eventually};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("select action from audit_log order by id")
        .fetch_all(&app.db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_class_runs_from_account_creation_to_the_end_of_the_session(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;

    // IT staff create a teacher account.
    let (_, teacher) = app.teacher(&admin, "Chef Anne").await;

    // The teacher creates a session: scheduled, with a code and a link.
    let (status, session) = app
        .post_as(
            "/v1/sessions",
            &teacher,
            json!({"title": "Sauces mères", "max_learners": 30,
            "floor": {"mode": "moderated", "max_speakers": 2, "speaking_time_limit_s": 120}}),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["status"], "scheduled");
    let id = s(&session["id"]).to_owned();
    let code = s(&session["join_code"]).to_owned();
    let (page, key) = s(&session["join_url"])
        .split_once("#k=")
        .expect("the link carries its key");
    assert_eq!(page, format!("https://app.estrade.test/join/{code}"));
    assert_eq!(key.len(), 22, "128 bits in base64url");
    assert_eq!(
        session["floor"],
        json!({"mode": "moderated", "max_speakers": 2, "speaking_time_limit_s": 120})
    );

    // Nobody joins before the start.
    let (status, body) = app.join(&code, "Ana").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("session_not_started"))
    );

    // Start: the room exists in LiveKit, sized for the class; start is idempotent.
    let (status, live) = app
        .post_as(&format!("/v1/sessions/{id}/start"), &teacher, json!({}))
        .await;
    assert_eq!((status, &live["status"]), (200, &json!("live")));
    let rooms = app.stub.rooms();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].room.name, s(&session["room_name"]));
    assert_eq!(rooms[0].room.max_participants, 40);
    let (status, again) = app
        .post_as(&format!("/v1/sessions/{id}/start"), &teacher, json!({}))
        .await;
    assert_eq!((status, &again["started_at"]), (200, &live["started_at"]));

    // The teacher's desktop app gets a publish token that LiveKit accepts.
    let (status, publish) = app
        .post_as(
            &format!("/v1/sessions/{id}/publish-token"),
            &teacher,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{publish}");
    assert!(s(&publish["identity"]).starts_with("t-"));
    assert_eq!(
        publish["livekit_url"],
        app.stub.url().replacen("http", "ws", 1),
        "LiveKit clients are handed a ws:// URL"
    );
    app.stub
        .connect(s(&publish["token"]))
        .expect("LiveKit accepts the teacher token");
    app.stub
        .publish(
            s(&session["room_name"]),
            s(&publish["identity"]),
            TrackSource::Camera,
        )
        .expect("camera");

    // A learner joins with the code (typed with a space) and a name.
    let (status, joined) = app
        .join(&format!("{} {}", &code[..3], &code[3..]), "  Ana  ")
        .await;
    assert_eq!(status, 200, "{joined}");
    assert!(s(&joined["identity"]).starts_with("l-"));
    assert_eq!(
        joined["session_title"], "Sauces mères",
        "for the learner's screen"
    );
    let info = app
        .stub
        .connect(s(&joined["livekit_token"]))
        .expect("LiveKit accepts the learner token");
    assert_eq!(info.name, "Ana");
    assert!(
        !info.permission.unwrap().can_publish,
        "a learner never publishes by token"
    );

    // The participant token reads its session and renews itself.
    let ptoken = s(&joined["participant_token"]).to_owned();
    let (status, seen) = app.get_as(&format!("/v1/sessions/{id}"), &ptoken).await;
    assert_eq!((status, &seen["title"]), (200, &json!("Sauces mères")));
    let (status, renewed) = app
        .call(Method::POST, "/v1/participant/refresh", Some(&ptoken), None)
        .await;
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(renewed["participant_id"], joined["participant_id"]);
    assert_eq!(renewed["session_title"], "Sauces mères");

    // The teacher sees who is there.
    let (status, list) = app
        .get_as(&format!("/v1/sessions/{id}/participants"), &teacher)
        .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| s(&p["name"]))
        .collect();
    assert_eq!(names, ["Chef Anne", "Ana"]);

    // The end: room deleted, everyone marked gone; ending again changes nothing.
    let (status, ended) = app
        .post_as(&format!("/v1/sessions/{id}/end"), &teacher, json!({}))
        .await;
    assert_eq!((status, &ended["status"]), (200, &json!("ended")));
    assert!(app.stub.room_names().is_empty());
    let (status, again) = app
        .post_as(&format!("/v1/sessions/{id}/end"), &teacher, json!({}))
        .await;
    assert_eq!((status, &again["ended_at"]), (200, &ended["ended_at"]));
    let present: i64 =
        sqlx::query_scalar("select count(*) from participants where presence <> 'left'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(present, 0);

    // The learner's refresh now fails; the code is gone.
    let (status, body) = app
        .call(Method::POST, "/v1/participant/refresh", Some(&ptoken), None)
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (410, &json!("session_ended"))
    );
    let (status, body) = app.join(&code, "Late").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (410, &json!("session_ended"))
    );

    assert_eq!(
        audit_actions(&app).await,
        [
            // The admin, made as `estrade admin create-key` makes it, then
            // the teacher, made by the admin through the API.
            "account.created",
            "account.created",
            "session.created",
            "session.started",
            "participant.joined",
            "participant.joined",
            "session.ended"
        ]
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn ending_a_session_whose_room_livekit_already_lost_still_ends_it(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "T").await;
    let session = app.live_session(&teacher, json!({"title": "C"})).await;
    let id = s(&session["id"]);
    estrade_tests::gateway(&app.stub)
        .delete_room(s(&session["room_name"]))
        .await
        .unwrap();

    let (status, ended) = app
        .post_as(&format!("/v1/sessions/{id}/end"), &teacher, json!({}))
        .await;
    assert_eq!((status, &ended["status"]), (200, &json!("ended")));
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn starting_while_livekit_is_down_answers_503_and_leaves_the_session_scheduled(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "T").await;
    let (_, session) = app
        .post_as("/v1/sessions", &teacher, json!({"title": "C"}))
        .await;
    let id = s(&session["id"]);
    app.stub.set_faults(estrade_livekit_stub::Faults {
        fail_next_twirp: 1,
        ..Default::default()
    });

    let (status, body) = app
        .post_as(&format!("/v1/sessions/{id}/start"), &teacher, json!({}))
        .await;

    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("unavailable"))
    );
    let status_now: String = sqlx::query_scalar("select status from sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status_now, "scheduled");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_kicked_learner_is_removed_from_livekit_and_its_tokens_stop_working(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        Options {
            webhooks_to_app: true,
            worker: true,
            ..Options::default()
        },
    )
    .await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "T").await;
    let session = app.live_session(&teacher, json!({"title": "C"})).await;
    let (id, room) = (s(&session["id"]), s(&session["room_name"]));
    let (_, joined) = app.join(s(&session["join_code"]), "Bob").await;
    let (pid, identity) = (s(&joined["participant_id"]), s(&joined["identity"]));
    let livekit_token = s(&joined["livekit_token"]);
    app.stub.connect(livekit_token).unwrap();

    let (status, kicked) = app
        .post_as(
            &format!("/v1/sessions/{id}/participants/{pid}/kick"),
            &teacher,
            json!({}),
        )
        .await;

    assert_eq!(
        (status, &kicked["kicked"], &kicked["presence"]),
        (200, &json!(true), &json!("left"))
    );
    assert!(
        app.stub.participant(room, identity).is_none(),
        "out of the room"
    );
    // LiveKit (v1.13.5, and the stand-in like it) ignores the kick's
    // revoke_token_ts and lets the old token in: Estrade removes it again.
    app.stub.connect(livekit_token).unwrap();
    eventually(Duration::from_secs(10), || {
        app.stub.participant(room, identity).is_none()
    })
    .await;
    let ptoken = s(&joined["participant_token"]);
    let (status, body) = app
        .call(Method::POST, "/v1/participant/refresh", Some(ptoken), None)
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("token_revoked"))
    );
    let (status, _) = app.get_as(&format!("/v1/sessions/{id}"), ptoken).await;
    assert_eq!(status, 401);
    // Kicking again is a no-op.
    let (status, _) = app
        .post_as(
            &format!("/v1/sessions/{id}/participants/{pid}/kick"),
            &teacher,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let kicks: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'participant.kicked'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(kicks, 1);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_locked_session_refuses_joins_and_a_rotated_code_replaces_the_old_one(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "T").await;
    let session = app.live_session(&teacher, json!({"title": "C"})).await;
    let (id, old_code) = (s(&session["id"]), s(&session["join_code"]));
    let path = format!("/v1/sessions/{id}");

    let (status, locked) = app
        .call(
            Method::PATCH,
            &path,
            Some(&teacher),
            Some(json!({"locked": true})),
        )
        .await;
    assert_eq!((status, &locked["locked"]), (200, &json!(true)));
    let (status, body) = app.join(old_code, "Ana").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("session_locked"))
    );

    let (status, rotated) = app
        .call(
            Method::PATCH,
            &path,
            Some(&teacher),
            Some(json!({"locked": false, "rotate_join_code": true})),
        )
        .await;
    assert_eq!(status, 200);
    let new_code = s(&rotated["join_code"]);
    assert_ne!(new_code, old_code);
    let (status, body) = app.join(old_code, "Ana").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("unknown_code"))
    );
    let (status, _) = app.join(new_code, "Ana").await;
    assert_eq!(status, 200);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_full_session_refuses_the_next_learner_and_writes_nothing(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "T").await;
    let session = app
        .live_session(&teacher, json!({"title": "C", "max_learners": 2}))
        .await;
    let code = s(&session["join_code"]);
    assert_eq!(app.join(code, "A").await.0, 200);
    let (status, classroom) = app
        .call(
            Method::POST,
            "/v1/join",
            None,
            Some(json!({"code": code, "name": "Salle 12", "kind": "classroom", "headcount": 14})),
        )
        .await;
    assert_eq!(status, 200, "{classroom}");
    assert!(s(&classroom["identity"]).starts_with("c-"));

    let (status, body) = app.join(code, "C").await;

    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("session_full"))
    );
    assert_eq!(app.count("participants").await, 2);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn disabling_an_account_or_revoking_a_key_stops_it_at_once(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (teacher_id, teacher) = app.teacher(&admin, "T").await;
    assert_eq!(app.get_as("/v1/sessions", &teacher).await.0, 200);

    // A second key, then the first revoked.
    let (status, second) = app
        .post_as(
            &format!("/v1/admin/accounts/{teacher_id}/keys"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, list) = app.get_as("/v1/admin/accounts", &admin).await;
    let account = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == json!(teacher_id))
        .unwrap()
        .clone();
    let first_key_id = s(&account["keys"][0]["id"]);
    assert!(
        account["keys"][0]["last_used_at"].is_string(),
        "use is recorded"
    );
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/admin/accounts/{teacher_id}/keys/{first_key_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.get_as("/v1/sessions", &teacher).await.0, 401);
    let second = s(&second["api_key"]).to_owned();
    assert_eq!(app.get_as("/v1/sessions", &second).await.0, 200);

    // Disabling the account stops every key.
    let (status, disabled) = app
        .call(
            Method::DELETE,
            &format!("/v1/admin/accounts/{teacher_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(disabled["disabled_at"].is_string());
    assert_eq!(app.get_as("/v1/sessions", &second).await.0, 401);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn an_admin_cannot_disable_itself(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let id: uuid::Uuid = sqlx::query_scalar("select id from accounts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/v1/admin/accounts/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("cannot_disable_self"))
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn the_openapi_document_lists_every_endpoint_with_its_errors(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let (_, doc) = app.call(Method::GET, "/openapi.json", None, None).await;
    let expected = [
        ("/v1/admin/accounts", "post"),
        ("/v1/admin/accounts", "get"),
        ("/v1/admin/accounts/{id}", "delete"),
        ("/v1/admin/accounts/{id}/keys", "post"),
        ("/v1/admin/accounts/{id}/keys/{key_id}", "delete"),
        ("/v1/sessions", "post"),
        ("/v1/sessions", "get"),
        ("/v1/sessions/{id}", "get"),
        ("/v1/sessions/{id}", "patch"),
        ("/v1/sessions/{id}/start", "post"),
        ("/v1/sessions/{id}/end", "post"),
        ("/v1/sessions/{id}/publish-token", "post"),
        ("/v1/sessions/{id}/observer-token", "post"),
        ("/v1/join", "post"),
        ("/v1/participant/refresh", "post"),
        ("/v1/sessions/{id}/participants", "get"),
        ("/v1/sessions/{id}/participants/{pid}/kick", "post"),
        ("/v1/console/session", "post"),
        ("/v1/console/session", "get"),
        ("/v1/console/session", "delete"),
        ("/v1/admin/audit", "get"),
    ];
    for (path, method) in expected {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|k| k.starts_with('4')),
            "{method} {path} lists no error response"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_kick_or_an_end_while_livekit_is_down_answers_503_stands_and_completes_when_called_again(
    db: PgPool,
) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "T").await;
    let session = app.live_session(&teacher, json!({"title": "C"})).await;
    let (id, room) = (s(&session["id"]), s(&session["room_name"]));
    let (_, joined) = app.join(s(&session["join_code"]), "Bob").await;
    app.stub.connect(s(&joined["livekit_token"])).unwrap();
    let kick = format!(
        "/v1/sessions/{id}/participants/{}/kick",
        s(&joined["participant_id"])
    );
    let down = || estrade_livekit_stub::Faults {
        fail_next_twirp: 1,
        ..Default::default()
    };

    app.stub.set_faults(down());
    let (status, body) = app.post_as(&kick, &teacher, json!({})).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("unavailable"))
    );
    let kicked: bool =
        sqlx::query_scalar("select kicked_at is not null from participants where kind = 'learner'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(kicked, "the kick stands");
    assert!(
        app.stub.participant(room, s(&joined["identity"])).is_some(),
        "LiveKit was not told"
    );
    let (status, _) = app.post_as(&kick, &teacher, json!({})).await;
    assert_eq!(status, 200);
    assert!(
        app.stub.participant(room, s(&joined["identity"])).is_none(),
        "now it was"
    );

    app.stub.set_faults(down());
    let end = format!("/v1/sessions/{id}/end");
    let (status, _) = app.post_as(&end, &teacher, json!({})).await;
    assert_eq!(status, 503);
    let status_now: String = sqlx::query_scalar("select status from sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status_now, "ended", "the end stands");
    assert_eq!(app.stub.room_names(), [room.to_owned()]);
    let (status, _) = app.post_as(&end, &teacher, json!({})).await;
    assert_eq!(status, 200);
    assert!(app.stub.room_names().is_empty());
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn two_admins_disabling_each_other_at_once_leave_one_enabled(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let first = app.admin_key().await;
    let (status, second) = app
        .post_as(
            "/v1/admin/accounts",
            &first,
            json!({"name": "Second", "role": "admin"}),
        )
        .await;
    assert_eq!(status, 201);
    let first_id: String =
        sqlx::query_scalar("select id::text from accounts where name = 'IT desk'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let (second_id, second_key) = (s(&second["id"]), s(&second["api_key"]));

    let (path_a, path_b) = (
        format!("/v1/admin/accounts/{second_id}"),
        format!("/v1/admin/accounts/{first_id}"),
    );
    let a = app.call(Method::DELETE, &path_a, Some(&first), None);
    let b = app.call(Method::DELETE, &path_b, Some(second_key), None);
    let ((sa, _), (sb, _)) = tokio::join!(a, b);

    assert!([sa, sb].contains(&200), "one of them succeeds: {sa} {sb}");
    let enabled: i64 = sqlx::query_scalar(
        "select count(*) from accounts where role = 'admin' and disabled_at is null",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(enabled, 1);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_teacher_with_a_long_account_name_still_gets_a_publish_token(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, &"N".repeat(120)).await;
    let session = app.live_session(&teacher, json!({"title": "C"})).await;
    let (status, body) = app
        .post_as(
            &format!("/v1/sessions/{}/publish-token", s(&session["id"])),
            &teacher,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_kicked_learner_cannot_rejoin_through_a_code_rotated_after_the_kick(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "T").await;
    let session = app.live_session(&teacher, json!({"title": "C"})).await;
    let id = s(&session["id"]);
    let (_, kicked) = app.join(s(&session["join_code"]), "Kim").await;
    let (_, stays) = app.join(s(&session["join_code"]), "Ana").await;
    let kick = format!(
        "/v1/sessions/{id}/participants/{}/kick",
        s(&kicked["participant_id"])
    );
    assert_eq!(app.post_as(&kick, &teacher, json!({})).await.0, 200);
    let (status, rotated) = app
        .call(
            Method::PATCH,
            &format!("/v1/sessions/{id}"),
            Some(&teacher),
            Some(json!({"rotate_join_code": true})),
        )
        .await;
    assert_eq!(status, 200);
    let new_code = s(&rotated["join_code"]).to_owned();

    // The learner still in the class reads the session: no code, no link.
    let (status, seen) = app
        .get_as(
            &format!("/v1/sessions/{id}"),
            s(&stays["participant_token"]),
        )
        .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["title"], "C");
    assert!(
        seen.get("join_code").is_none() && seen.get("join_url").is_none(),
        "{seen}"
    );
    assert!(!seen.to_string().contains(&new_code), "{seen}");
    // So the removed learner has only the old code, which is dead.
    let (status, body) = app.join(s(&session["join_code"]), "Kim").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("unknown_code"))
    );
    // The teacher still reads both.
    let (_, own) = app.get_as(&format!("/v1/sessions/{id}"), &teacher).await;
    assert_eq!(own["join_code"], new_code.as_str());
    let page = own["join_url"].as_str().unwrap().split('#').next().unwrap();
    assert!(page.ends_with(&new_code));
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn once_a_session_ends_its_participant_tokens_get_410_everywhere(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "T").await;
    let session = app.live_session(&teacher, json!({"title": "C"})).await;
    let id = s(&session["id"]);
    let (_, joined) = app.join(s(&session["join_code"]), "Ana").await;
    let token = s(&joined["participant_token"]).to_owned();
    assert_eq!(
        app.get_as(&format!("/v1/sessions/{id}/floor"), &token)
            .await
            .0,
        200
    );
    let (status, _) = app
        .post_as(&format!("/v1/sessions/{id}/end"), &teacher, json!({}))
        .await;
    assert_eq!(status, 200);

    let refused = [
        (Method::GET, format!("/v1/sessions/{id}")),
        (Method::GET, format!("/v1/sessions/{id}/floor")),
        (Method::GET, format!("/v1/sessions/{id}/events")),
        (Method::GET, "/v1/connectivity".to_owned()),
        (Method::POST, format!("/v1/sessions/{id}/hand")),
        (Method::DELETE, format!("/v1/sessions/{id}/hand")),
        (Method::POST, "/v1/participant/refresh".to_owned()),
    ];
    for (method, path) in refused {
        let (status, body) = app.call(method.clone(), &path, Some(&token), None).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (410, &json!("session_ended")),
            "{method} {path}"
        );
    }
    // The OpenAPI document says so for each of those a participant may call.
    let (_, doc) = app.call(Method::GET, "/openapi.json", None, None).await;
    for (path, method) in [
        ("/v1/sessions/{id}", "get"),
        ("/v1/sessions/{id}/floor", "get"),
        ("/v1/sessions/{id}/events", "get"),
        ("/v1/connectivity", "get"),
        ("/v1/sessions/{id}/hand", "post"),
        ("/v1/sessions/{id}/hand", "delete"),
        ("/v1/participant/refresh", "post"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"]["410"].is_object(),
            "{method} {path} states its 410"
        );
    }
    // The teacher still reads the ended session.
    let (status, ended) = app.get_as(&format!("/v1/sessions/{id}"), &teacher).await;
    assert_eq!((status, &ended["status"]), (200, &json!("ended")));
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn an_admin_observes_a_live_class_hidden_and_unable_to_publish_and_nobody_else_may(
    db: PgPool,
) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let (status, scheduled) = app
        .post_as("/v1/sessions", &teacher, json!({"title": "Later"}))
        .await;
    assert_eq!(status, 201);
    let observe = |id: &str| format!("/v1/sessions/{id}/observer-token");

    // Not live yet: nothing to watch, and nothing written.
    let before = audit_actions(&app).await.len();
    let (status, body) = app
        .post_as(&observe(s(&scheduled["id"])), &admin, json!({}))
        .await;
    assert_eq!(
        (status, s(&body["error"]["code"])),
        (409, "session_not_live")
    );
    assert_eq!(audit_actions(&app).await.len(), before);

    let session = app.live_session(&teacher, json!({"title": "Bread"})).await;
    let id = s(&session["id"]);
    let (_, joined) = app.join(s(&session["join_code"]), "Ana").await;
    // Neither the class's teacher nor a learner may observe.
    for (who, bearer) in [
        ("teacher", teacher.as_str()),
        ("learner", s(&joined["participant_token"])),
    ] {
        let (status, body) = app.post_as(&observe(id), bearer, json!({})).await;
        assert_eq!(status, 403, "{who}: {body}");
    }

    // The admin's token: subscribe only, hidden, short-lived, audited.
    let (status, token) = app.post_as(&observe(id), &admin, json!({})).await;
    assert_eq!(status, 200, "{token}");
    assert!(s(&token["identity"]).starts_with("o-"));
    let expires = chrono::DateTime::parse_from_rfc3339(s(&token["expires_at"])).unwrap();
    let left = expires.signed_duration_since(chrono::Utc::now());
    assert!(
        left <= chrono::Duration::minutes(5) && left > chrono::Duration::minutes(4),
        "five minutes to connect: {left}"
    );
    let info = app
        .stub
        .connect(s(&token["token"]))
        .expect("LiveKit accepts the observer token");
    let permission = info.permission.expect("a permission");
    assert!(permission.hidden, "learners do not see IT in the room");
    assert!(permission.can_subscribe && !permission.can_publish && !permission.can_publish_data);
    assert!(
        app.stub
            .publish(
                s(&session["room_name"]),
                s(&token["identity"]),
                TrackSource::Microphone
            )
            .is_err(),
        "an observer never publishes"
    );
    let kind: String = sqlx::query_scalar("select kind from participants where identity = $1")
        .bind(s(&token["identity"]))
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(kind, "observer");
    // Asked again: the same seat, one more audit entry.
    let (status, again) = app.post_as(&observe(id), &admin, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(again["identity"], token["identity"]);
    let observed = audit_actions(&app)
        .await
        .iter()
        .filter(|a| *a == "observer.token")
        .count();
    assert_eq!(observed, 2);
}
