//! Erases learner data once its retention period is over.
//!
//! Why: learners are anonymous, but the display name they type is personal
//! data. Once a session has been over for the retention period, names of
//! learners and classrooms are replaced, while the rows (and so the floor
//! history and audit trail, which refer to ids) stay. Safe to run twice, on
//! any number of workers at once: it only ever overwrites a name with the
//! same placeholder. Applied webhook events older than the retention period
//! are deleted too (their payloads carry identities, never names: the API
//! strips names before storing), and so are the live-update logs of those
//! sessions (their floor and presence events carry names).

use std::time::Duration;

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use sqlx::PgPool;

/// How long learner data is kept after its session ends.
#[derive(Debug, Clone, Copy)]
pub struct Retention(pub Duration);

/// The job, as apalis calls it on each tick.
pub async fn erase_expired_learner_data(
    _tick: Tick,
    db: Data<PgPool>,
    retention: Data<Retention>,
) -> Result<(), BoxDynError> {
    let Retention(period) = *retention;
    let erased = estrade_db::participants::erase_names_after(&*db, period).await?;
    let purged = estrade_db::webhooks::purge_processed(&*db, period).await?;
    let events = estrade_db::events::purge_ended(&*db, period).await?;
    if erased > 0 || purged > 0 || events > 0 {
        tracing::info!(
            participants.erased = erased,
            webhooks.purged = purged,
            session_events.purged = events,
            "learner data and applied webhooks past retention removed"
        );
    }
    Ok(())
}
