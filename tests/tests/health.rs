//! Liveness, readiness, metrics and the OpenAPI document, through the real
//! router against real PostgreSQL and Redis.

use estrade_tests::{Options, RedisServer, TestApp};
use serde_json::Value;
use sqlx::PgPool;

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn healthz_answers_ok(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "ok");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn readyz_is_200_when_postgres_redis_and_livekit_answer(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["checks"],
        serde_json::json!({"postgres": "ok", "redis": "ok", "livekit": "ok"})
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn readyz_reports_a_stopped_redis_as_failed(db: PgPool) {
    let mut redis = RedisServer::start();
    let app = TestApp::spawn_with(
        db,
        Options {
            redis_url: redis.url.clone(),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(
        app.get("/readyz").await.status(),
        200,
        "ready while Redis runs"
    );

    redis.stop();

    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_ready");
    assert_eq!(
        body["error"]["details"]["checks"],
        serde_json::json!({"postgres": "ok", "redis": "failed", "livekit": "ok"})
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn readyz_reports_a_stopped_livekit_as_failed(db: PgPool) {
    let mut app = TestApp::spawn(db).await;
    // Stop the stand-in the app talks to; nothing answers on its port now.
    app.stub.shutdown().await;

    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["details"]["checks"]["livekit"], "failed");
    assert_eq!(body["error"]["details"]["checks"]["postgres"], "ok");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn metrics_count_requests_by_matched_route(db: PgPool) {
    let app = TestApp::spawn(db).await;
    app.get("/healthz").await;
    let rendered = estrade_api::metrics::handle().render();
    assert!(
        rendered
            .lines()
            .any(|l| l.starts_with("http_requests_total")
                && l.contains(r#"route="/healthz""#)
                && l.contains(r#"status="200""#)),
        "{rendered}"
    );
    assert!(rendered.contains("http_request_duration_seconds_bucket"));
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn the_openapi_document_is_version_3_1_and_lists_the_routes(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/readyz"]["get"].is_object());
    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("<html") && html.contains("Estrade"), "{html}");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn an_unknown_path_answers_404_in_the_error_shape(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let res = app.get("/v1/nothing-here").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}
