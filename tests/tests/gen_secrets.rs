//! `scripts/gen-secrets` and the files it must agree with: every variable
//! the compose file reads is in `compose/.env.example`, and the script
//! writes all of them, with strong distinct secrets, without ever
//! overwriting secrets in use. The script runs on a copy of the files it
//! touches, in a temporary directory.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const COMPOSE: &str = include_str!("../../compose/compose.yml");
const EXAMPLE: &str = include_str!("../../compose/.env.example");

/// `${NAME}` and `${NAME:-default}` references in a text.
fn references(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        rest = &rest[start + 2..];
        let end = rest.find('}').expect("a closed ${…}");
        let name = rest[..end].split(":-").next().unwrap();
        names.insert(name.to_owned());
        rest = &rest[end..];
    }
    names
}

fn env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// A copy of the script and the files it reads and renders.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    estrade_tests::gen_secrets_copy(dir.path());
    dir
}

fn gen_secrets(dir: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(dir.join("scripts/gen-secrets"))
        .args(["school.example", "it@school.example"])
        .output()
        .unwrap()
}

#[test]
fn gen_secrets_refuses_values_that_would_break_the_configuration() {
    let dir = workspace();
    let out = Command::new("bash")
        .arg(dir.path().join("scripts/gen-secrets"))
        .args(["school.example|evil", "it@school.example"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("compose/.env").exists(), "nothing written");

    // --render reads compose/.env literally: it never runs what it holds.
    std::fs::write(
        dir.path().join("compose/.env"),
        "DOMAIN=school.example\nACME_EMAIL=it@school.example\nTURN_SECRET=$(touch ran)\n",
    )
    .unwrap();
    let out = Command::new("bash")
        .arg(dir.path().join("scripts/gen-secrets"))
        .arg("--render")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("ran").exists() && !dir.path().join("compose/ran").exists());
    assert!(!dir.path().join("compose/livekit.generated.yaml").exists());
}

#[test]
fn every_variable_the_compose_file_reads_is_in_the_example_env_file() {
    let example = env_file(EXAMPLE);
    let missing: Vec<_> = references(COMPOSE)
        .into_iter()
        .filter(|name| !example.contains_key(name))
        .collect();
    assert!(missing.is_empty(), "not in .env.example: {missing:?}");
}

#[test]
fn gen_secrets_writes_every_variable_with_strong_distinct_secrets_and_never_overwrites() {
    let dir = workspace();
    let out = gen_secrets(dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let env_path = dir.path().join("compose/.env");
    let written = std::fs::read_to_string(&env_path).unwrap();
    let env = env_file(&written);
    let wanted: BTreeSet<_> = env_file(EXAMPLE).into_keys().collect();
    let got: BTreeSet<_> = env.keys().cloned().collect();
    assert_eq!(got, wanted, "the same variables as .env.example");
    assert_eq!(env["DOMAIN"], "school.example");
    assert_eq!(env["ACME_EMAIL"], "it@school.example");

    let secrets: Vec<&String> = env
        .iter()
        .filter(|(k, _)| k.contains("PASSWORD") || k.contains("SECRET"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(secrets.len(), 5);
    for s in &secrets {
        // 48 random bytes; characters safe in URLs and YAML.
        assert_eq!(s.len(), 64, "{} characters", s.len());
        assert!(
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "a character unsafe in a URL"
        );
    }
    let distinct: BTreeSet<_> = secrets.iter().collect();
    assert_eq!(distinct.len(), secrets.len(), "secrets are distinct");
    let mode = std::fs::metadata(&env_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "only the owner reads compose/.env");

    // LiveKit derives each client's TURN credential from coturn's secret,
    // read from a Compose secret: the rendered file holds no secret.
    let livekit =
        std::fs::read_to_string(dir.path().join("compose/livekit.generated.yaml")).unwrap();
    assert!(references(&livekit).is_empty(), "placeholders left");
    for secret in &secrets {
        assert!(
            !livekit.contains(secret.as_str()),
            "a secret in the rendered file"
        );
    }
    let parsed: serde_norway::Value = serde_norway::from_str(&livekit).expect("YAML");
    let turn = &parsed["rtc"]["turn_servers"][0];
    assert_eq!(turn["host"].as_str(), Some("turn.school.example"));
    assert_eq!(turn["port"].as_u64(), Some(443));
    assert_eq!(
        turn["secret_file"].as_str(),
        Some("/run/secrets/turn_secret")
    );
    assert!(
        turn.get("username").is_none() && turn.get("credential").is_none(),
        "no fixed credential shared by every client"
    );
    let compose: serde_norway::Value = serde_norway::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../compose/compose.yml"
    )))
    .unwrap();
    assert_eq!(
        compose["secrets"]["turn_secret"]["environment"].as_str(),
        Some("TURN_SECRET"),
        "the secret is coturn's, from compose/.env"
    );
    let mounted = &compose["services"]["livekit"]["secrets"][0];
    assert_eq!(mounted["target"].as_str(), Some("/run/secrets/turn_secret"));
    assert_eq!(
        mounted["uid"].as_str(),
        Some("65532"),
        "LiveKit's user owns it"
    );

    // Traefik's static configuration gets the ACME e-mail.
    let traefik =
        std::fs::read_to_string(dir.path().join("compose/traefik.generated.yml")).unwrap();
    assert!(references(&traefik).is_empty(), "placeholders left");
    let parsed: serde_norway::Value = serde_norway::from_str(&traefik).expect("YAML");
    assert_eq!(
        parsed["certificatesResolvers"]["le"]["acme"]["email"].as_str(),
        Some("it@school.example")
    );
    for rendered in [
        "compose/livekit.generated.yaml",
        "compose/traefik.generated.yml",
    ] {
        let mode = std::fs::metadata(dir.path().join(rendered))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o444, 0o444, "{rendered} readable in the containers");
    }

    // A second run changes nothing: the secrets may be in use.
    let again = gen_secrets(dir.path());
    assert!(!again.status.success(), "a second run must refuse");
    assert_eq!(std::fs::read_to_string(&env_path).unwrap(), written);

    // --render makes the same files again from compose/.env.
    for rendered in [
        "compose/livekit.generated.yaml",
        "compose/traefik.generated.yml",
    ] {
        std::fs::remove_file(dir.path().join(rendered)).unwrap();
    }
    let out = Command::new("bash")
        .arg(dir.path().join("scripts/gen-secrets"))
        .arg("--render")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
    assert_eq!(read("compose/livekit.generated.yaml"), livekit);
    assert_eq!(read("compose/traefik.generated.yml"), traefik);
    assert_eq!(std::fs::read_to_string(&env_path).unwrap(), written);
}
