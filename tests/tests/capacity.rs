//! The deployment's admission limits (docs/CONFIGURATION.md "Capacity"):
//! live sessions per teacher account, live sessions in all, and the seats
//! live sessions reserve together, each checked when a session starts. A
//! refusal says which limit in a code and a sentence, waits are given in
//! `Retry-After` where waiting helps, and nothing of a refused start is
//! left behind — no session row changed, no LiveKit room.

use estrade_tests::{Options, TestApp};
use serde_json::{Value, json};
use sqlx::PgPool;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

async fn app_with(db: PgPool, env: &[(&'static str, &str)]) -> TestApp {
    TestApp::spawn_with(
        db,
        Options {
            env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            ..Options::default()
        },
    )
    .await
}

/// A scheduled session of `teacher`.
async fn scheduled(app: &TestApp, teacher: &str, title: &str) -> Value {
    let (status, session) = app
        .post_as("/v1/sessions", teacher, json!({"title": title}))
        .await;
    assert_eq!(status, 201, "{session}");
    session
}

async fn start(app: &TestApp, who: &str, session: &Value) -> (u16, Value) {
    let path = format!("/v1/sessions/{}/start", s(&session["id"]));
    app.post_as(&path, who, json!({})).await
}

async fn status_of(app: &TestApp, session: &Value) -> String {
    sqlx::query_scalar("select status from sessions where id = $1::uuid")
        .bind(s(&session["id"]))
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// The whole response, for its headers.
async fn raw(app: &TestApp, path: &str, bearer: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(app.url(path)).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request")
}

fn refused_metric(limit: &str) -> bool {
    estrade_serve::metrics::handle()
        .render()
        .contains(&format!("admissions_refused_total{{limit=\"{limit}\"}}"))
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_teacher_at_its_limit_of_live_sessions_is_refused_the_next_start_and_nothing_is_created(
    db: PgPool,
) {
    let app = app_with(db, &[("ESTRADE_MAX_LIVE_SESSIONS_PER_TEACHER", "1")]).await;
    let admin = app.admin_key().await;
    let (_, chef) = app.teacher(&admin, "Chef").await;
    let (_, other) = app.teacher(&admin, "Other").await;
    let first = scheduled(&app, &chef, "Bread").await;
    let second = scheduled(&app, &chef, "Pastry").await;
    assert_eq!(start(&app, &chef, &first).await.0, 200);

    let rooms_before = app.stub.room_names();
    let (status, body) = start(&app, &chef, &second).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "too_many_live_sessions");
    assert!(
        s(&body["error"]["message"]).contains("1 live session;"),
        "{body}"
    );
    assert_eq!(status_of(&app, &second).await, "scheduled");
    assert_eq!(app.stub.room_names(), rooms_before, "no LiveKit room made");
    // An admin starting it for the teacher meets the teacher's limit too.
    assert_eq!(start(&app, &admin, &second).await.0, 409);
    assert!(refused_metric("live_sessions_per_teacher"));

    // Another teacher is not held back by it; ending the first frees it.
    let theirs = scheduled(&app, &other, "Soup").await;
    assert_eq!(start(&app, &other, &theirs).await.0, 200);
    let (status, _) = app
        .post_as(
            &format!("/v1/sessions/{}/end", s(&first["id"])),
            &chef,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(start(&app, &chef, &second).await.0, 200);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn two_starts_at_once_past_a_teachers_limit_leave_exactly_one_live(db: PgPool) {
    let app = app_with(db, &[("ESTRADE_MAX_LIVE_SESSIONS_PER_TEACHER", "1")]).await;
    let admin = app.admin_key().await;
    let (_, chef) = app.teacher(&admin, "Chef").await;
    for round in 0..5 {
        let a = scheduled(&app, &chef, &format!("A{round}")).await;
        let b = scheduled(&app, &chef, &format!("B{round}")).await;
        let ((sa, _), (sb, _)) = tokio::join!(start(&app, &chef, &a), start(&app, &chef, &b));
        let mut statuses = [sa, sb];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "round {round}");
        let live: i64 = sqlx::query_scalar("select count(*) from sessions where status = 'live'")
            .fetch_one(&app.db)
            .await
            .unwrap();
        assert_eq!(live, 1, "round {round}");
        let winner = if sa == 200 { &a } else { &b };
        let (status, _) = app
            .post_as(
                &format!("/v1/sessions/{}/end", s(&winner["id"])),
                &chef,
                json!({}),
            )
            .await;
        assert_eq!(status, 200);
    }
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn the_deployments_live_session_limit_answers_503_with_a_wait_and_creates_no_room(
    db: PgPool,
) {
    let app = app_with(db, &[("ESTRADE_MAX_LIVE_SESSIONS", "1")]).await;
    let admin = app.admin_key().await;
    let (_, chef) = app.teacher(&admin, "Chef").await;
    let (_, other) = app.teacher(&admin, "Other").await;
    let first = scheduled(&app, &chef, "Bread").await;
    assert_eq!(start(&app, &chef, &first).await.0, 200);
    let theirs = scheduled(&app, &other, "Soup").await;

    let path = format!("/v1/sessions/{}/start", s(&theirs["id"]));
    let response = raw(&app, &path, Some(&other), json!({})).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "60");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_sessions");
    assert_eq!(status_of(&app, &theirs).await, "scheduled");
    assert!(
        !app.stub
            .room_names()
            .contains(&s(&theirs["room_name"]).to_owned()),
        "no LiveKit room without a live session"
    );
    assert!(refused_metric("live_sessions"));
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_start_that_would_reserve_more_seats_than_the_deployment_has_is_refused_and_creates_nothing(
    db: PgPool,
) {
    let app = app_with(db, &[("ESTRADE_MAX_PARTICIPANTS", "100")]).await;
    let admin = app.admin_key().await;
    let (_, chef) = app.teacher(&admin, "Chef").await;
    let (_, other) = app.teacher(&admin, "Other").await;
    let sized = |title: &str, seats: i32| json!({"title": title, "max_learners": seats});
    let sixty = {
        let (status, s) = app.post_as("/v1/sessions", &chef, sized("Bread", 60)).await;
        assert_eq!(status, 201, "{s}");
        s
    };
    assert_eq!(start(&app, &chef, &sixty).await.0, 200);
    // 60 reserved: another 60 would make 120 of 100.
    let (_, big) = app.post_as("/v1/sessions", &other, sized("Soup", 60)).await;
    let path = format!("/v1/sessions/{}/start", s(&big["id"]));
    let response = raw(&app, &path, Some(&other), json!({})).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "60");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_seats");
    assert!(s(&body["error"]["message"]).contains("100 seats"), "{body}");
    assert_eq!(status_of(&app, &big).await, "scheduled");
    assert!(
        !app.stub
            .room_names()
            .contains(&s(&big["room_name"]).to_owned())
    );
    assert!(refused_metric("seats"));
    // 40 more fit exactly; joins themselves are only held to each
    // session's own seats.
    let (_, fits) = app
        .post_as("/v1/sessions", &other, sized("Salad", 40))
        .await;
    assert_eq!(start(&app, &other, &fits).await.0, 200);
    let (status, body) = app.join(s(&fits["join_code"]), "Ana").await;
    assert_eq!(status, 200, "{body}");
}
