//! Joining: every kind of bad input is refused with the right error and
//! writes nothing; rate limits stop code guessing without stopping a class
//! behind one address.

use estrade_tests::{Options, TestApp};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

async fn teacher_with_live_session(app: &TestApp) -> (String, Value) {
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "T").await;
    let session = app.live_session(&teacher, json!({"title": "C"})).await;
    (teacher, session)
}

/// Rows that a refused request must not have written.
async fn written(app: &TestApp) -> (i64, i64) {
    (
        app.count("participants").await,
        app.count("audit_log").await,
    )
}

async fn raw_join(app: &TestApp, body: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/v1/join"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn bad_join_requests_get_clear_errors_and_write_nothing(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let (_, session) = teacher_with_live_session(&app).await;
    let code = session["join_code"].as_str().unwrap();
    let before = written(&app).await;
    let unknown = if code == "000000" { "000001" } else { "000000" };

    let cases: Vec<(String, u16, &str)> = vec![
        (
            json!({"code": unknown, "name": "Ana"}).to_string(),
            404,
            "unknown_code",
        ),
        (
            json!({"code": "12ab56", "name": "Ana"}).to_string(),
            422,
            "invalid_code",
        ),
        (
            json!({"code": code, "name": ""}).to_string(),
            422,
            "invalid_name",
        ),
        (
            json!({"code": code, "name": "   "}).to_string(),
            422,
            "invalid_name",
        ),
        (
            json!({"code": code, "name": "x".repeat(65)}).to_string(),
            422,
            "invalid_name",
        ),
        (
            json!({"code": code, "name": "Ana\u{1b}[31m"}).to_string(),
            422,
            "invalid_name",
        ),
        (
            json!({"code": code, "name": "Ana", "kind": "teacher"}).to_string(),
            422,
            "invalid_kind",
        ),
        (
            json!({"code": code, "name": "Ana", "kind": "robot"}).to_string(),
            422,
            "invalid_body",
        ),
        (
            json!({"code": code, "name": "Ana", "headcount": 3}).to_string(),
            422,
            "invalid_headcount",
        ),
        (
            json!({"code": code, "name": "Salle", "kind": "classroom", "headcount": 0}).to_string(),
            422,
            "invalid_headcount",
        ),
        (
            json!({"code": code, "name": "Ana", "identity": "l-chosen"}).to_string(),
            422,
            "invalid_body",
        ),
        (
            json!({"code": 123456, "name": "Ana"}).to_string(),
            422,
            "invalid_body",
        ),
        (
            json!({"code": code, "name": "Ana", "link": ""}).to_string(),
            422,
            "invalid_link",
        ),
        (
            json!({"code": code, "name": "Ana", "link": "k".repeat(65)}).to_string(),
            422,
            "invalid_link",
        ),
        (
            json!({"code": code, "name": "Ana", "link": "a+b/c="}).to_string(),
            422,
            "invalid_link",
        ),
        (json!({"name": "Ana"}).to_string(), 422, "invalid_body"),
        ("{\"code\": ".to_owned(), 400, "malformed_request"),
    ];
    for (body, status, error) in cases {
        let (got, response) = raw_join(&app, &body).await;
        assert_eq!(
            (got, response["error"]["code"].as_str().unwrap()),
            (status, error),
            "{body}"
        );
    }
    let huge = json!({"code": code, "name": "x".repeat(100_000)}).to_string();
    assert_eq!(raw_join(&app, &huge).await.0, 413);

    assert_eq!(written(&app).await, before, "nothing was written");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn bad_session_and_account_requests_get_clear_errors_and_write_nothing(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "T").await;
    let before = (
        app.count("sessions").await,
        app.count("accounts").await,
        app.count("audit_log").await,
    );

    for (body, error) in [
        (json!({"title": ""}), "invalid_title"),
        (json!({"title": "x".repeat(201)}), "invalid_title"),
        (
            json!({"title": "C", "max_learners": 0}),
            "invalid_max_learners",
        ),
        (
            json!({"title": "C", "max_learners": 5000}),
            "invalid_max_learners",
        ),
        (
            json!({"title": "C", "floor": {"mode": "open", "max_speakers": 99}}),
            "invalid_floor",
        ),
        (
            json!({"title": "C", "floor": {"mode": "open", "max_speakers": 1, "speaking_time_limit_s": 1}}),
            "invalid_floor",
        ),
        (
            json!({"title": "C", "floor": {"mode": "loud", "max_speakers": 1}}),
            "invalid_body",
        ),
        (json!({"title": "C", "status": "live"}), "invalid_body"),
    ] {
        let (status, response) = app.post_as("/v1/sessions", &teacher, body.clone()).await;
        assert_eq!(
            (status, response["error"]["code"].as_str().unwrap()),
            (422, error),
            "{body}"
        );
    }
    for (body, error) in [
        (json!({"name": "X", "role": "root"}), "invalid_body"),
        (json!({"name": "", "role": "teacher"}), "invalid_name"),
        (json!({"name": "X"}), "invalid_body"),
    ] {
        let (status, response) = app
            .post_as("/v1/admin/accounts", &admin, body.clone())
            .await;
        assert_eq!(
            (status, response["error"]["code"].as_str().unwrap()),
            (422, error),
            "{body}"
        );
    }

    let after = (
        app.count("sessions").await,
        app.count("accounts").await,
        app.count("audit_log").await,
    );
    assert_eq!(after, before, "nothing was written");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn guessing_codes_from_one_address_is_stopped_but_other_addresses_and_known_codes_are_not(
    db: PgPool,
) {
    let env = vec![
        ("ESTRADE_JOIN_FAILURES_PER_MIN", "3".to_owned()),
        ("ESTRADE_TRUSTED_PROXIES", "127.0.0.1".to_owned()),
    ];
    let app = TestApp::spawn_with(
        db,
        Options {
            env,
            ..Options::default()
        },
    )
    .await;
    let (_, session) = teacher_with_live_session(&app).await;
    let code = session["join_code"].as_str().unwrap().to_owned();
    let from = |ip: &'static str, code: String| {
        let app = &app;
        async move {
            let res = app
                .client
                .post(app.url("/v1/join"))
                .header("x-forwarded-for", ip)
                .json(&json!({"code": code, "name": "Ana"}))
                .send()
                .await
                .unwrap();
            let retry = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (res.status().as_u16(), retry)
        }
    };
    let wrong = if code == "999999" { "999998" } else { "999999" };

    // A classroom behind one address joins many times: successes do not count.
    for _ in 0..5 {
        assert_eq!(from("198.51.100.7", code.clone()).await.0, 200);
    }
    for _ in 0..3 {
        assert_eq!(from("198.51.100.7", wrong.to_owned()).await.0, 404);
    }
    let (status, retry) = from("198.51.100.7", wrong.to_owned()).await;
    assert_eq!(status, 429);
    assert!(
        retry.unwrap().parse::<u64>().unwrap() >= 1,
        "Retry-After in whole seconds"
    );
    // Now refused before lookup, even with the right code.
    assert_eq!(from("198.51.100.7", code.clone()).await.0, 429);
    // Another address is unaffected.
    assert_eq!(from("203.0.113.5", code.clone()).await.0, 200);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn forwarded_for_is_ignored_from_an_untrusted_peer(db: PgPool) {
    let env = vec![("ESTRADE_JOIN_FAILURES_PER_MIN", "2".to_owned())];
    let app = TestApp::spawn_with(
        db,
        Options {
            env,
            ..Options::default()
        },
    )
    .await;
    let (_, session) = teacher_with_live_session(&app).await;
    let wrong = if session["join_code"] == "999999" {
        "999998"
    } else {
        "999999"
    };
    // Each request claims another address; without a trusted proxy they are
    // all the TCP peer, 127.0.0.1.
    let mut statuses = Vec::new();
    for i in 0..3 {
        let res = app
            .client
            .post(app.url("/v1/join"))
            .header("x-forwarded-for", format!("192.0.2.{i}"))
            .json(&json!({"code": wrong, "name": "Ana"}))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [404, 404, 429]);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_class_joins_at_once_but_a_code_admits_no_more_than_its_seats_and_ten_a_minute_nor_endless_refusals(
    db: PgPool,
) {
    let env = vec![("ESTRADE_JOINS_PER_CODE_PER_MIN", "2".to_owned())];
    let app = TestApp::spawn_with(
        db,
        Options {
            env,
            ..Options::default()
        },
    )
    .await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "T").await;
    let session = app
        .live_session(&teacher, json!({"title": "C", "max_learners": 3}))
        .await;
    let (sid, code) = (
        session["id"].as_str().unwrap(),
        session["join_code"].as_str().unwrap(),
    );
    let kick = |joined: Value| {
        let (app, teacher) = (&app, &teacher);
        async move {
            let pid = joined["participant_id"].as_str().unwrap();
            let path = format!("/v1/sessions/{sid}/participants/{pid}/kick");
            assert_eq!(app.post_as(&path, teacher, json!({})).await.0, 200);
        }
    };
    // More joins than the refusal budget, all successful: none refused.
    let mut seated = Vec::new();
    for name in ["A", "B", "C"] {
        let (status, joined) = app.join(code, name).await;
        assert_eq!(status, 200, "{joined}");
        seated.push(joined);
    }
    // Ten more, each into a seat another left: the seats and ten a minute.
    for i in 0..10 {
        kick(seated.remove(0)).await;
        let (status, joined) = app.join(code, &format!("L{i}")).await;
        assert_eq!(status, 200, "{joined}");
        seated.push(joined);
    }
    kick(seated.remove(0)).await;
    let before = written(&app).await;
    let (status, body) = app.join(code, "D").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (429, &json!("rate_limited"))
    );
    assert_eq!(
        written(&app).await,
        before,
        "the refused join wrote nothing"
    );

    // Refusals on the code (here: locked) have their own budget of two.
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/v1/sessions/{sid}"),
            Some(&teacher),
            Some(json!({"locked": true})),
        )
        .await;
    assert_eq!(status, 200);
    let mut answers = Vec::new();
    for _ in 0..4 {
        let (status, body) = app.join(code, "E").await;
        answers.push((status, body["error"]["code"].as_str().unwrap().to_owned()));
    }
    let locked = (409, "session_locked".to_owned());
    let limited = (429, "rate_limited".to_owned());
    assert_eq!(answers, [locked.clone(), locked.clone(), locked, limited]);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn token_minting_beyond_the_global_ceiling_is_refused(db: PgPool) {
    let env = vec![("ESTRADE_TOKEN_MINTS_PER_S", "2".to_owned())];
    let app = TestApp::spawn_with(
        db,
        Options {
            env,
            ..Options::default()
        },
    )
    .await;
    let (_, session) = teacher_with_live_session(&app).await;
    let code = session["join_code"].as_str().unwrap();
    // Each join mints two tokens: the first uses the whole burst of two,
    // and the ceiling gives the next two back only after a second.
    let mut statuses = Vec::new();
    for i in 0..2 {
        statuses.push(app.join(code, &format!("L{i}")).await.0);
    }
    assert_eq!(statuses, [200, 429]);
    assert_eq!(
        app.count("participants").await,
        1,
        "the refused join wrote nothing"
    );
    let refreshed = app.call(Method::GET, "/healthz", None, None).await.0;
    assert_eq!(refreshed, 200, "other endpoints are unaffected");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_name_that_would_show_as_another_is_refused_and_one_spelling_is_kept(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let session = app.live_session(&teacher, json!({"title": "Bread"})).await;
    let code = session["join_code"].as_str().unwrap();
    // Shown right to left, "\u{202e}redaeT" reads "Teacher" in the queue.
    for disguised in ["\u{202e}redaeT", "Ana\u{200b}", "\u{feff}Ana"] {
        let (status, body) = app.join(code, disguised).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (422, &json!("invalid_name")),
            "{disguised:?}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("invisible")
        );
    }
    assert_eq!(app.count("participants where kind = 'learner'").await, 0);
    let (status, _) = app.join(code, "Le\u{301}a").await;
    assert_eq!(status, 200);
    let stored: String =
        sqlx::query_scalar("select display_name from participants where kind = 'learner'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, "Léa", "stored composed (NFC)");
}

/// A join from `ip` (through the trusted proxy), with or without a link key.
async fn join_from(app: &TestApp, ip: &str, code: &str, link: Option<&str>) -> (u16, Value) {
    let mut body = json!({"code": code, "name": "Ana"});
    if let Some(link) = link {
        body["link"] = json!(link);
    }
    let res = app
        .client
        .post(app.url("/v1/join"))
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// The key in a session's `join_url` (`…/join/{code}#k={key}`).
fn link_key(session: &Value) -> String {
    let url = session["join_url"].as_str().unwrap();
    let (page, key) = url.split_once("#k=").expect("the link carries its key");
    assert!(page.ends_with(&format!("/join/{}", session["join_code"].as_str().unwrap())));
    key.to_owned()
}

fn wrong_code(session: &Value) -> &'static str {
    if session["join_code"] == "999999" {
        "999998"
    } else {
        "999999"
    }
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_learner_with_the_link_gets_in_from_an_address_blocked_for_wrong_codes(db: PgPool) {
    let env = vec![
        ("ESTRADE_JOIN_FAILURES_PER_MIN", "2".to_owned()),
        ("ESTRADE_TRUSTED_PROXIES", "127.0.0.1".to_owned()),
    ];
    let app = TestApp::spawn_with(
        db,
        Options {
            env,
            ..Options::default()
        },
    )
    .await;
    let (teacher, session) = teacher_with_live_session(&app).await;
    let other = app.live_session(&teacher, json!({"title": "D"})).await;
    let (code, key) = (session["join_code"].as_str().unwrap(), link_key(&session));
    let school = "198.51.100.20";
    // One learner behind the school's address types wrong codes.
    for _ in 0..2 {
        assert_eq!(
            join_from(&app, school, wrong_code(&session), None).await.0,
            404
        );
    }
    assert_eq!(
        join_from(&app, school, wrong_code(&session), None).await.0,
        429
    );
    // The class that follows: typing the right code is refused as a guess,
    assert_eq!(join_from(&app, school, code, None).await.0, 429);
    // and so is a made-up key, or this session's key with another code;
    let made_up = "AAAAAAAAAAAAAAAAAAAAAA";
    assert_eq!(join_from(&app, school, code, Some(made_up)).await.0, 429);
    let other_code = other["join_code"].as_str().unwrap();
    assert_eq!(join_from(&app, school, other_code, Some(&key)).await.0, 429);
    // but the link lets everyone in.
    for _ in 0..3 {
        let (status, joined) = join_from(&app, school, code, Some(&key)).await;
        assert_eq!(status, 200, "{joined}");
    }
    // A new code makes a new key: the old link no longer opens the class.
    let sid = session["id"].as_str().unwrap();
    let (status, rotated) = app
        .call(
            Method::PATCH,
            &format!("/v1/sessions/{sid}"),
            Some(&teacher),
            Some(json!({"rotate_join_code": true})),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(link_key(&rotated), key);
    let new_code = rotated["join_code"].as_str().unwrap();
    assert_eq!(join_from(&app, school, new_code, Some(&key)).await.0, 429);
    let (status, _) = join_from(&app, school, new_code, Some(&link_key(&rotated))).await;
    assert_eq!(status, 200);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn failed_joins_of_all_clients_meet_one_ceiling_that_every_replica_keeps(db: PgPool) {
    // Both replicas count in the same Redis namespace.
    let namespace = format!("test-global-{}", uuid::Uuid::new_v4().simple());
    let env = vec![
        ("ESTRADE_JOIN_FAILURES_GLOBAL_PER_MIN", "5".to_owned()),
        ("ESTRADE_TRUSTED_PROXIES", "127.0.0.1".to_owned()),
        ("ESTRADE_REDIS_NAMESPACE", namespace),
    ];
    let options = || Options {
        env: env.clone(),
        ..Options::default()
    };
    let one = TestApp::spawn_with(db.clone(), options()).await;
    let two = TestApp::spawn_with(db, options()).await;
    let (_, session) = teacher_with_live_session(&one).await;
    let (code, key) = (session["join_code"].as_str().unwrap(), link_key(&session));
    let wrong = wrong_code(&session);
    // The count is per minute of the clock: begin early in one.
    estrade_tests::until(std::time::Duration::from_secs(30), || async {
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 60;
        second < 40
    })
    .await;
    // Five failures from five addresses, each well within its own budget,
    // spread over both replicas.
    for i in 0..5 {
        let app = if i % 2 == 0 { &one } else { &two };
        let (status, _) = join_from(app, &format!("192.0.2.{i}"), wrong, None).await;
        assert_eq!(status, 404);
    }
    // The sixth, from yet another address, passes the service's ceiling.
    let res = two
        .client
        .post(two.url("/v1/join"))
        .header("x-forwarded-for", "192.0.2.50")
        .json(&json!({"code": wrong, "name": "Ana"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=60).contains(&retry),
        "until the minute is over: {retry}"
    );
    // That replica now refuses typed codes from anyone, right ones too;
    assert_eq!(join_from(&two, "203.0.113.9", code, None).await.0, 429);
    // the other learns it from its next failure, and then refuses them too.
    assert_eq!(join_from(&one, "203.0.113.10", wrong, None).await.0, 429);
    assert_eq!(join_from(&one, "203.0.113.11", code, None).await.0, 429);
    // Joins by the link are not guesses: they go through on both.
    for app in [&one, &two] {
        let (status, joined) = join_from(app, "203.0.113.12", code, Some(&key)).await;
        assert_eq!(status, 200, "{joined}");
    }
}
