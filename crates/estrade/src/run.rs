//! What each subcommand does once configured: build the shared pieces from
//! the configuration and hand them the shutdown signal.

use anyhow::Context as _;
use estrade_api::AppState;
use estrade_core::api_key::NewApiKey;
use estrade_core::config::{Config, DatabaseConfig};
use estrade_core::domain::{AccountName, AccountRole};
use estrade_db::audit::Actor;
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
    let (account, key) = estrade_app::accounts::create(&pool, Actor::System, &name, role)
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
    state.close_streams_on(shutdown.clone());
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
    if !config.client_dir.join("index.html").is_file() {
        tracing::warn!(
            client_dir = %config.client_dir.display(),
            "the web client is not built there (ESTRADE_CLIENT_DIR; npm run build in client/): its pages answer 404"
        );
    }
    let serving = estrade_serve::Serving::from_config(&config);
    let api = estrade_serve::serve(listener, estrade_api::app(state), shutdown.clone(), serving);
    let metrics = estrade_serve::serve(
        metrics_listener,
        estrade_serve::metrics::router(estrade_serve::metrics::handle()),
        shutdown,
        serving,
    );
    tokio::try_join!(api, metrics)?;
    tracing::info!("API stopped");
    Ok(())
}

/// `estrade worker`: the webhook consumer and sweeper, scheduled jobs, and
/// `/metrics` on `ESTRADE_METRICS_LISTEN`, until the shutdown signal.
pub async fn worker(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let metrics_listener = TcpListener::bind(config.metrics_listen)
        .await
        .with_context(|| format!("binding ESTRADE_METRICS_LISTEN={}", config.metrics_listen))?;
    tracing::info!(metrics = %metrics_listener.local_addr()?, "worker metrics listening");
    let metrics = estrade_serve::serve(
        metrics_listener,
        estrade_serve::metrics::router(estrade_serve::metrics::handle()),
        shutdown.clone(),
        estrade_serve::Serving::from_config(&config),
    );
    tokio::try_join!(worker_jobs(config, shutdown), async {
        metrics.await.map_err(anyhow::Error::from)
    })?;
    Ok(())
}

/// The worker's jobs without a metrics listener (`estrade dev` runs them
/// beside the API, which serves `/metrics` for both).
pub async fn worker_jobs(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    // Every webhook applied at once holds a connection until its commit;
    // the sweeper and scheduled jobs need a few more.
    let mut database = config.database.clone();
    let wanted = u32::try_from(config.worker_concurrency + 4).unwrap_or(u32::MAX);
    database.max_connections = database.max_connections.max(wanted);
    let db = estrade_db::connect_lazy(&database)?;
    let deps = estrade_app::Deps::new(&config, db).context("REDIS_URL")?;
    estrade_worker::run(worker_config(&config), deps, shutdown).await
}

/// The worker's settings from the configuration.
pub fn worker_config(config: &Config) -> estrade_worker::WorkerConfig {
    estrade_worker::WorkerConfig {
        drain: config.shutdown_timeout,
        retention: config.retention,
        requeue_after: config.webhook_requeue_after,
        concurrency: config.worker_concurrency,
        reconcile_cron: config.reconcile_cron(),
        delete_orphan_rooms: config.delete_orphan_rooms,
    }
}

/// `estrade reconcile --once`: one run, its report printed as JSON on
/// stdout. Returns the exit code: 0 ok, 1 failed, 3 another run holds the
/// lock.
pub async fn reconcile_once(config: &Config) -> anyhow::Result<i32> {
    let db = estrade_db::connect_lazy(&config.database)?;
    let reconciler = estrade_app::reconcile::Reconciler {
        deps: estrade_app::Deps::new(config, db).context("REDIS_URL")?,
        delete_orphan_rooms: config.delete_orphan_rooms,
    };
    match reconciler.run_once("cli").await {
        Ok(report) => {
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(if report.outcome == "ok" { 0 } else { 1 })
        }
        Err(estrade_app::reconcile::RunError::Busy) => {
            eprintln!("another reconciliation run is in progress");
            Ok(3)
        }
        Err(estrade_app::reconcile::RunError::Database(e)) => {
            Err(anyhow::Error::new(e).context("reading PostgreSQL"))
        }
    }
}
