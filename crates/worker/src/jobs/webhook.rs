//! The webhook queue's job: apply one stored event, batched with the
//! others of its room waiting now (`estrade_app::webhooks::Appliers`).

use std::sync::Arc;

use apalis::prelude::{BoxDynError, Data};
use estrade_app::queue::ApplyWebhook;
use estrade_app::webhooks::Appliers;

use crate::ConsumerHealth;

/// The apalis handler. Always `Ok`: failures are recorded in Postgres, and
/// if even that is impossible (Postgres down) the row stays pending and the
/// sweeper brings it back.
pub async fn handle(
    job: ApplyWebhook,
    appliers: Data<Appliers>,
    health: Data<Arc<ConsumerHealth>>,
) -> Result<(), BoxDynError> {
    health.handled_one();
    // The sweeper drains a backlog from the inbox, this event with it.
    if health.stands_aside() {
        return Ok(());
    }
    appliers.apply(job.event_id, job.room.as_deref()).await;
    Ok(())
}
