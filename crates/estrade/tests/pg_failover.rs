//! PostgreSQL failover (issue 21, docs/SCALING.md): a primary and a
//! streaming standby (Debian's PostgreSQL, `pg_basebackup`) with
//! synchronous replication; Estrade reaches "the database" through one
//! address (here a loopback TCP forwarder standing for the virtual IP or
//! the proxy that Patroni, pg_auto_failover or keepalived move). During a
//! join storm and a webhook storm the primary crashes (`pg_ctl stop -m
//! immediate`), the standby is promoted and the address moved to it:
//! Estrade reconnects by itself, and every join and webhook it
//! acknowledged is on the new primary. The window without answers is
//! measured and printed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use estrade::services::postgres_bin;
use estrade_tests::{Forwarder, Options, TestApp, until};
use serde_json::json;
use tokio::process::Command;

const WAIT: Duration = Duration::from_secs(60);

fn as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A PostgreSQL program, run as `postgres` when we are root (it refuses
/// to run as root).
fn pg(program: &str) -> Command {
    let bin = postgres_bin(program).expect("PostgreSQL's binaries (scripts/test installs them)");
    let mut cmd = if as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

async fn run(mut cmd: Command, what: &str) {
    let status = cmd.status().await.expect(what);
    assert!(status.success(), "{what}: {status}");
}

/// One cluster of the pair.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    async fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c wal_level=replica -c max_wal_senders=4 -c synchronous_commit=on",
            self.port,
            self.dir.display()
        );
        let mut cmd = pg("pg_ctl");
        cmd.arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-o", &options, "-w", "start"]);
        run(cmd, "pg_ctl start").await;
    }

    async fn crash(&self) {
        let mut cmd = pg("pg_ctl");
        cmd.arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"]);
        run(cmd, "pg_ctl stop -m immediate").await;
    }

    async fn promote(&self) {
        let mut cmd = pg("pg_ctl");
        cmd.arg("-D").arg(self.data()).args(["-w", "promote"]);
        run(cmd, "pg_ctl promote").await;
    }

    fn url(&self) -> String {
        format!("postgres://estrade@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(postgres_bin("pg_ctl").unwrap())
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A directory the `postgres` user owns.
fn owned_dir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir(&dir).unwrap();
    if as_root() {
        let status = std::process::Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success());
    }
    dir
}

/// What the storms sent and what they were told.
#[derive(Default)]
struct Ledger {
    /// Participant ids of the joins answered 200.
    joined: Vec<String>,
    /// Event ids of the webhooks answered 200.
    stored: Vec<String>,
    /// When a request got something else (or nothing).
    failures: Vec<Instant>,
    /// When each acknowledgement came.
    acked: Vec<Instant>,
}

#[tokio::test]
async fn a_primary_crashing_during_join_and_webhook_storms_loses_no_acknowledged_write_once_the_standby_is_promoted()
 {
    let root = tempfile::tempdir().unwrap();
    if as_root() {
        std::process::Command::new("chmod")
            .args(["755"])
            .arg(root.path())
            .status()
            .unwrap();
    }
    let primary = Cluster {
        dir: owned_dir(root.path(), "primary"),
        port: estrade::services::free_port().unwrap(),
    };
    let mut initdb = pg("initdb");
    initdb.arg("-D").arg(primary.data()).args([
        "-U",
        "estrade",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--no-sync",
    ]);
    run(initdb, "initdb").await;
    primary.start().await;
    let standby = Cluster {
        dir: owned_dir(root.path(), "standby"),
        port: estrade::services::free_port().unwrap(),
    };
    let mut backup = pg("pg_basebackup");
    backup
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &primary.port.to_string(),
            "-U",
            "estrade",
        ])
        .arg("-D")
        .arg(standby.data())
        .args(["-R", "-X", "stream", "--no-sync"]);
    run(backup, "pg_basebackup").await;
    standby.start().await;
    // Synchronous: a commit is acknowledged once the standby has it.
    let admin = sqlx::PgPool::connect(&primary.url()).await.unwrap();
    until(WAIT, || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from pg_stat_replication where state = 'streaming'",
        )
        .fetch_one(&admin)
        .await
        .unwrap()
            == 1
    })
    .await;
    sqlx::query("alter system set synchronous_standby_names = '*'")
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query("select pg_reload_conf()")
        .execute(&admin)
        .await
        .unwrap();
    until(WAIT, || async {
        sqlx::query_scalar::<_, String>("select sync_state from pg_stat_replication")
            .fetch_one(&admin)
            .await
            .unwrap()
            == "sync"
    })
    .await;
    admin.close().await;

    let address = Forwarder::start(primary.port).await;
    let url = format!("postgres://estrade@127.0.0.1:{}/postgres", address.port);
    let db = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect(&url)
        .await
        .unwrap();
    estrade_db::migrate(&db).await.unwrap();
    let app = TestApp::spawn_with(
        db.clone(),
        Options {
            worker: true,
            env: vec![
                ("ESTRADE_JOINS_PER_CODE_PER_MIN", "1000000".into()),
                ("ESTRADE_JOIN_FAILURES_PER_MIN", "10000".into()),
                ("ESTRADE_JOIN_FAILURES_GLOBAL_PER_MIN", "1000000".into()),
            ],
            ..Options::default()
        },
    )
    .await;
    let admin_key = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin_key, "Chef").await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        let session = app
            .live_session(&teacher, json!({"title": "Bread", "max_learners": 1000}))
            .await;
        codes.push(session["join_code"].as_str().unwrap().to_owned());
    }

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = tokio_util::sync::CancellationToken::new();
    let mut storms = Vec::new();
    for task in 0..8 {
        let (app_url, client) = (app.url(""), app.client.clone());
        let (ledger, stop, code) = (
            ledger.clone(),
            stop.clone(),
            codes[task % codes.len()].clone(),
        );
        storms.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.is_cancelled() {
                n += 1;
                let answer = if task < 6 {
                    let body = json!({"code": code, "name": format!("L{task}-{n}")});
                    client.post(format!("{app_url}/v1/join")).json(&body).send().await
                } else {
                    let event = json!({
                        "event": "room_started", "id": format!("EV_storm_{task}_{n}"),
                        "createdAt": "1790000000", "room": {"name": format!("nowhere-{task}"), "sid": "RM_x"}
                    })
                    .to_string();
                    client
                        .post(format!("{app_url}/webhooks/livekit"))
                        .header("content-type", "application/webhook+json")
                        .header("authorization", estrade_tests::sign_webhook(&event))
                        .body(event)
                        .send()
                        .await
                };
                let at = Instant::now();
                match answer {
                    Ok(r) if r.status() == 200 => {
                        let body: serde_json::Value = r.json().await.unwrap_or_default();
                        let mut ledger = ledger.lock().unwrap();
                        if task < 6 {
                            ledger.joined.push(body["participant_id"].as_str().unwrap().to_owned());
                        } else {
                            ledger.stored.push(format!("EV_storm_{task}_{n}"));
                        }
                        ledger.acked.push(at);
                    }
                    _ => ledger.lock().unwrap().failures.push(at),
                }
            }
        }));
    }
    let counts = || {
        let ledger = ledger.lock().unwrap();
        (ledger.joined.len(), ledger.stored.len())
    };
    until(WAIT, || async {
        let (joins, webhooks) = counts();
        joins >= 150 && webhooks >= 50
    })
    .await;
    // The primary crashes; the standby is promoted; the address moves.
    let crashed_at = Instant::now();
    primary.crash().await;
    standby.promote().await;
    address.point_to(standby.port);
    let (joins, webhooks) = counts();
    until(WAIT, || async {
        let (j, w) = counts();
        j >= joins + 150 && w >= webhooks + 50
    })
    .await;
    stop.cancel();
    for storm in storms {
        storm.await.unwrap();
    }

    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    assert!(!ledger.failures.is_empty(), "the crash was felt");
    let first_failure = *ledger.failures.iter().min().unwrap();
    let back = ledger
        .acked
        .iter()
        .filter(|at| **at > first_failure)
        .min()
        .copied()
        .expect("answers again after the failover");
    println!(
        "unavailable for {:?} (from the first refused request to the next acknowledged one; the failover itself took {:?})",
        back - first_failure,
        back.saturating_duration_since(crashed_at)
    );
    // Everything acknowledged is on the new primary.
    let promoted = sqlx::PgPool::connect(&standby.url()).await.unwrap();
    let joined: Vec<uuid::Uuid> = ledger.joined.iter().map(|id| id.parse().unwrap()).collect();
    let found: i64 = sqlx::query_scalar("select count(*) from participants where id = any($1)")
        .bind(&joined)
        .fetch_one(&promoted)
        .await
        .unwrap();
    assert_eq!(found as usize, joined.len(), "every acknowledged join");
    let stored: i64 =
        sqlx::query_scalar("select count(*) from webhook_inbox where event_id = any($1)")
            .bind(&ledger.stored)
            .fetch_one(&promoted)
            .await
            .unwrap();
    assert_eq!(
        stored as usize,
        ledger.stored.len(),
        "every acknowledged webhook"
    );
    drop(app);
    db.close().await;
    promoted.close().await;
}
