//! The audit rule (docs/ARCHITECTURE.md): every use case that changes state
//! records exactly one audit entry, in its own transaction. Each
//! state-changing use case of `estrade_app` is run here once, straight
//! (the CLI's `create-key` included), and the entries it added are
//! counted. A use case that also moves the floor (a kick) folds the floor's
//! change into its one entry.

use estrade_app::floor;
use estrade_app::{Account, Deps, Error};
use estrade_core::domain::{AccountName, AccountRole, DisplayName, JoinCode, ParticipantKind};
use estrade_core::floor::Command;
use estrade_db::audit::Actor;
use estrade_db::sessions::NewSession;
use estrade_tests::TestApp;
use sqlx::PgPool;
use uuid::Uuid;

/// The actions of the audit entries after id `after`, oldest first, and
/// the last id.
async fn entries_after(db: &PgPool, after: i64) -> (Vec<String>, i64) {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("select id, action from audit_log where id > $1 order by id")
            .bind(after)
            .fetch_all(db)
            .await
            .unwrap();
    let last = rows.last().map_or(after, |(id, _)| *id);
    (rows.into_iter().map(|(_, a)| a).collect(), last)
}

/// Counts what each use case writes.
struct Ledger {
    db: PgPool,
    last: i64,
}

impl Ledger {
    /// Asserts that what ran since the last check wrote one entry, `action`.
    async fn one(&mut self, what: &str, action: &str) {
        let (actions, last) = entries_after(&self.db, self.last).await;
        self.last = last;
        assert_eq!(actions, [action], "{what} writes exactly one entry");
    }

    /// Asserts that nothing was written since the last check.
    async fn none(&mut self, what: &str) {
        let (actions, last) = entries_after(&self.db, self.last).await;
        self.last = last;
        assert!(actions.is_empty(), "{what} writes no entry: {actions:?}");
    }
}

async fn join(deps: &Deps, code: &str, name: &str) -> Uuid {
    let code = JoinCode::parse(code).unwrap();
    let name = DisplayName::parse(name).unwrap();
    let joiner = estrade_app::participants::Joiner {
        code,
        name,
        kind: ParticipantKind::Learner,
        headcount: None,
    };
    let (_, p) = estrade_app::participants::join(deps, joiner, Box::new(|_| Ok(())))
        .await
        .unwrap();
    p.id
}

async fn participant_command(deps: &Deps, session: Uuid, p: Uuid, command: Command) {
    floor::by_participant(deps, p, session, command)
        .await
        .unwrap();
}

async fn teacher_command(deps: &Deps, session: Uuid, teacher: &Account, command: Command) {
    floor::by_teacher(deps, teacher, session, None, command)
        .await
        .unwrap();
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn every_use_case_that_changes_state_writes_exactly_one_audit_entry(db: PgPool) {
    let app = TestApp::spawn(db.clone()).await;
    let deps = Deps::new(&app.config, db.clone()).unwrap();
    let mut ledger = Ledger {
        db: db.clone(),
        last: 0,
    };
    ledger.none("an empty database").await;

    // Accounts: the CLI's create-key (by Estrade itself), then an admin's.
    let it = AccountName::parse("IT desk").unwrap();
    let (admin_row, _) = estrade_app::accounts::create(&db, Actor::System, &it, AccountRole::Admin)
        .await
        .unwrap();
    ledger
        .one("estrade admin create-key", "account.created")
        .await;
    let admin = Account {
        id: admin_row.id,
        name: admin_row.name,
        role: AccountRole::Admin,
    };
    let chef = AccountName::parse("Chef").unwrap();
    let (teacher_row, _) =
        estrade_app::accounts::create(&db, admin.actor(), &chef, AccountRole::Teacher)
            .await
            .unwrap();
    ledger.one("accounts::create", "account.created").await;
    let teacher = Account {
        id: teacher_row.id,
        name: teacher_row.name,
        role: AccountRole::Teacher,
    };
    let (key_id, _) = estrade_app::accounts::create_key(&db, &admin, teacher.id)
        .await
        .unwrap();
    ledger.one("accounts::create_key", "api_key.created").await;
    estrade_app::accounts::revoke_key(&db, &admin, teacher.id, key_id)
        .await
        .unwrap();
    ledger.one("accounts::revoke_key", "api_key.revoked").await;

    // A session, from creation to its floor.
    let new = NewSession::with_defaults("Bread");
    let session = estrade_app::sessions::create(&deps, &teacher, &new)
        .await
        .unwrap();
    ledger.one("sessions::create", "session.created").await;
    let lock = estrade_app::sessions::Changes {
        locked: Some(true),
        ..Default::default()
    };
    estrade_app::sessions::update(&deps, &teacher, session.id, lock)
        .await
        .unwrap();
    ledger.one("sessions::update", "session.updated").await;
    let unchanged = estrade_app::sessions::Changes {
        locked: Some(true),
        ..Default::default()
    };
    estrade_app::sessions::update(&deps, &teacher, session.id, unchanged)
        .await
        .unwrap();
    ledger.none("sessions::update that changes nothing").await;
    let unlock = estrade_app::sessions::Changes {
        locked: Some(false),
        ..Default::default()
    };
    estrade_app::sessions::update(&deps, &teacher, session.id, unlock)
        .await
        .unwrap();
    ledger.one("sessions::update", "session.updated").await;
    estrade_app::sessions::start(&deps, &teacher, session.id)
        .await
        .unwrap();
    ledger.one("sessions::start", "session.started").await;
    estrade_app::sessions::teacher_token(&deps, &teacher, session.id, || Ok::<(), Error>(()))
        .await
        .unwrap();
    ledger
        .one("sessions::teacher_token", "participant.joined")
        .await;
    // An admin's observer token: one entry each time it is asked for.
    for _ in 0..2 {
        estrade_app::sessions::observer_token(&deps, &admin, session.id, || Ok::<(), Error>(()))
            .await
            .unwrap();
        ledger
            .one("sessions::observer_token", "observer.token")
            .await;
    }

    let ana = join(&deps, &session.join_code, "Ana").await;
    ledger.one("participants::join", "participant.joined").await;
    participant_command(&deps, session.id, ana, Command::Raise(ana)).await;
    ledger.one("floor: raise", "floor.hand_raised").await;
    participant_command(&deps, session.id, ana, Command::Lower(ana)).await;
    ledger.one("floor: lower", "floor.hand_lowered").await;
    participant_command(&deps, session.id, ana, Command::Raise(ana)).await;
    ledger.one("floor: raise", "floor.hand_raised").await;
    teacher_command(&deps, session.id, &teacher, Command::GrantNext).await;
    ledger.one("floor: grant", "floor.granted").await;
    teacher_command(&deps, session.id, &teacher, Command::Revoke(ana)).await;
    ledger.one("floor: revoke", "floor.revoked").await;
    // Typed questions go through the same ceremony.
    let q = estrade_app::questions::ask(&deps, ana, session.id, "Why rest the dough?")
        .await
        .unwrap();
    ledger.one("questions::ask", "floor.question_asked").await;
    estrade_app::questions::answer(&deps, &teacher, session.id, q.id, false)
        .await
        .unwrap();
    ledger
        .one("questions::answer", "floor.question_answered")
        .await;
    let q = estrade_app::questions::ask(&deps, ana, session.id, "And the oven?")
        .await
        .unwrap();
    ledger.one("questions::ask", "floor.question_asked").await;
    estrade_app::questions::dismiss(&deps, &teacher, session.id, q.id)
        .await
        .unwrap();
    ledger
        .one("questions::dismiss", "floor.question_dismissed")
        .await;
    // Polls: opened, answered, closed (closing again changes nothing).
    let choices = ["Yes".to_owned(), "No".to_owned()];
    let poll = estrade_app::polls::open(&deps, &teacher, session.id, "Ready?", &choices)
        .await
        .unwrap();
    ledger.one("polls::open", "poll.opened").await;
    estrade_app::polls::answer(&deps, ana, session.id, poll.id, 0)
        .await
        .unwrap();
    ledger.one("polls::answer", "poll.answered").await;
    estrade_app::polls::close(&deps, &teacher, session.id, poll.id, false)
        .await
        .unwrap();
    ledger.one("polls::close", "poll.closed").await;
    estrade_app::polls::close(&deps, &teacher, session.id, poll.id, false)
        .await
        .unwrap();
    ledger.none("polls::close of a closed poll").await;
    let configure = Command::Configure {
        mode: estrade_core::domain::FloorMode::Open,
        max_speakers: 2,
        time_limit: None,
    };
    teacher_command(&deps, session.id, &teacher, configure).await;
    ledger.one("floor: configure", "floor.configured").await;

    // A kick that also takes the floor: one entry, the floor's change in it.
    let ben = join(&deps, &session.join_code, "Ben").await;
    ledger.one("participants::join", "participant.joined").await;
    participant_command(&deps, session.id, ben, Command::Raise(ben)).await;
    ledger.one("floor: raise", "floor.hand_raised").await;
    estrade_app::participants::kick(&deps, &teacher, session.id, ben)
        .await
        .unwrap();
    ledger.one("participants::kick", "participant.kicked").await;
    let details: serde_json::Value = sqlx::query_scalar(
        "select details from audit_log where action = 'participant.kicked' and target_id = $1",
    )
    .bind(ben)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(details["floor_released"], true, "{details}");
    assert!(details["floor"]["floor_version"].is_i64(), "{details}");
    estrade_app::participants::kick(&deps, &teacher, session.id, ben)
        .await
        .unwrap();
    ledger.none("participants::kick repeated").await;

    estrade_app::sessions::end(&deps, &teacher, session.id)
        .await
        .unwrap();
    ledger.one("sessions::end", "session.ended").await;
    estrade_app::sessions::end(&deps, &teacher, session.id)
        .await
        .unwrap();
    ledger.none("sessions::end repeated").await;

    // An admin's export on request: one entry (its erasure comes after
    // the retention pass, which it would leave with nothing to do).
    estrade_app::privacy::export(&deps, &admin, session.id)
        .await
        .unwrap();
    ledger.one("privacy::export", "session.exported").await;

    // Retention, once the session is over: its names go, once.
    let now = std::time::Duration::ZERO;
    let erased = estrade_app::retention::erase_expired(&db, now)
        .await
        .unwrap();
    assert!(erased.names >= 2, "{erased:?}");
    ledger
        .one("retention::erase_expired", "retention.erased")
        .await;
    estrade_app::retention::erase_expired(&db, now)
        .await
        .unwrap();
    ledger
        .none("retention::erase_expired with nothing left")
        .await;
    // An erasure on request, even with nothing left: one entry.
    estrade_app::privacy::erase(&deps, &admin, session.id)
        .await
        .unwrap();
    ledger.one("privacy::erase", "session.erased").await;

    // Webhooks to the LMS: registered, a delivery sent again, removed.
    let events = ["session.ended".to_owned()];
    let registered =
        estrade_app::outbound::register(&deps, &admin, "https://lms.example.org/h", &events, "")
            .await
            .unwrap();
    ledger
        .one("outbound::register", "webhook_endpoint.registered")
        .await;
    let endpoint = registered.endpoint.id;
    let delivery: uuid::Uuid = sqlx::query_scalar(
        "insert into webhook_deliveries (endpoint_id, event, payload)
         values ($1, 'session.ended', '{}') returning id",
    )
    .bind(endpoint)
    .fetch_one(&db)
    .await
    .unwrap();
    estrade_app::outbound::retry(&deps, &admin, endpoint, delivery)
        .await
        .unwrap();
    ledger
        .one("outbound::retry", "webhook_delivery.retried")
        .await;
    estrade_app::outbound::remove(&deps, &admin, endpoint)
        .await
        .unwrap();
    ledger
        .one("outbound::remove", "webhook_endpoint.removed")
        .await;

    // Webhooks: a dead letter replayed.
    let body = br#"{"id": "EV_audit", "event": "room_started", "room": {"name": "x"}}"#;
    let envelope = estrade_core::webhook::Envelope::parse(body).unwrap();
    assert!(
        estrade_app::webhooks::accept(&deps, envelope)
            .await
            .unwrap()
    );
    ledger
        .none("webhooks::accept (LiveKit's record is the inbox)")
        .await;
    sqlx::query("update webhook_inbox set status = 'failed' where event_id = 'EV_audit'")
        .execute(&db)
        .await
        .unwrap();
    estrade_app::webhooks::replay(&deps, &admin, "EV_audit")
        .await
        .unwrap();
    ledger.one("webhooks::replay", "webhook.replayed").await;

    // The console, and an admin's reconciliation.
    let (key_id, key) = estrade_app::accounts::create_key(&db, &admin, teacher.id)
        .await
        .unwrap();
    ledger.one("accounts::create_key", "api_key.created").await;
    let hash = estrade_core::api_key::hash(key.expose());
    estrade_app::console::sign_in(&db, teacher.id, key_id, &hash, 600)
        .await
        .unwrap();
    ledger.one("console::sign_in", "console.signed_in").await;
    estrade_app::console::sign_out(&db, &hash).await.unwrap();
    ledger.one("console::sign_out", "console.signed_out").await;
    estrade_app::console::sign_out(&db, &hash).await.unwrap();
    ledger.none("console::sign_out repeated").await;
    let reconciler = estrade_app::reconcile::Reconciler {
        deps: deps.clone(),
        delete_orphan_rooms: false,
    };
    reconciler.run_for(&admin).await.unwrap();
    ledger
        .one("reconcile: a run an admin asked for", "reconcile.requested")
        .await;

    estrade_app::accounts::disable(&db, &admin, teacher.id)
        .await
        .unwrap();
    ledger.one("accounts::disable", "account.disabled").await;
}
