//! The web client served by `estrade serve` from the API's origin: its
//! pages (`/`, a session's `join_url`, `/check`, the console) with a strict policy and
//! no caching, its hashed assets cached for good, and the API's own 404
//! everywhere else. A stand-in build (`index.html` and one asset) is
//! written to a temporary directory; `client/` itself is tested in the
//! browser tests.

use estrade_tests::{Options, TestApp};
use serde_json::json;
use sqlx::PgPool;

async fn app_with_client(db: PgPool, dir: &std::path::Path) -> TestApp {
    TestApp::spawn_with(
        db,
        Options {
            env: vec![("ESTRADE_CLIENT_DIR", dir.display().to_string())],
            ..Options::default()
        },
    )
    .await
}

fn built_client() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>Estrade</title>",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("assets/index-3f2a1b.js"), "console.log(1)").unwrap();
    dir
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_sessions_join_url_opens_the_client_with_a_strict_policy_and_no_caching(db: PgPool) {
    let dir = built_client();
    let app = app_with_client(db, dir.path()).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let session = app.live_session(&teacher, json!({"title": "Bread"})).await;
    let join_url = url::Url::parse(session["join_url"].as_str().unwrap()).unwrap();

    for path in [
        "/",
        join_url.path(),
        "/check",
        "/console",
        "/console/sessions/0b9f8a4e-0000-4000-8000-000000000000",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "text/html", "{path}");
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        let livekit = app.config.livekit.client_url();
        assert!(
            csp.contains(&format!("connect-src 'self' {livekit}")),
            "the client may reach LiveKit: {csp}"
        );
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("<title>Estrade</title>")
        );
    }
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn hashed_assets_are_cached_for_a_year_and_unknown_paths_keep_the_apis_404(db: PgPool) {
    let dir = built_client();
    let app = app_with_client(db, dir.path()).await;

    let asset = app.get("/assets/index-3f2a1b.js").await;
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(asset.text().await.unwrap(), "console.log(1)");

    for path in ["/assets/missing.js", "/nowhere", "/v1/nowhere", "/join"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn without_a_built_client_its_pages_answer_the_apis_404(db: PgPool) {
    let empty = tempfile::tempdir().unwrap();
    let app = app_with_client(db, empty.path()).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}
