//! The binary as an operator runs it: configuration errors, migrations,
//! the first admin key, graceful shutdown on SIGTERM, a one-off
//! reconciliation run, and every role under the container's restrictions
//! (as root only: unprivileged user, no capabilities, read-only root).

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;

const BIN: &str = env!("CARGO_BIN_EXE_estrade");

/// The URL of the test's own database (same server as `DATABASE_URL`).
fn url_of(db: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path(db.connect_options().get_database().unwrap());
    url.to_string()
}

fn estrade(envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn serve_refuses_to_start_without_configuration_and_names_what_to_set() {
    let out = estrade(&[]).arg("serve").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for var in [
        "DATABASE_URL",
        "REDIS_URL",
        "LIVEKIT_URL",
        "LIVEKIT_API_SECRET",
        "ESTRADE_PUBLIC_URL",
    ] {
        assert!(
            stderr.contains(&format!("{var}: is not set")),
            "{var} missing from: {stderr}"
        );
    }
    assert!(stderr.contains("docs/CONFIGURATION.md"));
}

#[test]
fn an_invalid_log_format_stops_the_binary_with_exit_code_2() {
    let out = estrade(&[("ESTRADE_LOG_FORMAT", "xml")])
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ESTRADE_LOG_FORMAT"));
}

#[sqlx::test(migrations = false)]
async fn migrate_then_create_key_prints_a_key_that_is_stored_hashed(db: PgPool) {
    let url = url_of(&db);
    let migrate = estrade(&[("DATABASE_URL", &url)])
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );

    let out = estrade(&[("DATABASE_URL", &url)])
        .args([
            "admin",
            "create-key",
            "--name",
            "IT desk",
            "--role",
            "admin",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("estrade_"));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(&key),
        "the key is never logged"
    );

    let (name, role): (String, String) = sqlx::query_as(
        "select a.name, a.role from api_keys k join accounts a on a.id = k.account_id where k.key_hash = $1",
    )
    .bind(estrade_core::api_key::hash(&key).to_vec())
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((name.as_str(), role.as_str()), ("IT desk", "admin"));

    // Like every change of state, the account's creation is audited: by
    // Estrade itself, naming the account and never the key.
    let audited: Vec<(String, String, serde_json::Value)> = sqlx::query_as(
        "select l.actor_kind, l.action, l.details from audit_log l
           join accounts a on a.id = l.target_id where a.name = 'IT desk'",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(
        (audited[0].0.as_str(), audited[0].1.as_str()),
        ("system", "account.created")
    );
    assert_eq!(audited[0].2["role"], "admin");
    assert!(!audited[0].2.to_string().contains(&key));
}

#[sqlx::test(migrations = false)]
async fn create_key_refuses_an_unknown_role_and_creates_nothing(db: PgPool) {
    let url = url_of(&db);
    estrade_db::migrate(&db).await.unwrap();
    let out = estrade(&[("DATABASE_URL", &url)])
        .args(["admin", "create-key", "--name", "X", "--role", "root"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin or teacher"));
    let accounts: i64 = sqlx::query_scalar("select count(*) from accounts")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(accounts, 0);
}

/// Waits for a JSON log line with `message`, returning it.
fn wait_for_log(child: &mut Child, message: &str) -> serde_json::Value {
    let stderr = child.stderr.as_mut().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines.next().expect("process ended before logging").unwrap();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && v["message"] == message
        {
            return v;
        }
    }
}

/// Sends SIGTERM and waits (bounded) for the process to exit.
fn terminate(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "did not exit within {within:?} of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A LiveKit stand-in with the credentials of [`full_env`].
async fn start_stub() -> estrade_livekit_stub::Stub {
    estrade_livekit_stub::Stub::start(estrade_livekit_stub::StubConfig::new(
        "clikey",
        "0123456789abcdef0123456789abcdef",
    ))
    .await
    .unwrap()
}

async fn full_env(db: &PgPool, stub_url: &str) -> Vec<(&'static str, String)> {
    estrade_db::migrate(db).await.unwrap();
    env_for(db, stub_url)
}

/// The configuration of every role, for the test's own database.
fn env_for(db: &PgPool, stub_url: &str) -> Vec<(&'static str, String)> {
    let secret = "0123456789abcdef0123456789abcdef".to_owned();
    vec![
        ("DATABASE_URL", url_of(db)),
        (
            "REDIS_URL",
            std::env::var("REDIS_URL").unwrap_or("redis://127.0.0.1:6379".into()),
        ),
        ("LIVEKIT_URL", stub_url.to_owned()),
        ("LIVEKIT_API_KEY", "clikey".to_owned()),
        ("LIVEKIT_API_SECRET", secret.clone()),
        ("ESTRADE_PUBLIC_URL", "http://127.0.0.1".to_owned()),
        ("ESTRADE_PARTICIPANT_TOKEN_SECRET", secret),
        ("ESTRADE_LISTEN", "127.0.0.1:0".to_owned()),
        ("ESTRADE_METRICS_LISTEN", "127.0.0.1:0".to_owned()),
        ("ESTRADE_SHUTDOWN_TIMEOUT_S", "5".to_owned()),
    ]
}

/// `estrade serve` as a child process with every variable set, LiveKit at
/// `livekit_url`; returns it once it logged "API listening", with that log
/// line (its `listen` and `metrics` addresses).
async fn serve(db: &PgPool, livekit_url: &str) -> (Child, serde_json::Value) {
    let env = full_env(db, livekit_url).await;
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut child = estrade(&envs)
        .arg("serve")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let listening = wait_for_log(&mut child, "API listening");
    (child, listening)
}

#[sqlx::test(migrations = false)]
async fn serve_answers_then_stops_cleanly_on_sigterm(db: PgPool) {
    let stub = start_stub().await;
    let (mut child, listening) = serve(&db, &stub.url()).await;
    let addr = listening["listen"].as_str().unwrap().to_owned();
    let metrics_addr = listening["metrics"].as_str().unwrap().to_owned();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = estrade_tests::http_client();
    let ready = client
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert!(metrics.text().await.unwrap().contains(r#"route="/readyz""#));

    let status = terminate(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{status}");
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmRSS")
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("VmRSS in kB")
}

/// The request-metric series a Prometheus page holds.
fn request_series(page: &str) -> usize {
    page.lines()
        .filter(|l| l.starts_with("http_request"))
        .count()
}

#[sqlx::test(migrations = false)]
async fn made_up_methods_and_paths_from_clients_add_no_metric_series_and_no_memory(db: PgPool) {
    use rand::Rng as _;
    let stub = start_stub().await;
    let (mut child, listening) = serve(&db, &stub.url()).await;
    let addr = listening["listen"].as_str().unwrap().to_owned();
    let metrics_url = format!("http://{}/metrics", listening["metrics"].as_str().unwrap());
    // Keep reading its log, or a full pipe would stall the server.
    let mut log = child.stderr.take().unwrap();
    std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = estrade_tests::http_client();
    let scrape = || async {
        client
            .get(&metrics_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // Every closed label once: a standard method on a route and off any.
    for path in ["/healthz", "/no/such/route"] {
        client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
    }
    let before = request_series(&scrape().await);
    let rss_before = rss_kib(child.id());

    let mut rng = rand::rng();
    for _ in 0..1000 {
        let method: String = (0..16 * 1024)
            .map(|_| char::from(rng.random_range(b'A'..=b'Z')))
            .collect();
        let path: String = (0..64)
            .map(|_| char::from(rng.random_range(b'a'..=b'z')))
            .collect();
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let res = client
            .request(method, format!("http://{addr}/{path}"))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    let page = scrape().await;
    let after = request_series(&page);
    // Made-up methods are one `other` label, unmatched paths one route.
    let other: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with("http_requests_total") && l.contains(r#"method="other""#))
        .collect();
    assert_eq!(other.len(), 1, "{other:?}");
    assert!(other[0].ends_with(" 1000"), "{}", other[0]);
    assert!(
        after <= before + 20,
        "{before} request series before, {after} after"
    );
    let grown_kib = rss_kib(child.id()).saturating_sub(rss_before);
    assert!(
        grown_kib < 8 * 1024,
        "the server grew by {grown_kib} KiB on 16 MB of made-up methods"
    );
    terminate(&mut child, Duration::from_secs(10));
}

#[sqlx::test(migrations = false)]
async fn the_worker_stops_cleanly_on_sigterm(db: PgPool) {
    let env = full_env(&db, "http://127.0.0.1:9").await;
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut child = estrade(&envs)
        .arg("worker")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_log(&mut child, "worker running");
    let status = terminate(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{status}");
}

#[sqlx::test(migrations = false)]
async fn reconcile_once_prints_its_report_and_exits_by_its_outcome(db: PgPool) {
    let stub = start_stub().await;
    let env = full_env(&db, &stub.url()).await;
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_blocking(estrade(&envs).args(["reconcile", "--once"])).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["trigger"], "cli");
    assert_eq!(report["outcome"], "ok");
    assert_eq!(report["livekit_calls"], 1, "one ListRooms, no room to list");

    // LiveKit unreachable: the run fails, says why, and exits 1.
    let mut env = env;
    env.retain(|(k, _)| *k != "LIVEKIT_URL");
    env.push(("LIVEKIT_URL", "http://127.0.0.1:9".to_owned()));
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_blocking(estrade(&envs).args(["reconcile", "--once"])).await;
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "failed");
    let stored: Vec<String> =
        sqlx::query_scalar("select outcome from reconcile_reports order by started_at")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(stored, ["ok", "failed"]);
}

/// Runs a command to completion off the test's (single-threaded) runtime,
/// so an in-process stand-in keeps answering it.
async fn run_blocking(cmd: &mut Command) -> std::process::Output {
    let mut cmd = std::mem::replace(cmd, Command::new("true"));
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// `estrade` as the image runs it: uid and gid 65532, no capabilities at
/// all (empty bounding set), `no_new_privs`, and a read-only root
/// filesystem (a private mount namespace with `/` remounted read-only).
/// `unshare` and `setpriv` exec, so the child's pid is estrade's.
fn hardened(envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        "mount -o remount,bind,ro / && exec setpriv --reuid=65532 --regid=65532 \
         --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all -- \"$@\"",
        "hardened",
        BIN,
    ]);
    cmd
}

/// A child killed when dropped, so a failed assertion leaves no process
/// holding the test database.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `/proc/<pid>/status` field.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_owned()
}

#[sqlx::test(migrations = false)]
#[ignore = "needs root (mount namespace, setpriv): scripts/test runs it as root"]
async fn every_role_runs_as_an_unprivileged_user_with_no_capabilities_on_a_read_only_root(
    db: PgPool,
) {
    let stub = start_stub().await;
    let env = env_for(&db, &stub.url());
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // migrate, on an empty database.
    let out = run_blocking(hardened(&envs).arg("migrate")).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let migrated: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(migrated > 0);

    // serve: ready, and really under the restrictions.
    let mut api = Running(
        hardened(&envs)
            .arg("serve")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let listening = wait_for_log(&mut api.0, "API listening");
    let addr = listening["listen"].as_str().unwrap().to_owned();
    let pid = api.0.id();
    assert_eq!(
        status_field(pid, "Uid").split_whitespace().next(),
        Some("65532")
    );
    assert_eq!(status_field(pid, "CapEff"), "0000000000000000");
    assert_eq!(status_field(pid, "CapBnd"), "0000000000000000");
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    // The last mount on `/` is the one in effect.
    let root = mountinfo
        .lines()
        .rfind(|l| l.split_whitespace().nth(4) == Some("/"))
        .expect("a root mount");
    let options = root.split_whitespace().nth(5).unwrap();
    assert!(
        options.split(',').any(|o| o == "ro"),
        "root mounted {options}"
    );

    let _ = rustls::crypto::ring::default_provider().install_default();
    let ready = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    // The container's healthcheck, under the same restrictions.
    let probe =
        run_blocking(hardened(&envs).args(["healthcheck", "--addr", &addr, "--path", "/readyz"]))
            .await;
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );

    // worker and a one-off reconciliation.
    let mut worker = Running(
        hardened(&envs)
            .arg("worker")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_for_log(&mut worker.0, "worker running");
    let out = run_blocking(hardened(&envs).args(["reconcile", "--once"])).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for child in [&mut worker, &mut api] {
        let status = terminate(&mut child.0, Duration::from_secs(10));
        assert!(status.success(), "{status}");
    }
}
