//! `GET /v1/admin/audit`: what happened, newest first, for IT staff only,
//! filtered by session, actor and action, a page at a time, with bad
//! filters refused in a sentence.

use estrade_tests::TestApp;
use serde_json::{Value, json};
use sqlx::PgPool;

fn actions(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn admins_read_the_audit_newest_first_filtered_and_paged_and_nobody_else_does(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_key().await;
    let (teacher_id, teacher) = app.teacher(&admin, "Chef").await;
    let session = app.live_session(&teacher, json!({"title": "Bread"})).await;
    let id = session["id"].as_str().unwrap();
    let (_, joined) = app
        .join(session["join_code"].as_str().unwrap(), "Ana")
        .await;
    let pid = joined["participant_id"].as_str().unwrap();
    let (status, _) = app
        .post_as(
            &format!("/v1/sessions/{id}/hand"),
            joined["participant_token"].as_str().unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let kick = format!("/v1/sessions/{id}/participants/{pid}/kick");
    assert_eq!(app.post_as(&kick, &teacher, json!({})).await.0, 200);

    // This session's entries, newest first: the kick last done comes first.
    let (status, page) = app
        .get_as(&format!("/v1/admin/audit?session_id={id}"), &admin)
        .await;
    assert_eq!(status, 200, "{page}");
    let all = actions(&page);
    assert_eq!(
        all.first().map(String::as_str),
        Some("participant.kicked"),
        "{all:?}"
    );
    assert!(all.contains(&"session.started".to_owned()), "{all:?}");
    let kicked = &page["entries"][0];
    assert_eq!(
        kicked["actor"],
        json!({"kind": "account", "id": teacher_id})
    );
    assert_eq!(kicked["target_id"], pid);
    assert!(
        !page.to_string().contains("Ana"),
        "no learner's name in the audit"
    );
    let ids: Vec<i64> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    // By actor, by action, by family.
    let (_, by_teacher) = app
        .get_as(&format!("/v1/admin/audit?actor_id={teacher_id}"), &admin)
        .await;
    assert!(
        by_teacher["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"]["id"] == teacher_id.as_str())
    );
    let (_, kicks) = app
        .get_as("/v1/admin/audit?action=participant.kicked", &admin)
        .await;
    assert_eq!(actions(&kicks), ["participant.kicked"]);
    let (_, family) = app.get_as("/v1/admin/audit?action=session.", &admin).await;
    assert!(!actions(&family).is_empty());
    assert!(actions(&family).iter().all(|a| a.starts_with("session.")));

    // Pages of one entry walk the whole list once, then stop.
    let mut walked = Vec::new();
    let mut path = format!("/v1/admin/audit?session_id={id}&limit=1");
    loop {
        let (status, page) = app.get_as(&path, &admin).await;
        assert_eq!(status, 200, "{page}");
        walked.extend(actions(&page));
        match page["next_before"].as_str() {
            Some(next) => path = format!("/v1/admin/audit?session_id={id}&limit=1&before={next}"),
            None => break,
        }
        assert!(walked.len() <= all.len(), "paging ends");
    }
    assert_eq!(walked, all);

    // Bad filters are refused in a sentence; teachers and participants are refused.
    for query in [
        "limit=0",
        "limit=501",
        "limit=ten",
        "session_id=nope",
        "actor_id=1",
        "before=-3",
        "action=DROP%20TABLE",
        "action=.",
    ] {
        let (status, body) = app
            .get_as(&format!("/v1/admin/audit?{query}"), &admin)
            .await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (422, &json!("invalid_query")),
            "{query}"
        );
        assert!(body["error"]["message"].as_str().unwrap().len() > 10);
    }
    assert_eq!(app.get_as("/v1/admin/audit", &teacher).await.0, 403);
    let (status, _) = app
        .call(reqwest::Method::GET, "/v1/admin/audit", None, None)
        .await;
    assert_eq!(status, 401);
}
