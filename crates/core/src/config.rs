//! Typed configuration, read once from environment variables at start-up.
//!
//! Parsing takes a lookup function instead of reading the process
//! environment directly, so tests (and `estrade dev`, which fills in the
//! URLs of the services it starts) never mutate the environment. Every
//! problem is collected, so one start-up error lists everything to fix.
//! Every variable is documented in `docs/CONFIGURATION.md`.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::domain::{Capacity, Graces};

/// Everything `estrade serve` and `estrade worker` need.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where PostgreSQL is.
    pub database: DatabaseConfig,
    /// Redis connection URL (`REDIS_URL`); may carry a password.
    pub redis_url: SecretString,
    /// How to reach LiveKit.
    pub livekit: LiveKitConfig,
    /// Address the HTTP API listens on (`ESTRADE_LISTEN`).
    pub listen: SocketAddr,
    /// Address `/metrics` is served on (`ESTRADE_METRICS_LISTEN`), kept off
    /// the public listener so only the internal network can scrape it.
    pub metrics_listen: SocketAddr,
    /// Public base URL of the web client, used to build join links
    /// (`ESTRADE_PUBLIC_URL`).
    pub public_url: Url,
    /// HMAC secret for participant tokens (`ESTRADE_PARTICIPANT_TOKEN_SECRET`).
    pub participant_token_secret: SecretString,
    /// Largest request body accepted, in bytes (`ESTRADE_BODY_LIMIT_BYTES`).
    pub body_limit_bytes: usize,
    /// How long shutdown may drain in-flight work (`ESTRADE_SHUTDOWN_TIMEOUT_S`).
    pub shutdown_timeout: Duration,
    /// How long a connection may take to send a request's headers, and
    /// stay idle between requests (`ESTRADE_HEADER_READ_TIMEOUT_S`).
    pub header_read_timeout: Duration,
    /// How long a request may take, body included, until its answer starts
    /// (`ESTRADE_REQUEST_TIMEOUT_S`); a live-update stream, once answered,
    /// follows its own rules.
    pub request_timeout: Duration,
    /// Live-update streams one participant may hold open at once
    /// (`ESTRADE_SSE_STREAMS_PER_PARTICIPANT`).
    pub streams_per_participant: usize,
    /// Live-update streams one API process holds open at most
    /// (`ESTRADE_SSE_STREAMS_MAX`).
    pub streams_max: usize,
    /// How long learner names are kept after a session ends
    /// (`ESTRADE_RETENTION_DAYS`).
    pub retention: Duration,
    /// Lifetime of participant tokens (`ESTRADE_PARTICIPANT_TOKEN_TTL_S`).
    pub participant_token_ttl: Duration,
    /// Proxies whose `X-Forwarded-For` is believed (`ESTRADE_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Rate limits on joining and token minting.
    pub limits: Limits,
    /// How long a stored webhook may wait in the queue before the sweeper
    /// pushes it again (`ESTRADE_WEBHOOK_REQUEUE_AFTER_S`).
    pub webhook_requeue_after: Duration,
    /// Webhook events one worker applies at once (`ESTRADE_WORKER_CONCURRENCY`).
    pub worker_concurrency: usize,
    /// Prefix of every Redis key Estrade uses, so deployments (or test
    /// runs) can share one Redis (`ESTRADE_REDIS_NAMESPACE`).
    pub redis_namespace: String,
    /// Seconds between scheduled reconciliation runs
    /// (`ESTRADE_RECONCILE_EVERY_S`): divides a minute, or is whole minutes
    /// dividing an hour, so it maps onto a cron schedule; 0 schedules none.
    pub reconcile_every_s: u64,
    /// TURN relays offered by `GET /v1/connectivity`, when
    /// `ESTRADE_TURN_SECRET` is set.
    pub turn: Option<TurnConfig>,
    /// Whether reconciliation deletes LiveKit rooms no live session owns
    /// (`ESTRADE_RECONCILE_ORPHAN_ROOMS=delete`, the default) or only
    /// reports them (`report`).
    pub delete_orphan_rooms: bool,
    /// The built web client (`client/`'s `npm run build`), served at `/`,
    /// `/join/{code}`, `/check` and `/console` (`ESTRADE_CLIENT_DIR`).
    pub client_dir: std::path::PathBuf,
    /// How long a console sign-in lasts (`ESTRADE_CONSOLE_SESSION_TTL_S`).
    pub console_session_ttl: Duration,
    /// How long a participant LiveKit does not have keeps its seat and
    /// its place on the floor (`ESTRADE_ARRIVAL_GRACE_S`,
    /// `ESTRADE_DEPARTURE_GRACE_S`).
    pub graces: Graces,
    /// What the deployment admits at once.
    pub capacity: Capacity,
    /// How webhooks to the LMS are delivered.
    pub outbound: Outbound,
}

/// How webhooks to the LMS (outbound) are delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// Ranges deliveries may reach although the guard refuses them
    /// (loopback, private…) (`ESTRADE_OUTBOUND_ALLOWED_RANGES`).
    pub allowed: Vec<ipnet::IpNet>,
    /// How long one attempt may take, connection included
    /// (`ESTRADE_OUTBOUND_TIMEOUT_S`).
    pub timeout: std::time::Duration,
    /// How long a delivery is retried before it is marked failed
    /// (`ESTRADE_OUTBOUND_RETRY_FOR_S`).
    pub retry_for: std::time::Duration,
    /// The first retry's delay, doubled each time
    /// (`ESTRADE_OUTBOUND_RETRY_BASE_MS`).
    pub retry_base: std::time::Duration,
    /// The longest delay between two attempts (`ESTRADE_OUTBOUND_RETRY_CAP_S`).
    pub retry_cap: std::time::Duration,
}

impl Config {
    /// The cron schedule (with seconds) of the reconciliation runs; none
    /// when `ESTRADE_RECONCILE_EVERY_S` is 0.
    pub fn reconcile_cron(&self) -> Option<String> {
        cron_every(self.reconcile_every_s)
    }
}

/// A cron expression (with seconds) firing every `seconds`, when that
/// divides a minute, or is whole minutes dividing an hour.
pub fn cron_every(seconds: u64) -> Option<String> {
    match seconds {
        1..=59 if 60 % seconds == 0 => Some(format!("0/{seconds} * * * * *")),
        60..=3600 if seconds.is_multiple_of(60) && 60 % (seconds / 60) == 0 => {
            Some(format!("0 0/{} * * * *", seconds / 60))
        }
        _ => None,
    }
}

/// Rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failed join attempts (unknown or malformed codes) per client IP per
    /// minute (`ESTRADE_JOIN_FAILURES_PER_MIN`).
    pub join_failures_per_ip_per_min: u32,
    /// Failed join attempts of all clients together per minute, counted
    /// across replicas (`ESTRADE_JOIN_FAILURES_GLOBAL_PER_MIN`).
    pub join_failures_global_per_min: u32,
    /// Refused joins (full, locked, not started, ended) per join code per
    /// minute (`ESTRADE_JOINS_PER_CODE_PER_MIN`).
    pub joins_per_code_per_min: u32,
    /// Tokens minted per second, process-wide (`ESTRADE_TOKEN_MINTS_PER_S`).
    pub token_mints_per_s: u32,
    /// Failed console sign-ins per client IP per minute
    /// (`ESTRADE_SIGN_IN_FAILURES_PER_MIN`).
    pub sign_in_failures_per_ip_per_min: u32,
}

/// Where PostgreSQL is: all that `migrate` and `admin` need.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Connection URL (`DATABASE_URL`); may carry a password.
    pub url: SecretString,
    /// Pool size per process (`ESTRADE_DB_MAX_CONNECTIONS`).
    pub max_connections: u32,
}

/// How to reach LiveKit's server API.
#[derive(Debug, Clone)]
pub struct LiveKitConfig {
    /// LiveKit's URL as clients use it (`LIVEKIT_URL`, `ws(s)://` or `http(s)://`).
    pub url: Url,
    /// API key (`LIVEKIT_API_KEY`); it is the issuer of every token.
    pub api_key: String,
    /// API secret (`LIVEKIT_API_SECRET`).
    pub api_secret: SecretString,
    /// Deadline for one call to LiveKit (`ESTRADE_LIVEKIT_TIMEOUT_MS`).
    pub request_timeout: Duration,
    /// Lifetime of LiveKit access tokens we mint (`ESTRADE_LIVEKIT_TOKEN_TTL_S`).
    pub token_ttl: Duration,
}

/// The TURN relay (coturn) clients may use, and its shared secret.
#[derive(Clone)]
pub struct TurnConfig {
    /// coturn's `static-auth-secret` (`ESTRADE_TURN_SECRET`).
    pub secret: SecretString,
    /// ICE URLs of the relay (`ESTRADE_TURN_URLS`, comma-separated), such
    /// as `turns:turn.example.org:443?transport=tcp`.
    pub urls: Vec<String>,
    /// Lifetime of the credentials handed out (`ESTRADE_TURN_TTL_S`).
    pub ttl: Duration,
}

impl fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnConfig")
            .field("urls", &self.urls)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// How logs are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `estrade=debug,info` (`ESTRADE_LOG`).
    pub filter: String,
    /// Output format (`ESTRADE_LOG_FORMAT`).
    pub format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for production.
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

/// One variable that is missing or invalid, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The environment variable.
    pub var: &'static str,
    /// A sentence saying what is wrong and what to set.
    pub message: String,
}

/// Every problem found in the environment; start-up stops on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The problems, in the order the variables were read.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for p in &self.problems {
            writeln!(f, "  - {}: {}", p.var, p.message)?;
        }
        write!(f, "see docs/CONFIGURATION.md")
    }
}

/// Smallest secret length accepted. LiveKit itself refuses shorter API
/// secrets, and 32 bytes is the HMAC-SHA256 key size.
const MIN_SECRET_LEN: usize = 32;

/// Reads variables through `lookup`, remembering every problem.
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Problem>,
}

impl<'a> Reader<'a> {
    fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            lookup,
            problems: Vec::new(),
        }
    }

    fn raw(&self, var: &str) -> Option<String> {
        (self.lookup)(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn problem(&mut self, var: &'static str, message: impl Into<String>) {
        self.problems.push(Problem {
            var,
            message: message.into(),
        });
    }

    fn required(&mut self, var: &'static str, hint: &str) -> Option<String> {
        let value = self.raw(var);
        if value.is_none() {
            self.problem(var, format!("is not set; {hint}"));
        }
        value
    }

    fn parsed<T: std::str::FromStr>(&mut self, var: &'static str, default: T, what: &str) -> T {
        match self.raw(var) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                self.problem(var, format!("is {v:?}, which is not {what}"));
                default
            }),
        }
    }

    fn ranged(&mut self, var: &'static str, default: u64, min: u64, max: u64) -> u64 {
        let value = self.parsed(var, default, "a whole number");
        if !(min..=max).contains(&value) {
            self.problem(var, format!("is {value}, outside {min}..={max}"));
            return default;
        }
        value
    }

    fn url(&mut self, var: &'static str, schemes: &[&str], hint: &str) -> Option<Url> {
        let raw = self.required(var, hint)?;
        match Url::parse(&raw) {
            Ok(url) if schemes.contains(&url.scheme()) => Some(url),
            Ok(url) => {
                let scheme = url.scheme().to_owned();
                self.problem(
                    var,
                    format!(
                        "has scheme {scheme:?}; expected one of {}",
                        schemes.join(", ")
                    ),
                );
                None
            }
            // The URL may hold a password: never echo it.
            Err(e) => {
                self.problem(var, format!("is not a valid URL ({e})"));
                None
            }
        }
    }

    fn secret(&mut self, var: &'static str, hint: &str) -> Option<SecretString> {
        let value = self.required(var, hint)?;
        if value.len() < MIN_SECRET_LEN {
            self.problem(
                var,
                format!("must be at least {MIN_SECRET_LEN} characters long"),
            );
            return None;
        }
        Some(SecretString::from(value))
    }

    fn proxies(&mut self, var: &'static str) -> Vec<ipnet::IpNet> {
        let Some(raw) = self.raw(var) else {
            return Vec::new();
        };
        let mut nets = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let parsed = item
                .parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            match parsed {
                Ok(net) => nets.push(net),
                Err(_) => self.problem(
                    var,
                    format!("has {item:?}, which is not an IP address or CIDR range"),
                ),
            }
        }
        nets
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, ConfigError> {
        match value {
            Some(v) if self.problems.is_empty() => Ok(v),
            _ => Err(ConfigError {
                problems: self.problems,
            }),
        }
    }
}

fn database(r: &mut Reader<'_>) -> Option<DatabaseConfig> {
    let url = r.url(
        "DATABASE_URL",
        &["postgres", "postgresql"],
        "set it to a PostgreSQL URL such as postgres://estrade@127.0.0.1:5432/estrade",
    );
    let max_connections = r.ranged("ESTRADE_DB_MAX_CONNECTIONS", 10, 1, 500) as u32;
    Some(DatabaseConfig {
        url: SecretString::from(String::from(url?)),
        max_connections,
    })
}

impl DatabaseConfig {
    /// Reads the database settings alone.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut r = Reader::new(&lookup);
        let db = database(&mut r);
        r.finish(db)
    }
}

impl LogConfig {
    /// Reads the log settings; logging starts before anything else.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut r = Reader::new(&lookup);
        let filter = r.raw("ESTRADE_LOG").unwrap_or_else(|| "info".to_owned());
        let format = match r.raw("ESTRADE_LOG_FORMAT").as_deref() {
            None | Some("json") => Some(LogFormat::Json),
            Some("pretty") => Some(LogFormat::Pretty),
            Some(other) => {
                r.problem(
                    "ESTRADE_LOG_FORMAT",
                    format!("is {other:?}; expected json or pretty"),
                );
                None
            }
        };
        let cfg = format.map(|format| LogConfig { filter, format });
        r.finish(cfg)
    }
}

impl Config {
    /// Reads the whole configuration through `lookup` (usually
    /// `|k| std::env::var(k).ok()`), reporting every problem at once.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut r = Reader::new(&lookup);
        let database = database(&mut r);
        let redis_url = r.url(
            "REDIS_URL",
            &["redis", "rediss"],
            "set it to a Redis URL such as redis://127.0.0.1:6379",
        );
        let livekit_url = r.url(
            "LIVEKIT_URL",
            &["ws", "wss", "http", "https"],
            "set it to LiveKit's URL such as wss://lk.example.org",
        );
        let api_key = r.required(
            "LIVEKIT_API_KEY",
            "set it to the key in LiveKit's `keys:` config",
        );
        let api_secret = r.secret(
            "LIVEKIT_API_SECRET",
            "set it to the secret in LiveKit's `keys:` config",
        );
        let request_timeout =
            Duration::from_millis(r.ranged("ESTRADE_LIVEKIT_TIMEOUT_MS", 5_000, 100, 60_000));
        let token_ttl =
            Duration::from_secs(r.ranged("ESTRADE_LIVEKIT_TOKEN_TTL_S", 900, 60, 86_400));
        let listen = r.parsed(
            "ESTRADE_LISTEN",
            SocketAddr::from(([0, 0, 0, 0], 8080)),
            "an address such as 0.0.0.0:8080",
        );
        let metrics_listen = r.parsed(
            "ESTRADE_METRICS_LISTEN",
            SocketAddr::from(([127, 0, 0, 1], 9464)),
            "an address such as 127.0.0.1:9464",
        );
        let client_dir = r.parsed(
            "ESTRADE_CLIENT_DIR",
            std::path::PathBuf::from("client/dist"),
            "a directory",
        );
        let public_url = r.url(
            "ESTRADE_PUBLIC_URL",
            &["http", "https"],
            "set it to the public base URL, such as https://app.example.org",
        );
        let participant_token_secret = r.secret(
            "ESTRADE_PARTICIPANT_TOKEN_SECRET",
            "set it to a random string (scripts/gen-secrets writes one)",
        );
        let body_limit_bytes = r.ranged(
            "ESTRADE_BODY_LIMIT_BYTES",
            64 * 1024,
            1024,
            16 * 1024 * 1024,
        ) as usize;
        let shutdown_timeout =
            Duration::from_secs(r.ranged("ESTRADE_SHUTDOWN_TIMEOUT_S", 20, 1, 300));
        let header_read_timeout =
            Duration::from_secs(r.ranged("ESTRADE_HEADER_READ_TIMEOUT_S", 10, 1, 300));
        let http_request_timeout =
            Duration::from_secs(r.ranged("ESTRADE_REQUEST_TIMEOUT_S", 30, 1, 3600));
        let streams_per_participant =
            r.ranged("ESTRADE_SSE_STREAMS_PER_PARTICIPANT", 4, 1, 100) as usize;
        let streams_max = r.ranged("ESTRADE_SSE_STREAMS_MAX", 10_000, 1, 1_000_000) as usize;
        let retention =
            Duration::from_secs(r.ranged("ESTRADE_RETENTION_DAYS", 30, 1, 3650) * 86_400);
        let participant_token_ttl =
            Duration::from_secs(r.ranged("ESTRADE_PARTICIPANT_TOKEN_TTL_S", 900, 60, 86_400));
        let trusted_proxies = r.proxies("ESTRADE_TRUSTED_PROXIES");
        let webhook_requeue_after =
            Duration::from_secs(r.ranged("ESTRADE_WEBHOOK_REQUEUE_AFTER_S", 5, 1, 3600));
        let worker_concurrency = r.ranged("ESTRADE_WORKER_CONCURRENCY", 32, 1, 256) as usize;
        let redis_namespace = r
            .raw("ESTRADE_REDIS_NAMESPACE")
            .unwrap_or_else(|| "estrade".into());
        let namespace_ok = redis_namespace.len() <= 64
            && redis_namespace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !namespace_ok {
            r.problem(
                "ESTRADE_REDIS_NAMESPACE",
                "must be 1-64 letters, digits, '-' or '_'",
            );
        }
        let limits = Limits {
            join_failures_per_ip_per_min: r.ranged("ESTRADE_JOIN_FAILURES_PER_MIN", 10, 1, 10_000)
                as u32,
            join_failures_global_per_min: r.ranged(
                "ESTRADE_JOIN_FAILURES_GLOBAL_PER_MIN",
                60,
                1,
                1_000_000,
            ) as u32,
            joins_per_code_per_min: r.ranged("ESTRADE_JOINS_PER_CODE_PER_MIN", 300, 1, 1_000_000)
                as u32,
            token_mints_per_s: r.ranged("ESTRADE_TOKEN_MINTS_PER_S", 20_000, 2, 1_000_000) as u32,
            sign_in_failures_per_ip_per_min: r.ranged(
                "ESTRADE_SIGN_IN_FAILURES_PER_MIN",
                5,
                1,
                1_000,
            ) as u32,
        };
        let graces = Graces {
            arrival: Duration::from_secs(r.ranged("ESTRADE_ARRIVAL_GRACE_S", 60, 1, 600)),
            departure: Duration::from_secs(r.ranged("ESTRADE_DEPARTURE_GRACE_S", 30, 0, 600)),
        };
        let console_session_ttl =
            Duration::from_secs(r.ranged("ESTRADE_CONSOLE_SESSION_TTL_S", 8 * 3600, 300, 86_400));
        // Sized from the field figure (docs/SCALING.md): a class of 60 takes
        // about 14 % of a 4 vCPU / 8 GB box, so 300 seats (five such
        // classes) keep a margin on one box.
        let capacity = Capacity {
            live_sessions_per_teacher: r.ranged(
                "ESTRADE_MAX_LIVE_SESSIONS_PER_TEACHER",
                2,
                1,
                100_000,
            ) as i64,
            live_sessions: r.ranged("ESTRADE_MAX_LIVE_SESSIONS", 10, 1, 100_000) as i64,
            participants: r.ranged("ESTRADE_MAX_PARTICIPANTS", 300, 1, 10_000_000) as i64,
        };
        let outbound = Outbound {
            allowed: r.proxies("ESTRADE_OUTBOUND_ALLOWED_RANGES"),
            timeout: Duration::from_secs(r.ranged("ESTRADE_OUTBOUND_TIMEOUT_S", 10, 1, 60)),
            retry_for: Duration::from_secs(r.ranged(
                "ESTRADE_OUTBOUND_RETRY_FOR_S",
                86_400,
                1,
                7 * 86_400,
            )),
            retry_base: Duration::from_millis(r.ranged(
                "ESTRADE_OUTBOUND_RETRY_BASE_MS",
                5_000,
                10,
                3_600_000,
            )),
            retry_cap: Duration::from_secs(r.ranged(
                "ESTRADE_OUTBOUND_RETRY_CAP_S",
                3600,
                1,
                86_400,
            )),
        };

        let turn_ttl = Duration::from_secs(r.ranged("ESTRADE_TURN_TTL_S", 600, 60, 86_400));
        let turn = match r.raw("ESTRADE_TURN_SECRET") {
            None => None,
            Some(_) => {
                let secret = r.secret("ESTRADE_TURN_SECRET", "coturn's static-auth-secret");
                let urls: Vec<String> = r
                    .raw("ESTRADE_TURN_URLS")
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect();
                let urls_ok = !urls.is_empty()
                    && urls
                        .iter()
                        .all(|u| u.starts_with("turn:") || u.starts_with("turns:"));
                if !urls_ok {
                    r.problem(
                        "ESTRADE_TURN_URLS",
                        "must list the relay's turn: or turns: URLs when ESTRADE_TURN_SECRET is set, such as turns:turn.example.org:443?transport=tcp",
                    );
                }
                secret.map(|secret| TurnConfig {
                    secret,
                    urls,
                    ttl: turn_ttl,
                })
            }
        };
        let reconcile_every_s = r.ranged("ESTRADE_RECONCILE_EVERY_S", 30, 0, 3600);
        if reconcile_every_s != 0 && cron_every(reconcile_every_s).is_none() {
            r.problem(
                "ESTRADE_RECONCILE_EVERY_S",
                "must divide a minute (5, 10, 15, 20, 30 …), be whole minutes dividing an hour (60, 120, 300 …), or be 0 (no schedule)",
            );
        }
        let delete_orphan_rooms = match r.raw("ESTRADE_RECONCILE_ORPHAN_ROOMS").as_deref() {
            None | Some("delete") => true,
            Some("report") => false,
            Some(_) => {
                r.problem(
                    "ESTRADE_RECONCILE_ORPHAN_ROOMS",
                    "must be `delete` or `report`",
                );
                true
            }
        };

        let config = (|| {
            Some(Config {
                database: database?,
                redis_url: SecretString::from(String::from(redis_url?)),
                livekit: LiveKitConfig {
                    url: livekit_url?,
                    api_key: api_key?,
                    api_secret: api_secret?,
                    request_timeout,
                    token_ttl,
                },
                listen,
                metrics_listen,
                public_url: public_url?,
                participant_token_secret: participant_token_secret?,
                body_limit_bytes,
                shutdown_timeout,
                header_read_timeout,
                request_timeout: http_request_timeout,
                streams_per_participant,
                streams_max,
                retention,
                participant_token_ttl,
                trusted_proxies,
                limits,
                webhook_requeue_after,
                worker_concurrency,
                redis_namespace,
                reconcile_every_s,
                delete_orphan_rooms,
                turn,
                client_dir,
                console_session_ttl,
                graces,
                capacity,
                outbound,
            })
        })();
        r.finish(config)
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }
}

impl LiveKitConfig {
    /// The HTTP(S) base URL of LiveKit's server API: `ws` becomes `http`
    /// and `wss` becomes `https`, as LiveKit's own SDKs do.
    pub fn api_url(&self) -> String {
        let mut s = self.url.to_string();
        if let Some(rest) = s.strip_prefix("ws") {
            s = format!("http{rest}");
        }
        s.trim_end_matches('/').to_owned()
    }

    /// The URL LiveKit's clients connect to (handed to learners and
    /// teachers): `http` becomes `ws` and `https` becomes `wss`, the
    /// schemes LiveKit's client SDKs expect.
    pub fn client_url(&self) -> String {
        let mut s = self.url.to_string();
        if let Some(rest) = s.strip_prefix("http") {
            s = format!("ws{rest}");
        }
        s.trim_end_matches('/').to_owned()
    }

    /// The secret, for the one place that signs tokens with it.
    pub fn expose_secret(&self) -> &str {
        self.api_secret.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn complete() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "DATABASE_URL",
                "postgres://estrade:hunter2@127.0.0.1/estrade",
            ),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("LIVEKIT_URL", "wss://lk.example.org"),
            ("LIVEKIT_API_KEY", "APIkey"),
            ("LIVEKIT_API_SECRET", SECRET),
            ("ESTRADE_PUBLIC_URL", "https://app.example.org"),
            ("ESTRADE_PARTICIPANT_TOKEN_SECRET", SECRET),
        ]
    }

    #[test]
    fn a_complete_environment_loads_with_defaults_for_the_rest() {
        let cfg = Config::from_lookup(env(&complete())).unwrap();
        assert_eq!(cfg.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(cfg.livekit.token_ttl, Duration::from_secs(900));
        assert_eq!(cfg.livekit.api_url(), "https://lk.example.org");
        assert_eq!(cfg.livekit.client_url(), "wss://lk.example.org");
        assert_eq!(cfg.body_limit_bytes, 65_536);
        assert_eq!(
            cfg.capacity,
            Capacity {
                live_sessions_per_teacher: 2,
                live_sessions: 10,
                participants: 300,
            }
        );
    }

    #[test]
    fn clients_are_handed_a_websocket_url_whatever_scheme_livekit_url_has() {
        for (given, client) in [
            ("http://127.0.0.1:7880", "ws://127.0.0.1:7880"),
            ("https://lk.example.org/", "wss://lk.example.org"),
            ("ws://127.0.0.1:7880", "ws://127.0.0.1:7880"),
            ("wss://lk.example.org", "wss://lk.example.org"),
        ] {
            let mut vars = complete();
            vars.retain(|(k, _)| *k != "LIVEKIT_URL");
            vars.push(("LIVEKIT_URL", given));
            let cfg = Config::from_lookup(env(&vars)).unwrap();
            assert_eq!(cfg.livekit.client_url(), client, "{given}");
        }
    }

    #[test]
    fn an_empty_environment_names_every_required_variable() {
        let err = Config::from_lookup(env(&[])).unwrap_err();
        let vars: Vec<_> = err.problems.iter().map(|p| p.var).collect();
        assert_eq!(
            vars,
            [
                "DATABASE_URL",
                "REDIS_URL",
                "LIVEKIT_URL",
                "LIVEKIT_API_KEY",
                "LIVEKIT_API_SECRET",
                "ESTRADE_PUBLIC_URL",
                "ESTRADE_PARTICIPANT_TOKEN_SECRET"
            ]
        );
        assert!(
            err.to_string()
                .contains("DATABASE_URL: is not set; set it to a PostgreSQL URL")
        );
    }

    #[test]
    fn invalid_values_are_refused_with_a_clear_message() {
        let mut vars = complete();
        vars.push(("ESTRADE_LISTEN", "not-an-address"));
        vars.push(("ESTRADE_LIVEKIT_TIMEOUT_MS", "0"));
        vars.retain(|(k, _)| *k != "REDIS_URL");
        vars.push(("REDIS_URL", "http://127.0.0.1:6379"));
        let err = Config::from_lookup(env(&vars)).unwrap_err();
        let msgs: Vec<_> = err
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.var, p.message))
            .collect();
        assert_eq!(
            msgs,
            [
                "REDIS_URL: has scheme \"http\"; expected one of redis, rediss",
                "ESTRADE_LIVEKIT_TIMEOUT_MS: is 0, outside 100..=60000",
                "ESTRADE_LISTEN: is \"not-an-address\", which is not an address such as 0.0.0.0:8080",
            ]
        );
    }

    #[test]
    fn a_short_secret_is_refused() {
        let mut vars = complete();
        vars.retain(|(k, _)| *k != "LIVEKIT_API_SECRET");
        vars.push(("LIVEKIT_API_SECRET", "short"));
        let err = Config::from_lookup(env(&vars)).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        assert_eq!(err.problems[0].var, "LIVEKIT_API_SECRET");
        assert!(
            !err.to_string().contains("short"),
            "the value itself is never echoed"
        );
    }

    #[test]
    fn an_unparseable_database_url_is_refused_without_echoing_it() {
        let err = DatabaseConfig::from_lookup(env(&[("DATABASE_URL", "postgres://u:pw@[bad")]))
            .unwrap_err();
        assert_eq!(err.problems[0].var, "DATABASE_URL");
        assert!(!err.to_string().contains("pw"));
    }

    #[test]
    fn debug_output_redacts_secrets_and_urls_with_passwords() {
        let cfg = Config::from_lookup(env(&complete())).unwrap();
        let debug = format!("{cfg:?}");
        assert!(!debug.contains(SECRET));
        assert!(!debug.contains("hunter2"));
        assert!(debug.contains("REDACTED"));
    }

    #[test]
    fn reconciliation_intervals_map_onto_cron_schedules() {
        assert_eq!(cron_every(30).as_deref(), Some("0/30 * * * * *"));
        assert_eq!(cron_every(5).as_deref(), Some("0/5 * * * * *"));
        assert_eq!(cron_every(300).as_deref(), Some("0 0/5 * * * *"));
        assert_eq!(cron_every(7), None);
        assert_eq!(cron_every(90), None);
        assert_eq!(cron_every(0), None, "0: no schedule");
        let mut vars = complete();
        vars.push(("ESTRADE_RECONCILE_EVERY_S", "45"));
        vars.push(("ESTRADE_RECONCILE_ORPHAN_ROOMS", "ignore"));
        let error = Config::from_lookup(env(&vars)).unwrap_err().to_string();
        assert!(error.contains("ESTRADE_RECONCILE_EVERY_S"), "{error}");
        assert!(error.contains("ESTRADE_RECONCILE_ORPHAN_ROOMS"), "{error}");
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        let mut vars = complete();
        vars.push(("ESTRADE_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"));
        let cfg = Config::from_lookup(env(&vars)).unwrap();
        assert_eq!(cfg.trusted_proxies.len(), 2);
        assert!(cfg.trusted_proxies[1].contains(&"127.0.0.1".parse::<std::net::IpAddr>().unwrap()));
        let mut vars = complete();
        vars.push(("ESTRADE_TRUSTED_PROXIES", "traefik"));
        let err = Config::from_lookup(env(&vars)).unwrap_err();
        assert_eq!(err.problems[0].var, "ESTRADE_TRUSTED_PROXIES");
    }

    #[test]
    fn log_format_accepts_json_and_pretty_only() {
        assert_eq!(
            LogConfig::from_lookup(env(&[])).unwrap().format,
            LogFormat::Json
        );
        let pretty = LogConfig::from_lookup(env(&[("ESTRADE_LOG_FORMAT", "pretty")])).unwrap();
        assert_eq!(pretty.format, LogFormat::Pretty);
        assert!(LogConfig::from_lookup(env(&[("ESTRADE_LOG_FORMAT", "xml")])).is_err());
    }
}
