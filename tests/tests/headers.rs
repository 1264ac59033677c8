//! Headers every answer gets: `Cache-Control: no-store` unless a route
//! sets its own (answers carry tokens, keys and names), and an
//! `X-Request-Id` that a client may choose only within bounds.

use estrade_tests::TestApp;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn answers_carrying_tokens_keys_or_errors_are_never_stored_by_a_cache(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let session = app.live_session(&teacher, json!({"title": "Bread"})).await;
    let code = session["join_code"].as_str().unwrap();

    let client = estrade_tests::http_client();
    let join = client
        .post(app.url("/v1/join"))
        .json(&json!({"code": code, "name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(join.status(), 200);
    assert_eq!(join.headers()["cache-control"], "no-store", "a join answer");
    let key = client
        .post(app.url("/v1/admin/accounts"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Other", "role": "teacher"}))
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), 201);
    assert_eq!(key.headers()["cache-control"], "no-store", "a new API key");
    let refused = app.get("/v1/sessions").await;
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["cache-control"], "no-store", "an error");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_client_chosen_request_id_is_kept_only_when_short_and_plain(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let client = estrade_tests::http_client();
    let echoed = |id: &str| {
        let request = client
            .get(app.url("/healthz"))
            .header("x-request-id", id)
            .send();
        async move {
            let response = request.await.unwrap();
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };

    assert_eq!(echoed("desk-42.call_7").await, "desk-42.call_7");
    for hostile in [
        "x".repeat(65),
        "a".repeat(8 * 1024),
        "id with spaces".to_owned(),
        "<script>alert(1)</script>".to_owned(),
        "line\tbreak".to_owned(),
    ] {
        let id = echoed(&hostile).await;
        assert_ne!(id, hostile);
        assert!(
            uuid::Uuid::parse_str(&id).is_ok(),
            "{hostile:?} was replaced by a fresh id, got {id:?}"
        );
    }
}
