//! The schema: migrations apply to an empty database, re-running them is a
//! no-op, a landed migration is never edited, and the constraints carry the
//! invariants.

use sqlx::PgPool;

/// The SHA-384 of every migration on main, as sqlx records it in
/// `_sqlx_migrations.checksum`. A database migrated with a file refuses
/// `estrade migrate` once that file changes, so a landed migration is never
/// edited (migrations/README.md): a change is a new migration, whose
/// checksum is added here in the same commit.
const LANDED: &[(i64, &str)] = &[
    (
        1,
        "8ec483a61b71d2305372f6222ac6d6e18132d9f49a6fcc377ddf8a0d699e0b6ef75d49838801a9a40117f3e88993b8d6",
    ),
    (
        2,
        "d5d347495fe9968311b52d38b434ebe46a0715b85b977fb8598ee6dfa62700615a72c42f465779e7a84ed6ea1dd078b9",
    ),
    (
        3,
        "2ea94de182a971a0a6726c24a0a7abd38cecade1552a568c38a5671346224347dc8f8d84896bbb3bb36567f768a99018",
    ),
    (
        4,
        "78c308f7e7bc7df0338ecee39a7e2f969cdbf405b79a3cd09f4d9b6966d529ac8f490b32980795c857e7cf56383acf74",
    ),
    (
        5,
        "35f536fb1acb108e9ed3c015a52d5f1ea8d8c8e25c76b2070ec3cacb47dfea7aa95ea3d0af7036c7908cb407c391daf5",
    ),
    (
        6,
        "21c3915ef003a4d420a12ac56aae36028407ad4fc16233969abd924292a4e670d60abc3e2c2cd2f89e8a553ff286c36a",
    ),
    (
        7,
        "32daf7b5ebd88a5f1abce54a5c1a755561c0bc0cdfe5f5f20180d1052a84f9aee59e8ce9d28cba42b307bfe219d5a47a",
    ),
    (
        8,
        "6051b5cbd9379acddfe926b514896524991b429ab85a1d4359752591a59531d1d2720b0bbfb1bf56c37f1300dec075a9",
    ),
    (
        9,
        "78611aff68be9fc749887991adb61b28dc1267ef975ec2ee8c54351cff8478704dbb533fe8080aedd2ac1b2283b44f42",
    ),
    (
        10,
        "ed46bf7e77395a3abd193bac21bbd23bd840b7f785768a797c4f5071e50fcd76a24c3df4aed19c4fa924021c6d9161a8",
    ),
    (
        11,
        "d458467334ef54ae9523892339191f7d5de614945500badce3ec0cfe04fca80ad764e173fe945d3ec122c5add73c7496",
    ),
    (
        12,
        "0130d111190cc8de7055e8ed0b18c0fb69e513333628ead993c26dc2a20562c6b6813e4242bacfd8af44371d0163dfa1",
    ),
    (
        13,
        "14fdcab507d35eb036230d2ffd03d80076b99133b316dfffd45ee4d8dfb4fd8fa185584aaf1c8772a73ff5ede7a5ec06",
    ),
    (
        14,
        "e65641a70408f834a1174fbfac471f4b323c598f307e3ab7964162f4ad5e175795841abf562494dd3ab199a446fd50f5",
    ),
    (
        15,
        "9472c914576d6185c016e46cb64e1854b1ac8eb4c7bf3c66b9f062b56a693d346772062d4f3e083114b2d0805f81258c",
    ),
    (
        16,
        "49eb5cc7c6f8bbd2f5ea1bcb804164c4fecf4bcbf362bfc9c84e552ea97149d804a54dd3fa9a021a8e17d4b5151cfb3b",
    ),
];

#[test]
fn no_landed_migration_has_been_edited_and_every_migration_is_pinned() {
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    for migration in estrade_db::MIGRATOR.iter() {
        let pinned = LANDED
            .iter()
            .find(|(version, _)| *version == migration.version)
            .unwrap_or_else(|| {
                panic!(
                    "migration {} ({}) is not pinned: add ({}, \"{}\") to LANDED in tests/tests/migrations.rs",
                    migration.version,
                    migration.description,
                    migration.version,
                    hex(&migration.checksum)
                )
            });
        assert_eq!(
            hex(&migration.checksum),
            pinned.1,
            "migration {} ({}) changed after it landed: databases migrated with it would refuse `estrade migrate`. Restore it and add a new migration instead",
            migration.version,
            migration.description
        );
    }
    assert_eq!(
        LANDED.len(),
        estrade_db::MIGRATOR.iter().count(),
        "a pinned migration is missing from migrations/"
    );
}

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
            "poll_answers",
            "polls",
            "questions",
            "reconcile_reports",
            "session_events",
            "sessions",
            "webhook_attempts",
            "webhook_deliveries",
            "webhook_endpoints",
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
