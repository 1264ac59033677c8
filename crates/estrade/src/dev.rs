//! `estrade dev`: the one-command local run. API and worker in one process,
//! with a throwaway PostgreSQL cluster, a `redis-server` child and the
//! in-process LiveKit stand-in wherever no URL is configured. Everything it
//! started is stopped when it stops.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use estrade_core::config::Config;
use estrade_core::domain::AccountRole;
use estrade_livekit_stub::{Stub, StubConfig};
use rand::distr::{Alphanumeric, SampleString as _};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::run;

/// Options of `estrade dev`.
#[derive(clap::Args)]
pub struct DevArgs {
    /// Address of the API (overridden by ESTRADE_LISTEN).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

fn random_secret() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 48)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(StdListener::bind("127.0.0.1:0")?.local_addr()?.port())
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
    let stub = match env("LIVEKIT_URL") {
        Some(_) => None,
        None => {
            let (key, secret) = ("devkey".to_owned(), random_secret());
            let mut stub_config = StubConfig::new(key.clone(), secret.clone());
            // Its webhooks go to our own endpoint, as LiveKit's would.
            let listen = env("ESTRADE_LISTEN").unwrap_or_else(|| args.listen.to_string());
            stub_config.webhook_url = Some(format!("http://{listen}/webhooks/livekit"));
            let stub = Stub::start(stub_config)
                .await
                .context("starting the LiveKit stand-in")?;
            overrides.insert("LIVEKIT_URL", stub.url());
            overrides.insert("LIVEKIT_API_KEY", key);
            overrides.insert("LIVEKIT_API_SECRET", secret);
            Some(stub)
        }
    };
    overrides.insert("ESTRADE_LISTEN", args.listen.to_string());
    overrides.insert(
        "ESTRADE_METRICS_LISTEN",
        format!("127.0.0.1:{}", free_port()?),
    );
    overrides.insert("ESTRADE_PUBLIC_URL", format!("http://{}", args.listen));
    overrides.insert("ESTRADE_PARTICIPANT_TOKEN_SECRET", random_secret());
    // What the environment sets wins over these defaults.
    let config = Config::from_lookup(|k| env(k).or_else(|| overrides.get(k).cloned()))?;

    let result = run_with(config, shutdown).await;

    if let Some(mut stub) = stub {
        stub.shutdown().await;
    }
    drop(redis);
    if let Some(pg) = postgres {
        pg.stop().await;
    }
    result
}

async fn run_with(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
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
    let settings = estrade_api::routes::sessions::room_settings(demo.max_learners);
    estrade_livekit::Gateway::new(&config.livekit)
        .create_room(&demo.room_name, settings)
        .await
        .context("creating the demo session's LiveKit room")?;
    estrade_db::sessions::mark_live(&mut conn, demo.id).await?;
    drop(conn);

    println!(
        "\nEstrade is running.\n\
         \x20 API          http://{listen}   (docs: http://{listen}/docs, readiness: http://{listen}/readyz)\n\
         \x20 metrics      http://{metrics}/metrics\n\
         \x20 LiveKit      {livekit}\n\
         \x20 admin key    {admin}\n\
         \x20 teacher key  {teacher}\n\
         \x20 demo session {session} (join code {code})\n\
         Press Ctrl-C to stop.\n",
        listen = config.listen,
        metrics = config.metrics_listen,
        livekit = config.livekit.url,
        admin = admin.0.expose(),
        teacher = teacher.0.expose(),
        session = demo.id,
        code = demo.join_code,
    );

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

/// Finds a PostgreSQL server binary: on PATH, or in Debian's versioned
/// directories (newest first).
fn postgres_bin(name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin").join(name)))
        })
        .filter(|(_, p)| p.is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p)
}

/// Whether this process runs as root (PostgreSQL refuses to).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// A throwaway PostgreSQL cluster under a temporary directory.
struct EmbeddedPostgres {
    url: String,
    pg_ctl: PathBuf,
    data: PathBuf,
    as_user: Option<String>,
    _dir: tempfile::TempDir,
}

impl EmbeddedPostgres {
    fn command(program: &Path, as_user: Option<&str>) -> Command {
        let mut cmd = match as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        };
        // Its own process group: Ctrl-C reaches us, and we stop it in order.
        cmd.process_group(0);
        cmd
    }

    async fn start() -> anyhow::Result<Self> {
        let missing = "PostgreSQL server binaries (initdb, pg_ctl) were not found: \
                       install them (apt-get install postgresql) or set DATABASE_URL";
        let initdb = postgres_bin("initdb").context(missing)?;
        let pg_ctl = postgres_bin("pg_ctl").context(missing)?;
        let dir = tempfile::Builder::new()
            .prefix("estrade-dev-pg-")
            .tempdir()?;
        // initdb refuses to run as root: run the cluster as `postgres`.
        let as_user = running_as_root().then(|| "postgres".to_owned());
        if let Some(user) = &as_user {
            let out = std::process::Command::new("id")
                .args(["-u", user])
                .output()?;
            let uid: u32 = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .with_context(|| {
                    format!("running as root needs a `{user}` system user for PostgreSQL")
                })?;
            std::os::unix::fs::chown(dir.path(), Some(uid), None)?;
        }
        let data = dir.path().join("data");
        let port = free_port()?;
        let status = Self::command(&initdb, as_user.as_deref())
            .arg("-D")
            .arg(&data)
            .args(["-U", "estrade", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .status()
            .await
            .context("running initdb")?;
        if !status.success() {
            bail!("initdb failed ({status})");
        }
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.path().display()
        );
        let status = Self::command(&pg_ctl, as_user.as_deref())
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.path().join("postgres.log"))
            .args(["-o", &options, "-w", "start"])
            .stdout(Stdio::null())
            .status()
            .await
            .context("running pg_ctl start")?;
        if !status.success() {
            bail!(
                "pg_ctl start failed ({status}); see {}/postgres.log",
                dir.path().display()
            );
        }
        tracing::info!(port, "embedded PostgreSQL started");
        Ok(Self {
            url: format!("postgres://estrade@127.0.0.1:{port}/postgres"),
            pg_ctl,
            data,
            as_user,
            _dir: dir,
        })
    }

    async fn stop(self) {
        let result = Self::command(&self.pg_ctl, self.as_user.as_deref())
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .status()
            .await;
        match result {
            Ok(s) if s.success() => tracing::info!("embedded PostgreSQL stopped"),
            other => tracing::warn!(?other, "stopping embedded PostgreSQL failed"),
        }
    }
}

/// A `redis-server` child on a free port, killed when dropped.
struct EmbeddedRedis {
    url: String,
    _child: Child,
}

impl EmbeddedRedis {
    async fn start() -> anyhow::Result<Self> {
        let port = free_port()?;
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => anyhow::anyhow!(
                    "redis-server was not found: install it (apt-get install redis-server) \
                     or set REDIS_URL"
                ),
                _ => anyhow::Error::new(e).context("starting redis-server"),
            })?;
        let url = format!("redis://127.0.0.1:{port}");
        let client = estrade_api::redis_connection(&url)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut conn = client.clone();
            let pong: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
            if pong.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                bail!("redis-server did not answer within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::info!(port, "embedded Redis started");
        Ok(Self { url, _child: child })
    }
}
