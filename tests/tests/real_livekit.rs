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
use estrade_tests::{LIVEKIT_KEY, LIVEKIT_SECRET, Options, SseStream, TestApp, until};
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
    let publish = app.publish_token(&teacher, id).await;
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

/// The host of an ICE server URL (`turn:127.0.0.1:3478?transport=udp`,
/// `stun:[::1]:3478`, `turns:turn.example.org:443?transport=tcp`).
fn ice_host(url: &str) -> &str {
    let rest = url.split_once(':').map_or(url, |(_, rest)| rest);
    let rest = rest.split('?').next().unwrap_or(rest);
    match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => rest.rsplit_once(':').map_or(rest, |(host, _)| host),
    }
}

/// Without media: LiveKit's signalling as a client sees it.
mod signalling {
    use super::*;
    use estrade_tests::signal::join_response;

    #[sqlx::test(migrator = "estrade_db::MIGRATOR")]
    async fn every_ice_server_livekit_hands_a_learner_or_the_teacher_is_on_this_machine(
        db: PgPool,
    ) {
        let app = app(db).await;
        let admin = app.admin_key().await;
        let (_, teacher) = app.teacher(&admin, "Chef").await;
        let session = app.live_session(&teacher, json!({"title": "Bread"})).await;
        let id = session["id"].as_str().unwrap();
        let (status, joined) = app
            .join(session["join_code"].as_str().unwrap(), "Ada")
            .await;
        assert_eq!(status, 200, "{joined}");
        let publish = app.publish_token(&teacher, id).await;

        for (who, url, token) in [
            ("learner", &joined["livekit_url"], &joined["livekit_token"]),
            ("teacher", &publish["livekit_url"], &publish["token"]),
        ] {
            let join = join_response(url.as_str().unwrap(), token.as_str().unwrap()).await;
            let urls: Vec<&str> = join
                .ice_servers
                .iter()
                .flat_map(|server| server.urls.iter().map(String::as_str))
                .collect();
            assert!(!urls.is_empty(), "LiveKit hands the {who} some ICE server");
            for url in &urls {
                assert_eq!(
                    ice_host(url),
                    "127.0.0.1",
                    "the {who} was handed {url}: by default LiveKit hands out public STUN servers (Google's, Twilio's)"
                );
            }
            assert!(
                urls.iter().any(|url| url.starts_with("turn:")),
                "the {who} is offered a relay: {urls:?}"
            );
        }
        // And what LiveKit said of the learner is what Estrade decided.
        let join = join_response(
            joined["livekit_url"].as_str().unwrap(),
            joined["livekit_token"].as_str().unwrap(),
        )
        .await;
        let me = join.participant.expect("the learner itself");
        assert_eq!(me.identity, joined["identity"].as_str().unwrap());
        assert!(
            !me.permission.expect("its permissions").can_publish,
            "a learner joins unable to publish"
        );
    }

    #[test]
    fn ice_hosts_are_read_from_every_url_form() {
        assert_eq!(ice_host("turn:127.0.0.1:3478?transport=udp"), "127.0.0.1");
        assert_eq!(
            ice_host("stun:stun.l.google.com:19302"),
            "stun.l.google.com"
        );
        assert_eq!(
            ice_host("turns:turn.example.org:443?transport=tcp"),
            "turn.example.org"
        );
        assert_eq!(ice_host("stun:[::1]:3478"), "::1");
        assert_eq!(ice_host("stun:127.0.0.1"), "127.0.0.1");
    }
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
        // LiveKit's own webhooks made the learner present and recorded the
        // teacher's tracks.
        wait_presence(&app, &learner_id, "present").await;
        until(WAIT, || async {
            let sources: Vec<String> = sqlx::query_scalar(
                "select t.source from participant_tracks t join participants p on p.id = t.participant_id \
                 where p.identity = $1 and t.unpublished_at is null order by t.source",
            )
            .bind(&teacher_identity)
            .fetch_all(&app.db)
            .await
            .unwrap();
            sources == ["camera", "microphone"]
        })
        .await;
        // The real server's webhooks gave the start-up delays.
        let (status, report) = app
            .get_as(&format!("/v1/sessions/{id}/report"), &teacher)
            .await;
        assert_eq!(status, 200, "{report}");
        assert!(
            report["startup"]["teacher_first_track_s"]
                .as_f64()
                .is_some(),
            "{report}"
        );
        assert_eq!(report["startup"]["learners_connected"], 1, "{report}");

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
                e["of"] == identity.as_str()
                    && e["attributes"]["estrade.hand"] == "raised"
                    && e["attributes"]["estrade.queue_position"] == "1"
            })
            .await;
        // A second learner raises behind Ada: second in line, in LiveKit too.
        let (second, mut second_bot) = learner(&app, &session, "Bea").await;
        let second_identity = second["identity"].as_str().unwrap().to_owned();
        let (status, body) = app
            .post_as(
                &format!("/v1/sessions/{id}/hand"),
                second["participant_token"].as_str().unwrap(),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let identity = second_identity.clone();
        second_bot
            .expect("attributes", WAIT, move |e| {
                e["of"] == identity.as_str() && e["attributes"]["estrade.queue_position"] == "2"
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
        // Everyone's SDK sees the floor move: Ada speaks, Bea moves up.
        let identity = learner_identity.clone();
        second_bot
            .expect("attributes", WAIT, move |e| {
                e["of"] == identity.as_str()
                    && e["attributes"]["estrade.floor"] == "speaking"
                    && e["attributes"]["estrade.hand"] == "none"
                    && e["attributes"].get("estrade.queue_position").is_none()
            })
            .await;
        let identity = second_identity.clone();
        second_bot
            .expect("attributes", WAIT, move |e| {
                e["of"] == identity.as_str() && e["attributes"]["estrade.queue_position"] == "1"
            })
            .await;
        learner_bot
            .publish("microphone")
            .await
            .expect("with the floor the learner publishes its microphone");
        teacher_bot
            .wait(WAIT, frames_from(&learner_identity, "microphone"))
            .await;
        let microphone_open = || async {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from participant_tracks where participant_id = $1::uuid \
                 and source = 'microphone' and unpublished_at is null",
            )
            .bind(&learner_id)
            .fetch_one(&app.db)
            .await
            .unwrap()
        };
        until(WAIT, || async { microphone_open().await == 1 }).await;

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
        until(WAIT, || async { microphone_open().await == 0 }).await;

        // End: the room is gone in LiveKit and both bots are disconnected.
        let (status, body) = app
            .post_as(&format!("/v1/sessions/{id}/end"), &teacher, json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        learner_bot.expect("disconnected", WAIT, |_| true).await;
        second_bot.expect("disconnected", WAIT, |_| true).await;
        teacher_bot.expect("disconnected", WAIT, |_| true).await;
        let room = session["room_name"].as_str().unwrap();
        assert!(!room_exists(&app, room).await, "ending deleted the room");
    }

    #[sqlx::test(migrator = "estrade_db::MIGRATOR")]
    #[ignore = "carries media: scripts/test runs it, as root, in a loopback-only network namespace"]
    async fn an_admin_observer_watches_the_teacher_unseen_by_learners_and_cannot_publish(
        db: PgPool,
    ) {
        let app = app(db).await;
        let (_teacher, session, mut teacher_bot) = class_with_teacher(&app).await;
        let teacher_identity =
            teacher_bot.wait(WAIT, |e| e["event"] == "connected").await["identity"]
                .as_str()
                .unwrap()
                .to_owned();
        let id = session["id"].as_str().unwrap().to_owned();
        let (joined, _ada) = learner(&app, &session, "Ada").await;
        let base = app.url("");
        let ada_token = joined["participant_token"].as_str().unwrap().to_owned();
        let mut ada_stream = SseStream::open(&base, &id, &ada_token, None).await.unwrap();
        ada_stream.expect("session", WAIT).await;
        ada_stream.expect("floor", WAIT).await;

        let admin = app.admin_key().await;
        let (status, token) = app
            .post_as(
                &format!("/v1/sessions/{id}/observer-token"),
                &admin,
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{token}");
        let observer_identity = token["identity"].as_str().unwrap().to_owned();
        let mut observer = Bot::start("observer").await;
        observer
            .connect(
                token["livekit_url"].as_str().unwrap(),
                token["token"].as_str().unwrap(),
            )
            .await;
        // It watches and hears the teacher.
        observer
            .wait(WAIT, frames_from(&teacher_identity, "camera"))
            .await;
        observer
            .wait(WAIT, frames_from(&teacher_identity, "microphone"))
            .await;
        // LiveKit refuses its microphone.
        assert!(
            observer.publish("microphone").await.is_err(),
            "an observer never publishes"
        );
        // LiveKit's own webhook made it present in PostgreSQL.
        let observer_id: String = sqlx::query_scalar(
            "select id::text from participants where identity = $1 and kind = 'observer'",
        )
        .bind(&observer_identity)
        .fetch_one(&app.db)
        .await
        .unwrap();
        wait_presence(&app, &observer_id, "present").await;

        // A learner arriving after it is not told of it by LiveKit, and
        // Ada's stream said nothing of it: her next event is her own hand.
        let (_, mut bea) = learner(&app, &session, "Bea").await;
        let connected = bea.wait(WAIT, |e| e["event"] == "connected").await;
        let remote: Vec<&str> = connected["remote"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(remote.contains(&teacher_identity.as_str()), "{remote:?}");
        assert!(
            !remote.contains(&observer_identity.as_str()),
            "a learner's LiveKit does not list the observer: {remote:?}"
        );
        let (status, _) = app
            .post_as(&format!("/v1/sessions/{id}/hand"), &ada_token, json!({}))
            .await;
        assert_eq!(status, 200);
        loop {
            let event = ada_stream.next(WAIT).await.expect("the stream goes on");
            assert!(
                event.data["kind"] != "observer",
                "a learner's stream never shows the observer: {:?}",
                event.data
            );
            if event.event == "floor" {
                break;
            }
        }
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

    #[sqlx::test(migrator = "estrade_db::MIGRATOR")]
    #[ignore = "carries media: scripts/test runs it, as root, in a loopback-only network namespace"]
    async fn reconciliation_repairs_the_real_servers_drift_a_permission_a_lost_departure_and_an_orphan_room(
        db: PgPool,
    ) {
        use estrade_livekit::grants::floor_permission;
        use livekit_api::services::room::{CreateRoomOptions, UpdateParticipantOptions};

        let app = app(db).await;
        let admin = app.admin_key().await;
        let (_teacher, session, _teacher_bot) = class_with_teacher(&app).await;
        let room = session["room_name"].as_str().unwrap().to_owned();
        let (joined, mut learner_bot) = learner(&app, &session, "Ada").await;
        let learner_id = joined["participant_id"].as_str().unwrap();
        wait_presence(&app, learner_id, "present").await;

        // Behind Estrade's back: the learner may publish a microphone …
        rooms(&app)
            .update_participant(
                &room,
                joined["identity"].as_str().unwrap(),
                UpdateParticipantOptions {
                    // What a grant sends: the microphone only.
                    permission: Some(floor_permission(true)),
                    ..UpdateParticipantOptions::default()
                },
            )
            .await
            .expect("LiveKit updates the permission");
        learner_bot
            .expect("permissions", WAIT, |e| e["can_publish"] == true)
            .await;
        // … a learner's departure never reached Estrade (it never connected) …
        let (status, ghost) = app
            .join(session["join_code"].as_str().unwrap(), "Bea")
            .await;
        assert_eq!(status, 200, "{ghost}");
        let ghost_id = ghost["participant_id"].as_str().unwrap();
        sqlx::query(
            "update participants set presence = 'present', joined_at = now() where id = $1::uuid",
        )
        .bind(ghost_id)
        .execute(&app.db)
        .await
        .unwrap();
        // … and a room of ours that no session owns.
        let orphan = format!("estrade-{}", uuid::Uuid::new_v4());
        rooms(&app)
            .create_room(&orphan, CreateRoomOptions::default())
            .await
            .expect("LiveKit creates the room");

        let (status, report) = app.post_as("/v1/admin/reconcile", &admin, json!({})).await;
        assert_eq!(status, 200, "{report}");

        learner_bot
            .expect("permissions", WAIT, |e| e["can_publish"] == false)
            .await;
        assert_eq!(presence(&app, ghost_id).await, "left");
        assert!(
            !room_exists(&app, &orphan).await,
            "the orphan room is deleted"
        );
        assert!(room_exists(&app, &room).await, "the class's own room stays");
        assert_eq!(presence(&app, learner_id).await, "present");
    }

    /// LiveKit's distributed mode (docs/SCALING.md): two nodes sharing the
    /// test's Redis, Estrade talking to the first only. Rooms land on
    /// either node; in each class one learner connects through each node
    /// (the one not hosting the room relays its signalling): both nodes
    /// list both in the one room, the floor's attributes and permissions
    /// reach the speaker, which then publishes, a kick and the end reach
    /// the others, reconciliation through the first node repairs nothing,
    /// and both nodes' webhooks are applied once.
    #[sqlx::test(migrator = "estrade_db::MIGRATOR")]
    #[ignore = "carries media: scripts/test runs it, as root, in a loopback-only network namespace"]
    async fn two_livekit_nodes_sharing_redis_carry_classes_on_either_node_through_one_nodes_api(
        db: PgPool,
    ) {
        use estrade_tests::signal::join_response;
        let app = TestApp::spawn_with(
            db,
            Options {
                real_livekit: true,
                livekit_nodes: 2,
                worker: true,
                ..Options::default()
            },
        )
        .await;
        let nodes = [
            app.livekit.as_ref().unwrap().ws_url.clone(),
            app.more_livekit[0].ws_url.clone(),
        ];
        let admin = app.admin_key().await;
        let (_, teacher) = app.teacher(&admin, "Chef").await;
        // Classes until one room is on each node (as the room's own
        // JoinResponse names its node).
        let mut by_node: std::collections::HashMap<String, Value> = Default::default();
        for _ in 0..16 {
            let session = app
                .live_session(
                    &teacher,
                    json!({"title": "Bread", "floor": {"mode": "moderated", "max_speakers": 1}}),
                )
                .await;
            let publish = app
                .publish_token(&teacher, session["id"].as_str().unwrap())
                .await;
            let join = join_response(&nodes[0], publish["token"].as_str().unwrap()).await;
            let node = join.server_info.expect("the node's info").node_id;
            by_node.entry(node).or_insert(session);
            if by_node.len() == 2 {
                break;
            }
        }
        assert_eq!(by_node.len(), 2, "rooms landed on both nodes");

        for session in by_node.values() {
            let id = session["id"].as_str().unwrap().to_owned();
            let code = session["join_code"].as_str().unwrap();
            let mut joined = Vec::new();
            let mut bots = Vec::new();
            for (n, node) in nodes.iter().enumerate() {
                let (status, learner) = app.join(code, &format!("Learner {n}")).await;
                assert_eq!(status, 200, "{learner}");
                let mut bot = Bot::start(&format!("learner-{n}")).await;
                let connected = bot
                    .connect(node, learner["livekit_token"].as_str().unwrap())
                    .await;
                assert_eq!(connected["identity"], learner["identity"], "{connected}");
                joined.push(learner);
                bots.push(bot);
            }
            for learner in &joined {
                wait_presence(&app, learner["participant_id"].as_str().unwrap(), "present").await;
            }
            // Both nodes list both learners in the one room.
            for url in [&app.livekit.as_ref().unwrap().url, &app.more_livekit[0].url] {
                let mut listed: Vec<String> =
                    RoomClient::with_api_key(url, LIVEKIT_KEY, LIVEKIT_SECRET)
                        .list_participants(session["room_name"].as_str().unwrap())
                        .await
                        .expect("either node lists the room's participants")
                        .into_iter()
                        .map(|p| p.identity)
                        .collect();
                listed.sort();
                let mut expected: Vec<String> = joined
                    .iter()
                    .map(|l| l["identity"].as_str().unwrap().to_owned())
                    .collect();
                expected.sort();
                assert_eq!(listed, expected, "{url}");
            }
            // A hand: the learner's own attributes change, wherever its room is.
            let speaker = &joined[1];
            let speaker_identity = speaker["identity"].as_str().unwrap().to_owned();
            let (status, body) = app
                .post_as(
                    &format!("/v1/sessions/{id}/hand"),
                    speaker["participant_token"].as_str().unwrap(),
                    json!({}),
                )
                .await;
            assert_eq!(status, 200, "{body}");
            let identity = speaker_identity.clone();
            bots[1]
                .expect("attributes", WAIT, move |e| {
                    e["of"] == identity.as_str() && e["attributes"]["estrade.hand"] == "raised"
                })
                .await;
            // Grant and revoke reach the learner on the second node.
            let target = json!({"participant_id": speaker["participant_id"]});
            let (status, body) = app
                .post_as(
                    &format!("/v1/sessions/{id}/floor/grant"),
                    &teacher,
                    target.clone(),
                )
                .await;
            assert_eq!(status, 200, "{body}");
            bots[1]
                .expect("permissions", WAIT, |e| e["can_publish"] == true)
                .await;
            bots[1]
                .publish("microphone")
                .await
                .expect("with the floor it publishes");
            let (status, body) = app
                .post_as(&format!("/v1/sessions/{id}/floor/revoke"), &teacher, target)
                .await;
            assert_eq!(status, 200, "{body}");
            bots[1]
                .expect("permissions", WAIT, |e| e["can_publish"] == false)
                .await;
            // A kick reaches the learner on the first node.
            let kick = format!(
                "/v1/sessions/{id}/participants/{}/kick",
                joined[0]["participant_id"].as_str().unwrap()
            );
            let (status, body) = app.post_as(&kick, &teacher, json!({})).await;
            assert_eq!(status, 200, "{body}");
            bots[0].expect("disconnected", WAIT, |_| true).await;
            // Reconciliation, through the first node's API, finds nothing to repair.
            let (status, report) = app.post_as("/v1/admin/reconcile", &admin, json!({})).await;
            assert_eq!(status, 200, "{report}");
            assert_eq!(report["outcome"], "ok", "{report}");
            // The end reaches everyone left.
            let (status, body) = app
                .post_as(&format!("/v1/sessions/{id}/end"), &teacher, json!({}))
                .await;
            assert_eq!(status, 200, "{body}");
            bots[1].expect("disconnected", WAIT, |_| true).await;
            assert!(!room_exists(&app, session["room_name"].as_str().unwrap()).await);
        }
        // Both nodes' webhooks: each connection's `participant_joined` stored
        // and applied once, none failed.
        until(WAIT, || async {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from webhook_inbox where status <> 'processed'",
            )
            .fetch_one(&app.db)
            .await
            .unwrap()
                == 0
        })
        .await;
        let learners_joined: i64 = sqlx::query_scalar(
            "select count(*) from webhook_inbox
              where event_type = 'participant_joined' and payload->'participant'->>'identity' like 'l-%'",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        assert_eq!(
            learners_joined, 4,
            "two learners in each of the two classes"
        );
    }

    #[tokio::test]
    #[ignore = "carries media: scripts/test runs it, as root, in a loopback-only network namespace"]
    async fn livekit_v1_13_5_accepts_the_production_configuration_and_hands_each_client_its_own_coturn_credential_only()
     {
        use estrade_livekit::server::LiveKitServer;
        use livekit_api::access_token::{AccessToken, VideoGrants};
        use livekit_api::services::room::CreateRoomOptions;
        use std::os::unix::fs::PermissionsExt as _;

        // compose/livekit.yaml as scripts/gen-secrets renders it, with test
        // ports and paths: everything else is what production runs.
        let template = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../compose/livekit.yaml"
        ))
        .unwrap();
        let mut config: serde_norway::Value =
            serde_norway::from_str(&template.replace("${DOMAIN}", "school.example")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let secret = "coturn-shared-secret-0123456789abcdef";
        let secret_file = dir.path().join("turn_secret");
        std::fs::write(&secret_file, secret).unwrap();
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let http = LiveKitServer::free_port().unwrap();
        config["port"] = http.into();
        config["bind_addresses"] = serde_norway::to_value(["127.0.0.1"]).unwrap();
        config["prometheus_port"] = LiveKitServer::free_port().unwrap().into();
        config["rtc"]["tcp_port"] = LiveKitServer::free_port().unwrap().into();
        config["rtc"]["turn_servers"][0]["secret_file"] =
            secret_file.to_str().unwrap().to_owned().into();
        // No Estrade to post to here.
        config.as_mapping_mut().unwrap().remove("webhook");
        let (key, api_secret) = ("estrade", "livekit-api-secret-0123456789abcdef");
        let keys = format!("{key}: {api_secret}");
        let server = LiveKitServer::start_with_config(
            &serde_norway::to_string(&config).unwrap(),
            http,
            &[("LIVEKIT_KEYS", &keys)],
        )
        .expect("LiveKit v1.13.5 accepts compose/livekit.yaml (it is parsed strictly)");

        RoomClient::with_api_key(&server.url, key, api_secret)
            .create_room("estrade-check", CreateRoomOptions::default())
            .await
            .expect("a room");
        let token = AccessToken::with_api_key(key, api_secret)
            .with_identity("l-ada")
            .with_grants(VideoGrants {
                room_join: true,
                room: "estrade-check".to_owned(),
                ..VideoGrants::default()
            })
            .to_jwt()
            .unwrap();
        let join = estrade_tests::signal::join_response(&server.ws_url, &token).await;
        let [ice] = join.ice_servers.as_slice() else {
            panic!(
                "one ICE server, coturn, and no public STUN: {:?}",
                join.ice_servers
            );
        };
        assert_eq!(ice.urls, ["turns:turn.school.example:443?transport=tcp"]);
        let (expiry, participant) = ice.username.split_once(':').expect("expiry:participant");
        let participant_sid = join.participant.expect("the participant").sid;
        assert_eq!(participant, participant_sid, "a credential of its own");
        let expiry: i64 = expiry.parse().unwrap();
        let in_4h = chrono::Utc::now().timestamp() + 4 * 3600;
        assert!((expiry - in_4h).abs() < 120, "valid 4 hours: {expiry}");
        assert_eq!(
            ice.credential,
            estrade_core::turn::password(secret.as_bytes(), &ice.username),
            "the password coturn computes from its shared secret"
        );
    }
}
