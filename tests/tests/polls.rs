//! Quick polls from real API calls: the teacher opens one, two learners
//! and a classroom answer (one changes its mind), the counts stay with the
//! teacher until shown, the live stream tells each what it may see, bad
//! input and refusals change nothing, and ending the class closes it.

use std::time::Duration;

use estrade_tests::{Class, SseStream, TestApp, token};
use serde_json::{Value, json};
use sqlx::PgPool;

const WAIT: Duration = Duration::from_secs(10);

fn moderated() -> Value {
    json!({"mode": "moderated", "max_speakers": 1})
}

async fn classroom(app: &TestApp, c: &Class) -> Value {
    let body = json!({
        "code": c.session["join_code"], "name": "CM2 B", "kind": "classroom", "headcount": 24
    });
    let (status, joined) = app
        .call(reqwest::Method::POST, "/v1/join", None, Some(body))
        .await;
    assert_eq!(status, 200, "{joined}");
    app.stub
        .connect(joined["livekit_token"].as_str().unwrap())
        .unwrap();
    joined
}

async fn open(app: &TestApp, c: &Class) -> Value {
    let (status, poll) = app
        .post_as(
            &c.path("/polls"),
            &c.teacher,
            json!({"question": " Is the oven hot? ", "choices": ["Yes", "No", "Not sure"]}),
        )
        .await;
    assert_eq!(status, 201, "{poll}");
    poll
}

fn counts(poll: &Value) -> Vec<(u64, u64, u64)> {
    poll["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["answers"].as_u64().unwrap(),
                c["classrooms"].as_u64().unwrap(),
                c["classroom_headcount"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn two_learners_and_a_classroom_answer_and_the_counts_stay_with_the_teacher_until_shown(
    db: PgPool,
) {
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 2).await;
    let (ana, bea) = (&c.learners[0], &c.learners[1]);
    let room = classroom(&app, &c).await;
    let poll = open(&app, &c).await;
    assert_eq!(poll["question"], "Is the oven hot?");
    assert_eq!(poll["closed_at"], Value::Null);
    assert_eq!(counts(&poll), [(0, 0, 0); 3]);
    let pid = poll["id"].as_str().unwrap();
    let answer = c.path(&format!("/polls/{pid}/answer"));

    // Ana says no, then changes her mind; Bea and the classroom say yes.
    for (who, choice) in [(ana, 1), (ana, 0), (bea, 0), (&room, 0)] {
        let (status, seen) = app
            .post_as(&answer, token(who), json!({ "choice": choice }))
            .await;
        assert_eq!(status, 200, "{seen}");
        assert_eq!(seen["my_choice"], choice);
        assert!(
            seen.get("results").is_none(),
            "no counts before they are shown: {seen}"
        );
    }
    let (_, list) = app.get_as(&c.path("/polls"), &c.teacher).await;
    let staff = &list["polls"][0];
    assert_eq!(
        staff["answers"], 3,
        "one answer each, the change replaced Ana's"
    );
    assert_eq!(counts(staff), [(3, 1, 24), (0, 0, 0), (0, 0, 0)]);
    assert!(staff.get("my_choice").is_none());
    let (_, list) = app.get_as(&c.path("/polls"), token(bea)).await;
    let mine = &list["polls"][0];
    assert_eq!((&mine["my_choice"], mine.get("results")), (&json!(0), None));
    assert!(
        !list.to_string().contains("Learner"),
        "nobody's name: {list}"
    );

    // Closed without showing: learners still see no counts, and no one
    // answers any more.
    let close = c.path(&format!("/polls/{pid}/close"));
    let (status, closed) = app.post_as(&close, &c.teacher, json!({})).await;
    assert_eq!(status, 200, "{closed}");
    assert!(closed["closed_at"].is_string());
    assert_eq!(closed["results_shown"], false);
    let (status, body) = app.post_as(&answer, token(ana), json!({"choice": 2})).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("poll_closed"))
    );
    let (_, list) = app.get_as(&c.path("/polls"), token(ana)).await;
    assert!(list["polls"][0].get("results").is_none());
    // Shown afterwards: everyone sees the counts.
    let (status, shown) = app
        .post_as(&close, &c.teacher, json!({"show_results": true}))
        .await;
    assert_eq!((status, &shown["results_shown"]), (200, &json!(true)));
    let (_, list) = app.get_as(&c.path("/polls"), token(ana)).await;
    assert_eq!(
        counts(&list["polls"][0]),
        [(3, 1, 24), (0, 0, 0), (0, 0, 0)]
    );

    // A second poll may open now; the report counts who answered.
    let second = open(&app, &c).await;
    let answer = c.path(&format!("/polls/{}/answer", second["id"].as_str().unwrap()));
    let (status, _) = app.post_as(&answer, token(ana), json!({"choice": 2})).await;
    assert_eq!(status, 200);
    let (_, report) = app.get_as(&c.path("/report"), &c.teacher).await;
    assert_eq!(report["session"]["polls"], 2);
    let answered: Vec<(&Value, &Value)> = report["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (&p["display_name"], &p["polls_answered"]))
        .collect();
    assert_eq!(
        answered,
        [
            (&json!("Learner 0"), &json!(2)),
            (&json!("Learner 1"), &json!(1)),
            (&json!("CM2 B"), &json!(1))
        ]
    );

    // Ending the class closes the open poll.
    let (status, _) = app.post_as(&c.path("/end"), &c.teacher, json!({})).await;
    assert_eq!(status, 200);
    let (_, list) = app.get_as(&c.path("/polls"), &c.teacher).await;
    assert!(list["polls"][1]["closed_at"].is_string(), "{list}");

    // Audited, without who chose what.
    let details: Vec<Value> = sqlx::query_scalar(
        "select details from audit_log where action = 'poll.answered' order by id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(details.len(), 5);
    assert!(
        details.iter().all(|d| d.get("choice").is_none()),
        "{details:?}"
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn bad_polls_and_refused_answers_get_a_clear_error_and_change_nothing(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 1).await;
    let ana = &c.learners[0];
    let seven: Vec<String> = (1..=7).map(|i| i.to_string()).collect();
    for body in [
        json!({"question": "", "choices": ["a", "b"]}),
        json!({"question": "two\nlines", "choices": ["a", "b"]}),
        json!({"question": "q".repeat(201), "choices": ["a", "b"]}),
        json!({"question": "Q", "choices": ["only"]}),
        json!({"question": "Q", "choices": seven}),
        json!({"question": "Q", "choices": ["a", " "]}),
        json!({"question": "Q", "choices": ["a", "\u{202e}b"]}),
    ] {
        let (status, answer) = app
            .post_as(&c.path("/polls"), &c.teacher, body.clone())
            .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some("invalid_poll")),
            "{body}: {answer}"
        );
    }
    let ok = json!({"question": "Ready?", "choices": ["Yes", "No"]});
    let admin = app.admin_key().await;
    let (status, body) = app.post_as(&c.path("/polls"), &admin, ok.clone()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("owner_only"))
    );
    let (status, _) = app.post_as(&c.path("/polls"), token(ana), ok.clone()).await;
    assert_eq!(status, 403, "a learner does not open polls");
    assert_eq!(app.count("polls").await, 0);

    let (status, poll) = app.post_as(&c.path("/polls"), &c.teacher, ok.clone()).await;
    assert_eq!(status, 201, "{poll}");
    let (status, body) = app.post_as(&c.path("/polls"), &c.teacher, ok).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("poll_open"))
    );
    assert_eq!(app.count("polls").await, 1);

    let pid = poll["id"].as_str().unwrap();
    let answer = c.path(&format!("/polls/{pid}/answer"));
    let (status, body) = app.post_as(&answer, token(ana), json!({"choice": 2})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_choice"))
    );
    for (choice, code) in [(json!(-1), "invalid_choice"), (json!(0.5), "invalid_body")] {
        let (status, body) = app
            .post_as(&answer, token(ana), json!({ "choice": choice }))
            .await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some(code)));
    }
    assert_eq!(
        app.count("poll_answers").await,
        0,
        "nothing refused is kept"
    );
    // JSON's 1.0 is the whole number 1, as the schema's integer allows.
    let (status, body) = app
        .post_as(&answer, token(ana), json!({"choice": 1.0}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["my_choice"], 1);
    let (status, _) = app.post_as(&answer, &c.teacher, json!({"choice": 0})).await;
    assert!(status == 401 || status == 403, "{status}");
    let other = app.class(moderated(), 1).await;
    let elsewhere = other.path(&format!("/polls/{pid}/answer"));
    let (status, _) = app
        .post_as(&elsewhere, token(&other.learners[0]), json!({"choice": 0}))
        .await;
    assert_eq!(status, 404, "another class's poll");
    let (status, _) = app
        .post_as(
            &other.path(&format!("/polls/{pid}/close")),
            &other.teacher,
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        app.count("poll_answers").await,
        1,
        "only Ana's accepted answer"
    );
    let (_, list) = app.get_as(&c.path("/polls"), &c.teacher).await;
    assert_eq!(list["polls"][0]["closed_at"], Value::Null, "still open");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn the_live_stream_shows_learners_a_poll_but_its_counts_only_once_shown(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 2).await;
    let (ana, bea) = (&c.learners[0], &c.learners[1]);
    let base = app.url("");
    let mut teacher = SseStream::open(&base, c.id(), &c.teacher, None)
        .await
        .unwrap();
    let mut learner = SseStream::open(&base, c.id(), token(bea), None)
        .await
        .unwrap();
    for stream in [&mut teacher, &mut learner] {
        stream.expect("session", WAIT).await;
        stream.expect("floor", WAIT).await;
    }
    let poll = open(&app, &c).await;
    let pid = poll["id"].as_str().unwrap();
    let (status, _) = app
        .post_as(
            &c.path(&format!("/polls/{pid}/answer")),
            token(ana),
            json!({"choice": 1}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post_as(
            &c.path(&format!("/polls/{pid}/close")),
            &c.teacher,
            json!({"show_results": true}),
        )
        .await;
    assert_eq!(status, 200);

    let opened = teacher.expect("poll", WAIT).await;
    assert_eq!(
        (&opened.data["change"], &opened.data["answers"]),
        (&json!("opened"), &json!(0))
    );
    let answered = teacher.expect("poll", WAIT).await;
    assert_eq!(answered.data["change"], "answered");
    assert_eq!(counts(&answered.data)[1], (1, 0, 0));
    assert_eq!(teacher.expect("poll", WAIT).await.data["change"], "closed");

    let opened = learner.expect("poll", WAIT).await;
    assert_eq!(opened.data["change"], "opened");
    assert_eq!(opened.data["choices"], json!(["Yes", "No", "Not sure"]));
    assert!(opened.data.get("results").is_none() && opened.data.get("answers").is_none());
    // Ana's answer is not on Bea's stream: the next is the close, shown.
    let closed = learner.expect("poll", WAIT).await;
    assert_eq!(
        (&closed.data["change"], &closed.data["results_shown"]),
        (&json!("closed"), &json!(true))
    );
    assert_eq!(counts(&closed.data)[1], (1, 0, 0));
}
