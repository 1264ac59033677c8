//! `estrade dev`: the one-command local run. API and worker in one process,
//! with a throwaway PostgreSQL cluster, a `redis-server` child and a real
//! `livekit-server` child (v1.13.5, on loopback; the in-process stand-in
//! only when that binary is missing) wherever no URL is configured.
//! Everything it started is stopped when it stops.

use std::collections::HashMap;
use std::net::SocketAddr;

use anyhow::Context as _;
use estrade_core::config::Config;
use estrade_core::domain::AccountRole;
use estrade_livekit::server::{self, LiveKitServer};
use estrade_livekit_stub::{Stub, StubConfig};
use rand::distr::{Alphanumeric, SampleString as _};
use tokio_util::sync::CancellationToken;

use estrade::services::{EmbeddedPostgres, EmbeddedRedis, free_port};

use crate::run;

/// Options of `estrade dev`.
#[derive(clap::Args)]
pub struct DevArgs {
    /// Address of the API (overridden by ESTRADE_LISTEN).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Also write what the banner prints, and the dev LiveKit's key, as
    /// one JSON object to this file (mode 0600) once the demo class is
    /// live (the API answers right after: poll /readyz). For scripts and
    /// the browser tests.
    #[arg(long, value_name = "FILE")]
    summary: Option<std::path::PathBuf>,
}

fn random_secret() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 48)
}

/// Runs everything until the shutdown signal, then stops what it started.
pub async fn run(args: DevArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut overrides: HashMap<&str, String> = HashMap::new();

    let postgres = match env("DATABASE_URL") {
        Some(_) => None,
        None => {
            let pg = EmbeddedPostgres::start().await?;
            overrides.insert("DATABASE_URL", pg.url.clone());
            Some(pg)
        }
    };
    let redis = match env("REDIS_URL") {
        Some(_) => None,
        None => {
            let redis = EmbeddedRedis::start().await?;
            overrides.insert("REDIS_URL", redis.url.clone());
            Some(redis)
        }
    };
    let listen = env("ESTRADE_LISTEN").unwrap_or_else(|| args.listen.to_string());
    let livekit = match env("LIVEKIT_URL") {
        Some(_) => None,
        None => {
            let (key, secret) = ("devkey".to_owned(), random_secret());
            // Its webhooks go to our own endpoint.
            let webhooks = format!("http://{listen}/webhooks/livekit");
            let livekit = if server::available() {
                let real = LiveKitServer::start(&key, &secret, Some(&webhooks))
                    .context("starting livekit-server")?;
                overrides.insert("LIVEKIT_URL", real.url.clone());
                DevLiveKit::Real(real)
            } else {
                eprintln!(
                    "livekit-server {} not found (scripts/dev builds it with Go): using the LiveKit stand-in, which carries no media",
                    server::VERSION
                );
                let mut stub_config = StubConfig::new(key.clone(), secret.clone());
                stub_config.webhook_url = Some(webhooks);
                let stub = Stub::start(stub_config)
                    .await
                    .context("starting the LiveKit stand-in")?;
                overrides.insert("LIVEKIT_URL", stub.url());
                DevLiveKit::Stub(stub)
            };
            overrides.insert("LIVEKIT_API_KEY", key);
            overrides.insert("LIVEKIT_API_SECRET", secret);
            Some(livekit)
        }
    };
    overrides.insert("ESTRADE_LISTEN", listen.clone());
    overrides.insert(
        "ESTRADE_METRICS_LISTEN",
        format!("127.0.0.1:{}", free_port()?),
    );
    overrides.insert("ESTRADE_PUBLIC_URL", format!("http://{listen}"));
    overrides.insert("ESTRADE_PARTICIPANT_TOKEN_SECRET", random_secret());
    // A developer's machine (and the browser tests) start classes by the
    // hundred and never end most: the deployment's admission limits are
    // lifted here unless the environment sets them.
    overrides.insert("ESTRADE_MAX_LIVE_SESSIONS_PER_TEACHER", "100000".into());
    overrides.insert("ESTRADE_MAX_LIVE_SESSIONS", "100000".into());
    overrides.insert("ESTRADE_MAX_PARTICIPANTS", "10000000".into());
    // What the environment sets wins over these defaults.
    let config = Config::from_lookup(|k| env(k).or_else(|| overrides.get(k).cloned()))?;

    let which = match &livekit {
        None => "the one at LIVEKIT_URL".to_owned(),
        Some(DevLiveKit::Real(_)) => format!("v{} (real server, on loopback)", server::VERSION),
        Some(DevLiveKit::Stub(_)) => "the stand-in (no media)".to_owned(),
    };
    let result = run_with(config, &which, args.summary.as_deref(), shutdown).await;

    match livekit {
        Some(DevLiveKit::Stub(mut stub)) => stub.shutdown().await,
        Some(DevLiveKit::Real(real)) => drop(real),
        None => {}
    }
    drop(redis);
    if let Some(pg) = postgres {
        pg.stop().await;
    }
    result
}

/// The LiveKit `estrade dev` started.
enum DevLiveKit {
    Real(LiveKitServer),
    Stub(Stub),
}

async fn run_with(
    config: Config,
    livekit: &str,
    summary: Option<&std::path::Path>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run::migrate(&config.database).await?;
    let admin = run::create_key(&config.database, "Dev admin", AccountRole::Admin).await?;
    let teacher = run::create_key(&config.database, "Dev teacher", AccountRole::Teacher).await?;
    let teacher_id = teacher.1;
    let pool = estrade_db::connect_lazy(&config.database)?;
    let mut conn = pool.acquire().await?;
    let demo = estrade_db::sessions::insert(
        &mut conn,
        teacher_id,
        &estrade_db::sessions::NewSession::with_defaults("Demo class"),
    )
    .await?;
    // Live at once, so the printed code can be used straight away.
    let settings = estrade_app::sessions::room_settings(demo.max_learners);
    let room = estrade_livekit::Gateway::new(&config.livekit)
        .create_room(&demo.room_name, settings)
        .await
        .context("creating the demo session's LiveKit room")?;
    estrade_db::sessions::mark_live(&mut conn, demo.id, &room.sid).await?;
    drop(conn);
    let mut learner_link = config.public_url.clone();
    learner_link.set_path(&format!("/join/{}", demo.join_code));
    let mut console = config.public_url.clone();
    console.set_path("/console");
    let mut console = config.public_url.clone();
    console.set_path("/console");
    let client = if config.client_dir.join("index.html").is_file() {
        "the web client: open it in a browser to attend"
    } else {
        "the web client is not built: npm run build in client/ (scripts/dev does)"
    };

    println!(
        "\nEstrade is running.\n\
         \x20 API          http://{listen}   (docs: http://{listen}/docs, readiness: http://{listen}/readyz)\n\
         \x20 metrics      http://{metrics}/metrics\n\
         \x20 LiveKit      {livekit_url}   ({livekit})\n\
         \x20 TURN relay   {relay}\n\
         \x20 admin key    {admin}\n\
         \x20 teacher key  {teacher}\n\
         \x20 console      {console}   (sign in there with the teacher key)\n\
         \x20 demo session {session} (join code {code})\n\
         \x20 learner link {learner_link}   ({client})\n\
         Press Ctrl-C to stop.\n",
        listen = config.listen,
        metrics = config.metrics_listen,
        livekit_url = config.livekit.client_url(),
        relay = if config.turn.is_some() {
            "as configured (ESTRADE_TURN_URLS); GET /v1/connectivity hands out credentials"
        } else {
            "none configured: GET /v1/connectivity says so (browsers here use LiveKit's own TURN on loopback)"
        },
        admin = admin.0.expose(),
        teacher = teacher.0.expose(),
        session = demo.id,
        code = demo.join_code,
    );
    if let Some(path) = summary {
        let body = serde_json::json!({
            "api": format!("http://{}", config.listen),
            "admin_key": admin.0.expose(),
            "teacher_key": teacher.0.expose(),
            "session_id": demo.id,
            "join_code": demo.join_code,
            "learner_link": learner_link.as_str(),
            "console": console.as_str(),
            "livekit": livekit,
            "livekit_url": config.livekit.url.as_str(),
            "livekit_api_key": config.livekit.api_key,
            "livekit_api_secret": config.livekit.expose_secret(),
        });
        write_private(path, &body.to_string())
            .with_context(|| format!("writing --summary {}", path.display()))?;
    }

    let serve = run::serve(config.clone(), shutdown.clone());
    let worker = run::worker_jobs(config, shutdown.clone());
    // If one half fails, stop the other too.
    let (a, b) = tokio::join!(
        async {
            let r = serve.await;
            shutdown.cancel();
            r
        },
        async {
            let r = worker.await;
            shutdown.cancel();
            r
        },
    );
    a.and(b)
}

/// Writes `body` to `path`, readable by its owner only.
fn write_private(path: &std::path::Path, body: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(body.as_bytes())
}
