//! Group commit (docs/PERFORMANCE.md): joins that arrive together are
//! admitted in one transaction, and each gets exactly the answer it would
//! have had alone. The batch here is formed on purpose
//! (`participants::join_together`, what the batcher calls), so that it
//! certainly mixes admitted and refused joins.

use estrade_app::participants::{Admit, Joiner, join_together};
use estrade_app::{Account, Deps, Error};
use estrade_core::domain::{AccountName, AccountRole, DisplayName, JoinCode, ParticipantKind};
use estrade_db::audit::Actor;
use estrade_db::sessions::NewSession;
use estrade_tests::TestApp;
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

fn learner(code: &str, name: &str) -> Joiner {
    Joiner {
        code: JoinCode::parse(code).unwrap(),
        name: DisplayName::parse(name).unwrap(),
        kind: ParticipantKind::Learner,
        headcount: None,
    }
}

fn let_in() -> Admit {
    Box::new(|_| Ok(()))
}

async fn session(deps: &Deps, teacher: &Account, seats: i32) -> (Uuid, String) {
    let new = NewSession {
        max_learners: seats,
        ..NewSession::with_defaults("Soup")
    };
    let session = estrade_app::sessions::create(deps, teacher, &new)
        .await
        .unwrap();
    (session.id, session.join_code)
}

async fn count(db: &PgPool, sql: &str, session: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(session)
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_batch_that_mixes_admitted_and_refused_joins_answers_each_as_if_it_were_alone(
    db: PgPool,
) {
    let app = TestApp::spawn(db.clone()).await;
    let deps = Deps::new(&app.config, db.clone()).unwrap();
    let name = AccountName::parse("Chef").unwrap();
    let (row, _) = estrade_app::accounts::create(&db, Actor::System, &name, AccountRole::Teacher)
        .await
        .unwrap();
    let teacher = Account {
        id: row.id,
        name: row.name,
        role: AccountRole::Teacher,
    };
    // Two seats; one taken before the batch.
    let (small, small_code) = session(&deps, &teacher, 2).await;
    estrade_app::sessions::start(&deps, &teacher, small)
        .await
        .unwrap();
    let (_, early) = join_together(&deps, vec![(learner(&small_code, "Early"), let_in())])
        .await
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    let (big, big_code) = session(&deps, &teacher, 30).await;
    estrade_app::sessions::start(&deps, &teacher, big)
        .await
        .unwrap();
    let (locked, locked_code) = session(&deps, &teacher, 30).await;
    estrade_app::sessions::start(&deps, &teacher, locked)
        .await
        .unwrap();
    let lock = estrade_app::sessions::Changes {
        locked: Some(true),
        ..Default::default()
    };
    estrade_app::sessions::update(&deps, &teacher, locked, lock)
        .await
        .unwrap();
    let (_, scheduled_code) = session(&deps, &teacher, 30).await;
    let (ended, ended_code) = session(&deps, &teacher, 30).await;
    estrade_app::sessions::start(&deps, &teacher, ended)
        .await
        .unwrap();
    estrade_app::sessions::end(&deps, &teacher, ended)
        .await
        .unwrap();
    let unknown = if small_code == "000000" {
        "000001"
    } else {
        "000000"
    };

    let classroom = Joiner {
        kind: ParticipantKind::Classroom,
        headcount: Some(24),
        ..learner(&big_code, "Room 12")
    };
    let rate_limited: Admit = Box::new(|seats| {
        assert_eq!(seats, 2, "the caller is told the session's seat limit");
        Err(Error::TooManyJoins {
            retry_after: Duration::from_secs(7),
        })
    });
    let answers = join_together(
        &deps,
        vec![
            (learner(&small_code, "Refused by its rate"), rate_limited),
            (learner(&small_code, "Last seat"), let_in()),
            (learner(&big_code, "Ana"), let_in()),
            (learner(&small_code, "One too many"), let_in()),
            (learner(&locked_code, "Too late"), let_in()),
            (learner(&scheduled_code, "Too early"), let_in()),
            (learner(&ended_code, "After the end"), let_in()),
            (learner(unknown, "Wrong digits"), let_in()),
            (classroom, let_in()),
        ],
    )
    .await;
    let shapes: Vec<String> = answers
        .iter()
        .map(|a| match a {
            Ok((s, p)) => format!("joined {} as {}", s.join_code, p.display_name),
            Err(e) => format!("refused: {e:?}"),
        })
        .collect();
    assert_eq!(
        shapes,
        [
            "refused: TooManyJoins { retry_after: 7s }".to_owned(),
            format!("joined {small_code} as Last seat"),
            format!("joined {big_code} as Ana"),
            "refused: Full".to_owned(),
            "refused: Locked".to_owned(),
            "refused: NotStarted".to_owned(),
            "refused: NoSuchCode { ended: true }".to_owned(),
            "refused: NoSuchCode { ended: false }".to_owned(),
            format!("joined {big_code} as Room 12"),
        ]
    );
    let Ok((_, room)) = &answers[8] else {
        unreachable!()
    };
    assert_eq!(
        (room.kind, room.headcount),
        (ParticipantKind::Classroom, Some(24))
    );
    assert!(room.identity.starts_with("c-"));

    // What was committed: the rows each admitted join returned, one audit
    // entry each, and nothing for the refused.
    let learners = "select count(*) from participants where session_id = $1 and kind <> 'teacher'";
    let joined =
        "select count(*) from audit_log where session_id = $1 and action = 'participant.joined'";
    assert_eq!(count(&db, learners, small).await, 2);
    assert_eq!(count(&db, joined, small).await, 2);
    assert_eq!(count(&db, learners, big).await, 2);
    assert_eq!(count(&db, joined, big).await, 2);
    assert_eq!(count(&db, learners, locked).await, 0);
    for answer in answers.iter().flatten() {
        let (session, p) = answer;
        let stored = estrade_db::participants::get(&db, p.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (stored.session_id, stored.identity.as_str()),
            (session.id, p.identity.as_str())
        );
        assert_ne!(p.id, early.id);
    }
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_batch_that_admits_nobody_writes_nothing(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    let deps = Deps::new(&app.config, db.clone()).unwrap();
    let before: i64 = sqlx::query_scalar("select count(*) from audit_log")
        .fetch_one(&db)
        .await
        .unwrap();
    let answers = join_together(
        &deps,
        vec![
            (learner("123456", "Nobody"), let_in()),
            (learner("654321", "Nobody either"), let_in()),
        ],
    )
    .await;
    assert!(
        answers
            .iter()
            .all(|a| matches!(a, Err(Error::NoSuchCode { ended: false })))
    );
    let after: i64 = sqlx::query_scalar("select count(*) from audit_log")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(after, before);
}

fn event(id: &str, room: &str) -> estrade_core::webhook::Envelope {
    let body =
        format!(r#"{{"id": "{id}", "event": "room_started", "room": {{"name": "{room}"}}}}"#);
    estrade_core::webhook::Envelope::parse(body.as_bytes()).unwrap()
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn a_batch_of_webhooks_stores_each_new_id_once_and_says_which_were_new(db: PgPool) {
    assert!(
        estrade_db::webhooks::insert(&db, &event("EV_old", "a"))
            .await
            .unwrap()
    );
    let batch = [
        event("EV_a", "first"),
        event("EV_old", "again"),
        event("EV_b", "b"),
        event("EV_a", "second"),
    ];
    let new = estrade_db::webhooks::insert_all(&db, &batch).await.unwrap();
    assert_eq!(new, [true, false, true, false]);
    let rooms: Vec<(String, String)> =
        sqlx::query_as("select event_id, room_name from webhook_inbox order by event_id")
            .fetch_all(&db)
            .await
            .unwrap();
    let expected = [("EV_a", "first"), ("EV_b", "b"), ("EV_old", "a")]
        .map(|(id, room)| (id.to_owned(), room.to_owned()));
    assert_eq!(rooms, expected, "the first occurrence is the one stored");
}
