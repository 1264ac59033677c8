//! A whole class against the real LiveKit server (v1.13.5, on loopback),
//! with real media: the teacher and the learners are LiveKit's own Python
//! real-time SDK (`tests/sdk/bot.py`), never our code. What is asserted is
//! what LiveKit and its SDK saw (rooms, tracks received, frames, refusals,
//! attributes, disconnections) and what PostgreSQL holds after LiveKit's own
//! webhooks.
//!
//! They are `#[ignore]`d in the ordinary run: `scripts/test` runs them as
//! root inside `unshare --net` (only `lo`), so nothing WebRTC or LiveKit
//! tries can reach another machine. By hand, as root:
//! `unshare --net -- sh -c 'ip link set lo up; …'` as in `scripts/test`.

use std::time::Duration;

use estrade_tests::bot::Bot;
use estrade_tests::{LIVEKIT_KEY, LIVEKIT_SECRET, Options, TestApp, until};
use livekit_api::services::room::RoomClient;
use serde_json::{Value, json};
use sqlx::PgPool;

const WAIT: Duration = Duration::from_secs(30);

async fn app(db: PgPool) -> TestApp {
    TestApp::spawn_with(
        db,
        Options {
            real_livekit: true,
            worker: true,
            ..Options::default()
        },
    )
    .await
}

fn rooms(app: &TestApp) -> RoomClient {
    let url = &app.livekit.as_ref().expect("the real LiveKit").url;
    RoomClient::with_api_key(url, LIVEKIT_KEY, LIVEKIT_SECRET)
}

async fn room_exists(app: &TestApp, room: &str) -> bool {
    let listed = rooms(app)
        .list_rooms(vec![room.to_owned()])
        .await
        .expect("LiveKit lists its rooms");
    listed.iter().any(|r| r.name == room)
}

async fn presence(app: &TestApp, participant: &str) -> String {
    sqlx::query_scalar("select presence from participants where id = $1::uuid")
        .bind(participant)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn wait_presence(app: &TestApp, participant: &str, expected: &str) {
    until(WAIT, || async {
        presence(app, participant).await == expected
    })
    .await;
}

/// A live session of a new teacher, the teacher's bot in the room
/// publishing camera and microphone, and the session's JSON.
async fn class_with_teacher(app: &TestApp) -> (String, Value, Bot) {
    let admin = app.admin_key().await;
    let (_, teacher) = app.teacher(&admin, "Chef").await;
    let session = app
        .live_session(
            &teacher,
            json!({"title": "Bread", "floor": {"mode": "moderated", "max_speakers": 1}}),
        )
        .await;
    let room = session["room_name"].as_str().unwrap().to_owned();
    assert!(
        room_exists(app, &room).await,
        "starting created the room in LiveKit"
    );
    let id = session["id"].as_str().unwrap();
    let (status, publish) = app
        .post_as(
            &format!("/v1/sessions/{id}/publish-token"),
            &teacher,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{publish}");
    let url = publish["livekit_url"].as_str().unwrap();
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    let mut bot = Bot::start("teacher").await;
    bot.connect(url, publish["token"].as_str().unwrap()).await;
    bot.publish("camera")
        .await
        .expect("the teacher publishes a camera");
    bot.publish("microphone")
        .await
        .expect("the teacher publishes a microphone");
    (teacher, session, bot)
}

/// A learner joined by code and connected with the LiveKit token it got.
async fn learner(app: &TestApp, session: &Value, name: &str) -> (Value, Bot) {
    let (status, joined) = app.join(session["join_code"].as_str().unwrap(), name).await;
    assert_eq!(status, 200, "{joined}");
    let mut bot = Bot::start(name).await;
    let connected = bot
        .connect(
            joined["livekit_url"].as_str().unwrap(),
            joined["livekit_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(connected["identity"], joined["identity"]);
    (joined, bot)
}

/// Frames of `from`'s `kind` track arrived: media really flows.
fn frames_from(from: &str, kind: &'static str) -> impl Fn(&Value) -> bool {
    let from = from.to_owned();
    move |e: &Value| e["event"] == "frames" && e["from"] == from.as_str() && e["kind"] == kind
}

/// Tests that carry media: `scripts/test` runs them (as root) in a network
/// namespace that has only loopback, with throwaway PostgreSQL and Redis.
mod media {
    use super::*;

    #[sqlx::test(migrator = "estrade_db::MIGRATOR")]
    #[ignore = "carries media: scripts/test runs it, as root, in a loopback-only network namespace"]
    async fn a_whole_class_runs_on_the_real_livekit_server_from_start_to_end(db: PgPool) {
        let app = app(db).await;
        let (teacher, session, mut teacher_bot) = class_with_teacher(&app).await;
        let id = session["id"].as_str().unwrap().to_owned();
        let teacher_identity =
            teacher_bot.wait(WAIT, |e| e["event"] == "connected").await["identity"]
                .as_str()
                .unwrap()
                .to_owned();
        let (joined, mut learner_bot) = learner(&app, &session, "Ada").await;
        let learner_id = joined["participant_id"].as_str().unwrap().to_owned();
        let learner_identity = joined["identity"].as_str().unwrap().to_owned();

        // The learner watches and hears the teacher: frames really arrive.
        learner_bot
            .wait(WAIT, frames_from(&teacher_identity, "camera"))
            .await;
        learner_bot
            .wait(WAIT, frames_from(&teacher_identity, "microphone"))
            .await;
        // LiveKit's own webhook made the learner present.
        wait_presence(&app, &learner_id, "present").await;

        // Without the floor LiveKit refuses the learner's microphone.
        assert!(
            learner_bot.publish("microphone").await.is_err(),
            "a learner's token never lets it publish"
        );

        // Raise a hand: the SDK sees it in the learner's own attributes.
        let participant_token = joined["participant_token"].as_str().unwrap();
        let (status, body) = app
            .post_as(
                &format!("/v1/sessions/{id}/hand"),
                participant_token,
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let identity = learner_identity.clone();
        learner_bot
            .expect("attributes", WAIT, move |e| {
                e["of"] == identity.as_str() && e["attributes"]["estrade.hand"] == "raised"
            })
            .await;

        // Grant: LiveKit lets it publish a microphone, which the teacher hears.
        let (status, body) = app
            .post_as(
                &format!("/v1/sessions/{id}/floor/grant"),
                &teacher,
                json!({"participant_id": learner_id}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        learner_bot
            .expect("permissions", WAIT, |e| e["can_publish"] == true)
            .await;
        learner_bot
            .publish("microphone")
            .await
            .expect("with the floor the learner publishes its microphone");
        teacher_bot
            .wait(WAIT, frames_from(&learner_identity, "microphone"))
            .await;

        // Revoke: LiveKit takes the microphone away and refuses it again.
        let (status, body) = app
            .post_as(
                &format!("/v1/sessions/{id}/floor/revoke"),
                &teacher,
                json!({"participant_id": learner_id}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        learner_bot
            .expect("permissions", WAIT, |e| e["can_publish"] == false)
            .await;
        let gone = learner_identity.clone();
        teacher_bot
            .expect("track_gone", WAIT, move |e| {
                e["from"] == gone.as_str() && e["kind"] == "microphone"
            })
            .await;
        assert!(
            learner_bot.publish("microphone").await.is_err(),
            "after the revoke LiveKit refuses the microphone again"
        );

        // End: the room is gone in LiveKit and both bots are disconnected.
        let (status, body) = app
            .post_as(&format!("/v1/sessions/{id}/end"), &teacher, json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        learner_bot.expect("disconnected", WAIT, |_| true).await;
        teacher_bot.expect("disconnected", WAIT, |_| true).await;
        let room = session["room_name"].as_str().unwrap();
        assert!(!room_exists(&app, room).await, "ending deleted the room");
    }

    #[sqlx::test(migrator = "estrade_db::MIGRATOR")]
    #[ignore = "carries media: scripts/test runs it, as root, in a loopback-only network namespace"]
    async fn a_learner_who_closes_the_connection_is_marked_left_by_livekits_own_webhook(
        db: PgPool,
    ) {
        let app = app(db).await;
        let (_teacher, session, _teacher_bot) = class_with_teacher(&app).await;
        let (joined, mut learner_bot) = learner(&app, &session, "Ada").await;
        let learner_id = joined["participant_id"].as_str().unwrap().to_owned();
        wait_presence(&app, &learner_id, "present").await;
        learner_bot.send(json!({"do": "disconnect"})).await;
        wait_presence(&app, &learner_id, "left").await;
    }

    #[sqlx::test(migrator = "estrade_db::MIGRATOR")]
    #[ignore = "carries media: scripts/test runs it, as root, in a loopback-only network namespace"]
    async fn a_kicked_learner_is_disconnected_and_removed_again_if_it_reconnects_with_its_old_token(
        db: PgPool,
    ) {
        let app = app(db).await;
        let (teacher, session, _teacher_bot) = class_with_teacher(&app).await;
        let (joined, mut learner_bot) = learner(&app, &session, "Ada").await;
        let learner_id = joined["participant_id"].as_str().unwrap();
        wait_presence(&app, learner_id, "present").await;
        let id = session["id"].as_str().unwrap();
        let (status, body) = app
            .post_as(
                &format!("/v1/sessions/{id}/participants/{learner_id}/kick"),
                &teacher,
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        learner_bot.expect("disconnected", WAIT, |_| true).await;

        let mut again = Bot::start("Ada again").await;
        again
            .send(json!({
                "do": "connect",
                "url": joined["livekit_url"],
                "token": joined["livekit_token"],
            }))
            .await;
        // LiveKit v1.13.5 ignores the kick's revoke_token_ts and lets the
        // old token in; Estrade removes it again on LiveKit's webhook.
        let outcome = again
            .wait(WAIT, |e| {
                e["event"] == "connected" || e["event"] == "failed"
            })
            .await;
        if outcome["event"] == "connected" {
            again.expect("disconnected", WAIT, |_| true).await;
        }
        let room = session["room_name"].as_str().unwrap().to_owned();
        let identity = joined["identity"].as_str().unwrap().to_owned();
        until(WAIT, || async {
            let listed = rooms(&app).list_participants(&room).await.unwrap();
            !listed.iter().any(|p| p.identity == identity)
        })
        .await;
        assert_ne!(
            presence(&app, learner_id).await,
            "present",
            "a kicked learner is never present again"
        );
    }
}
