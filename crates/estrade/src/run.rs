//! What each subcommand does once configured: build the shared pieces from
//! the configuration and hand them the shutdown signal.

use anyhow::Context as _;
use estrade_api::AppState;
use estrade_core::api_key::NewApiKey;
use estrade_core::config::{Config, DatabaseConfig};
use estrade_core::domain::{AccountName, AccountRole};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// `estrade migrate`.
pub async fn migrate(db: &DatabaseConfig) -> anyhow::Result<()> {
    let pool = estrade_db::connect_lazy(db)?;
    estrade_db::migrate(&pool)
        .await
        .context("applying migrations")?;
    tracing::info!("migrations applied");
    Ok(())
}

/// `estrade admin create-key`: a new account and its key.
pub async fn create_key(
    db: &DatabaseConfig,
    name: &str,
    role: AccountRole,
) -> anyhow::Result<(NewApiKey, uuid::Uuid)> {
    let name = AccountName::parse(name).context("--name")?;
    let pool = estrade_db::connect_lazy(db)?;
    let key = NewApiKey::generate();
    let account = estrade_db::accounts::create_with_key(&pool, &name, role, &key)
        .await
        .context("creating the account (did you run `estrade migrate`?)")?;
    tracing::info!(account.id = %account.id, account.role = %role, "account created");
    Ok((key, account.id))
}

/// The API's shared state, built from the configuration.
pub fn app_state(config: &Config) -> anyhow::Result<AppState> {
    let db = estrade_db::connect_lazy(&config.database)?;
    AppState::new(config, db).context("REDIS_URL")
}

/// `estrade serve`: the API on `ESTRADE_LISTEN`, `/metrics` on
/// `ESTRADE_METRICS_LISTEN`, until the shutdown signal.
pub async fn serve(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let state = app_state(&config)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding ESTRADE_LISTEN={}", config.listen))?;
    let metrics_listener = TcpListener::bind(config.metrics_listen)
        .await
        .with_context(|| format!("binding ESTRADE_METRICS_LISTEN={}", config.metrics_listen))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        metrics = %metrics_listener.local_addr()?,
        "API listening"
    );
    let drain = config.shutdown_timeout;
    let api = estrade_api::serve(listener, estrade_api::app(state), shutdown.clone(), drain);
    let metrics = estrade_api::serve(
        metrics_listener,
        estrade_api::metrics::router(estrade_api::metrics::handle()),
        shutdown,
        drain,
    );
    tokio::try_join!(api, metrics)?;
    tracing::info!("API stopped");
    Ok(())
}

/// `estrade worker`: queue consumers and scheduled jobs.
pub async fn worker(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let db = estrade_db::connect_lazy(&config.database)?;
    estrade_worker::run(
        estrade_worker::WorkerConfig {
            drain: config.shutdown_timeout,
            retention: config.retention,
        },
        db,
        shutdown,
    )
    .await
}
