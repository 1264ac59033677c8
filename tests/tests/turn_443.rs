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
//! Real processes: `ip netns`, veth, nftables, coturn's `turnserver`,
//! `turnutils_peer` and `turnutils_uclient` (Debian packages), a
//! certificate made by `openssl`. It needs root, so it is `#[ignore]`d here
//! and run by `scripts/test` when root (which says so when it is not).

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, SystemTime};

const SECRET: &str = "443-only-proof-shared-secret-0123456789";
const SERVER_IP: &str = "10.213.0.2";
const CAMPUS_IP: &str = "10.213.0.1";

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
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.server])
            .args(args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        self.children.push(child);
    }

    /// `turnutils_uclient` from the campus, within 30 s.
    fn client(&self, args: &[&str]) -> Output {
        let mut all = vec![
            "30",
            "ip",
            "netns",
            "exec",
            self.campus.as_str(),
            "turnutils_uclient",
        ];
        all.extend_from_slice(args);
        Command::new("timeout").args(&all).output().unwrap()
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

fn wait_for_port(net: &Network, port: &str) {
    for _ in 0..100 {
        let out = Command::new("ip")
            .args(["netns", "exec", &net.server, "ss", "-ltn"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).contains(&format!("{SERVER_IP}:{port}")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("coturn did not listen on {port}");
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
    wait_for_port(&net, "443");

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
/// and returns coturn's shared secret; LiveKit's rendered configuration
/// takes the same secret from a file (`secret_file`), never a credential.
fn rendered_secret(dir: &std::path::Path) -> String {
    let script = estrade_tests::gen_secrets_copy(&dir.join("copy"));
    run(&[
        "bash",
        script.to_str().unwrap(),
        "estrade.test",
        "it@estrade.test",
    ]);
    let env = std::fs::read_to_string(dir.join("copy/compose/.env")).unwrap();
    let secret = env
        .lines()
        .find_map(|l| l.strip_prefix("TURN_SECRET="))
        .unwrap()
        .to_owned();
    let yaml = std::fs::read_to_string(dir.join("copy/compose/livekit.generated.yaml")).unwrap();
    let parsed: serde_norway::Value = serde_norway::from_str(&yaml).unwrap();
    let turn = &parsed["rtc"]["turn_servers"][0];
    assert!(turn["secret_file"].as_str().is_some(), "{yaml}");
    secret
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

/// The relay policy of the production configuration
/// (`compose/turnserver.conf`, as Compose runs it: TURN over TCP on 3478
/// behind Traefik, the secret and realm on the command line): it relays to
/// LiveKit's address on the media network and refuses every other address,
/// private or public, so a TURN credential is neither a way into internal
/// hosts nor an open relay; the secret is the one `scripts/gen-secrets`
/// makes, and both Estrade's and LiveKit's per-participant credentials
/// derived from it work.
#[test]
#[ignore = "needs root, ip netns and coturn: scripts/test runs it as root"]
fn the_production_coturn_configuration_relays_to_livekit_and_nowhere_else() {
    const LIVEKIT_IP: &str = "172.31.0.2"; // fixed by compose.yml
    // A public address (TEST-NET-2): the relay is no open proxy either.
    const PUBLIC_IP: &str = "198.51.100.7";
    let dir = tempfile::tempdir().unwrap();
    let mut net = Network::new('b');
    // LiveKit's media address and a public host, beside coturn.
    for ip in [LIVEKIT_IP, PUBLIC_IP] {
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
    let conf = concat!(env!("CARGO_MANIFEST_DIR"), "/../compose/turnserver.conf");
    let secret = rendered_secret(dir.path());
    let livekit = livekit_credential_for(&secret);
    let secret_arg = format!("--static-auth-secret={secret}");
    let listen_arg = format!("--listening-ip={SERVER_IP}");
    let relay_arg = format!("--relay-ip={SERVER_IP}");
    let pid_arg = format!("--pidfile={}", dir.path().join("turnserver.pid").display());
    net.spawn_in_server(
        &[
            "turnserver",
            "-c",
            conf,
            &secret_arg,
            "--realm=turn.estrade.test",
            &listen_arg,
            &relay_arg,
            &pid_arg,
        ],
        &dir.path().join("turnserver.log"),
    );
    net.spawn_in_server(
        &[
            "turnutils_peer",
            "-L",
            LIVEKIT_IP,
            "-L",
            SERVER_IP,
            "-L",
            PUBLIC_IP,
            "-p",
            "3480",
        ],
        &dir.path().join("peer.log"),
    );
    wait_for_port(&net, "3478");
    let estrade = credential_for(&secret);
    let relay_as = |(username, password): (&str, &str), peer: &str| {
        net.client(&[
            "-t", "-p", "3478", "-u", username, "-w", password, "-e", peer, "-r", "3480", "-n",
            "10", "-m", "1", "-l", "100", SERVER_IP,
        ])
    };
    let relay_to = |peer: &str| relay_as((&estrade.username, &estrade.password), peer);
    // Both credentials derived from the secret: Estrade's for a preflight,
    // and the one LiveKit hands a participant.
    for (who, relayed) in [
        ("Estrade's", relay_to(LIVEKIT_IP)),
        ("LiveKit's", relay_as((&livekit.0, &livekit.1), LIVEKIT_IP)),
    ] {
        let output = String::from_utf8_lossy(&relayed.stdout);
        assert!(
            relayed.status.success() && output.contains("tot_recv_bytes ~ 2000"),
            "relaying to LiveKit with {who} credential must work: {output}\n{}",
            std::fs::read_to_string(dir.path().join("turnserver.log")).unwrap_or_default()
        );
    }
    for (peer, what) in [(SERVER_IP, "a private"), (PUBLIC_IP, "a public")] {
        let refused = relay_to(peer);
        let output = String::from_utf8_lossy(&refused.stdout);
        assert!(
            !refused.status.success() && output.contains("403"),
            "relaying to {what} address must be refused: {output}"
        );
    }
}
