//! docs/PRIVACY.md stays the truth about what is stored: every column of
//! the schema that can hold text (text, arrays, JSON, bytes, addresses)
//! has its row in the page's "Columns" table, and every row there names a
//! column that exists. A new column is documented in the commit that adds
//! it, or this fails naming it.

use std::collections::BTreeSet;

use sqlx::PgPool;

/// The `table.column` rows of docs/PRIVACY.md's "Columns" table.
fn documented() -> BTreeSet<String> {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PRIVACY.md"))
        .expect("docs/PRIVACY.md");
    let columns = page
        .split("\n## ")
        .find(|section| section.starts_with("Columns"))
        .expect("a Columns section");
    columns
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(column, _)| column.to_owned())
        .collect()
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn every_column_that_can_hold_text_is_in_the_privacy_page_and_no_other(db: PgPool) {
    let stored: BTreeSet<String> = sqlx::query_scalar(
        "select table_name || '.' || column_name from information_schema.columns
          where table_schema = 'public' and table_name <> '_sqlx_migrations'
            and data_type in ('text', 'character varying', 'character', 'ARRAY', 'json',
                              'jsonb', 'bytea', 'inet', 'cidr', 'USER-DEFINED')",
    )
    .fetch_all(&db)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let documented = documented();
    assert!(
        stored.len() > 30,
        "the schema has its text columns: {stored:?}"
    );
    let missing: Vec<&String> = stored.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "columns with no row in docs/PRIVACY.md (say what they hold, whether it is personal, how it is erased): {missing:?}"
    );
    let stale: Vec<&String> = documented.difference(&stored).collect();
    assert!(
        stale.is_empty(),
        "docs/PRIVACY.md rows for columns that do not exist: {stale:?}"
    );
}

mod requests {
    use estrade_tests::{TestApp, token};
    use serde_json::{Value, json};
    use sqlx::PgPool;

    fn moderated() -> Value {
        json!({"mode": "moderated", "max_speakers": 1})
    }

    /// A class with two learners: Learner 0 raises a hand and is given
    /// the floor, Learner 1 asks a question; a yes/no poll both answer.
    async fn class_with_history(app: &TestApp) -> estrade_tests::Class {
        let c = app.class(moderated(), 2).await;
        let (ana, bea) = (&c.learners[0], &c.learners[1]);
        assert_eq!(
            app.post_as(&c.path("/hand"), token(ana), json!({})).await.0,
            200
        );
        let pid = ana["participant_id"].as_str().unwrap();
        let (status, _) = app
            .post_as(
                &c.path("/floor/grant"),
                &c.teacher,
                json!({"participant_id": pid}),
            )
            .await;
        assert_eq!(status, 200);
        let (status, _) = app
            .post_as(
                &c.path("/questions"),
                token(bea),
                json!({"text": "Why rest the dough?"}),
            )
            .await;
        assert_eq!(status, 201);
        let (status, poll) = app
            .post_as(
                &c.path("/polls"),
                &c.teacher,
                json!({"question": "Ready?", "choices": ["Yes", "No"]}),
            )
            .await;
        assert_eq!(status, 201, "{poll}");
        let answer = format!("/polls/{}/answer", poll["id"].as_str().unwrap());
        for (learner, choice) in [(ana, 0), (bea, 1)] {
            let (status, _) = app
                .post_as(&c.path(&answer), token(learner), json!({"choice": choice}))
                .await;
            assert_eq!(status, 200);
        }
        c
    }

    async fn texts(app: &TestApp, id: &str) -> (Vec<String>, Vec<String>, i64) {
        let names = sqlx::query_scalar(
            "select display_name from participants where session_id = $1::uuid
                and kind in ('learner', 'classroom') order by created_at",
        )
        .bind(id)
        .fetch_all(&app.db)
        .await
        .unwrap();
        let questions =
            sqlx::query_scalar("select text from questions where session_id = $1::uuid")
                .bind(id)
                .fetch_all(&app.db)
                .await
                .unwrap();
        let events =
            sqlx::query_scalar("select count(*) from session_events where session_id = $1::uuid")
                .bind(id)
                .fetch_one(&app.db)
                .await
                .unwrap();
        (names, questions, events)
    }

    #[sqlx::test(migrator = "estrade_db::MIGRATOR")]
    async fn an_admin_erases_an_ended_class_now_and_its_report_still_adds_up_with_nobody_named(
        db: PgPool,
    ) {
        let app = TestApp::spawn(db).await;
        let c = class_with_history(&app).await;
        let admin = app.admin_key().await;
        let erase = format!("/v1/admin/sessions/{}/erase", c.id());

        // While the class runs: refused, nothing touched.
        let before = texts(&app, c.id()).await;
        let (status, body) = app.post_as(&erase, &admin, json!({})).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("session_not_ended"))
        );
        assert_eq!(texts(&app, c.id()).await, before);

        assert_eq!(
            app.post_as(&c.path("/end"), &c.teacher, json!({})).await.0,
            200
        );
        let (_, report_before) = app.get_as(&c.path("/report"), &admin).await;
        // Only an admin erases.
        assert_eq!(app.post_as(&erase, &c.teacher, json!({})).await.0, 403);

        let (status, erased) = app.post_as(&erase, &admin, json!({})).await;
        assert_eq!(status, 200, "{erased}");
        assert_eq!(erased["participants_erased"], 2);
        assert_eq!(erased["questions_erased"], 1);
        assert!(erased["session_events_purged"].as_u64().unwrap() > 0);
        // Really gone from the rows, not hidden.
        let (names, questions, events) = texts(&app, c.id()).await;
        assert_eq!(names, ["(erased)", "(erased)"]);
        assert_eq!(questions, ["(erased)"]);
        assert_eq!(events, 0);
        let found: i64 = sqlx::query_scalar(
            "select (select count(*) from participants where display_name like 'Learner %')
                  + (select count(*) from questions where text like '%dough%')",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        assert_eq!(found, 0);

        // The report adds up as before; only the names changed.
        let (_, report_after) = app.get_as(&c.path("/report"), &admin).await;
        assert_eq!(report_after["session"], report_before["session"]);
        assert_eq!(report_after["timeline"], report_before["timeline"]);
        let figures = |r: &Value| -> Vec<(Value, Value, Value)> {
            r["participants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["hands_raised"].clone(),
                        p["questions_asked"].clone(),
                        p["polls_answered"].clone(),
                    )
                })
                .collect()
        };
        assert_eq!(figures(&report_after), figures(&report_before));
        assert!(
            report_after["participants"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["display_name"] == "(erased)")
        );

        // Again: nothing more to erase, and audited each time.
        let (_, again) = app.post_as(&erase, &admin, json!({})).await;
        assert_eq!(again["participants_erased"], 0);
        let audited: i64 =
            sqlx::query_scalar("select count(*) from audit_log where action = 'session.erased'")
                .fetch_one(&app.db)
                .await
                .unwrap();
        assert_eq!(audited, 2);
    }

    #[sqlx::test(migrator = "estrade_db::MIGRATOR")]
    async fn an_export_gives_an_admin_everything_stored_about_a_classs_participants(db: PgPool) {
        let app = TestApp::spawn(db).await;
        let c = class_with_history(&app).await;
        let admin = app.admin_key().await;
        let export = format!("/v1/admin/sessions/{}/export", c.id());
        assert_eq!(app.get_as(&export, &c.teacher).await.0, 403);
        assert_eq!(
            app.get_as(
                "/v1/admin/sessions/00000000-0000-0000-0000-000000000000/export",
                &admin
            )
            .await
            .0,
            404
        );

        let (status, e) = app.get_as(&export, &admin).await;
        assert_eq!(status, 200, "{e}");
        assert_eq!(e["session"]["id"], c.session["id"]);
        let names: Vec<&str> = e["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["display_name"].as_str().unwrap())
            .collect();
        // The teacher never took a publish token here: no row of its own.
        assert_eq!(names, ["Learner 0", "Learner 1"]);
        assert_eq!(e["questions"][0]["text"], "Why rest the dough?");
        assert_eq!(e["questions"][0]["name"], "Learner 1");
        let answers: Vec<(&str, &str)> = e["poll_answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["participant_id"].as_str().unwrap(),
                    a["choice"].as_str().unwrap(),
                )
            })
            .collect();
        let id = |i: usize| c.learners[i]["participant_id"].as_str().unwrap();
        assert_eq!(answers.len(), 2);
        assert!(
            answers.contains(&(id(0), "Yes")) && answers.contains(&(id(1), "No")),
            "{answers:?}"
        );
        let turns = e["turns"].as_array().unwrap();
        assert!(
            turns
                .iter()
                .any(|t| t["participant_id"] == id(0) && t["granted_at"].is_string())
        );
        assert!(
            turns
                .iter()
                .any(|t| t["participant_id"] == id(1) && t["question"] == true)
        );
        let audited: i64 =
            sqlx::query_scalar("select count(*) from audit_log where action = 'session.exported'")
                .fetch_one(&app.db)
                .await
                .unwrap();
        assert_eq!(audited, 1);
    }
}
