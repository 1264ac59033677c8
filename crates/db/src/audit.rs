//! The append-only audit log. Entries are written in the transaction of
//! the change they describe, so one never exists without the other.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// Who did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// An admin or teacher account.
    Account(Uuid),
    /// A participant (through its participant token).
    Participant(Uuid),
    /// Estrade itself (jobs, reconciliation).
    System,
    /// LiveKit (through a webhook).
    LiveKit,
}

impl Actor {
    fn parts(self) -> (&'static str, Option<Uuid>) {
        match self {
            Self::Account(id) => ("account", Some(id)),
            Self::Participant(id) => ("participant", Some(id)),
            Self::System => ("system", None),
            Self::LiveKit => ("livekit", None),
        }
    }
}

/// One entry, made with [`Entry::new`]. `details` must never hold secrets
/// or learner names.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// Who.
    actor: Actor,
    /// What, dotted: `session.started`, `participant.kicked`.
    action: &'a str,
    /// The session concerned, if any.
    session_id: Option<Uuid>,
    /// The object acted on (account, participant…), if any.
    target_id: Option<Uuid>,
    /// Structured extra facts.
    details: Value,
}

impl<'a> Entry<'a> {
    /// An entry of `actor` doing `action`, about nothing more yet: the one
    /// way entries are made.
    pub fn new(actor: Actor, action: &'a str) -> Self {
        Self {
            actor,
            action,
            session_id: None,
            target_id: None,
            details: Value::Object(serde_json::Map::new()),
        }
    }

    /// About session `id`.
    #[must_use]
    pub fn session(mut self, id: Uuid) -> Self {
        self.session_id = Some(id);
        self
    }

    /// Acting on `id` (an account, a participant, a sign-in…), if any.
    #[must_use]
    pub fn target(mut self, id: impl Into<Option<Uuid>>) -> Self {
        self.target_id = id.into();
        self
    }

    /// With these facts (never secrets or learner names).
    #[must_use]
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// Appends an entry.
pub async fn record(conn: &mut PgConnection, entry: Entry<'_>) -> Result<(), sqlx::Error> {
    let (kind, actor_id) = entry.actor.parts();
    sqlx::query!(
        "insert into audit_log (actor_kind, actor_id, action, session_id, target_id, details)
         values ($1, $2, $3, $4, $5, $6)",
        kind,
        actor_id,
        entry.action,
        entry.session_id,
        entry.target_id,
        entry.details,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An entry as stored.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Increases with every entry: the page cursor.
    pub id: i64,
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
    /// `account`, `participant`, `system` or `livekit`.
    pub actor_kind: String,
    /// The account or participant, for those kinds.
    pub actor_id: Option<Uuid>,
    /// What, dotted.
    pub action: String,
    /// The session concerned, if any.
    pub session_id: Option<Uuid>,
    /// The object acted on, if any.
    pub target_id: Option<Uuid>,
    /// Structured extra facts (never secrets or names).
    pub details: Value,
}

/// What to list: every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only entries about this session.
    pub session_id: Option<Uuid>,
    /// Only entries by this account or participant.
    pub actor_id: Option<Uuid>,
    /// Only this action (`participant.kicked`), or, ending with a dot,
    /// this family (`floor.`).
    pub action: Option<String>,
    /// Only entries older than this id (the previous page's last).
    pub before_id: Option<i64>,
}

/// Entries matching `filter`, newest first, at most `limit`.
pub async fn list(
    db: impl sqlx::PgExecutor<'_>,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<Stored>, sqlx::Error> {
    let (exact, family) = match filter.action.as_deref() {
        Some(a) if a.ends_with('.') => (None, Some(a)),
        other => (other, None),
    };
    sqlx::query_as!(
        Stored,
        "select id, at, actor_kind, actor_id, action, session_id, target_id, details
           from audit_log
          where ($1::uuid is null or session_id = $1)
            and ($2::uuid is null or actor_id = $2)
            and ($3::text is null or action = $3)
            and ($4::text is null or starts_with(action, $4))
            and ($5::bigint is null or id < $5)
          order by id desc
          limit $6",
        filter.session_id,
        filter.actor_id,
        exact,
        family,
        filter.before_id,
        limit,
    )
    .fetch_all(db)
    .await
}
