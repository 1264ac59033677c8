//! The fairness report from real API calls: hands, grants and revokes made
//! through the API, the report's figures checked against the floor history
//! PostgreSQL stored for them, as JSON and as CSV, and who may read it.

use estrade_tests::{TestApp, token};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// Seconds each participant held the floor, from the stored turns.
async fn stored_talk_s(db: &PgPool, participant: &str) -> f64 {
    let id: Uuid = participant.parse().unwrap();
    sqlx::query_scalar::<_, f64>(
        "select coalesce(sum(extract(epoch from (ended_at - granted_at)) * 1000), 0)::float8
           from floor_turns where participant_id = $1 and granted_at is not null",
    )
    .bind(id)
    .fetch_one(db)
    .await
    .unwrap()
        / 1000.0
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn the_report_counts_what_the_class_did_and_agrees_with_the_stored_floor_history(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = app
        .class(json!({"mode": "moderated", "max_speakers": 1}), 3)
        .await;
    let id_of = |l: &Value| l["participant_id"].as_str().unwrap().to_owned();
    let (ana, bea, chloe) = (&c.learners[0], &c.learners[1], &c.learners[2]);

    // Ana and Bea raise their hands; Ana is granted, then revoked; Bea is
    // granted, then releases by lowering; Ana raises again and lowers
    // before anyone answers. Chloé never asks.
    for learner in [ana, bea] {
        let (status, body) = app
            .post_as(&c.path("/hand"), token(learner), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let grant = |who: &Value| json!({"participant_id": id_of(who)});
    let (status, body) = app
        .post_as(&c.path("/floor/grant"), &c.teacher, grant(ana))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post_as(&c.path("/floor/revoke"), &c.teacher, grant(ana))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post_as(&c.path("/floor/grant"), &c.teacher, grant(bea))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .call(
            reqwest::Method::DELETE,
            &c.path("/hand"),
            Some(token(bea)),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.post_as(&c.path("/hand"), token(ana), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .call(
            reqwest::Method::DELETE,
            &c.path("/hand"),
            Some(token(ana)),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.post_as(&c.path("/end"), &c.teacher, json!({})).await;
    assert_eq!(status, 200, "{body}");

    let (status, report) = app.get_as(&c.path("/report"), &c.teacher).await;
    assert_eq!(status, 200, "{report}");
    let people = report["participants"].as_array().unwrap();
    assert_eq!(people.len(), 3, "the three learners, not the teacher");
    let figures = |who: &Value| {
        people
            .iter()
            .find(|p| p["participant_id"] == who["participant_id"])
            .unwrap()
            .clone()
    };
    let (a, b, ch) = (figures(ana), figures(bea), figures(chloe));
    assert_eq!(
        (
            &a["hands_raised"],
            &a["times_granted"],
            &a["hands_unanswered"]
        ),
        (&json!(2), &json!(1), &json!(1))
    );
    assert_eq!(
        (
            &b["hands_raised"],
            &b["times_granted"],
            &b["hands_unanswered"]
        ),
        (&json!(1), &json!(1), &json!(0))
    );
    assert_eq!(
        (
            &ch["hands_raised"],
            &ch["times_granted"],
            &ch["talk_time_s"]
        ),
        (&json!(0), &json!(0), &json!(0.0))
    );
    assert_eq!(ch["longest_wait_s"], Value::Null);
    for (who, fig) in [(ana, &a), (bea, &b)] {
        let stored = stored_talk_s(&app.db, &id_of(who)).await;
        assert!(stored > 0.0);
        assert!(
            (fig["talk_time_s"].as_f64().unwrap() - stored).abs() < 0.0015,
            "{fig} vs {stored}"
        );
    }
    let s = &report["session"];
    assert_eq!(
        (&s["learners"], &s["distinct_speakers"]),
        (&json!(3), &json!(2))
    );
    assert_eq!(
        (&s["hands_raised"], &s["hands_unanswered"]),
        (&json!(3), &json!(1))
    );
    let shares = s["teacher_share"].as_f64().unwrap() + s["learner_share"].as_f64().unwrap();
    assert!((shares - 1.0).abs() < 0.0002, "{s}");
    assert!(
        s["talk_time_gini"].as_f64().unwrap() > 0.0,
        "Chloé never spoke: {s}"
    );
    let timeline: Vec<&Value> = report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["participant_id"])
        .collect();
    assert_eq!(timeline, [&ana["participant_id"], &bea["participant_id"]]);

    // The same rows as CSV.
    let res = app
        .client
        .get(app.url(&c.path("/report")))
        .bearer_auth(&c.teacher)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("participant_id,kind,display_name,headcount,hands_raised"));
    let ana_row = lines.iter().find(|l| l.starts_with(&id_of(ana))).unwrap();
    assert!(ana_row.contains(",learner,Learner 0,,2,1,"), "{ana_row}");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn only_the_teacher_and_admins_read_a_report(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = app
        .class(json!({"mode": "moderated", "max_speakers": 1}), 1)
        .await;
    let admin = app.admin_key().await;
    let (_, other) = app.teacher(&admin, "Other").await;
    let (status, body) = app.get_as(&c.path("/report"), &admin).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.get_as(&c.path("/report"), &other).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, body) = app.get_as(&c.path("/report"), token(&c.learners[0])).await;
    assert_eq!(status, 403, "{body}");
    let unknown = format!("/v1/sessions/{}/report", Uuid::new_v4());
    let (status, _) = app.get_as(&unknown, &c.teacher).await;
    assert_eq!(status, 404);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn once_names_are_erased_the_report_still_adds_up_without_them(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let c = app
        .class(json!({"mode": "moderated", "max_speakers": 1}), 2)
        .await;
    let ana = &c.learners[0];
    let (status, _) = app.post_as(&c.path("/hand"), token(ana), json!({})).await;
    assert_eq!(status, 200);
    let grant = json!({"participant_id": ana["participant_id"]});
    let (status, _) = app
        .post_as(&c.path("/floor/grant"), &c.teacher, grant)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.post_as(&c.path("/end"), &c.teacher, json!({})).await;
    assert_eq!(status, 200);
    let (_, before) = app.get_as(&c.path("/report"), &c.teacher).await;

    let erased = estrade_app::retention::erase_expired(&app.db, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(erased.names, 2);
    let (status, after) = app.get_as(&c.path("/report"), &c.teacher).await;
    assert_eq!(status, 200, "{after}");
    let names: Vec<&str> = after["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [estrade_db::participants::ERASED_NAME; 2]);
    assert!(!after.to_string().contains("Learner 0"), "{after}");
    // Every figure is as it was: only the names went.
    assert_eq!(after["session"], before["session"]);
    for (a, b) in after["participants"]
        .as_array()
        .unwrap()
        .iter()
        .zip(before["participants"].as_array().unwrap())
    {
        let mut b = b.clone();
        b["display_name"] = a["display_name"].clone();
        assert_eq!(a, &b);
    }
    assert_eq!(after["timeline"], before["timeline"]);
    assert_eq!(after["participants"][0]["times_granted"], 1);
}
