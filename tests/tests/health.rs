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

    // The probe made while Redis ran answers for a second more.
    let client = app.client.clone();
    let url = app.url("/readyz");
    estrade_tests::until(std::time::Duration::from_secs(5), || {
        let (client, url) = (client.clone(), url.clone());
        async move { client.get(url).send().await.unwrap().status() == 503 }
    })
    .await;
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
    let rendered = estrade_serve::metrics::handle().render();
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
    // Its page, /docs, comes with the web client: tests/tests/client_pages.rs.
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

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_flood_of_readyz_shares_one_probe_of_the_dependencies(db: PgPool) {
    let app = TestApp::spawn(db).await;
    // The next LiveKit call fails: only the one probe made for the whole
    // flood meets it, so every answer of the flood is that probe's 503.
    app.stub.set_faults(estrade_livekit_stub::Faults {
        fail_next_twirp: 1,
        ..Default::default()
    });
    let flood = (0..50).map(|_| app.get("/readyz"));
    let statuses: Vec<u16> = futures::future::join_all(flood)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(statuses, vec![503; 50], "one probe answered them all");
    // A second later, a new probe finds LiveKit answering again.
    let client = app.client.clone();
    let url = app.url("/readyz");
    estrade_tests::until(std::time::Duration::from_secs(5), || {
        let (client, url) = (client.clone(), url.clone());
        async move { client.get(url).send().await.unwrap().status() == 200 }
    })
    .await;
}
