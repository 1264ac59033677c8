//! The deployment's hardening rules, checked on `compose/compose.yml` (with
//! its YAML anchors and merge keys resolved, as Compose reads it):
//!
//! - every service: `read_only: true`, `cap_drop: [ALL]` (a capability
//!   added back only where [`CAP_ADD`] says why it is needed),
//!   `no-new-privileges:true`, a non-root `user`, memory and CPU limits, a
//!   restart policy, and a healthcheck (a one-shot job that others wait for
//!   with `service_completed_successfully` has its exit status instead);
//! - only Traefik publishes ports;
//! - PostgreSQL and Redis only on `internal: true` networks;
//! - every third-party image pinned by tag and sha256 digest (a missing
//!   digest is a warning only while `compose/IMAGES.md` says why),
//!   including the base images of what the stack builds (`dockerfile_inline`
//!   and the repository's `Dockerfile`);
//! - no secret written inline (secret-looking variables, URL passwords and
//!   command arguments must come from `${…}`);
//! - no secret on a command line: the host's `ps` shows every container's
//!   processes with their arguments, and `docker inspect` keeps each
//!   container's, so a secret reaches a service as a Compose secret (a
//!   file) or in its environment, never in `command`, `entrypoint` or a
//!   healthcheck. Checked in the file ([`command_line_secrets`]) and on
//!   Redis started as compose.yml starts it; coturn likewise in
//!   `turn_443.rs`.

#[path = "support/compose.rs"]
mod compose;

use serde_norway::Value;

const COMPOSE: &str = include_str!("../../compose/compose.yml");
const IMAGES: &str = include_str!("../../compose/IMAGES.md");
const DOCKERFILE: &str = include_str!("../../Dockerfile");

/// The images a Dockerfile starts from (not its own earlier stages; flags
/// such as `--platform` skipped).
fn from_images(dockerfile: &str) -> Vec<String> {
    let mut stages = Vec::new();
    let mut images = Vec::new();
    for line in dockerfile.lines() {
        let mut words = line.split_whitespace();
        if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("FROM")) {
            continue;
        }
        let mut words = words.filter(|w| !w.starts_with("--"));
        let Some(image) = words.next() else { continue };
        if !stages
            .iter()
            .any(|s: &String| s.eq_ignore_ascii_case(image))
        {
            images.push(image.to_owned());
        }
        if words.next().is_some_and(|w| w.eq_ignore_ascii_case("AS"))
            && let Some(stage) = words.next()
        {
            stages.push(stage.to_owned());
        }
    }
    images
}

fn load(text: &str) -> Value {
    let mut doc: Value = serde_norway::from_str(text).expect("compose.yml is YAML");
    doc.apply_merge().expect("merge keys resolve");
    // Merge keys nested in services (`environment: {<<: *env, …}`).
    if let Some(services) = doc.get_mut("services").and_then(Value::as_mapping_mut) {
        for (_, service) in services.iter_mut() {
            service.apply_merge().expect("merge keys resolve");
            if let Some(env) = service.get_mut("environment") {
                env.apply_merge().expect("merge keys resolve");
            }
        }
    }
    doc
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["PASSWORD", "SECRET", "KEYS"]
        .iter()
        .any(|s| upper.contains(s))
}

/// A URL's password, if it has one (`scheme://user:password@host`).
fn url_password(value: &str) -> Option<&str> {
    let rest = value.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    userinfo.split_once(':').map(|(_, p)| p)
}

/// The capabilities a service may add back, and why it provably needs them.
const CAP_ADD: &[(&str, &str, &str)] = &[(
    "coturn",
    "NET_BIND_SERVICE",
    "the image sets it as a file capability on turnserver, and the kernel \
     refuses to run such a file when the capability is outside the bounding \
     set (EPERM; checked with setpriv, see compose.yml)",
)];

/// What breaks the rules; warnings separately.
fn violations(doc: &Value, images_md: &str, dockerfile: &str) -> (Vec<String>, Vec<String>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let services = doc["services"].as_mapping().expect("services");
    let networks = doc.get("networks");
    let internal = |name: &str| {
        networks
            .and_then(|n| n.get(name))
            .and_then(|n| n.get("internal"))
            .and_then(Value::as_bool)
            == Some(true)
    };
    let jobs: Vec<String> = services
        .iter()
        .flat_map(|(_, s)| {
            s.get("depends_on")
                .and_then(Value::as_mapping)
                .into_iter()
                .flatten()
                .filter(|(_, c)| c["condition"].as_str() == Some("service_completed_successfully"))
                .filter_map(|(n, _)| n.as_str().map(str::to_owned))
        })
        .collect();
    for (name, s) in services {
        let name = name.as_str().expect("service name");
        let mut fail = |what: &str| errors.push(format!("{name}: {what}"));
        if s.get("read_only").and_then(Value::as_bool) != Some(true) {
            fail("read_only: true is missing");
        }
        if !strings(s.get("cap_drop")).iter().any(|c| c == "ALL") {
            fail("cap_drop: [ALL] is missing");
        }
        for cap in strings(s.get("cap_add")) {
            let cap = cap.trim_start_matches("CAP_");
            if !CAP_ADD.iter().any(|(svc, c, _)| *svc == name && *c == cap) {
                fail(&format!(
                    "adds capability {cap} without a reason in CAP_ADD"
                ));
            }
        }
        if !strings(s.get("security_opt"))
            .iter()
            .any(|o| o == "no-new-privileges:true" || o == "no-new-privileges")
        {
            fail("security_opt no-new-privileges:true is missing");
        }
        match s.get("user").and_then(Value::as_str) {
            None => fail("no user (runs as the image's default, often root)"),
            Some(u) if u == "root" || u == "0" || u.starts_with("0:") || u.starts_with("root:") => {
                fail("runs as root")
            }
            Some(_) => {}
        }
        let limits = &s["deploy"]["resources"]["limits"];
        if limits.get("memory").is_none() || limits.get("cpus").is_none() {
            fail("memory and cpu limits are missing");
        }
        if s.get("restart").is_none() {
            fail("no restart policy");
        }
        let job = jobs.iter().any(|j| j == name)
            && s.get("restart").and_then(Value::as_str) == Some("no");
        let healthcheck = s.get("healthcheck");
        let disabled = healthcheck
            .and_then(|h| h.get("disable"))
            .and_then(Value::as_bool)
            == Some(true);
        if !job && (healthcheck.and_then(|h| h.get("test")).is_none() || disabled) {
            fail("no healthcheck");
        }
        if s.get("ports").is_some() && name != "traefik" {
            fail("publishes ports (only traefik may)");
        }
        if matches!(name, "postgres" | "redis") {
            let nets: Vec<String> = match s.get("networks") {
                Some(Value::Mapping(m)) => m
                    .keys()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect(),
                other => strings(other),
            };
            if nets.is_empty() || nets.iter().any(|n| !internal(n)) {
                fail("must be only on internal networks");
            }
        }
        // What the service runs: built from base images, or pulled.
        let images = match s.get("build") {
            Some(build) => match build.get("dockerfile_inline").and_then(Value::as_str) {
                Some(inline) => from_images(inline),
                None => from_images(dockerfile),
            },
            None => s
                .get("image")
                .and_then(Value::as_str)
                .filter(|image| !image.starts_with("${"))
                .map(|image| vec![image.to_owned()])
                .unwrap_or_default(),
        };
        for image in &images {
            let (reference, digest) = image.split_once('@').unwrap_or((image, ""));
            let tagged = reference
                .rsplit_once(':')
                .is_some_and(|(_, tag)| !tag.contains('/') && tag != "latest");
            if !tagged {
                fail(&format!("image {image} has no version tag"));
            }
            if !digest.starts_with("sha256:") || digest.len() != 7 + 64 {
                let explained = images_md
                    .lines()
                    .any(|l| l.contains(&format!("`{reference}`")) && l.contains("TODO"));
                if explained {
                    warnings.push(format!(
                        "{name}: {reference} has no digest (compose/IMAGES.md explains why)"
                    ));
                } else {
                    fail(&format!("image {image} has no sha256 digest"));
                }
            }
        }
        let env: Vec<(String, String)> = match s.get("environment") {
            Some(Value::Mapping(m)) => m
                .iter()
                .filter_map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return None,
                    };
                    Some((k.as_str()?.to_owned(), v))
                })
                .collect(),
            other => strings(other)
                .into_iter()
                .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.into(), v.into())))
                .collect(),
        };
        for (key, value) in env {
            if is_secret_name(&key) && !value.contains("${") {
                fail(&format!("{key} is written inline"));
            }
            if let Some(password) = url_password(&value)
                && !password.starts_with("${")
            {
                fail(&format!("{key} has a password written inline"));
            }
        }
        for arg in strings(s.get("command")) {
            let lower = arg.to_ascii_lowercase();
            if (lower.contains("secret") || lower.contains("pass")) && !arg.contains("${") {
                // A flag name alone (`--requirepass`) is fine when its value
                // follows as a `${…}` argument.
                if arg.contains('=') {
                    fail(&format!("command argument {arg:?} holds an inline secret"));
                }
            }
        }
    }
    (errors, warnings)
}

/// Options whose value is a secret: Redis's password and its replica's,
/// coturn's shared secret, and the usual spellings elsewhere.
const SECRET_FLAGS: &[&str] = &[
    "--requirepass",
    "--masterauth",
    "--static-auth-secret",
    "--pass",
    "--password",
];

/// Where compose.yml would put a secret on a command line: a secret
/// variable interpolated by Compose (`${TURN_SECRET}`) or expanded by the
/// container's shell (`$$REDIS_PASSWORD`) in `entrypoint`, `command` or a
/// healthcheck, or an option that takes a secret as its value
/// ([`SECRET_FLAGS`], redis-cli's `-a`). A secret the shell reads from a
/// file into configuration or the environment (`$(cat /run/secrets/…)`) is
/// for the runtime tests to judge.
fn command_line_secrets(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (name, s) in doc["services"].as_mapping().expect("services") {
        let name = name.as_str().expect("service name");
        let healthcheck = s.get("healthcheck").and_then(|h| h.get("test"));
        for (place, value) in [
            ("entrypoint", s.get("entrypoint")),
            ("command", s.get("command")),
            ("healthcheck", healthcheck),
        ] {
            for arg in strings(value) {
                let mut rest = arg.as_str();
                while let Some(at) = rest.find('$') {
                    rest = &rest[at + 1..];
                    let (how, after) = match rest.strip_prefix('$') {
                        Some(after) => ("expands", after),
                        None => ("interpolates", rest),
                    };
                    let variable: String = after
                        .trim_start_matches('{')
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if is_secret_name(&variable) {
                        found.push(format!(
                            "{name}: {place} {how} ${variable} into a command line"
                        ));
                    }
                    rest = after;
                }
                for word in arg.split_whitespace() {
                    let word = word.trim_matches(|c| c == '"' || c == '\'');
                    let flag = SECRET_FLAGS
                        .iter()
                        .find(|f| word == **f || word.starts_with(&format!("{f}=")))
                        .copied()
                        .or((word == "-a" && arg.contains("redis-cli")).then_some("redis-cli -a"));
                    if let Some(flag) = flag {
                        found.push(format!(
                            "{name}: {place} passes {flag}, whose value is a secret, as an argument"
                        ));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn no_secret_reaches_a_command_line_in_compose() {
    let found = command_line_secrets(&load(COMPOSE));
    assert!(
        found.is_empty(),
        "secrets on command lines:\n{}",
        found.join("\n")
    );

    // What it catches: compose.yml's former coturn and Redis, and a shell
    // expanding a secret variable.
    let bad = r#"
services:
  coturn:
    command: ["-c", "/etc/coturn/turnserver.conf", "--static-auth-secret=${TURN_SECRET}"]
  redis:
    command: ["redis-server", "--requirepass", "${REDIS_PASSWORD}"]
    healthcheck:
      test: ["CMD-SHELL", "redis-cli -a \"$$REDIS_PASSWORD\" --no-auth-warning ping"]
  other:
    entrypoint: ["sh", "-c", "exec app --token $${API_SECRET}"]
"#;
    let text = command_line_secrets(&load(bad)).join("\n");
    for expected in [
        "coturn: command interpolates $TURN_SECRET into a command line",
        "coturn: command passes --static-auth-secret, whose value is a secret, as an argument",
        "redis: command interpolates $REDIS_PASSWORD into a command line",
        "redis: command passes --requirepass, whose value is a secret, as an argument",
        "redis: healthcheck expands $REDIS_PASSWORD into a command line",
        "redis: healthcheck passes redis-cli -a, whose value is a secret, as an argument",
        "other: entrypoint expands $API_SECRET into a command line",
    ] {
        assert!(text.contains(expected), "missed {expected:?} in:\n{text}");
    }
}

/// One request to Redis on `port`, its first answer line per command.
fn redis(port: u16, commands: &[&str]) -> Vec<String> {
    use std::io::{BufRead as _, Write as _};
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("Redis answers");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    for command in commands {
        writer
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
    }
    let mut reader = std::io::BufReader::new(stream);
    commands
        .iter()
        .map(|_| {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            line.trim_end().to_owned()
        })
        .collect()
}

/// Redis started as compose.yml starts it (`support/compose.rs`), on a
/// loopback port of its own: the password is on no command line — not the
/// container's, not redis-server's or redis-cli's as they were started (a
/// wrapper on `PATH` records them: Redis rewrites its own
/// `/proc/<pid>/cmdline` once running, so that alone proves nothing) —
/// and Redis still asks for it: compose.yml's healthcheck passes, a client
/// without the password gets NOAUTH, a wrong one WRONGPASS, the right one
/// in.
#[test]
fn redis_started_as_compose_starts_it_shows_its_password_on_no_command_line_and_asks_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let password = format!("redis-test-{}", uuid::Uuid::new_v4().simple());
    let vars = [("REDIS_PASSWORD".to_owned(), password.clone())].into();
    let started = compose::service(
        "redis",
        &vars,
        "redis-server",
        &dir.path().join("container"),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let (bin, argv_log) = compose::recording_wrappers(
        dir.path(),
        &[
            (
                "redis-server",
                &[],
                &["--port", &port, "--bind", "127.0.0.1"],
            ),
            ("redis-cli", &["-p", &port], &[]),
        ],
    );
    let path = compose::path_with(&bin);
    let log = std::fs::File::create(dir.path().join("redis.log")).unwrap();
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let server = Killed(
        std::process::Command::new(&started.argv[0])
            .args(&started.argv[1..])
            .env_clear()
            .env("PATH", &path)
            .envs(started.env.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("redis-server (scripts/test installs it)"),
    );
    let port: u16 = port.parse().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "Redis did not start: {}",
            std::fs::read_to_string(dir.path().join("redis.log")).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let health = std::process::Command::new(&started.healthcheck[0])
        .args(&started.healthcheck[1..])
        .env_clear()
        .env("PATH", &path)
        .envs(started.env.iter().map(|(k, v)| (k, v)))
        .status()
        .unwrap();
    assert!(health.success(), "compose.yml's healthcheck fails");
    assert!(redis(port, &["PING"])[0].starts_with("-NOAUTH"));
    assert!(redis(port, &["AUTH not-the-password", "PING"])[0].starts_with("-WRONGPASS"));
    assert_eq!(
        redis(port, &[&format!("AUTH {password}"), "PING"]),
        ["+OK", "+PONG"]
    );

    for (what, line) in [
        ("the container's command line", started.argv.join(" ")),
        (
            "the healthcheck's command line",
            started.healthcheck.join(" "),
        ),
        (
            "redis-server's command line now",
            compose::cmdline(server.0.id()),
        ),
    ] {
        assert!(
            !line.contains(&password),
            "{what} holds the password: {line}"
        );
    }
    let recorded = std::fs::read_to_string(&argv_log).unwrap();
    for program in ["redis-server ", "redis-cli "] {
        assert!(
            recorded.lines().any(|l| l.starts_with(program)),
            "{program}was not started through PATH: {recorded:?}"
        );
    }
    assert!(
        !recorded.contains(&password),
        "a program was started with the password:\n{recorded}"
    );
}

#[test]
fn the_compose_file_follows_every_hardening_rule() {
    let doc = load(COMPOSE);
    let (errors, warnings) = violations(&doc, IMAGES, DOCKERFILE);
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    assert!(
        errors.is_empty(),
        "policy violations:\n{}",
        errors.join("\n")
    );
    let services = doc["services"].as_mapping().unwrap();
    for expected in [
        "traefik",
        "livekit",
        "coturn",
        "postgres",
        "redis",
        "estrade-migrate",
        "estrade-api",
        "estrade-worker",
    ] {
        assert!(services.contains_key(expected), "{expected} is missing");
    }
}

#[test]
fn the_policy_catches_each_kind_of_violation() {
    let bad = r#"
services:
  traefik:
    image: traefik:v3.3.5@sha256:0000000000000000000000000000000000000000000000000000000000000000
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    user: "65532"
    restart: always
    healthcheck: { test: ["CMD", "true"] }
    deploy: { resources: { limits: { cpus: "1", memory: 1G } } }
    ports: ["443:443"]
  sloppy:
    image: example/thing:latest
    ports: ["8080:8080"]
    user: root
    cap_add: [NET_ADMIN]
    environment:
      API_SECRET: hunter2hunter2
      DATABASE_URL: postgres://u:plain@db/x
    command: ["--static-auth-secret=abc"]
  redis:
    image: redis:7.4.2@sha256:0000000000000000000000000000000000000000000000000000000000000000
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    user: "999"
    restart: always
    healthcheck: { test: ["CMD", "true"] }
    deploy: { resources: { limits: { cpus: "1", memory: 1G } } }
    networks: [public]
  built:
    build:
      dockerfile_inline: |
        FROM example/base:1.0
        RUN true
    image: built:local
  ours:
    build: { context: .., dockerfile: Dockerfile }
    image: ours:local
networks:
  public: {}
"#;
    let (errors, _) = violations(&load(bad), "", "FROM rust:1.95-bookworm AS build\n");
    let text = errors.join("\n");
    for expected in [
        "sloppy: read_only: true is missing",
        "sloppy: cap_drop: [ALL] is missing",
        "sloppy: security_opt no-new-privileges:true is missing",
        "sloppy: runs as root",
        "sloppy: memory and cpu limits are missing",
        "sloppy: no restart policy",
        "sloppy: no healthcheck",
        "sloppy: publishes ports (only traefik may)",
        "sloppy: adds capability NET_ADMIN without a reason in CAP_ADD",
        "sloppy: image example/thing:latest has no version tag",
        "sloppy: image example/thing:latest has no sha256 digest",
        "sloppy: API_SECRET is written inline",
        "sloppy: DATABASE_URL has a password written inline",
        "sloppy: command argument \"--static-auth-secret=abc\" holds an inline secret",
        "redis: must be only on internal networks",
        "built: image example/base:1.0 has no sha256 digest",
        "ours: image rust:1.95-bookworm has no sha256 digest",
    ] {
        assert!(text.contains(expected), "missed {expected:?} in:\n{text}");
    }
    assert!(!text.contains("traefik:"), "traefik is fine: {text}");
}
