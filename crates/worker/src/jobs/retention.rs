//! The hourly job that erases learner data past its retention period
//! (`estrade_app::retention`).

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
    let erased = estrade_app::retention::erase_expired(&db, period).await?;
    if erased != estrade_app::retention::Erased::default() {
        tracing::info!(
            participants.erased = erased.names,
            webhooks.purged = erased.webhooks,
            session_events.purged = erased.session_events,
            outbound.purged = erased.deliveries,
            "learner data and applied webhooks past retention removed"
        );
    }
    Ok(())
}
