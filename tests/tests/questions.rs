//! Typed questions from real API calls: a question waits in the same line
//! as raised hands, the teacher answers it aloud, with the floor (LiveKit
//! then accepts the author's microphone), or dismisses it; the live stream
//! tells the teacher and the author only; bad input and refusals change
//! nothing; the text is erased with the names.

use std::time::Duration;

use estrade_tests::{SseStream, TestApp, token};
use livekit_protocol::TrackSource;
use serde_json::{Value, json};
use sqlx::PgPool;

const WAIT: Duration = Duration::from_secs(10);

fn moderated() -> Value {
    json!({"mode": "moderated", "max_speakers": 1})
}

fn ask(text: &str) -> Value {
    json!({ "text": text })
}

async fn lower(app: &TestApp, path: &str, learner: &Value) -> (u16, Value) {
    app.call(reqwest::Method::DELETE, path, Some(token(learner)), None)
        .await
}

async fn question_rows(app: &TestApp) -> i64 {
    app.count("questions").await
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_typed_question_waits_in_line_with_hands_and_is_answered_aloud_with_the_floor_or_dismissed(
    db: PgPool,
) {
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 3).await;
    let (ana, bea, chloe) = (&c.learners[0], &c.learners[1], &c.learners[2]);

    // Ana raises her hand, then Bea types a question: one line, in order.
    let (status, _) = app.post_as(&c.path("/hand"), token(ana), json!({})).await;
    assert_eq!(status, 200);
    let (status, q1) = app
        .post_as(
            &c.path("/questions"),
            token(bea),
            ask("  Why salt the water <b>before</b> it boils?  "),
        )
        .await;
    assert_eq!(status, 201, "{q1}");
    assert_eq!(q1["text"], "Why salt the water <b>before</b> it boils?");
    assert_eq!(
        (&q1["status"], &q1["ended_at"]),
        (&json!("waiting"), &Value::Null)
    );
    assert_eq!(q1["participant_id"], bea["participant_id"]);
    let (_, floor) = app.get_as(&c.path("/floor"), &c.teacher).await;
    let line: Vec<(&Value, &Value)> = floor["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (&e["participant_id"], &e["kind"]))
        .collect();
    assert_eq!(
        line,
        [
            (&ana["participant_id"], &json!("hand")),
            (&bea["participant_id"], &json!("question"))
        ]
    );
    assert_eq!(floor["queue"][1]["question_id"], q1["id"]);
    assert!(
        !floor.to_string().contains("salt"),
        "the text is not in the floor everyone sees"
    );

    // Who reads what.
    let (_, all) = app.get_as(&c.path("/questions"), &c.teacher).await;
    assert_eq!(all["questions"].as_array().unwrap().len(), 1);
    let (_, own) = app.get_as(&c.path("/questions"), token(bea)).await;
    assert_eq!(own["questions"][0]["id"], q1["id"]);
    let (_, none) = app.get_as(&c.path("/questions"), token(ana)).await;
    assert_eq!(none["questions"], json!([]));

    // Answered aloud: Bea's place ends, Ana is first again.
    let answer = |q: &Value, floor: bool| {
        (
            c.path(&format!("/questions/{}/answer", q["id"].as_str().unwrap())),
            json!({ "floor": floor }),
        )
    };
    let (path, body) = answer(&q1, false);
    let (status, done) = app.post_as(&path, &c.teacher, body.clone()).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        (&done["status"], done["answered_with_floor"].as_bool()),
        (&json!("answered"), Some(false))
    );
    assert!(done["ended_at"].is_string());
    let (status, again) = app.post_as(&path, &c.teacher, body).await;
    assert_eq!(
        (status, &again["error"]["code"]),
        (409, &json!("question_not_waiting"))
    );

    // Ana types a question while her hand is up: it keeps her place.
    let (status, q2) = app
        .post_as(
            &c.path("/questions"),
            token(ana),
            ask("May I show my dough?"),
        )
        .await;
    assert_eq!(status, 201, "{q2}");
    let (_, floor) = app.get_as(&c.path("/floor"), token(ana)).await;
    assert_eq!(
        (&floor["position"], &floor["queue"][0]["kind"]),
        (&json!(1), &json!("question"))
    );
    let (status, refused) = app
        .post_as(&c.path("/questions"), token(ana), ask("And another?"))
        .await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (409, &json!("question_waiting"))
    );

    // Answered with the floor: LiveKit now accepts Ana's microphone.
    let identity = ana["identity"].as_str().unwrap();
    assert!(
        app.stub
            .publish(c.room(), identity, TrackSource::Microphone)
            .is_err()
    );
    let (path, body) = answer(&q2, true);
    let (status, done) = app.post_as(&path, &c.teacher, body).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        (&done["status"], done["answered_with_floor"].as_bool()),
        (&json!("answered"), Some(true))
    );
    app.stub
        .publish(c.room(), identity, TrackSource::Microphone)
        .expect("the floor came with the answer");
    let (_, floor) = app.get_as(&c.path("/floor"), &c.teacher).await;
    assert_eq!(
        floor["speakers"][0]["participant_id"],
        ana["participant_id"]
    );

    // Bea withdraws her next question; Chloé's is dismissed.
    let (status, q3) = app
        .post_as(&c.path("/questions"), token(bea), ask("Is rye flour ok?"))
        .await;
    assert_eq!(status, 201, "{q3}");
    let (status, _) = lower(&app, &c.path("/hand"), bea).await;
    assert_eq!(status, 200);
    let (status, q4) = app
        .post_as(&c.path("/questions"), token(chloe), ask("Off topic"))
        .await;
    assert_eq!(status, 201, "{q4}");
    let dismiss = c.path(&format!(
        "/questions/{}/dismiss",
        q4["id"].as_str().unwrap()
    ));
    let (status, done) = app.post_as(&dismiss, &c.teacher, json!({})).await;
    assert_eq!((status, &done["status"]), (200, &json!("dismissed")));
    let (_, all) = app.get_as(&c.path("/questions"), &c.teacher).await;
    let statuses: Vec<&Value> = all["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| &q["status"])
        .collect();
    assert_eq!(statuses, ["answered", "answered", "withdrawn", "dismissed"]);

    // The report counts them, beside the hands.
    let (_, report) = app.get_as(&c.path("/report"), &c.teacher).await;
    let s = &report["session"];
    assert_eq!(
        (&s["questions_asked"], &s["questions_answered"]),
        (&json!(4), &json!(2))
    );
    let figures = |who: &Value| {
        report["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["participant_id"] == who["participant_id"])
            .unwrap()
            .clone()
    };
    let (a, b) = (figures(ana), figures(bea));
    // Ana's hand became her question: a question, granted; not a hand.
    assert_eq!(
        (
            &a["questions_asked"],
            &a["questions_answered"],
            &a["hands_raised"],
            &a["times_granted"]
        ),
        (&json!(1), &json!(1), &json!(0), &json!(1))
    );
    assert_eq!(
        (&b["questions_asked"], &b["questions_answered"]),
        (&json!(2), &json!(1))
    );

    // Audited without the text.
    let details: Vec<Value> = sqlx::query_scalar(
        "select details from audit_log where action = 'floor.question_asked' order by id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(details.len(), 4);
    assert!(
        details.iter().all(|d| !d.to_string().contains("salt")),
        "{details:?}"
    );
    for action in ["floor.question_answered", "floor.question_dismissed"] {
        let n: i64 = sqlx::query_scalar("select count(*) from audit_log where action = $1")
            .bind(action)
            .fetch_one(&app.db)
            .await
            .unwrap();
        assert!(n >= 1, "{action}");
    }

    // Once the class is over and its retention period with it, the texts
    // go with the names, and the figures stay.
    let (status, _) = app.post_as(&c.path("/end"), &c.teacher, json!({})).await;
    assert_eq!(status, 200);
    let erased = estrade_app::retention::erase_expired(&app.db, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(erased.questions, 4);
    let (_, all) = app.get_as(&c.path("/questions"), &c.teacher).await;
    assert!(
        all["questions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["text"] == estrade_db::participants::ERASED_NAME),
        "{all}"
    );
    let (_, after) = app.get_as(&c.path("/report"), &c.teacher).await;
    assert_eq!(after["session"]["questions_asked"], 4);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn bad_questions_and_refused_ones_are_answered_with_a_clear_error_and_store_nothing(
    db: PgPool,
) {
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 2).await;
    let (ana, bea) = (&c.learners[0], &c.learners[1]);
    let long = "a".repeat(501);
    for text in [
        "",
        "   ",
        long.as_str(),
        "one\ntwo",
        "tab\there",
        "\u{202e}tlas",
    ] {
        let (status, body) = app
            .post_as(&c.path("/questions"), token(ana), ask(text))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("invalid_question")),
            "{text:?}: {body}"
        );
    }
    let (status, body) = app
        .post_as(
            &c.path("/questions"),
            token(ana),
            json!({"text": "ok", "html": true}),
        )
        .await;
    assert_eq!(status, 422, "unknown fields are refused: {body}");
    assert_eq!(question_rows(&app).await, 0);

    // The teacher is not a learner; a staff key is not a participant.
    let (status, _) = app
        .post_as(&c.path("/questions"), &c.teacher, ask("Me?"))
        .await;
    assert!(status == 401 || status == 403, "{status}");

    // A closed floor takes no question, and stores none.
    let closed = json!({"mode": "closed", "max_speakers": 1});
    let (status, _) = app
        .call(
            reqwest::Method::PUT,
            &c.path("/floor"),
            Some(&c.teacher),
            Some(closed),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .post_as(&c.path("/questions"), token(ana), ask("Now?"))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("floor_closed"))
    );
    assert_eq!(question_rows(&app).await, 0);
    let (status, _) = app
        .call(
            reqwest::Method::PUT,
            &c.path("/floor"),
            Some(&c.teacher),
            Some(moderated()),
        )
        .await;
    assert_eq!(status, 200);

    // Only the class's own teacher answers, and only its own questions.
    let (status, q) = app
        .post_as(&c.path("/questions"), token(bea), ask("Which oven?"))
        .await;
    assert_eq!(status, 201, "{q}");
    let qid = q["id"].as_str().unwrap();
    let admin = app.admin_key().await;
    let (status, body) = app
        .post_as(
            &c.path(&format!("/questions/{qid}/answer")),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("owner_only"))
    );
    let (status, _) = app
        .post_as(
            &c.path(&format!("/questions/{qid}/answer")),
            token(bea),
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    let other = app.class(moderated(), 0).await;
    let (status, _) = app
        .post_as(
            &other.path(&format!("/questions/{qid}/dismiss")),
            &other.teacher,
            json!({}),
        )
        .await;
    assert_eq!(status, 404, "another class's question");
    let unknown = uuid::Uuid::new_v4();
    let (status, _) = app
        .post_as(
            &c.path(&format!("/questions/{unknown}/dismiss")),
            &c.teacher,
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    let (_, all) = app.get_as(&c.path("/questions"), &c.teacher).await;
    assert_eq!(
        all["questions"][0]["status"], "waiting",
        "nothing refused changed it"
    );

    // A full floor refuses an answer with the floor, and the question waits.
    let (status, _) = app
        .post_as(
            &c.path("/floor/grant"),
            &c.teacher,
            json!({"participant_id": ana["participant_id"]}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .post_as(
            &c.path(&format!("/questions/{qid}/answer")),
            &c.teacher,
            json!({"floor": true}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("floor_full"))
    );
    let (_, floor) = app.get_as(&c.path("/floor"), token(bea)).await;
    assert_eq!(floor["position"], 1);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_participant_asks_at_most_five_questions_a_minute(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 2).await;
    let (ana, bea) = (&c.learners[0], &c.learners[1]);
    for i in 0..5 {
        let (status, body) = app
            .post_as(
                &c.path("/questions"),
                token(ana),
                ask(&format!("Question {i}")),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, _) = lower(&app, &c.path("/hand"), ana).await;
        assert_eq!(status, 200);
    }
    let res = app
        .client
        .post(app.url(&c.path("/questions")))
        .bearer_auth(token(ana))
        .json(&ask("One too many"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=12).contains(&wait), "{wait}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_questions");
    assert_eq!(question_rows(&app).await, 5);
    let (status, _) = app
        .post_as(&c.path("/questions"), token(bea), ask("Mine?"))
        .await;
    assert_eq!(status, 201, "another learner is not held back");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn question_events_reach_the_teacher_and_the_author_and_no_other_learner(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = app.class(moderated(), 2).await;
    let (ana, bea) = (&c.learners[0], &c.learners[1]);
    let base = app.url("");
    let mut teacher = SseStream::open(&base, c.id(), &c.teacher, None)
        .await
        .unwrap();
    let mut author = SseStream::open(&base, c.id(), token(bea), None)
        .await
        .unwrap();
    let mut other = SseStream::open(&base, c.id(), token(ana), None)
        .await
        .unwrap();
    for stream in [&mut teacher, &mut author, &mut other] {
        stream.expect("session", WAIT).await;
        stream.expect("floor", WAIT).await;
    }

    let (status, q) = app
        .post_as(&c.path("/questions"), token(bea), ask("How long to knead?"))
        .await;
    assert_eq!(status, 201, "{q}");
    let dismiss = c.path(&format!("/questions/{}/dismiss", q["id"].as_str().unwrap()));
    let (status, _) = app.post_as(&dismiss, &c.teacher, json!({})).await;
    assert_eq!(status, 200);
    // Then Ana raises her hand: her stream must show that floor change
    // right after Bea's two, with no question between.
    let (status, _) = app.post_as(&c.path("/hand"), token(ana), json!({})).await;
    assert_eq!(status, 200);

    for stream in [&mut teacher, &mut author] {
        assert_eq!(
            stream.expect("floor", WAIT).await.data["queue"][0]["kind"],
            "question"
        );
        let asked = stream.expect("question", WAIT).await;
        assert_eq!(
            (&asked.data["id"], &asked.data["status"]),
            (&q["id"], &json!("waiting"))
        );
        assert_eq!(asked.data["text"], "How long to knead?");
        stream.expect("floor", WAIT).await;
        let dismissed = stream.expect("question", WAIT).await;
        assert_eq!(dismissed.data["status"], "dismissed");
        assert_eq!(
            stream.expect("floor", WAIT).await.data["queue"][0]["kind"],
            "hand"
        );
    }
    other.expect("floor", WAIT).await;
    other.expect("floor", WAIT).await;
    let hand = other.expect("floor", WAIT).await;
    assert_eq!(
        hand.data["position"], 1,
        "Ana's own hand, with no question event before it"
    );
}
