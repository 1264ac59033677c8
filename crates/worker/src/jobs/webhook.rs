//! The webhook queue's job: apply one stored event (`estrade_app::webhooks`).

use std::sync::Arc;

use apalis::prelude::{BoxDynError, Data};
use estrade_app::Deps;
use estrade_app::queue::ApplyWebhook;
use estrade_db::webhooks::Via;

use crate::ConsumerHealth;

/// The apalis handler. Always `Ok`: failures are recorded in Postgres, and
/// if even that is impossible (Postgres down) the row stays pending and the
/// sweeper brings it back.
pub async fn handle(
    job: ApplyWebhook,
    deps: Data<Deps>,
    health: Data<Arc<ConsumerHealth>>,
) -> Result<(), BoxDynError> {
    health.handled_one();
    // The sweeper drains a backlog from the inbox, this event with it.
    if health.stands_aside() {
        return Ok(());
    }
    if let Err(error) = estrade_app::webhooks::apply(&deps, &job.event_id, Via::Queue).await {
        tracing::warn!(event.id = %job.event_id, %error, "webhook not applied; left pending");
    }
    Ok(())
}
