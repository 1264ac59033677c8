//! The stand-in and our gateway, checked by LiveKit's official server SDKs
//! rather than only by our own client: the Node SDK (`livekit-server-sdk`,
//! Twirp with JSON) and the Python SDK (`livekit-api`, Twirp with
//! protobuf) drive the stand-in's RoomService, verify a webhook it sent and
//! the tokens our gateway minted (`tests/sdk/`). `scripts/test` installs
//! both SDKs, pinned, into `tests/sdk/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use estrade_livekit::{Role, RoomSettings};
use estrade_livekit_stub::StubConfig;
use estrade_tests::{
    LIVEKIT_KEY, LIVEKIT_SECRET, WebhookSink, eventually, gateway, start_stub_with,
};
use serde_json::json;

const ROOM: &str = "sdk-room";

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk")
}

/// Starts a stand-in, lets it send one webhook, mints a token per role, and
/// writes what the SDK scripts need.
async fn fixture() -> (estrade_livekit_stub::Stub, tempfile::NamedTempFile) {
    let (sink, url) = WebhookSink::start().await;
    let mut config = StubConfig::new(LIVEKIT_KEY, LIVEKIT_SECRET);
    config.webhook_url = Some(url);
    let stub = start_stub_with(config).await;
    let gw = gateway(&stub);
    gw.create_room(
        ROOM,
        RoomSettings {
            max_participants: 10,
            empty_timeout_s: 60,
        },
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(5), || !sink.received().is_empty()).await;
    let hook = sink.received().remove(0);

    let mut tokens = serde_json::Map::new();
    for (role, name, identity) in [
        (Role::Teacher, "teacher", "t-chef01"),
        (Role::Learner, "learner", "l-ana001"),
        (Role::Classroom, "classroom", "c-room12"),
        (Role::Observer, "observer", "o-desk01"),
    ] {
        let token = gw.mint(role, ROOM, identity, name).unwrap();
        tokens.insert(
            name.to_owned(),
            json!({"jwt": token.jwt, "identity": identity}),
        );
    }
    let fixture = json!({
        "url": stub.url(),
        "api_key": LIVEKIT_KEY,
        "api_secret": LIVEKIT_SECRET,
        "room": ROOM,
        "tokens": tokens,
        "webhook": {
            "body": String::from_utf8(hook.body).unwrap(),
            "authorization": hook.authorization.unwrap(),
        },
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), fixture.to_string()).unwrap();
    (stub, file)
}

/// Runs an SDK script off the test's runtime thread, so the in-process
/// stand-in keeps answering it.
async fn run(mut command: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output().expect("the SDK script runs"))
        .await
        .unwrap()
}

fn assert_passed(sdk: &str, out: &std::process::Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{sdk} SDK checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_node_sdk_agrees_with_the_stand_in_and_our_tokens() {
    let modules = sdk_dir().join("node_modules/livekit-server-sdk");
    assert!(
        modules.exists(),
        "the Node SDK is not installed: run scripts/test (npm ci in tests/sdk)"
    );
    let (stub, fixture) = fixture().await;

    let mut node = Command::new("node");
    node.arg(sdk_dir().join("fidelity.mjs"))
        .arg(fixture.path())
        .current_dir(sdk_dir());
    let out = run(node).await;

    assert_passed("Node", &out);
    assert!(
        !stub.room_names().contains(&"node-room".to_owned()),
        "the script deleted its room"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_python_sdk_agrees_with_the_stand_in_and_our_tokens() {
    let deps = sdk_dir().join(".deps/python");
    assert!(
        deps.join("livekit/api").exists(),
        "the Python SDK is not installed: run scripts/test"
    );
    let (stub, fixture) = fixture().await;

    let mut python = Command::new("python3");
    python
        .arg(sdk_dir().join("fidelity.py"))
        .arg(fixture.path())
        .env("PYTHONPATH", &deps);
    let out = run(python).await;

    assert_passed("Python", &out);
    assert!(!stub.room_names().contains(&"python-room".to_owned()));
}
