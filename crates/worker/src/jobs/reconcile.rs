//! The scheduled reconciliation run (`ESTRADE_RECONCILE_EVERY_S`). Every
//! worker schedules it; the run's advisory lock lets one through at a time,
//! and the others skip that tick.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;

use estrade_app::reconcile::{Reconciler, RunError};

/// The job, as apalis calls it on each tick.
pub async fn scheduled(_tick: Tick, reconciler: Data<Reconciler>) -> Result<(), BoxDynError> {
    match reconciler.run_once("schedule").await {
        Ok(_) => Ok(()),
        Err(RunError::Busy) => {
            tracing::debug!("reconciliation already running elsewhere; tick skipped");
            Ok(())
        }
        Err(RunError::Database(error)) => {
            tracing::warn!(%error, "reconciliation could not run");
            Ok(())
        }
    }
}
