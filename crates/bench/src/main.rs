//! `estrade-bench`: measures, against a real `estrade serve` (a release
//! build, as a child process) with real PostgreSQL and Redis and the
//! LiveKit stand-in in this process:
//!
//! - `floor`: a teacher grants and revokes the floor over and over while
//!   learners watch the live stream; per grant, the time from sending the
//!   request to the stand-in receiving the UpdateParticipant that lets the
//!   learner publish, and to each learner's stream delivering the new
//!   floor. Both clocks are this process's, so no clock skew.
//! - `sse-memory`: opens many streams and reports the server's resident
//!   memory before and after.
//! - `reconcile`: one reconciliation run over many rooms and participants
//!   in the stand-in, without drift and with some.
//! - `classes`: many classes at once (50 × 60 by default), signalling
//!   only: joins, streams, webhooks, a hand granted in every class every
//!   two seconds; latencies, each process's CPU and the API's memory.
//!
//! Run through `bench/floor.sh` and `bench/sse_memory.sh`, which prepare a
//! database and an admin key; results go in `docs/PERFORMANCE.md`.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use estrade_livekit_stub::{Stub, StubConfig};
use serde_json::{Value, json};

const LIVEKIT_KEY: &str = "benchkey";
const LIVEKIT_SECRET: &str = "bench-secret-bench-secret-bench-secret";

#[derive(Parser)]
#[command(about)]
struct Args {
    /// The `estrade` binary to run.
    #[arg(long, default_value = "target/release/estrade")]
    estrade: String,
    /// An admin key of the database in `DATABASE_URL`.
    #[arg(long, env = "ADMIN_KEY", hide_env_values = true)]
    admin_key: String,
    /// Port for `estrade serve`.
    #[arg(long, default_value_t = 18091)]
    port: u16,
    #[command(subcommand)]
    command: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Grant → LiveKit and grant → live stream latencies.
    Floor {
        /// Learners in the session, each watching the stream.
        #[arg(long, default_value_t = 60)]
        learners: usize,
        /// Grants measured (each followed by a revoke).
        #[arg(long, default_value_t = 1000)]
        grants: usize,
        /// Grants before measuring.
        #[arg(long, default_value_t = 50)]
        warmup: usize,
    },
    /// One reconciliation run over many rooms, without and with drift.
    Reconcile {
        /// Live sessions (rooms).
        #[arg(long, default_value_t = 1000)]
        rooms: usize,
        /// Learners connected per room.
        #[arg(long, default_value_t = 60)]
        per_room: usize,
        /// Share of participants to put out of line before the last run.
        #[arg(long, default_value_t = 0.05)]
        drift: f64,
    },
    /// A backlog of webhook events stored and queued while no worker runs,
    /// then drained by `estrade worker`.
    Backlog {
        /// Live sessions.
        #[arg(long, default_value_t = 10)]
        rooms: usize,
        /// Learners per session.
        #[arg(long, default_value_t = 25)]
        learners: usize,
        /// Connections per learner (four events each).
        #[arg(long, default_value_t = 100)]
        cycles: usize,
        /// Empty the queue in Redis before the worker starts: the worker
        /// then drains the backlog from the inbox.
        #[arg(long)]
        empty_redis: bool,
    },
    /// Many classes at once, signalling only: joins, every learner's live
    /// stream, LiveKit's webhooks (from the stand-in, applied by `estrade
    /// worker`), and in every class a hand raised, granted and revoked at
    /// a steady pace.
    Classes {
        /// Live sessions.
        #[arg(long, default_value_t = 50)]
        sessions: usize,
        /// Learners per session, each watching the stream.
        #[arg(long, default_value_t = 60)]
        learners: usize,
        /// How long the classes run once everyone is in.
        #[arg(long, default_value_t = 120)]
        seconds: u64,
        /// Each class's teacher grants a raised hand this often.
        #[arg(long, default_value_t = 2000)]
        every_ms: u64,
    },
    /// Resident memory of the server with many open streams.
    SseMemory {
        /// Streams to open.
        #[arg(long, default_value_t = 10_000)]
        streams: usize,
        /// Sessions they watch (evenly).
        #[arg(long, default_value_t = 10)]
        sessions: usize,
    },
}

/// `estrade serve`, stopped on drop.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(args: &Args, livekit_url: &str) -> anyhow::Result<Self> {
        let base = format!("http://127.0.0.1:{}", args.port);
        let child = role(args, "serve", livekit_url)
            .env("ESTRADE_LISTEN", format!("127.0.0.1:{}", args.port))
            .env("ESTRADE_METRICS_LISTEN", "127.0.0.1:0")
            .spawn()
            .with_context(|| format!("starting {}", args.estrade))?;
        let server = Self { child, base };
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await
                && r.status().is_success()
            {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("estrade serve did not become ready");
    }

    /// Resident memory of the server process, in KiB.
    fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("VmRSS")
    }
}

/// `estrade ROLE` with the benchmark's LiveKit and secrets (the database
/// and Redis come from the environment).
fn role(args: &Args, role: &str, livekit_url: &str) -> Command {
    let mut cmd = Command::new(&args.estrade);
    cmd.arg(role)
        .env("LIVEKIT_URL", livekit_url)
        .env("LIVEKIT_API_KEY", LIVEKIT_KEY)
        .env("LIVEKIT_API_SECRET", LIVEKIT_SECRET)
        .env("ESTRADE_PUBLIC_URL", "https://bench.estrade.test")
        .env(
            "ESTRADE_PARTICIPANT_TOKEN_SECRET",
            "bench-participant-secret-0123456789abcdef",
        )
        .env("ESTRADE_LOG", "warn")
        .env("ESTRADE_JOINS_PER_CODE_PER_MIN", "1000000")
        .env("ESTRADE_TOKEN_MINTS_PER_S", "1000000")
        // Thousands of classes and learners at once.
        .env("ESTRADE_MAX_LIVE_SESSIONS_PER_TEACHER", "100000")
        .env("ESTRADE_MAX_LIVE_SESSIONS", "100000")
        .env("ESTRADE_MAX_PARTICIPANTS", "10000000")
        .stdout(Stdio::null());
    cmd
}

/// JSON calls to the API.
struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(&self, path: &str, bearer: &str, body: Value) -> anyhow::Result<Value> {
        let mut request = self.client.post(format!("{}{path}", self.base));
        if !bearer.is_empty() {
            request = request.bearer_auth(bearer);
        }
        let response = request.json(&body).send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("{path}: {status} {body}");
        }
        Ok(body)
    }

    /// A teacher's key, and a live session of theirs.
    async fn teacher(&self, admin: &str) -> anyhow::Result<String> {
        let account = self
            .call(
                "/v1/admin/accounts",
                admin,
                json!({"name": "Bench chef", "role": "teacher"}),
            )
            .await?;
        Ok(account["api_key"].as_str().context("api_key")?.to_owned())
    }

    async fn live_session(&self, teacher: &str, floor: Value) -> anyhow::Result<Value> {
        let session = self
            .call(
                "/v1/sessions",
                teacher,
                json!({"title": "Bench", "max_learners": 1000, "floor": floor}),
            )
            .await?;
        let id = session["id"].as_str().context("id")?;
        self.call(&format!("/v1/sessions/{id}/start"), teacher, json!({}))
            .await
    }
}

/// The floor versions a stream delivered, with their arrival times.
type Seen = Arc<Mutex<Vec<(i64, Instant)>>>;

/// Opens a live stream and records every `floor` event's version and
/// arrival time in `seen`, until the stream ends.
async fn watch(
    client: reqwest::Client,
    url: String,
    bearer: String,
    seen: Seen,
) -> anyhow::Result<()> {
    let mut response = client
        .get(url)
        .bearer_auth(bearer)
        .send()
        .await?
        .error_for_status()?;
    let mut buffer = String::new();
    while let Some(chunk) = response.chunk().await? {
        let at = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if !block.contains("event: floor") {
                continue;
            }
            let data = block
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .context("data")?;
            let floor: Value = serde_json::from_str(data)?;
            let version = floor["version"].as_i64().context("version")?;
            seen.lock().expect("seen").push((version, at));
        }
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: n={} p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.90)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().expect("samples")),
    );
}

async fn floor(
    args: &Args,
    api: &Api,
    stub: &Stub,
    learners: usize,
    grants: usize,
    warmup: usize,
) -> anyhow::Result<()> {
    let teacher = api.teacher(&args.admin_key).await?;
    let session = api
        .live_session(&teacher, json!({"mode": "moderated", "max_speakers": 1}))
        .await?;
    let id = session["id"].as_str().context("id")?.to_owned();
    let code = session["join_code"].as_str().context("code")?.to_owned();
    let mut joined = Vec::new();
    for i in 0..learners {
        let learner = api
            .call(
                "/v1/join",
                "",
                json!({"code": code, "name": format!("Learner {i}")}),
            )
            .await?;
        stub.connect(learner["livekit_token"].as_str().context("token")?)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        joined.push(learner);
    }
    let mut seen = Vec::new();
    for learner in &joined {
        let log = Arc::new(Mutex::new(Vec::new()));
        seen.push(log.clone());
        tokio::spawn(watch(
            api.client.clone(),
            format!("{}/v1/sessions/{id}/events", api.base),
            learner["participant_token"]
                .as_str()
                .context("token")?
                .to_owned(),
            log,
        ));
    }
    // Every stream has its opening floor.
    let all_at = |version: i64| {
        seen.iter()
            .all(|log| log.lock().expect("seen").iter().any(|(v, _)| *v >= version))
    };
    let wait_all = |version: i64| async move {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !all_at(version) {
            if Instant::now() > deadline {
                bail!("streams did not reach version {version}");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        Ok(())
    };
    wait_all(0).await?;

    let grant = format!("/v1/sessions/{id}/floor/grant");
    let revoke = format!("/v1/sessions/{id}/floor/revoke");
    let (mut to_livekit, mut to_stream, mut to_last_stream, mut answered) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..warmup + grants {
        let learner = &joined[round % learners];
        let identity = learner["identity"].as_str().context("identity")?;
        let sent = Instant::now();
        let floor = api
            .call(
                &grant,
                &teacher,
                json!({"participant_id": learner["participant_id"]}),
            )
            .await?;
        let answer = sent.elapsed();
        let version = floor["version"].as_i64().context("version")?;
        wait_all(version).await?;
        let granted_at = stub
            .permission_updates()
            .iter()
            .rev()
            .find(|u| u.identity == identity && u.can_publish && u.at >= sent)
            .map(|u| u.at)
            .context("the grant never reached LiveKit")?;
        let revoked = api
            .call(
                &revoke,
                &teacher,
                json!({"participant_id": learner["participant_id"]}),
            )
            .await?;
        wait_all(revoked["version"].as_i64().context("version")?).await?;
        if round < warmup {
            continue;
        }
        answered.push(answer);
        to_livekit.push(granted_at - sent);
        let arrivals: Vec<Duration> = seen
            .iter()
            .map(|log| {
                let log = log.lock().expect("seen");
                let at = log
                    .iter()
                    .find(|(v, _)| *v == version)
                    .map(|(_, at)| *at)
                    .expect("every stream saw the version");
                at - sent
            })
            .collect();
        to_last_stream.push(*arrivals.iter().max().expect("learners"));
        to_stream.extend(arrivals);
    }
    println!("floor: {learners} learners watching, {grants} grants (after {warmup} warm-up)");
    report("grant answered", answered);
    report("grant -> UpdateParticipant received", to_livekit);
    report("grant -> floor event, each learner", to_stream);
    report("grant -> floor event, last of the learners", to_last_stream);
    Ok(())
}

/// Runs reconciliation through the admin endpoint and prints its report.
async fn reconcile_run(api: &Api, admin: &str, label: &str) -> anyhow::Result<Value> {
    let sent = Instant::now();
    let report = api.call("/v1/admin/reconcile", admin, json!({})).await?;
    let answered = sent.elapsed();
    let started = report["started_at"].as_str().context("started_at")?;
    let finished = report["finished_at"].as_str().context("finished_at")?;
    println!(
        "{label}: run {} ms (answered in {:.0} ms), outcome {}, {} rooms, {} participants, {} LiveKit calls, repairs {}",
        millis_between(started, finished)?,
        answered.as_secs_f64() * 1000.0,
        report["outcome"],
        report["rooms_checked"],
        report["participants_checked"],
        report["livekit_calls"],
        report["repairs"],
    );
    Ok(report)
}

fn millis_between(start: &str, end: &str) -> anyhow::Result<i64> {
    let parse =
        |t: &str| chrono::DateTime::parse_from_rfc3339(t).with_context(|| format!("a time: {t}"));
    Ok((parse(end)? - parse(start)?).num_milliseconds())
}

async fn reconcile(
    args: &Args,
    api: &Api,
    stub: &Stub,
    rooms: usize,
    per_room: usize,
    drift: f64,
) -> anyhow::Result<()> {
    use futures::StreamExt as _;
    let teacher = api.teacher(&args.admin_key).await?;
    println!("seeding {rooms} live sessions with {per_room} connected learners each");
    let seeded = Instant::now();
    let mut codes = Vec::new();
    for _ in 0..rooms {
        let session = api
            .live_session(&teacher, json!({"mode": "moderated", "max_speakers": 1}))
            .await?;
        codes.push(session["join_code"].as_str().context("code")?.to_owned());
    }
    let joins = codes
        .iter()
        .flat_map(|code| (0..per_room).map(move |i| (code.clone(), i)));
    let learners: Vec<Value> = futures::stream::iter(joins)
        .map(|(code, i)| async move {
            api.call(
                "/v1/join",
                "",
                json!({"code": code, "name": format!("Learner {i}")}),
            )
            .await
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    for learner in &learners {
        stub.connect(learner["livekit_token"].as_str().context("token")?)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    println!("seeded in {:.1?}", seeded.elapsed());
    // No webhooks reach Estrade here: the first run finds every learner
    // connected but not present (100 % drift of one kind).
    reconcile_run(api, &args.admin_key, "first run (every presence lost)").await?;
    reconcile_run(api, &args.admin_key, "no drift").await?;
    reconcile_run(api, &args.admin_key, "no drift, again").await?;

    // Drift behind Estrade's back, in thirds: permissions granted, floor
    // attributes changed, participants gone without a webhook.
    let drifted = ((learners.len() as f64) * drift).round() as usize;
    let livekit = estrade_livekit_stub_gateway(stub);
    for (i, learner) in learners
        .iter()
        .step_by(learners.len() / drifted.max(1))
        .take(drifted)
        .enumerate()
    {
        let room = format!(
            "estrade-{}",
            learner["session_id"].as_str().context("session_id")?
        );
        let identity = learner["identity"].as_str().context("identity")?;
        match i % 3 {
            0 => {
                livekit
                    .set_permission(
                        &room,
                        identity,
                        estrade_livekit::grants::floor_permission(true),
                    )
                    .await?;
            }
            1 => {
                let attributes = [("estrade.hand".to_owned(), "raised".to_owned())]
                    .into_iter()
                    .collect();
                livekit.set_attributes(&room, identity, attributes).await?;
            }
            _ => stub
                .disconnect(&room, identity, true)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        }
    }
    reconcile_run(
        api,
        &args.admin_key,
        &format!("{:.0} % drift ({drifted} participants)", drift * 100.0),
    )
    .await?;
    reconcile_run(api, &args.admin_key, "after the repairs").await?;
    Ok(())
}

/// The gateway to the in-process stand-in, as Estrade has it.
fn estrade_livekit_stub_gateway(stub: &Stub) -> estrade_livekit::Gateway {
    estrade_livekit::Gateway::new(&estrade_core::config::LiveKitConfig {
        url: stub.url().parse().expect("the stand-in's URL"),
        api_key: LIVEKIT_KEY.to_owned(),
        api_secret: LIVEKIT_SECRET.to_owned().into(),
        request_timeout: Duration::from_secs(5),
        token_ttl: Duration::from_secs(900),
    })
}

async fn sse_memory(
    args: &Args,
    api: &Api,
    server: &Server,
    streams: usize,
    sessions: usize,
) -> anyhow::Result<()> {
    let teacher = api.teacher(&args.admin_key).await?;
    let mut ids = Vec::new();
    for _ in 0..sessions {
        let session = api
            .live_session(&teacher, json!({"mode": "moderated", "max_speakers": 1}))
            .await?;
        ids.push(session["id"].as_str().context("id")?.to_owned());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = server.rss_kib()?;
    let logs: Vec<Seen> = (0..streams)
        .map(|_| Arc::new(Mutex::new(Vec::new())))
        .collect();
    // Separate clients: one connection per stream, as browsers have.
    let clients: Vec<reqwest::Client> = (0..16).map(|_| reqwest::Client::new()).collect();
    let started = Instant::now();
    for (i, log) in logs.iter().enumerate() {
        let url = format!("{}/v1/sessions/{}/events", api.base, ids[i % sessions]);
        tokio::spawn(watch(
            clients[i % clients.len()].clone(),
            url,
            teacher.clone(),
            log.clone(),
        ));
        if i % 200 == 199 {
            // Let the server answer before opening more.
            while logs[..=i]
                .iter()
                .filter(|l| l.lock().expect("log").is_empty())
                .count()
                > 50
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while logs.iter().any(|l| l.lock().expect("log").is_empty()) {
        if Instant::now() > deadline {
            bail!("not every stream opened");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let opened = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let open = server.rss_kib()?;
    // One change per session reaches every stream: they are live.
    for id in &ids {
        let put = api
            .client
            .put(format!("{}/v1/sessions/{id}/floor", api.base))
            .bearer_auth(&teacher)
            .json(&json!({"mode": "moderated", "max_speakers": 2}))
            .send()
            .await?;
        if !put.status().is_success() {
            bail!("PUT floor: {}", put.status());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while logs.iter().any(|l| l.lock().expect("log").len() < 2) {
        if Instant::now() > deadline {
            bail!("not every stream received the change");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = server.rss_kib()?;
    println!("sse-memory: {streams} streams over {sessions} sessions, opened in {opened:.1?}");
    println!("server RSS before: {:.1} MiB", before as f64 / 1024.0);
    println!(
        "server RSS with the streams open: {:.1} MiB",
        open as f64 / 1024.0
    );
    println!(
        "server RSS after one change reached every stream: {:.1} MiB",
        after as f64 / 1024.0
    );
    println!(
        "per stream: {:.1} KiB",
        (after.saturating_sub(before)) as f64 / streams as f64
    );
    Ok(())
}

/// The shape of the many-classes run.
#[derive(Debug, Clone, Copy)]
struct Classes {
    sessions: usize,
    learners: usize,
    run: Duration,
    every: Duration,
}

/// CPU seconds (user + system) a process has used, from `/proc`.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command (which may hold spaces) start after ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

/// CPU seconds used by every process whose command is `name`.
fn cpu_seconds_of(name: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == name)
        })
        .filter_map(|pid| cpu_seconds(pid).ok())
        .sum()
}

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmHWM")
}

/// One class of the run: its teacher, session and learners.
struct Class {
    teacher: String,
    id: String,
    learners: Vec<Value>,
    seen: Vec<Seen>,
}

/// Many classes at once: every learner joins (all classes together, 16
/// joins in flight, the API's cap per client address), connects to the stand-in (whose webhooks `estrade
/// worker` applies) and watches its class's stream; then for `run`, in
/// every class, a learner raises a hand every `every`, the teacher grants
/// it and revokes it once the class saw it. Reports the joins' latency,
/// grant → UpdateParticipant, grant → every learner's stream, and each
/// process's CPU and the API's memory over the run.
async fn classes(
    args: &Args,
    api: &Api,
    stub: &Stub,
    server: &Server,
    shape: Classes,
) -> anyhow::Result<()> {
    use futures::StreamExt as _;
    let mut worker = role(args, "worker", &stub.url())
        .env("ESTRADE_METRICS_LISTEN", "127.0.0.1:0")
        .spawn()
        .context("starting estrade worker")?;
    let worker_pid = worker.id();
    let result = async {
        let mut classes = Vec::new();
        for _ in 0..shape.sessions {
            let teacher = api.teacher(&args.admin_key).await?;
            let session = api
                .live_session(&teacher, json!({"mode": "moderated", "max_speakers": 1}))
                .await?;
            classes.push((teacher, session));
        }
        // Every join of every class, interleaved, 64 at a time.
        let joins: Vec<(usize, String)> = (0..shape.learners)
            .flat_map(|i| {
                classes.iter().enumerate().map(move |(c, (_, session))| {
                    (c, session["join_code"].as_str().unwrap_or_default().to_owned())
                }).map(move |(c, code)| (c, format!("{code}|Learner {i}")))
            })
            .collect();
        let joined: Vec<anyhow::Result<(usize, Value, Duration)>> = futures::stream::iter(joins)
            .map(|(c, code_name)| async move {
                let (code, name) = code_name.split_once('|').context("code")?;
                let sent = Instant::now();
                let learner = api.call("/v1/join", "", json!({"code": code, "name": name})).await?;
                let took = sent.elapsed();
                stub.connect(learner["livekit_token"].as_str().context("token")?)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                Ok((c, learner, took))
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let mut join_times = Vec::new();
        let mut per_class: Vec<Vec<Value>> = vec![Vec::new(); shape.sessions];
        for j in joined {
            let (c, learner, took) = j?;
            join_times.push(took);
            per_class[c].push(learner);
        }
        let clients: Vec<reqwest::Client> = (0..16).map(|_| reqwest::Client::new()).collect();
        let mut all = Vec::new();
        for (c, learners) in per_class.into_iter().enumerate() {
            let (teacher, session) = &classes[c];
            let id = session["id"].as_str().context("id")?.to_owned();
            let mut seen = Vec::new();
            for (i, learner) in learners.iter().enumerate() {
                let log: Seen = Arc::new(Mutex::new(Vec::new()));
                seen.push(log.clone());
                tokio::spawn(watch(
                    clients[i % clients.len()].clone(),
                    format!("{}/v1/sessions/{id}/events", api.base),
                    learner["participant_token"].as_str().context("token")?.to_owned(),
                    log,
                ));
            }
            all.push(Class { teacher: teacher.clone(), id, learners, seen });
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while all.iter().any(|c| c.seen.iter().any(|l| l.lock().expect("seen").is_empty())) {
            if Instant::now() > deadline {
                bail!("not every stream opened");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        println!(
            "classes: {} sessions x {} learners ({} streams), {:?} at a grant every {:?} per class",
            shape.sessions,
            shape.learners,
            shape.sessions * shape.learners,
            shape.run,
            shape.every
        );
        report("join answered (all classes joining at once, 16 in flight: the API's cap per address)", join_times);

        let cpu_at = |label: &str| -> anyhow::Result<(String, f64, f64, f64, f64)> {
            Ok((
                label.to_owned(),
                cpu_seconds(server.child.id())?,
                cpu_seconds(worker_pid)?,
                cpu_seconds_of("postgres"),
                cpu_seconds_of("redis-server"),
            ))
        };
        let before = cpu_at("start")?;
        let started = Instant::now();
        let rounds = futures::future::join_all(all.iter().map(|class| {
            run_class(api, stub, class, shape, started)
        }))
        .await;
        let elapsed = started.elapsed().as_secs_f64();
        let after = cpu_at("end")?;
        let (mut to_livekit, mut to_stream, mut to_last, mut answered) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in rounds {
            let r = r?;
            to_livekit.extend(r.to_livekit);
            to_stream.extend(r.to_stream);
            to_last.extend(r.to_last);
            answered.extend(r.answered);
        }
        println!("grants: {} in {elapsed:.0} s", answered.len());
        report("grant answered", answered);
        report("grant -> UpdateParticipant received", to_livekit);
        report("grant -> floor event, each learner", to_stream);
        report("grant -> floor event, last learner of the class", to_last);
        let share = |b: f64, a: f64| (a - b) / elapsed * 100.0;
        println!(
            "CPU over the run (% of one core): api {:.0} %, worker {:.0} %, postgres {:.0} %, redis {:.0} %",
            share(before.1, after.1),
            share(before.2, after.2),
            share(before.3, after.3),
            share(before.4, after.4),
        );
        // LiveKit's webhooks (from the stand-in) were applied: everyone is present.
        let mut present = 0;
        for class in &all {
            let listed: Value = api
                .client
                .get(format!("{}/v1/sessions/{}/participants", api.base, class.id))
                .bearer_auth(&class.teacher)
                .send()
                .await?
                .json()
                .await?;
            present += listed["participants"]
                .as_array()
                .context("participants")?
                .iter()
                .filter(|p| p["presence"] == "present")
                .count();
        }
        println!(
            "presence from LiveKit's webhooks: {present} of {} learners present",
            shape.sessions * shape.learners
        );
        println!(
            "api RSS: {:.1} MiB now, {:.1} MiB peak; worker peak {:.1} MiB",
            server.rss_kib()? as f64 / 1024.0,
            peak_rss_kib(server.child.id())? as f64 / 1024.0,
            peak_rss_kib(worker_pid)? as f64 / 1024.0,
        );
        Ok(())
    }
    .await;
    let _ = worker.kill();
    let _ = worker.wait();
    result
}

/// What one class measured.
#[derive(Default)]
struct Rounds {
    answered: Vec<Duration>,
    to_livekit: Vec<Duration>,
    to_stream: Vec<Duration>,
    to_last: Vec<Duration>,
}

/// One class for `shape.run` from `started`: every `shape.every`, the
/// next learner raises a hand, the teacher grants it, the class sees it,
/// the teacher revokes it.
async fn run_class(
    api: &Api,
    stub: &Stub,
    class: &Class,
    shape: Classes,
    started: Instant,
) -> anyhow::Result<Rounds> {
    let mut rounds = Rounds::default();
    let wait_all = |version: i64| async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !class
            .seen
            .iter()
            .all(|log| log.lock().expect("seen").iter().any(|(v, _)| *v >= version))
        {
            if Instant::now() > deadline {
                bail!("streams did not reach version {version}");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    };
    // Classes start their rounds spread over the first period.
    let offset = shape.every.mul_f64(rand_fraction(&class.id));
    tokio::time::sleep(offset).await;
    let mut tick = tokio::time::interval(shape.every);
    let grant = format!("/v1/sessions/{}/floor/grant", class.id);
    let revoke = format!("/v1/sessions/{}/floor/revoke", class.id);
    let hand = format!("/v1/sessions/{}/hand", class.id);
    let mut n = 0;
    while started.elapsed() < shape.run {
        tick.tick().await;
        let learner = &class.learners[n % class.learners.len()];
        n += 1;
        let identity = learner["identity"].as_str().context("identity")?;
        let token = learner["participant_token"].as_str().context("token")?;
        api.call(&hand, token, json!({})).await?;
        let sent = Instant::now();
        let floor = api
            .call(
                &grant,
                &class.teacher,
                json!({"participant_id": learner["participant_id"]}),
            )
            .await?;
        rounds.answered.push(sent.elapsed());
        let version = floor["version"].as_i64().context("version")?;
        wait_all(version).await?;
        let granted_at = stub
            .permission_updates()
            .iter()
            .rev()
            .find(|u| u.identity == identity && u.can_publish && u.at >= sent)
            .map(|u| u.at)
            .context("the grant never reached LiveKit")?;
        rounds.to_livekit.push(granted_at - sent);
        let arrivals: Vec<Duration> = class
            .seen
            .iter()
            .map(|log| {
                let log = log.lock().expect("seen");
                log.iter()
                    .find(|(v, _)| *v == version)
                    .map_or(Duration::ZERO, |(_, at)| *at - sent)
            })
            .collect();
        rounds
            .to_last
            .push(*arrivals.iter().max().expect("learners"));
        rounds.to_stream.extend(arrivals);
        let revoked = api
            .call(
                &revoke,
                &class.teacher,
                json!({"participant_id": learner["participant_id"]}),
            )
            .await?;
        wait_all(revoked["version"].as_i64().context("version")?).await?;
    }
    Ok(rounds)
}

/// A number in [0, 1) drawn from `seed` (a session id): spreads the
/// classes' rounds without a random-number generator.
fn rand_fraction(seed: &str) -> f64 {
    use std::hash::{BuildHasher as _, BuildHasherDefault, DefaultHasher};
    let h = BuildHasherDefault::<DefaultHasher>::default().hash_one(seed);
    (h % 10_000) as f64 / 10_000.0
}

/// Stores and queues a backlog as the webhook endpoint does, with no
/// worker running, then starts `estrade worker` and times how long it takes
/// to apply every event.
async fn backlog(
    args: &Args,
    api: &Api,
    stub: &Stub,
    shape: estrade_tests::backlog::Shape,
    empty_redis: bool,
) -> anyhow::Result<()> {
    let teacher = api.teacher(&args.admin_key).await?;
    let mut rooms = Vec::new();
    for _ in 0..shape.rooms {
        let session = api
            .live_session(&teacher, json!({"mode": "moderated", "max_speakers": 1}))
            .await?;
        let code = session["join_code"].as_str().context("code")?;
        let mut identities = Vec::new();
        for i in 0..shape.learners_per_room {
            let learner = api
                .call(
                    "/v1/join",
                    "",
                    json!({"code": code, "name": format!("Learner {i}")}),
                )
                .await?;
            identities.push(learner["identity"].as_str().context("identity")?.to_owned());
        }
        rooms.push((
            session["room_name"].as_str().context("room")?.to_owned(),
            identities,
        ));
    }
    let events = estrade_tests::backlog::events(&rooms, shape.cycles);
    let total = events.len() as i64;
    let db = sqlx::PgPool::connect(&std::env::var("DATABASE_URL")?).await?;
    let namespace = std::env::var("ESTRADE_REDIS_NAMESPACE")?;
    let redis = redis::Client::open(std::env::var("REDIS_URL")?)?;
    let queue = estrade_app::WebhookQueue::new(
        redis::aio::ConnectionManager::new(redis.clone()).await?,
        &namespace,
    );
    // Jobs an earlier run left under this namespace would be drained too.
    clear_namespace(&redis, &namespace).await?;
    let started = Instant::now();
    estrade_tests::backlog::fill(&db, &queue, &events).await;
    println!(
        "backlog: {total} events stored and queued in {:.1} s ({} rooms of {} learners); queue depth {}",
        started.elapsed().as_secs_f64(),
        shape.rooms,
        shape.learners_per_room,
        queue.depth().await?
    );
    if empty_redis {
        clear_namespace(&redis, &namespace).await?;
        println!(
            "backlog: Redis emptied; queue depth {}",
            queue.depth().await?
        );
    }
    let metrics_port = args.port + 1;
    let mut worker = role(args, "worker", &stub.url())
        .env(
            "ESTRADE_METRICS_LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .spawn()?;
    let started = Instant::now();
    let processed = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from webhook_inbox where status = 'processed'",
        )
        .fetch_one(&db)
        .await
    };
    let mut last_report = Instant::now();
    loop {
        let done = processed().await?;
        if done == total {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            println!(
                "backlog: {done} applied after {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
        if started.elapsed() > Duration::from_secs(1800) {
            let _ = worker.kill();
            bail!("only {done} of {total} applied in 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let via: Vec<(Option<String>, i64)> =
        sqlx::query_as("select applied_via, count(*) from webhook_inbox group by 1 order by 1")
            .fetch_all(&db)
            .await?;
    let page = api
        .client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let series = |name: &str| {
        page.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_owned))
            .unwrap_or_else(|| "absent".to_owned())
    };
    let _ = worker.kill();
    let _ = worker.wait();
    clear_namespace(&redis, &namespace).await?;
    println!(
        "backlog: {total} events applied in {secs:.1} s: {:.0} events/s; applied via {via:?}; consumer failures {}",
        total as f64 / secs,
        series("webhooks_consumer_failures_total")
    );
    Ok(())
}

/// Deletes every Redis key under `namespace` (the queue's jobs).
async fn clear_namespace(redis: &redis::Client, namespace: &str) -> anyhow::Result<()> {
    let mut conn = redis.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{namespace}:*"))
        .query_async(&mut conn)
        .await?;
    for chunk in keys.chunks(1000) {
        redis::cmd("DEL")
            .arg(chunk)
            .query_async::<()>(&mut conn)
            .await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // reqwest is built without a default TLS provider (plain HTTP here).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = StubConfig::new(LIVEKIT_KEY, LIVEKIT_SECRET);
    config.record_calls = true;
    if matches!(args.command, Scenario::Classes { .. }) {
        config.webhook_url = Some(format!("http://127.0.0.1:{}/webhooks/livekit", args.port));
    }
    let stub = Stub::start(config).await?;
    let server = Server::start(&args, &stub.url()).await?;
    let api = Api {
        client: reqwest::Client::new(),
        base: server.base.clone(),
    };
    match args.command {
        Scenario::Floor {
            learners,
            grants,
            warmup,
        } => floor(&args, &api, &stub, learners, grants, warmup).await,
        Scenario::Reconcile {
            rooms,
            per_room,
            drift,
        } => reconcile(&args, &api, &stub, rooms, per_room, drift).await,
        Scenario::Backlog {
            rooms,
            learners,
            cycles,
            empty_redis,
        } => {
            let shape = estrade_tests::backlog::Shape {
                rooms,
                learners_per_room: learners,
                cycles,
            };
            backlog(&args, &api, &stub, shape, empty_redis).await
        }
        Scenario::SseMemory { streams, sessions } => {
            sse_memory(&args, &api, &server, streams, sessions).await
        }
        Scenario::Classes {
            sessions,
            learners,
            seconds,
            every_ms,
        } => {
            let shape = Classes {
                sessions,
                learners,
                run: Duration::from_secs(seconds),
                every: Duration::from_millis(every_ms),
            };
            classes(&args, &api, &stub, &server, shape).await
        }
    }
}
