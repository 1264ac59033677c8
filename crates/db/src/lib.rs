//! PostgreSQL access. The pool, the migrations and every query live here, as
//! small functions taking an executor or a transaction, checked at compile
//! time by sqlx's macros against `.sqlx/` (see `scripts/sqlx-prepare`).

pub mod accounts;
pub mod audit;
pub mod console;
pub mod events;
pub mod floor;
pub mod outbound;
pub mod participants;
pub mod polls;
pub mod questions;
pub mod reconcile;
pub mod sessions;
pub mod tracks;
pub mod webhooks;

use std::time::Duration;

use estrade_core::config::DatabaseConfig;
use secrecy::ExposeSecret;
use sqlx::postgres::PgPoolOptions;

pub use sqlx::PgPool;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Opens a pool. Connections are made lazily, so a process can start (and
/// report itself not ready) while PostgreSQL is still coming up.
pub fn connect_lazy(config: &DatabaseConfig) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        // A request waiting longer than this for a connection fails with
        // 503 instead of piling up.
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy(config.url.expose_secret())
}

/// Applies every pending migration. Safe to run again: applied ones are
/// skipped, and a changed migration is refused.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// A read-only transaction whose statements all see one snapshot
/// (repeatable read): for reads that must agree with each other.
pub async fn snapshot(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Checks that PostgreSQL answers a query.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!("select 1 as \"one!\"")
        .fetch_one(pool)
        .await
        .map(|_| ())
}
