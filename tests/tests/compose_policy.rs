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
//!   command arguments must come from `${…}`).

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
