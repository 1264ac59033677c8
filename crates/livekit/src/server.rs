//! The real LiveKit server (v1.13.5, the version `compose/` deploys) as a
//! child process of `estrade dev` or of a test, on free loopback ports,
//! killed by its own pid when dropped. `scripts/dev` and `scripts/test`
//! build it once from the Go module proxy and hand its path in
//! `LIVEKIT_SERVER_BIN` (`ensure_livekit` in `scripts/lib/services.sh`).
//!
//! Nothing leaves the machine: it binds to 127.0.0.1, advertises 127.0.0.1
//! as its only address (`node_ip`, no external-IP discovery), offers
//! clients no STUN server but its own embedded TURN on loopback (by
//! default LiveKit hands out public STUN servers (Twilio's and Google's)), and creates no
//! room by itself (`auto_create: false`: Estrade's start creates them).

use std::net::{TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The LiveKit version `compose/`, `estrade dev` and the tests run.
pub const VERSION: &str = "1.13.5";

/// Why a local server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The binary could not be run.
    #[error(
        "cannot run {binary} ({source}): run scripts/dev or scripts/test, which build LiveKit v1.13.5, or set LIVEKIT_SERVER_BIN"
    )]
    Spawn {
        /// The binary tried.
        binary: String,
        /// Why.
        source: std::io::Error,
    },
    /// It exited, or did not listen within 30 s.
    #[error("livekit-server did not start: {0}")]
    NotListening(String),
    /// Its configuration could not be written.
    #[error("writing LiveKit's configuration: {0}")]
    Config(std::io::Error),
}

/// A running `livekit-server`.
pub struct LiveKitServer {
    child: Child,
    /// Its HTTP base (Twirp RoomService, `/rtc` signalling, `/` health).
    pub url: String,
    /// The same, as LiveKit clients expect it (`ws://`).
    pub ws_url: String,
    /// The port of its embedded TURN server (UDP; 0 for a configuration
    /// of the caller's).
    pub turn_port: u16,
    _dir: tempfile::TempDir,
}

/// The binary to run: `LIVEKIT_SERVER_BIN`, else `livekit-server` on
/// `PATH`.
pub fn binary() -> String {
    std::env::var("LIVEKIT_SERVER_BIN").unwrap_or_else(|_| "livekit-server".to_owned())
}

/// Whether the binary can be run at all (`--version` answers).
pub fn available() -> bool {
    Command::new(binary())
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_tcp_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn free_udp_port() -> std::io::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl LiveKitServer {
    /// Starts a server with the API key `key`/`secret`, posting its
    /// webhooks to `webhook_url` when given; returns once it answers.
    pub fn start(key: &str, secret: &str, webhook_url: Option<&str>) -> Result<Self, StartError> {
        Self::start_in(key, secret, webhook_url, None)
    }

    /// Starts node `index` (0, 1 …) of a cluster whose nodes share the
    /// Redis at `redis` (`host:port`): LiveKit's distributed mode, each
    /// room on one node, chosen at random, and every node serving any
    /// room (signalling relayed to the room's node, RoomService calls
    /// routed to it).
    pub fn start_node(
        key: &str,
        secret: &str,
        webhook_url: Option<&str>,
        redis: &str,
        index: u16,
    ) -> Result<Self, StartError> {
        Self::start_in(key, secret, webhook_url, Some((redis, index)))
    }

    fn start_in(
        key: &str,
        secret: &str,
        webhook_url: Option<&str>,
        cluster: Option<(&str, u16)>,
    ) -> Result<Self, StartError> {
        let dir = tempfile::tempdir().map_err(StartError::Config)?;
        let (http, tcp, udp, turn) = (
            free_tcp_port().map_err(StartError::Config)?,
            free_tcp_port().map_err(StartError::Config)?,
            free_udp_port().map_err(StartError::Config)?,
            free_udp_port().map_err(StartError::Config)?,
        );
        let webhook = webhook_url.map_or_else(String::new, |url| {
            format!("webhook:\n  api_key: {key}\n  urls:\n    - {url}\n")
        });
        // Each node relays TURN allocations on its own ports.
        let relay = 40_000 + 1_000 * u32::from(cluster.map_or(0, |(_, index)| index));
        let distributed = cluster.map_or_else(String::new, |(redis, _)| {
            format!("redis:\n  address: {redis}\nnode_selector:\n  kind: any\n  sort_by: random\n")
        });
        let config = format!(
            "port: {http}
bind_addresses: [\"127.0.0.1\"]
keys:
  {key}: {secret}
logging:
  level: warn
room:
  auto_create: false
rtc:
  tcp_port: {tcp}
  udp_port: {udp}
  node_ip: 127.0.0.1
  use_external_ip: false
  enable_loopback_candidate: true
  interfaces:
    includes: [lo]
  stun_servers: [\"127.0.0.1:{turn}\"]
turn:
  enabled: true
  domain: localhost
  udp_port: {turn}
  bind_addresses: [\"127.0.0.1\"]
  relay_range_start: {relay}
  relay_range_end: {relay_end}
  allow_restricted_peer_cidrs: [\"127.0.0.0/8\"]
{webhook}{distributed}",
            relay_end = relay + 999,
        );
        Self::run(dir, &config, http, turn, &[])
    }

    /// Starts a server with a configuration of the caller's (say, the
    /// production template with test ports) that listens on
    /// `127.0.0.1:http`, with `env` added to its environment
    /// (`LIVEKIT_KEYS`); returns once it answers.
    pub fn start_with_config(
        config: &str,
        http: u16,
        env: &[(&str, &str)],
    ) -> Result<Self, StartError> {
        let dir = tempfile::tempdir().map_err(StartError::Config)?;
        Self::run(dir, config, http, 0, env)
    }

    /// A free TCP port on loopback, for [`LiveKitServer::start_with_config`].
    pub fn free_port() -> std::io::Result<u16> {
        free_tcp_port()
    }

    fn run(
        dir: tempfile::TempDir,
        config: &str,
        http: u16,
        turn: u16,
        env: &[(&str, &str)],
    ) -> Result<Self, StartError> {
        let path = dir.path().join("livekit.yaml");
        std::fs::write(&path, config).map_err(StartError::Config)?;
        let child = Command::new(binary())
            .arg("--config")
            .arg(&path)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| StartError::Spawn {
                binary: binary(),
                source,
            })?;
        let mut server = Self {
            child,
            url: format!("http://127.0.0.1:{http}"),
            ws_url: format!("ws://127.0.0.1:{http}"),
            turn_port: turn,
            _dir: dir,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), StartError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = self.url.trim_start_matches("http://").to_owned();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(StartError::NotListening(format!("it exited: {status}")));
            }
            if std::net::TcpStream::connect(&addr).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(StartError::NotListening("no answer within 30 s".into()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for LiveKitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
