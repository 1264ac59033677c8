//! Throwaway PostgreSQL and Redis servers as child processes, for
//! `estrade dev` and for tests that must stop, restart or pause a real
//! server. Each is stopped when dropped.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(StdListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Finds a PostgreSQL server binary: on PATH, or in Debian's versioned
/// directories (newest first).
pub fn postgres_bin(name: &str) -> Option<PathBuf> {
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
pub struct EmbeddedPostgres {
    /// Its URL (database `postgres`, user `estrade`).
    pub url: String,
    port: u16,
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

    /// Creates and starts a cluster on a free port.
    pub async fn start() -> anyhow::Result<Self> {
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
        pg_ctl_start(&pg_ctl, as_user.as_deref(), dir.path(), port).await?;
        tracing::info!(port, "embedded PostgreSQL started");
        Ok(Self {
            url: format!("postgres://estrade@127.0.0.1:{port}/postgres"),
            port,
            pg_ctl,
            data,
            as_user,
            _dir: dir,
        })
    }

    /// Stops the server (fast shutdown: connections are cut), keeping its
    /// data; [`Self::start_again`] brings it back on the same port.
    pub async fn stop_server(&self) -> anyhow::Result<()> {
        let status = Self::command(&self.pg_ctl, self.as_user.as_deref())
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .status()
            .await?;
        if !status.success() {
            bail!("pg_ctl stop failed ({status})");
        }
        Ok(())
    }

    /// Starts a stopped server again.
    pub async fn start_again(&self) -> anyhow::Result<()> {
        let dir = self.data.parent().context("data directory")?;
        pg_ctl_start(&self.pg_ctl, self.as_user.as_deref(), dir, self.port).await
    }

    /// Stops the server for good.
    pub async fn stop(self) {
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

async fn pg_ctl_start(
    pg_ctl: &Path,
    as_user: Option<&str>,
    dir: &Path,
    port: u16,
) -> anyhow::Result<()> {
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
        dir.display()
    );
    let status = EmbeddedPostgres::command(pg_ctl, as_user)
        .arg("-D")
        .arg(dir.join("data"))
        .arg("-l")
        .arg(dir.join("postgres.log"))
        .args(["-o", &options, "-w", "start"])
        .stdout(Stdio::null())
        .status()
        .await
        .context("running pg_ctl start")?;
    if !status.success() {
        bail!(
            "pg_ctl start failed ({status}); see {}/postgres.log",
            dir.display()
        );
    }
    Ok(())
}

/// A `redis-server` child on a free port, killed when dropped.
pub struct EmbeddedRedis {
    /// Its URL.
    pub url: String,
    _child: Child,
}

impl EmbeddedRedis {
    /// Starts it and waits until it answers `PING`.
    pub async fn start() -> anyhow::Result<Self> {
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
        let client = estrade_app::redis_connection(&url)?;
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
