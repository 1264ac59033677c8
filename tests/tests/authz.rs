//! The authorization matrix: for every endpoint, who gets in and who gets
//! 401, 403 or 404 (404 where a 403 would reveal that a session exists).

use estrade_tests::TestApp;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

struct World {
    app: TestApp,
    admin: String,
    teacher_a: String,
    teacher_b: String,
    /// A participant token of session A.
    learner_a: String,
    /// A participant token of session B.
    learner_b: String,
    session_a: Value,
    participant_a: String,
}

async fn world(db: PgPool) -> World {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher_a) = app.teacher(&admin, "A").await;
    let (_, teacher_b) = app.teacher(&admin, "B").await;
    let session_a = app.live_session(&teacher_a, json!({"title": "A"})).await;
    let session_b = app.live_session(&teacher_b, json!({"title": "B"})).await;
    let (_, joined_a) = app
        .join(session_a["join_code"].as_str().unwrap(), "La")
        .await;
    let (_, joined_b) = app
        .join(session_b["join_code"].as_str().unwrap(), "Lb")
        .await;
    World {
        admin,
        teacher_a,
        teacher_b,
        learner_a: joined_a["participant_token"].as_str().unwrap().to_owned(),
        learner_b: joined_b["participant_token"].as_str().unwrap().to_owned(),
        participant_a: joined_a["participant_id"].as_str().unwrap().to_owned(),
        session_a,
        app,
    }
}

/// Calls `method path` as each caller and compares the statuses.
async fn expect(
    w: &World,
    method: Method,
    path: &str,
    body: Option<Value>,
    cases: &[(&str, Option<&str>, u16)],
) {
    for (who, credential, want) in cases {
        let (got, response) = w
            .app
            .call(method.clone(), path, *credential, body.clone())
            .await;
        assert_eq!(got, *want, "{method} {path} as {who}: {response}");
        if got >= 400 {
            assert!(
                response["error"]["code"].is_string(),
                "{method} {path} as {who}: error shape"
            );
        }
    }
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn each_session_endpoint_admits_exactly_the_right_callers(db: PgPool) {
    let w = world(db).await;
    let id = w.session_a["id"].as_str().unwrap();
    let (admin, ta, tb, la, lb) = (
        Some(w.admin.as_str()),
        Some(w.teacher_a.as_str()),
        Some(w.teacher_b.as_str()),
        Some(w.learner_a.as_str()),
        Some(w.learner_b.as_str()),
    );
    let forged = Some("estrade_not-a-real-key");
    let garbage = Some("eyJhbGciOiJIUzI1NiJ9.e30.x");

    let session = format!("/v1/sessions/{id}");
    expect(
        &w,
        Method::GET,
        &session,
        None,
        &[
            ("admin", admin, 200),
            ("owner", ta, 200),
            ("other teacher", tb, 404),
            ("its learner", la, 200),
            ("another session's learner", lb, 404),
            ("nobody", None, 401),
            ("forged key", forged, 401),
            ("garbage token", garbage, 401),
        ],
    )
    .await;

    expect(
        &w,
        Method::PATCH,
        &session,
        Some(json!({"locked": false})),
        &[
            ("admin", admin, 200),
            ("owner", ta, 200),
            ("other teacher", tb, 404),
            ("its learner", la, 403),
            ("nobody", None, 401),
        ],
    )
    .await;

    let start = format!("/v1/sessions/{id}/start");
    expect(
        &w,
        Method::POST,
        &start,
        None,
        &[
            ("other teacher", tb, 404),
            ("its learner", la, 403),
            ("nobody", None, 401),
            ("owner", ta, 200),
            ("admin", admin, 200),
        ],
    )
    .await;

    let publish = format!("/v1/sessions/{id}/publish-token");
    expect(
        &w,
        Method::POST,
        &publish,
        None,
        &[
            ("owner", ta, 200),
            ("admin (not the owner)", admin, 404),
            ("other teacher", tb, 404),
            ("its learner", la, 403),
            ("nobody", None, 401),
        ],
    )
    .await;

    let participants = format!("/v1/sessions/{id}/participants");
    expect(
        &w,
        Method::GET,
        &participants,
        None,
        &[
            ("admin", admin, 200),
            ("owner", ta, 200),
            ("other teacher", tb, 404),
            ("its learner", la, 403),
            ("nobody", None, 401),
        ],
    )
    .await;

    let kick = format!("/v1/sessions/{id}/participants/{}/kick", w.participant_a);
    expect(
        &w,
        Method::POST,
        &kick,
        None,
        &[
            ("other teacher", tb, 404),
            ("its learner", la, 403),
            ("another session's learner", lb, 403),
            ("nobody", None, 401),
        ],
    )
    .await;

    let end = format!("/v1/sessions/{id}/end");
    expect(
        &w,
        Method::POST,
        &end,
        None,
        &[
            ("other teacher", tb, 404),
            ("its learner", la, 403),
            ("nobody", None, 401),
            ("owner", ta, 200),
        ],
    )
    .await;
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_teacher_lists_only_its_own_sessions_and_an_admin_all(db: PgPool) {
    let w = world(db).await;
    let count = |v: &Value| v["sessions"].as_array().unwrap().len();
    let (_, mine) = w.app.get_as("/v1/sessions", &w.teacher_a).await;
    assert_eq!(count(&mine), 1);
    assert_eq!(mine["sessions"][0]["title"], "A");
    let (_, all) = w.app.get_as("/v1/sessions", &w.admin).await;
    assert_eq!(count(&all), 2);
    expect(
        &w,
        Method::GET,
        "/v1/sessions",
        None,
        &[("learner", Some(&w.learner_a), 403), ("nobody", None, 401)],
    )
    .await;
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn only_teachers_create_sessions_and_only_participants_refresh(db: PgPool) {
    let w = world(db).await;
    let new = Some(json!({"title": "X"}));
    expect(
        &w,
        Method::POST,
        "/v1/sessions",
        new,
        &[
            ("admin", Some(&w.admin), 403),
            ("learner", Some(&w.learner_a), 403),
            ("nobody", None, 401),
        ],
    )
    .await;
    expect(
        &w,
        Method::POST,
        "/v1/participant/refresh",
        None,
        &[
            ("teacher", Some(&w.teacher_a), 403),
            ("admin", Some(&w.admin), 403),
            ("nobody", None, 401),
            ("learner", Some(&w.learner_a), 200),
        ],
    )
    .await;
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn admin_endpoints_admit_admins_only(db: PgPool) {
    let w = world(db).await;
    for (method, path, body) in [
        (Method::GET, "/v1/admin/accounts".to_owned(), None),
        (
            Method::POST,
            "/v1/admin/accounts".to_owned(),
            Some(json!({"name": "X", "role": "teacher"})),
        ),
        (
            Method::DELETE,
            format!("/v1/admin/accounts/{}", uuid::Uuid::new_v4()),
            None,
        ),
        (
            Method::POST,
            format!("/v1/admin/accounts/{}/keys", uuid::Uuid::new_v4()),
            None,
        ),
    ] {
        expect(
            &w,
            method,
            &path,
            body,
            &[
                ("teacher", Some(&w.teacher_a), 403),
                ("learner", Some(&w.learner_a), 403),
                ("nobody", None, 401),
            ],
        )
        .await;
    }
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_participant_token_signed_with_another_secret_is_refused(db: PgPool) {
    let w = world(db).await;
    let other = estrade_api::auth::ParticipantTokens::new(
        "another-secret-0123456789abcdef0123",
        std::time::Duration::from_secs(60),
    );
    let id: uuid::Uuid = w.session_a["id"].as_str().unwrap().parse().unwrap();
    let forged = other
        .sign(w.participant_a.parse().unwrap(), id)
        .unwrap()
        .token;
    let (status, _) = w.app.get_as(&format!("/v1/sessions/{id}"), &forged).await;
    assert_eq!(status, 401);
}
