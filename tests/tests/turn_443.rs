//! The 443-only proof: from a "campus" network namespace whose outbound
//! traffic is dropped except TCP to port 443, coturn's own client allocates
//! a relay over TLS on 443 with credentials made by Estrade's credential
//! code, and its data comes back through the relay; the same client over
//! UDP 3478 fails (the firewall is real), and so does a wrong password.
//!
//! Here coturn terminates TLS on 443 itself, standing in for the
//! production pair (Traefik terminating TLS for `turn.<domain>` on 443 and
//! forwarding TURN over TCP to coturn): what the campus client sees — TURN
//! over TLS to port 443 — is the same.
//!
//! The production configuration is tested too, with coturn started as
//! compose.yml starts it (`support/compose.rs`): it relays UDP to LiveKit's
//! address and nowhere else, opens no TCP relay (not to LiveKit's API or
//! metrics either), and has its secret on no command line.
//!
//! Real processes: `ip netns`, veth, nftables, coturn's `turnserver`,
//! `turnutils_peer` and `turnutils_uclient` (Debian packages), a
//! certificate made by `openssl`, a TURN client for TCP relays in Python
//! (`turn_tcp_relay.py`). It needs root, so it is `#[ignore]`d here and run
//! by `scripts/test` when root (which says so when it is not).

#[path = "support/compose.rs"]
mod compose;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, SystemTime};

const SECRET: &str = "443-only-proof-shared-secret-0123456789";
const SERVER_IP: &str = "10.213.0.2";
const CAMPUS_IP: &str = "10.213.0.1";
/// A TURN client for TCP relays, and stand-ins for LiveKit's TCP ports.
const TCP_RELAY_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/turn_tcp_relay.py");

fn run(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Two namespaces joined by a veth pair; deleted on drop, even when the
/// test fails.
struct Network {
    campus: String,
    server: String,
    children: Vec<Child>,
}

impl Drop for Network {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.campus, &self.server] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

impl Network {
    /// `label` keeps two tests of one process apart.
    fn new(label: char) -> Self {
        let tag = format!("{}{label}", std::process::id() % 100_000);
        let net = Self {
            campus: format!("estrade-campus-{tag}"),
            server: format!("estrade-server-{tag}"),
            children: Vec::new(),
        };
        let (vc, vs) = (format!("estc{tag}"), format!("ests{tag}"));
        run(&["ip", "netns", "add", &net.campus]);
        run(&["ip", "netns", "add", &net.server]);
        run(&[
            "ip", "link", "add", &vc, "type", "veth", "peer", "name", &vs,
        ]);
        run(&["ip", "link", "set", &vc, "netns", &net.campus]);
        run(&["ip", "link", "set", &vs, "netns", &net.server]);
        for (ns, dev, ip) in [(&net.campus, &vc, CAMPUS_IP), (&net.server, &vs, SERVER_IP)] {
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                dev,
            ]);
            run(&["ip", "-n", ns, "link", "set", dev, "up"]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        net
    }

    /// The campus firewall: only TCP to port 443 leaves (and replies to
    /// what left).
    fn campus_firewall(&self) {
        let rules = r#"
table inet campus {
  chain output {
    type filter hook output priority 0; policy drop;
    oif "lo" accept
    ct state established,related accept
    tcp dport 443 accept
  }
}
"#;
        let mut nft = Command::new("ip")
            .args(["netns", "exec", &self.campus, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft");
        use std::io::Write as _;
        nft.stdin
            .take()
            .unwrap()
            .write_all(rules.as_bytes())
            .unwrap();
        assert!(nft.wait().unwrap().success(), "nftables rules refused");
    }

    fn spawn_in_server(&mut self, args: &[&str], log: &std::path::Path) {
        self.spawn_in_server_with(args, &[], log);
    }

    /// Returns the process id, which is the program's (`ip netns exec`
    /// execs it).
    fn spawn_in_server_with(
        &mut self,
        args: &[impl AsRef<std::ffi::OsStr> + std::fmt::Debug],
        env: &[(String, String)],
        log: &std::path::Path,
    ) -> u32 {
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.server])
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// A program run in the campus, within 30 s.
    fn in_campus(&self, args: &[&str]) -> Output {
        let mut all = vec!["30", "ip", "netns", "exec", self.campus.as_str()];
        all.extend_from_slice(args);
        Command::new("timeout").args(&all).output().unwrap()
    }

    /// `turnutils_uclient` from the campus, within 30 s.
    fn client(&self, args: &[&str]) -> Output {
        let mut all = vec!["turnutils_uclient"];
        all.extend_from_slice(args);
        self.in_campus(&all)
    }
}

/// A learner's credential from Estrade's own code, as
/// `GET /v1/connectivity` makes it.
fn campus_credential() -> estrade_core::turn::TurnCredential {
    credential_for(SECRET)
}

fn credential_for(secret: &str) -> estrade_core::turn::TurnCredential {
    estrade_core::turn::credential(
        secret.as_bytes(),
        "l-campus-learner",
        SystemTime::now(),
        Duration::from_secs(600),
    )
}

/// Waits for a TCP listener on `address` (`ip:port`) in the server.
fn wait_for_listener(net: &Network, address: &str) {
    for _ in 0..100 {
        let out = Command::new("ip")
            .args(["netns", "exec", &net.server, "ss", "-ltn"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).contains(&format!("{address} ")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on {address}");
}

#[test]
#[ignore = "needs root, ip netns, nftables and coturn: scripts/test runs it as root"]
fn a_campus_that_lets_only_443_out_reaches_coturn_over_tls_on_443_and_not_over_udp() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    run(&[
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=turn.estrade.test",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    let mut net = Network::new('a');
    net.campus_firewall();
    let cert_arg = format!("--cert={}", cert.display());
    let key_arg = format!("--pkey={}", key.display());
    let secret_arg = format!("--static-auth-secret={SECRET}");
    let listen_arg = format!("--listening-ip={SERVER_IP}");
    let relay_arg = format!("--relay-ip={SERVER_IP}");
    net.spawn_in_server(
        &[
            "turnserver",
            "-n",
            &listen_arg,
            &relay_arg,
            "--listening-port=3478",
            "--tls-listening-port=443",
            &cert_arg,
            &key_arg,
            "--use-auth-secret",
            &secret_arg,
            "--realm=estrade.test",
            "--fingerprint",
            "--no-cli",
            "--log-file=stdout",
            "--simple-log",
        ],
        &dir.path().join("turnserver.log"),
    );
    // The far end the relay sends to (an echo peer beside coturn).
    net.spawn_in_server(
        &["turnutils_peer", "-L", SERVER_IP, "-p", "3480"],
        &dir.path().join("peer.log"),
    );
    wait_for_listener(&net, &format!("{SERVER_IP}:443"));

    let credential = campus_credential();
    let relay = |transport: &[&str], password: &str| {
        let mut args: Vec<&str> = transport.to_vec();
        args.extend_from_slice(&[
            "-u",
            &credential.username,
            "-w",
            password,
            "-e",
            SERVER_IP,
            "-r",
            "3480",
            "-n",
            "10",
            "-m",
            "1",
            "-l",
            "100",
            SERVER_IP,
        ]);
        net.client(&args)
    };

    let tls = relay(&["-t", "-S", "-p", "443"], &credential.password);
    let output = String::from_utf8_lossy(&tls.stdout);
    assert!(
        tls.status.success(),
        "TURN over TLS on 443 failed: {output}\n{}",
        std::fs::read_to_string(dir.path().join("turnserver.log")).unwrap_or_default()
    );
    assert!(
        output.contains("tot_recv_bytes ~ 2000"),
        "the data came back through the relay: {output}"
    );
    assert!(output.contains("Total lost packets 0"), "{output}");

    let udp = relay(&["-p", "3478"], &credential.password);
    assert!(
        !udp.status.success(),
        "UDP 3478 must be blocked by the campus firewall: {}",
        String::from_utf8_lossy(&udp.stdout)
    );

    let forged = relay(&["-t", "-S", "-p", "443"], "bm90IHRoZSBwYXNzd29yZA==");
    assert!(
        !forged.status.success(),
        "a wrong password must be refused: {}",
        String::from_utf8_lossy(&forged.stdout)
    );
}

/// Runs `scripts/gen-secrets` on a copy of the files it needs, in `dir`,
/// and returns the `compose/.env` it wrote; LiveKit's rendered
/// configuration takes coturn's secret from a file (`secret_file`), never a
/// credential.
fn rendered_env(dir: &std::path::Path) -> BTreeMap<String, String> {
    let script = estrade_tests::gen_secrets_copy(&dir.join("copy"));
    run(&[
        "bash",
        script.to_str().unwrap(),
        "estrade.test",
        "it@estrade.test",
    ]);
    let env = std::fs::read_to_string(dir.join("copy/compose/.env")).unwrap();
    let yaml = std::fs::read_to_string(dir.join("copy/compose/livekit.generated.yaml")).unwrap();
    let parsed: serde_norway::Value = serde_norway::from_str(&yaml).unwrap();
    let turn = &parsed["rtc"]["turn_servers"][0];
    assert!(turn["secret_file"].as_str().is_some(), "{yaml}");
    env.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The credential LiveKit v1.13.5 hands one of its participants from
/// `secret` (`rtc.turn_servers[].secret_file`): username
/// `<expiry in 4 h>:<participant sid>`, password coturn's HMAC of it.
fn livekit_credential_for(secret: &str) -> (String, String) {
    let expiry = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 4 * 3600;
    let username = format!("{expiry}:PA_campusLearner1");
    let password = estrade_core::turn::password(secret.as_bytes(), &username);
    (username, password)
}

/// LiveKit's address on the media network, and coturn's there (its
/// `--relay-ip`): both fixed by compose.yml.
const LIVEKIT_IP: &str = "172.31.0.2";
const RELAY_IP: &str = "172.31.0.3";
/// A public address (TEST-NET-2): the relay is no open proxy either.
const PUBLIC_IP: &str = "198.51.100.7";
/// A port of LiveKit's media range (`rtc.port_range_start`,
/// compose/livekit.yaml).
const MEDIA_PORT: &str = "50000";

/// coturn started as compose.yml starts it (`support/compose.rs`: its
/// entrypoint and command, the Compose secret from the `compose/.env` that
/// `scripts/gen-secrets` writes, `compose/turnserver.conf` where the
/// container mounts it), in the server namespace, which also holds
/// LiveKit's and coturn's media addresses and a public one. `turnserver`
/// is found through a wrapper that records its arguments and adds only a
/// pid file of the test's.
struct Production {
    net: Network,
    dir: tempfile::TempDir,
    env: BTreeMap<String, String>,
    started: compose::Started,
    path: std::ffi::OsString,
    argv_log: PathBuf,
    pid: u32,
}

impl Production {
    fn start(label: char) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut net = Network::new(label);
        for ip in [LIVEKIT_IP, RELAY_IP, PUBLIC_IP] {
            run(&[
                "ip",
                "-n",
                &net.server,
                "addr",
                "add",
                &format!("{ip}/32"),
                "dev",
                "lo",
            ]);
        }
        let env = rendered_env(dir.path());
        let started = compose::service("coturn", &env, "turnserver", &dir.path().join("container"));
        let pid_arg = format!("--pidfile={}", dir.path().join("turnserver.pid").display());
        let (bin, argv_log) =
            compose::recording_wrappers(dir.path(), &[("turnserver", &[], &[&pid_arg])]);
        let path = compose::path_with(&bin);
        let mut vars = started.env.clone();
        vars.push(("PATH".into(), path.to_str().unwrap().to_owned()));
        let pid =
            net.spawn_in_server_with(&started.argv, &vars, &dir.path().join("turnserver.log"));
        wait_for_listener(&net, &format!("{SERVER_IP}:3478"));
        Self {
            net,
            dir,
            env,
            started,
            path,
            argv_log,
            pid,
        }
    }

    fn secret(&self) -> &str {
        &self.env["TURN_SECRET"]
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("turnserver.log")).unwrap_or_default()
    }

    /// `turnutils_uclient` from the campus over TCP to coturn (as Traefik
    /// forwards TURN), relaying UDP to `peer` on LiveKit's media port.
    fn relay(&self, (username, password): (&str, &str), peer: &str) -> Output {
        self.net.client(&[
            "-t", "-p", "3478", "-u", username, "-w", password, "-e", peer, "-r", MEDIA_PORT, "-n",
            "10", "-m", "1", "-l", "100", SERVER_IP,
        ])
    }
}

/// An echo peer on each of `ips`, on LiveKit's media port.
fn echo_peers(net: &mut Network, ips: &[&str], log: &std::path::Path) {
    let mut args = vec!["turnutils_peer"];
    for ip in ips {
        args.extend_from_slice(&["-L", ip]);
    }
    args.extend_from_slice(&["-p", MEDIA_PORT]);
    net.spawn_in_server(&args, log);
}

fn relayed(output: &Output) -> bool {
    output.status.success()
        && String::from_utf8_lossy(&output.stdout).contains("tot_recv_bytes ~ 2000")
}

/// The relay policy of the production configuration
/// (`compose/turnserver.conf`, as Compose runs it: TURN over TCP on 3478
/// behind Traefik, the secret from a Compose secret): it relays to
/// LiveKit's address on the media network and refuses every other address,
/// private or public, so a TURN credential is neither a way into internal
/// hosts nor an open relay; the secret is the one `scripts/gen-secrets`
/// makes, and both Estrade's and LiveKit's per-participant credentials
/// derived from it work.
#[test]
#[ignore = "needs root, ip netns and coturn: scripts/test runs it as root"]
fn the_production_coturn_configuration_relays_to_livekit_and_nowhere_else() {
    let mut coturn = Production::start('b');
    let peer_log = coturn.dir.path().join("peer.log");
    echo_peers(
        &mut coturn.net,
        &[LIVEKIT_IP, SERVER_IP, PUBLIC_IP],
        &peer_log,
    );
    let estrade = credential_for(coturn.secret());
    let livekit = livekit_credential_for(coturn.secret());
    let estrade = (estrade.username.as_str(), estrade.password.as_str());
    // Both credentials derived from the secret: Estrade's for a preflight,
    // and the one LiveKit hands a participant.
    for (who, relayed_through) in [
        ("Estrade's", coturn.relay(estrade, LIVEKIT_IP)),
        (
            "LiveKit's",
            coturn.relay((&livekit.0, &livekit.1), LIVEKIT_IP),
        ),
    ] {
        assert!(
            relayed(&relayed_through),
            "relaying to LiveKit with {who} credential must work: {}\n{}",
            String::from_utf8_lossy(&relayed_through.stdout),
            coturn.log()
        );
    }
    for (peer, what) in [(SERVER_IP, "a private"), (PUBLIC_IP, "a public")] {
        let refused = coturn.relay(estrade, peer);
        let output = String::from_utf8_lossy(&refused.stdout);
        assert!(
            !refused.status.success() && output.contains("403"),
            "relaying to {what} address must be refused: {output}"
        );
    }
}

/// A connection to coturn that never allocates a relay is closed after
/// `max-allocate-timeout` (10 s in `compose/turnserver.conf`; coturn's
/// default is 60 s). Traefik v3.3 has no idle timeout for TCP routes, so
/// this is what ends a TURN/TLS connection that only sits there, holding
/// one of the per-address connections Traefik allows.
#[test]
#[ignore = "needs root, ip netns, coturn and python3: scripts/test runs it as root"]
fn a_connection_to_coturn_that_allocates_nothing_is_closed_within_its_allocate_timeout() {
    let coturn = Production::start('e');
    // Connects from the campus, sends nothing, and reports whether coturn
    // closed the connection within 30 s (`in_campus` gives it 30 s in all).
    let script = format!(
        "import socket\n\
         s = socket.create_connection(('{SERVER_IP}', 3478), timeout=25)\n\
         try:\n    data = s.recv(1)\n    print('closed' if data == b'' else 'data')\n\
         except socket.timeout:\n    print('open')\n\
         except OSError:\n    print('closed')\n"
    );
    let output = coturn.net.in_campus(&["python3", "-c", &script]);
    let said = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        said.trim(),
        "closed",
        "coturn kept an idle connection open: {said}{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        coturn.log()
    );
}

/// coturn's peer rules name addresses and never ports, so the one address
/// it may relay to, LiveKit's, is open on every port. A TCP relay (RFC
/// 6062) there would let any participant connect through coturn to
/// LiveKit's API (7880), its Prometheus metrics (6789) and its ICE/TCP port
/// (7881): `no-tcp-relay` refuses every TCP allocation (442), and UDP to
/// LiveKit's media, what browsers relay, still goes through. Stand-ins
/// answer on LiveKit's TCP ports, so without `no-tcp-relay` the TCP client
/// (`turn_tcp_relay.py`) reads their answer through the relay and the test
/// fails. (coturn's own `turnutils_uclient -T` cannot show it: it connects
/// its TCP relays to each other, ignoring `-e`/`-r`, and coturn refuses
/// that peer, its own relay address, with 403 Forbidden IP, with or
/// without `no-tcp-relay`.)
#[test]
#[ignore = "needs root, ip netns, coturn and python3: scripts/test runs it as root"]
fn a_turn_credential_opens_no_tcp_relay_to_livekits_api_or_metrics_only_udp_to_its_media() {
    let mut coturn = Production::start('c');
    let dir = coturn.dir.path().to_owned();
    // compose/livekit.yaml: port, prometheus_port, rtc.tcp_port.
    let tcp_ports = ["7880", "6789", "7881"];
    let mut serve = vec!["python3", TCP_RELAY_CLIENT, "serve", LIVEKIT_IP];
    serve.extend_from_slice(&tcp_ports);
    coturn
        .net
        .spawn_in_server(&serve, &dir.join("stand-in.log"));
    echo_peers(&mut coturn.net, &[LIVEKIT_IP], &dir.join("peer.log"));
    for port in tcp_ports {
        wait_for_listener(&coturn.net, &format!("{LIVEKIT_IP}:{port}"));
    }
    let credential = credential_for(coturn.secret());

    let peers: Vec<String> = tcp_ports
        .iter()
        .map(|p| format!("{LIVEKIT_IP}:{p}"))
        .collect();
    let mut args = vec![
        "python3",
        TCP_RELAY_CLIENT,
        "connect",
        SERVER_IP,
        "3478",
        &credential.username,
        &credential.password,
    ];
    args.extend(peers.iter().map(String::as_str));
    let tcp = coturn.net.in_campus(&args);
    let output = String::from_utf8_lossy(&tcp.stdout);
    assert!(
        tcp.status.success(),
        "{output}{}",
        String::from_utf8_lossy(&tcp.stderr)
    );
    for peer in &peers {
        assert!(
            output
                .lines()
                .any(|l| l.starts_with(&format!("{peer} allocate refused 442"))),
            "a TCP relay to LiveKit's {peer} must be refused at its allocation: {output}\n{}",
            coturn.log()
        );
    }

    let uclient = coturn.net.client(&[
        "-T",
        "-p",
        "3478",
        "-u",
        &credential.username,
        "-w",
        &credential.password,
        "-n",
        "1",
        "-m",
        "1",
        SERVER_IP,
    ]);
    let said = String::from_utf8_lossy(&uclient.stdout);
    assert!(
        !uclient.status.success() && said.contains("error 442"),
        "turnutils_uclient -T must be refused its TCP allocation: {said}"
    );

    let udp = coturn.relay((&credential.username, &credential.password), LIVEKIT_IP);
    assert!(
        relayed(&udp),
        "UDP to LiveKit's media must still be relayed: {}\n{}",
        String::from_utf8_lossy(&udp.stdout),
        coturn.log()
    );
}

/// The TURN secret reaches coturn on no command line: not in the
/// container's (what `docker inspect` keeps), not in any program's it
/// starts (recorded by the wrapper), not in the running turnserver's
/// (`/proc/<pid>/cmdline`, what the host's `ps` shows). coturn still has
/// it, from the Compose secret: a credential derived from it relays, and
/// compose.yml's healthcheck passes. What it writes on its tmpfs (the
/// configuration with the secret) is readable by its owner only.
#[test]
#[ignore = "needs root, ip netns and coturn: scripts/test runs it as root"]
fn coturn_started_as_compose_starts_it_shows_its_secret_on_no_command_line_and_relays_with_it() {
    let mut coturn = Production::start('d');
    let peer_log = coturn.dir.path().join("peer.log");
    echo_peers(&mut coturn.net, &[LIVEKIT_IP], &peer_log);
    let secret = coturn.secret().to_owned();
    let argv = coturn.started.argv.join(" ");
    assert!(
        !argv.contains(&secret),
        "the container's command line holds the TURN secret: {argv}"
    );
    let recorded = std::fs::read_to_string(&coturn.argv_log).unwrap();
    assert!(
        recorded.starts_with("turnserver "),
        "turnserver was not started: {recorded:?}"
    );
    assert!(
        !recorded.contains(&secret),
        "turnserver was started with the TURN secret: {recorded}"
    );
    let running = compose::cmdline(coturn.pid);
    assert!(running.contains("turnserver"), "{running:?}");
    assert!(
        !running.contains(&secret),
        "ps shows the TURN secret: {running}"
    );

    let credential = credential_for(&secret);
    let relayed_through = coturn.relay((&credential.username, &credential.password), LIVEKIT_IP);
    assert!(
        relayed(&relayed_through),
        "a credential derived from the secret must relay: {}\n{}",
        String::from_utf8_lossy(&relayed_through.stdout),
        coturn.log()
    );
    let health = Command::new("ip")
        .args(["netns", "exec", &coturn.net.server])
        .args(&coturn.started.healthcheck)
        .env("PATH", &coturn.path)
        .output()
        .unwrap();
    assert!(
        health.status.success(),
        "compose.yml's healthcheck {:?} fails: {}",
        coturn.started.healthcheck,
        String::from_utf8_lossy(&health.stderr)
    );
    for file in walk(&coturn.dir.path().join("container/tmpfs")) {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is readable by others", file.display());
    }
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
