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

/// One entry. `details` must never hold secrets or learner names.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// Who.
    pub actor: Actor,
    /// What, dotted: `session.started`, `participant.kicked`.
    pub action: &'a str,
    /// The session concerned, if any.
    pub session_id: Option<Uuid>,
    /// The object acted on (account, participant…), if any.
    pub target_id: Option<Uuid>,
    /// Structured extra facts.
    pub details: Value,
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
