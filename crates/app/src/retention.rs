//! Erasing learner data once its retention period is over.
//!
//! Why: learners are anonymous, but the display name they type is personal
//! data, and so is the text of a typed question. Once a session has been
//! over for the retention period, names of learners and classrooms and the
//! texts of questions are replaced, while the rows (and so the floor
//! history and audit trail, which refer to ids) stay. Applied webhook
//! events older than the period are deleted too (their payloads carry
//! identities, never names: the API strips names before storing), and so
//! are the live-update logs of those sessions (their floor and presence
//! events carry names) and the finished webhooks to the LMS with their
//! attempts (ids and times only, but no use once that old). Safe to run twice, on any number of workers at
//! once: it only ever overwrites a name or a text with the same
//! placeholder.

use std::time::Duration;

use estrade_db::audit::{self, Actor, Entry};
use serde_json::json;
use sqlx::PgPool;

use crate::Error;

/// What one pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// Participants whose name was erased.
    pub names: u64,
    /// Questions whose text was erased.
    pub questions: u64,
    /// Applied webhook events deleted.
    pub webhooks: u64,
    /// Live-update events deleted.
    pub session_events: u64,
    /// Finished webhooks to the LMS deleted, with their attempts.
    pub deliveries: u64,
}

/// Removes what has outlived `period`, in one transaction with one audit
/// entry (`retention.erased`, by Estrade itself) when anything went.
pub async fn erase_expired(db: &PgPool, period: Duration) -> Result<Erased, Error> {
    let mut tx = db.begin().await?;
    let erased = Erased {
        names: estrade_db::participants::erase_names_after(&mut *tx, period).await?,
        questions: estrade_db::questions::erase_after(&mut *tx, period).await?,
        webhooks: estrade_db::webhooks::purge_processed(&mut *tx, period).await?,
        session_events: estrade_db::events::purge_ended(&mut *tx, period).await?,
        deliveries: estrade_db::outbound::purge_finished(&mut *tx, period).await?,
    };
    if erased != Erased::default() {
        let entry = Entry::new(Actor::System, "retention.erased").details(json!({
            "participants_erased": erased.names,
            "questions_erased": erased.questions,
            "webhooks_purged": erased.webhooks,
            "session_events_purged": erased.session_events,
            "deliveries_purged": erased.deliveries,
            "retention_s": period.as_secs(),
        }));
        audit::record(&mut tx, entry).await?;
    }
    tx.commit().await?;
    Ok(erased)
}
