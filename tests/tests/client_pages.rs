//! The web client served by `estrade serve` from the API's origin: its
//! pages (`/`, a session's `join_url`, `/check`, the console) with a strict policy and
//! no caching, its hashed assets cached for good, the API reference
//! (`/docs`) with its script from this origin too, and the API's own 404
//! everywhere else. A stand-in build (`index.html`, one asset and the
//! reference's script) is written to a temporary directory; `client/`
//! itself is tested in the browser tests.

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
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    std::fs::write(
        dir.path().join("docs/scalar.js"),
        "window.Scalar = { createApiReference() {} }",
    )
    .unwrap();
    std::fs::write(dir.path().join("docs/scalar.js.gz"), "gzipped").unwrap();
    dir
}

/// The values of every `src` and `href` attribute in `html`.
fn linked_urls(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut urls = Vec::new();
    for attribute in [" src=", " href="] {
        for (at, _) in lower.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            let value = match rest.chars().next() {
                Some(quote @ ('"' | '\'')) => rest[1..].split(quote).next().unwrap_or(""),
                _ => rest
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or(""),
            };
            urls.push(value.trim().to_owned());
        }
    }
    urls
}

/// `directive -> sources` of a Content-Security-Policy.
fn directives(csp: &str) -> Vec<(String, Vec<String>)> {
    csp.split(';')
        .filter_map(|d| {
            let mut words = d.split_whitespace().map(str::to_owned);
            Some((words.next()?, words.collect()))
        })
        .collect()
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

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn the_api_reference_loads_only_scripts_served_by_estrade_under_a_policy_naming_no_other_origin(
    db: PgPool,
) {
    let dir = built_client();
    let app = app_with_client(db, dir.path()).await;

    let page = app.get("/docs").await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let html = page.text().await.unwrap();

    // Nothing on the page comes from elsewhere (a path on this origin, or
    // `data:`), and no script is inline.
    let urls = linked_urls(&html);
    assert!(!urls.is_empty(), "{html}");
    for url in &urls {
        let lower = url.to_ascii_lowercase();
        let here = url.starts_with('/') && !url.starts_with("//") && !lower.contains("://");
        assert!(
            here || lower.starts_with("data:"),
            "the page links {url:?}, which is not on this origin"
        );
    }
    let lower = html.to_ascii_lowercase();
    let scripts: Vec<&str> = lower.split("<script").skip(1).collect();
    assert!(!scripts.is_empty(), "the page has no script: {html}");
    for script in &scripts {
        let (tag, after) = script.split_once('>').unwrap();
        assert!(tag.contains(" src="), "an inline script: <script{script}");
        assert!(
            after.starts_with("</script>"),
            "a script with a body: <script{script}"
        );
    }
    // Each script the page loads is Estrade's, as JavaScript.
    let sources: Vec<String> = scripts
        .iter()
        .flat_map(|s| linked_urls(s.split_once('>').unwrap().0))
        .collect();
    assert_eq!(sources.len(), scripts.len(), "{sources:?}");
    assert!(
        sources.contains(&"/docs/scalar.js".to_owned()),
        "{sources:?}"
    );
    for src in &sources {
        let script = app.get(src).await;
        assert_eq!(script.status(), 200, "{src}");
        let kind = script.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(kind.starts_with("text/javascript"), "{src}: {kind}");
        assert_eq!(
            script.headers()["x-content-type-options"],
            "nosniff",
            "{src}"
        );
    }

    // Its gzipped copy, to a browser that takes it.
    let gzipped = estrade_tests::http_client()
        .get(app.url("/docs/scalar.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert!(
        gzipped.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(gzipped.text().await.unwrap(), "gzipped");

    // The policy: this origin only, no inline or evaluated script, nothing
    // framing the page.
    let csp = headers
        .get("content-security-policy")
        .expect("the reference has a Content-Security-Policy")
        .to_str()
        .unwrap();
    let directives = directives(csp);
    let sources_of = |name: &str| {
        directives
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("no {name} in {csp}"))
    };
    assert_eq!(sources_of("default-src"), ["'self'"], "{csp}");
    assert_eq!(sources_of("script-src"), ["'self'"], "{csp}");
    assert_eq!(sources_of("connect-src"), ["'self'"], "{csp}");
    assert_eq!(sources_of("object-src"), ["'none'"], "{csp}");
    assert_eq!(sources_of("frame-ancestors"), ["'none'"], "{csp}");
    for (name, sources) in &directives {
        for source in sources {
            assert!(
                ["'self'", "'none'", "data:"].contains(&source.as_str())
                    // Scalar writes its styles into the page (docs/SECURITY.md).
                    || (name == "style-src" && source == "'unsafe-inline'"),
                "{name} allows {source}: {csp}"
            );
        }
    }
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn without_a_built_client_the_api_reference_answers_a_404_saying_how_to_build_it(db: PgPool) {
    let empty = tempfile::tempdir().unwrap();
    let app = app_with_client(db, empty.path()).await;
    for path in ["/docs", "/docs/scalar.js"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    let body: serde_json::Value = app.get("/docs").await.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("npm run build"), "{message}");
    assert!(message.contains("/openapi.json"), "{message}");
    assert_eq!(app.get("/openapi.json").await.status(), 200);
}
