//! The query functions against a real, migrated database.

use std::time::Duration;

use estrade_core::api_key::{self, NewApiKey};
use estrade_core::domain::{AccountName, AccountRole};
use estrade_db::participants::ERASED_NAME;
use estrade_db::sessions::NewSession;
use sqlx::PgPool;

/// An account and its key, as `estrade_app::accounts::create` writes them.
async fn account_with_key(
    db: &PgPool,
    name: &AccountName,
    role: AccountRole,
    key: &NewApiKey,
) -> Result<estrade_db::accounts::Account, sqlx::Error> {
    let mut conn = db.acquire().await?;
    let account = estrade_db::accounts::insert(&mut conn, name, role).await?;
    estrade_db::accounts::insert_key(&mut conn, account.id, &key.display_prefix, &key.hash).await?;
    Ok(account)
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn an_account_is_created_with_its_key_stored_only_as_a_hash(db: PgPool) {
    let key = NewApiKey::generate();
    let name = AccountName::parse("Chef Anne").unwrap();
    let account = account_with_key(&db, &name, AccountRole::Teacher, &key)
        .await
        .unwrap();
    assert_eq!(account.role, AccountRole::Teacher);

    let (prefix, hash): (String, Vec<u8>) =
        sqlx::query_as("select prefix, key_hash from api_keys where account_id = $1")
            .bind(account.id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(hash, api_key::hash(key.expose()).to_vec());
    assert!(key.expose().starts_with(&prefix));
    assert!(prefix.len() < 20, "only a short prefix is kept in clear");
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_session_gets_a_six_digit_code_and_its_own_room(db: PgPool) {
    let key = NewApiKey::generate();
    let name = AccountName::parse("T").unwrap();
    let teacher = account_with_key(&db, &name, AccountRole::Teacher, &key)
        .await
        .unwrap();
    let mut conn = db.acquire().await.unwrap();
    let a =
        estrade_db::sessions::insert(&mut conn, teacher.id, &NewSession::with_defaults("Sauces"))
            .await
            .unwrap();
    let b =
        estrade_db::sessions::insert(&mut conn, teacher.id, &NewSession::with_defaults("Sauces"))
            .await
            .unwrap();
    assert_eq!(a.join_code.len(), 6);
    assert_ne!(a.room_name, b.room_name);
    assert_ne!(a.join_code, b.join_code);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn learner_names_and_live_update_logs_go_only_after_the_retention_period(db: PgPool) {
    let teacher: uuid::Uuid = sqlx::query_scalar(
        "insert into accounts (name, role) values ('T', 'teacher') returning id",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    // One session ended 40 days ago, one ended an hour ago.
    for (code, ended) in [("111111", "40 days"), ("222222", "1 hour")] {
        let session: uuid::Uuid = sqlx::query_scalar(
            "insert into sessions (teacher_id, title, room_name, join_code, status, started_at, ended_at)
             values ($1, 'C', 'room-' || $2, $2, 'ended', now() - $3::interval, now() - $3::interval)
             returning id",
        )
        .bind(teacher)
        .bind(code)
        .bind(ended)
        .fetch_one(&db)
        .await
        .unwrap();
        for (kind, identity) in [("learner", "l-"), ("teacher", "t-"), ("classroom", "c-")] {
            sqlx::query(
                "insert into participants (session_id, kind, identity, display_name) values ($1, $2, $3 || $4, 'Ana')",
            )
            .bind(session)
            .bind(kind)
            .bind(identity)
            .bind(format!("{code}00"))
            .execute(&db)
            .await
            .unwrap();
        }
        let mut conn = db.acquire().await.unwrap();
        let event = serde_json::json!({"name": "Ana", "presence": "left"});
        estrade_db::events::append(&mut conn, session, "presence", &event)
            .await
            .unwrap();
    }

    let events = estrade_db::events::purge_ended(&db, Duration::from_secs(30 * 86_400))
        .await
        .unwrap();
    assert_eq!(events, 1, "the log of the session ended 40 days ago");
    let left: Vec<String> = sqlx::query_scalar(
        "select s.join_code from session_events e join sessions s on s.id = e.session_id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(left, ["222222"]);

    let erased = estrade_db::participants::erase_names_after(&db, Duration::from_secs(30 * 86_400))
        .await
        .unwrap();

    assert_eq!(erased, 2);
    let names: Vec<(String, String)> =
        sqlx::query_as("select identity, display_name from participants order by identity")
            .fetch_all(&db)
            .await
            .unwrap();
    let erased_name = ERASED_NAME.to_owned();
    assert_eq!(
        names,
        [
            ("c-11111100".to_owned(), erased_name.clone()),
            ("c-22222200".to_owned(), "Ana".to_owned()),
            ("l-11111100".to_owned(), erased_name),
            ("l-22222200".to_owned(), "Ana".to_owned()),
            ("t-11111100".to_owned(), "Ana".to_owned()),
            ("t-22222200".to_owned(), "Ana".to_owned()),
        ]
    );
    // Running again changes nothing.
    let again = estrade_db::participants::erase_names_after(&db, Duration::from_secs(30 * 86_400))
        .await
        .unwrap();
    assert_eq!(again, 0);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn applied_webhooks_are_purged_after_the_retention_period_and_dead_letters_stay(db: PgPool) {
    for (id, status, age) in [
        ("EV_old_done", "processed", "40 days"),
        ("EV_new_done", "processed", "1 hour"),
        ("EV_old_dead", "failed", "40 days"),
        ("EV_old_pending", "pending", "40 days"),
    ] {
        sqlx::query(
            "insert into webhook_inbox (event_id, event_type, payload, status, received_at, processed_at)
             values ($1, 'participant_joined', '{}', $2, now() - $3::interval,
                     case when $2 = 'processed' then now() - $3::interval end)",
        )
        .bind(id)
        .bind(status)
        .bind(age)
        .execute(&db)
        .await
        .unwrap();
    }

    let purged = estrade_db::webhooks::purge_processed(&db, Duration::from_secs(30 * 86_400))
        .await
        .unwrap();

    assert_eq!(purged, 1);
    let left: Vec<String> =
        sqlx::query_scalar("select event_id from webhook_inbox order by event_id")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(left, ["EV_new_done", "EV_old_dead", "EV_old_pending"]);
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_stored_status_the_domain_does_not_know_fails_the_read_naming_it(db: PgPool) {
    let name = AccountName::parse("T").unwrap();
    let key = NewApiKey::generate();
    let teacher = account_with_key(&db, &name, AccountRole::Teacher, &key)
        .await
        .unwrap();
    let mut conn = db.acquire().await.unwrap();
    let session =
        estrade_db::sessions::insert(&mut conn, teacher.id, &NewSession::with_defaults("Sauces"))
            .await
            .unwrap();
    // Only a schema that drifted from the migrations can hold this: the
    // check constraints refuse it.
    let constraints: Vec<String> = sqlx::query_scalar(
        "select conname from pg_constraint
          where conrelid = 'sessions'::regclass and contype = 'c'
            and pg_get_constraintdef(oid) like '%status%'",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    for c in constraints {
        sqlx::query(&format!("alter table sessions drop constraint {c}"))
            .execute(&db)
            .await
            .unwrap();
    }
    sqlx::query("update sessions set status = 'paused' where id = $1")
        .bind(session.id)
        .execute(&db)
        .await
        .unwrap();

    let error = estrade_db::sessions::get(&db, session.id)
        .await
        .unwrap_err();
    let sqlx::Error::ColumnDecode { source, .. } = &error else {
        panic!("not a column decode error: {error:?}");
    };
    assert_eq!(
        source.downcast_ref::<estrade_core::domain::UnknownValue>(),
        Some(&estrade_core::domain::UnknownValue("paused".into())),
        "{error:?}"
    );
}
