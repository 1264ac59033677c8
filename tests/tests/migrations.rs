//! The schema: migrations apply to an empty database, re-running them is a
//! no-op, and the constraints carry the invariants.

use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn migrations_apply_to_an_empty_database_and_are_idempotent(db: PgPool) {
    estrade_db::migrate(&db).await.expect("first run");
    estrade_db::migrate(&db)
        .await
        .expect("second run is a no-op");

    let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations where success")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(applied as usize, estrade_db::MIGRATOR.iter().count());
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables
          where table_schema = 'public' and table_name <> '_sqlx_migrations' order by 1",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            "accounts",
            "api_keys",
            "audit_log",
            "console_sessions",
            "floor_repairs",
            "floor_turns",
            "participant_tracks",
            "participants",
            "reconcile_reports",
            "session_events",
            "sessions",
            "webhook_inbox"
        ]
    );
}

async fn teacher(db: &PgPool) -> uuid::Uuid {
    sqlx::query_scalar("insert into accounts (name, role) values ('T', 'teacher') returning id")
        .fetch_one(db)
        .await
        .unwrap()
}

async fn session_with_code(
    db: &PgPool,
    teacher: uuid::Uuid,
    code: &str,
) -> Result<uuid::Uuid, sqlx::Error> {
    let id = uuid::Uuid::new_v4();
    sqlx::query_scalar(
        "insert into sessions (id, teacher_id, title, room_name, join_code) values ($1, $2, 'Class', $3, $4) returning id",
    )
    .bind(id)
    .bind(teacher)
    .bind(format!("room-{id}"))
    .bind(code)
    .fetch_one(db)
    .await
}

fn constraint(e: sqlx::Error) -> String {
    e.as_database_error()
        .and_then(|d| d.constraint())
        .unwrap_or("")
        .to_owned()
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_join_code_is_unique_among_sessions_not_ended_and_free_again_after(db: PgPool) {
    let t = teacher(&db).await;
    let first = session_with_code(&db, t, "123456").await.unwrap();

    let clash = session_with_code(&db, t, "123456").await.unwrap_err();
    assert_eq!(constraint(clash), "sessions_join_code_not_ended");

    sqlx::query("update sessions set status = 'ended', ended_at = now() where id = $1")
        .bind(first)
        .execute(&db)
        .await
        .unwrap();
    session_with_code(&db, t, "123456")
        .await
        .expect("the code is free once its session ended");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_participant_has_at_most_one_open_hand_or_turn(db: PgPool) {
    let t = teacher(&db).await;
    let s = session_with_code(&db, t, "654321").await.unwrap();
    let p: uuid::Uuid = sqlx::query_scalar(
        "insert into participants (session_id, kind, identity, display_name) values ($1, 'learner', 'l-abcdef12', 'Ana') returning id",
    )
    .bind(s)
    .fetch_one(&db)
    .await
    .unwrap();
    let raise = "insert into floor_turns (session_id, participant_id, state, raised_at) values ($1, $2, 'queued', now())";
    sqlx::query(raise)
        .bind(s)
        .bind(p)
        .execute(&db)
        .await
        .unwrap();

    let twice = sqlx::query(raise)
        .bind(s)
        .bind(p)
        .execute(&db)
        .await
        .unwrap_err();
    assert_eq!(constraint(twice), "floor_turns_one_open_per_participant");

    let speaking_too = sqlx::query(
        "insert into floor_turns (session_id, participant_id, state, granted_at) values ($1, $2, 'speaking', now())",
    )
    .bind(s)
    .bind(p)
    .execute(&db)
    .await
    .unwrap_err();
    assert_eq!(
        constraint(speaking_too),
        "floor_turns_one_open_per_participant"
    );
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn the_audit_log_refuses_updates_and_deletes(db: PgPool) {
    sqlx::query("insert into audit_log (actor_kind, action) values ('system', 'test.entry')")
        .execute(&db)
        .await
        .unwrap();
    let update = sqlx::query("update audit_log set action = 'x.y'")
        .execute(&db)
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("delete from audit_log").execute(&db).await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    let count: i64 = sqlx::query_scalar("select count(*) from audit_log")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(count, 1);
}
