//! Signing in to the teacher console: an API key exchanged once for an
//! `HttpOnly`, `SameSite=Strict` cookie that then stands for the account,
//! refused for changes from any other origin, ended by sign-out, by the
//! key's revocation, by the account's disabling and by expiry, and wrong
//! keys limited per client address. The test app is served at
//! `https://app.estrade.test`, so the cookie is the `__Host-` one.

use estrade_tests::{Options, TestApp};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

const ORIGIN: &str = "https://app.estrade.test";
const COOKIE: &str = "__Host-estrade_console";

/// `method path` as a browser page would send it: the console cookie (if
/// any), `origin` (if any), a JSON body (if any).
async fn browser(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(token) = cookie {
        req = req.header("cookie", format!("theme=dark; {COOKIE}={token}"));
    }
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON body")
    };
    (status, headers, json)
}

/// Signs in with `key` from the console's page; returns the cookie's
/// value, the whole `Set-Cookie` and the body.
async fn sign_in(app: &TestApp, key: &str) -> (String, String, Value) {
    let (status, headers, body) = browser(
        app,
        Method::POST,
        "/v1/console/session",
        None,
        Some(ORIGIN),
        Some(json!({"api_key": key})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let set_cookie = headers["set-cookie"].to_str().unwrap().to_owned();
    let value = set_cookie
        .strip_prefix(&format!("{COOKIE}="))
        .and_then(|rest| rest.split(';').next())
        .expect("the console cookie")
        .to_owned();
    (value, set_cookie, body)
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_teacher_key_is_exchanged_once_for_an_http_only_strict_cookie_that_runs_a_class(
    db: PgPool,
) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (teacher_id, key) = app.teacher(&admin, "Chef Anne").await;

    let (cookie, set_cookie, body) = sign_in(&app, &key).await;
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=28800",
    ] {
        assert!(
            set_cookie.contains(attribute),
            "{set_cookie} lacks {attribute}"
        );
    }
    assert_eq!(body["account"]["id"], teacher_id.as_str());
    assert_eq!(body["account"]["name"], "Chef Anne");
    assert_eq!(body["account"]["role"], "teacher");
    assert!(!body.to_string().contains(&key), "the key is not echoed");
    assert!(!cookie.contains(&key) && cookie.len() >= 43);

    // The cookie alone creates, starts and reads a class.
    let (status, _, session) = browser(
        &app,
        Method::POST,
        "/v1/sessions",
        Some(&cookie),
        Some(ORIGIN),
        Some(json!({"title": "Pain au levain"})),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["teacher_id"], teacher_id.as_str());
    let id = session["id"].as_str().unwrap();
    let (status, _, started) = browser(
        &app,
        Method::POST,
        &format!("/v1/sessions/{id}/start"),
        Some(&cookie),
        Some(ORIGIN),
        None,
    )
    .await;
    assert_eq!((status, started["status"].as_str()), (200, Some("live")));
    let (status, _, list) =
        browser(&app, Method::GET, "/v1/sessions", Some(&cookie), None, None).await;
    assert_eq!(status, 200);
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
    let (status, _, me) = browser(
        &app,
        Method::GET,
        "/v1/console/session",
        Some(&cookie),
        None,
        None,
    )
    .await;
    assert_eq!((status, &me["account"]["name"]), (200, &json!("Chef Anne")));

    // Only the token's hash is stored, and the audit names the key, not it.
    let stored: Vec<u8> = sqlx::query_scalar("select token_hash from console_sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, estrade_core::api_key::hash(&cookie).to_vec());
    let details: Value =
        sqlx::query_scalar("select details from audit_log where action = 'console.signed_in'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(!details.to_string().contains(&key) && !details.to_string().contains(&cookie));

    // A bearer credential, when sent, is the one that counts.
    let mut req = app.client.get(app.url("/v1/sessions"));
    req = req
        .header("cookie", format!("{COOKIE}={cookie}"))
        .bearer_auth("estrade_not_a_key");
    assert_eq!(req.send().await.unwrap().status(), 401);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_change_sent_with_the_cookie_from_another_origin_or_none_is_refused_and_changes_nothing(
    db: PgPool,
) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, key) = app.teacher(&admin, "Chef").await;
    let session = app.live_session(&key, json!({"title": "Bread"})).await;
    let id = session["id"].as_str().unwrap();
    let (cookie, _, _) = sign_in(&app, &key).await;

    let end = format!("/v1/sessions/{id}/end");
    for origin in [
        Some("https://evil.example"),
        Some("http://app.estrade.test"),
        Some("https://app.estrade.test.evil.example"),
        Some("null"),
        None,
    ] {
        let (status, _, body) =
            browser(&app, Method::POST, &end, Some(&cookie), origin, None).await;
        assert_eq!(status, 403, "from {origin:?}: {body}");
        assert_eq!(body["error"]["code"], "cross_origin");
    }
    // A form a foreign page posts (no JSON, no preflight) is refused too.
    let res = app
        .client
        .post(app.url(&format!("/v1/sessions/{id}/participants/{id}/kick")))
        .header("cookie", format!("{COOKIE}={cookie}"))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let (_, _, still) = browser(
        &app,
        Method::GET,
        &format!("/v1/sessions/{id}"),
        Some(&cookie),
        None,
        None,
    )
    .await;
    assert_eq!(still["status"], "live", "the class was not ended");

    // Signing in from another page is refused as well (no login CSRF).
    let (status, _, body) = browser(
        &app,
        Method::POST,
        "/v1/console/session",
        None,
        Some("https://evil.example"),
        Some(json!({"api_key": key})),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("cross_origin"))
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn sign_out_revoking_the_key_disabling_the_account_and_expiry_each_end_a_sign_in(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (teacher_id, key) = app.teacher(&admin, "Chef").await;
    let works = |cookie: String| {
        let app = &app;
        async move {
            browser(app, Method::GET, "/v1/sessions", Some(&cookie), None, None)
                .await
                .0
        }
    };

    // Sign-out: the cookie is cleared, and a kept copy stops working.
    let (cookie, _, _) = sign_in(&app, &key).await;
    assert_eq!(works(cookie.clone()).await, 200);
    let (status, headers, _) = browser(
        &app,
        Method::DELETE,
        "/v1/console/session",
        Some(&cookie),
        Some(ORIGIN),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert!(
        headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(works(cookie.clone()).await, 401);
    let (status, _, _) = browser(
        &app,
        Method::DELETE,
        "/v1/console/session",
        Some(&cookie),
        Some(ORIGIN),
        None,
    )
    .await;
    assert_eq!(status, 204, "signing out twice is fine");

    // Expiry.
    let (cookie, _, _) = sign_in(&app, &key).await;
    sqlx::query(
        "update console_sessions set created_at = now() - interval '9 hours',
                expires_at = now() - interval '1 hour' where ended_at is null",
    )
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(works(cookie).await, 401);

    // Revoking the key that signed in.
    let (cookie, _, _) = sign_in(&app, &key).await;
    let key_id: uuid::Uuid = sqlx::query_scalar(
        "select key_id from console_sessions where ended_at is null and expires_at > now()",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/admin/accounts/{teacher_id}/keys/{key_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert!(status < 300, "revoke: {status}");
    assert_eq!(works(cookie).await, 401);

    // Disabling the account.
    let (_, new_key) = app
        .post_as(
            &format!("/v1/admin/accounts/{teacher_id}/keys"),
            &admin,
            json!({}),
        )
        .await;
    let (cookie, _, _) = sign_in(&app, new_key["api_key"].as_str().unwrap()).await;
    assert_eq!(works(cookie.clone()).await, 200);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/admin/accounts/{teacher_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert!(status < 300, "disable: {status}");
    assert_eq!(works(cookie).await, 401);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn wrong_keys_are_refused_then_the_address_waits_before_any_key_is_looked_up(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        Options {
            env: vec![("ESTRADE_SIGN_IN_FAILURES_PER_MIN", "3".to_owned())],
            ..Options::default()
        },
    )
    .await;
    let admin = app.admin_key().await;
    let (_, key) = app.teacher(&admin, "Chef").await;
    let attempt = |api_key: Value| {
        let app = &app;
        async move {
            browser(
                app,
                Method::POST,
                "/v1/console/session",
                None,
                Some(ORIGIN),
                Some(json!({ "api_key": api_key })),
            )
            .await
        }
    };

    let wrong = [
        json!("estrade_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        json!("not even a key"),
        json!("x".repeat(10_000)),
    ];
    for api_key in wrong {
        let (status, headers, body) = attempt(api_key).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "invalid_api_key");
        assert!(headers.get("set-cookie").is_none());
    }
    let (status, headers, body) = attempt(json!("estrade_still_wrong")).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (429, &json!("rate_limited"))
    );
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // Now even the right key waits: nothing is looked up for this address.
    let (status, _, _) = attempt(json!(key)).await;
    assert_eq!(status, 429);
    assert_eq!(app.count("console_sessions").await, 0);

    // A body of the wrong shape is a 422 and signs nobody in.
    let (status, _, body) = browser(
        &app,
        Method::POST,
        "/v1/console/session",
        None,
        Some(ORIGIN),
        Some(json!({"key": "estrade_x"})),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (422, &json!("invalid_body"))
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn the_openapi_document_states_the_sign_in_its_refusals_and_where_the_cookie_counts(
    db: PgPool,
) {
    let app = TestApp::spawn(db).await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let sign_in = &doc["paths"]["/v1/console/session"];
    for status in ["200", "401", "403", "422", "429"] {
        assert!(
            sign_in["post"]["responses"][status].is_object(),
            "POST {status}"
        );
    }
    assert!(sign_in["get"]["responses"]["401"].is_object());
    assert!(sign_in["delete"]["responses"]["204"].is_object());
    let scheme = &doc["components"]["securitySchemes"]["console"];
    assert_eq!(
        (&scheme["type"], &scheme["in"]),
        (&json!("apiKey"), &json!("cookie"))
    );
    let create = doc["paths"]["/v1/sessions"]["post"]["security"].to_string();
    assert!(
        create.contains("bearer") && create.contains("console"),
        "{create}"
    );
    let join = &doc["paths"]["/v1/join"]["post"]["security"];
    assert!(
        !join.to_string().contains("console"),
        "anonymous routes stay so"
    );
}
