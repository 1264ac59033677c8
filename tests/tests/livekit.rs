//! The LiveKit boundary: our gateway (built on the official Rust SDK)
//! against the stand-in, and the stand-in's LiveKit semantics, auth rules,
//! webhook delivery rules and faults.

use std::time::{Duration, SystemTime};

use estrade_livekit::proto::{ParticipantPermission, TrackSource};
use estrade_livekit::{Error, Gateway, Role, RoomSettings};
use estrade_livekit_stub::{DeliveryTiming, Faults, Outcome, Stub, StubConfig};
use estrade_tests::{
    LIVEKIT_KEY, LIVEKIT_SECRET, WebhookSink, admin_token, eventually, gateway, http_client,
    start_stub, start_stub_with,
};
use serde_json::{Value, json};

const ROOM: &str = "estrade-class";
const SETTINGS: RoomSettings = RoomSettings {
    max_participants: 10,
    empty_timeout_s: 300,
};
const WAIT: Duration = Duration::from_secs(5);

async fn room_with(gw: &Gateway) {
    gw.create_room(ROOM, SETTINGS).await.expect("create room");
}

/// Connects a participant of `role` with a token our gateway minted.
fn join(stub: &Stub, gw: &Gateway, role: Role, identity: &str) {
    let token = gw.mint(role, ROOM, identity, "Someone").unwrap();
    stub.connect(&token.jwt)
        .expect("the stand-in accepts our token");
}

#[tokio::test]
async fn rooms_are_created_listed_and_deleted_through_the_official_sdk() {
    let stub = start_stub().await;
    let gw = gateway(&stub);

    let room = gw.create_room(ROOM, SETTINGS).await.unwrap();
    assert_eq!(room.name, ROOM);
    assert_eq!(room.max_participants, 10);
    assert!(room.sid.starts_with("RM_"));
    let again = gw.create_room(ROOM, SETTINGS).await.unwrap();
    assert_eq!(again.sid, room.sid, "CreateRoom is idempotent");

    let listed = gw.list_rooms(vec![]).await.unwrap();
    assert_eq!(listed.len(), 1);
    gw.delete_room(ROOM).await.unwrap();
    assert!(stub.room_names().is_empty());
    assert!(matches!(gw.delete_room(ROOM).await, Err(Error::NotFound)));
}

#[tokio::test]
async fn a_learner_speaks_only_while_granted_and_is_cut_at_the_sfu_on_revoke() {
    let stub = start_stub().await;
    let gw = gateway(&stub);
    room_with(&gw).await;
    join(&stub, &gw, Role::Learner, "l-ana");

    let refused = stub
        .publish(ROOM, "l-ana", TrackSource::Microphone)
        .unwrap_err();
    assert_eq!(
        refused.code(),
        "permission_denied",
        "a learner token never publishes"
    );

    gw.grant_floor(ROOM, "l-ana").await.unwrap();
    let mic = stub
        .publish(ROOM, "l-ana", TrackSource::Microphone)
        .expect("granted: the mic publishes");
    assert!(
        stub.publish(ROOM, "l-ana", TrackSource::Camera).is_err(),
        "only the microphone"
    );

    gw.revoke_floor(ROOM, "l-ana").await.unwrap();
    let p = stub.participant(ROOM, "l-ana").unwrap();
    assert!(
        p.tracks.iter().all(|t| t.sid != mic.sid),
        "the microphone track is gone"
    );
    let perm = p.permission.unwrap();
    assert!(!perm.can_publish);
    assert!(perm.can_subscribe, "revoking never deafens");
    assert!(perm.can_publish_data);
    assert!(
        stub.publish(ROOM, "l-ana", TrackSource::Microphone)
            .is_err()
    );
}

#[tokio::test]
async fn a_permission_update_replaces_every_field() {
    let stub = start_stub().await;
    let gw = gateway(&stub);
    room_with(&gw).await;
    join(&stub, &gw, Role::Learner, "l-ana");

    let partial = ParticipantPermission {
        can_publish: false,
        ..Default::default()
    };
    gw.set_permission(ROOM, "l-ana", partial).await.unwrap();

    let perm = stub.participant(ROOM, "l-ana").unwrap().permission.unwrap();
    assert!(
        !perm.can_subscribe,
        "LiveKit overwrites: an omitted can_subscribe deafens"
    );
}

#[tokio::test]
async fn publishing_every_source_by_an_empty_list_is_refused_before_reaching_livekit() {
    let stub = start_stub().await;
    let gw = gateway(&stub);
    room_with(&gw).await;
    join(&stub, &gw, Role::Learner, "l-ana");
    let before = stub.participant(ROOM, "l-ana").unwrap();

    let unbounded = ParticipantPermission {
        can_publish: true,
        can_subscribe: true,
        ..Default::default()
    };
    let err = gw
        .set_permission(ROOM, "l-ana", unbounded)
        .await
        .unwrap_err();

    assert!(matches!(err, Error::UnsafePermission(_)));
    assert_eq!(
        stub.participant(ROOM, "l-ana").unwrap(),
        before,
        "nothing changed"
    );
}

#[tokio::test]
async fn the_stand_in_reads_an_empty_source_list_as_every_source() {
    let stub = start_stub().await;
    let gw = gateway(&stub);
    room_with(&gw).await;
    join(&stub, &gw, Role::Teacher, "t-chef");
    // The teacher token lists its sources; a raw permission with none
    // (sent here around the gateway's guard) allows all of them.
    let body = json!({"room": ROOM, "identity": "t-chef", "permission": {"canPublish": true, "canSubscribe": true}});
    let res = twirp_json(&stub, "UpdateParticipant", &body, &admin_token(ROOM)).await;
    assert_eq!(res.0, 200);
    stub.publish(ROOM, "t-chef", TrackSource::ScreenShare)
        .expect("every source");
    stub.publish(ROOM, "t-chef", TrackSource::Camera)
        .expect("every source");
}

#[tokio::test]
async fn a_removed_participant_can_rejoin_with_its_old_token_as_on_livekit_v1_13_5() {
    let stub = start_stub().await;
    let gw = gateway(&stub);
    room_with(&gw).await;
    let token = gw.mint(Role::Learner, ROOM, "l-bob", "Bob").unwrap();
    stub.connect(&token.jwt).unwrap();

    gw.remove_participant(ROOM, "l-bob", SystemTime::now() + Duration::from_secs(1))
        .await
        .unwrap();

    assert!(stub.participant(ROOM, "l-bob").is_none());
    assert!(
        matches!(
            gw.remove_participant(ROOM, "l-bob", SystemTime::now())
                .await,
            Err(Error::NotFound)
        ),
        "no longer in the room"
    );
    // The real server ignores revoke_token_ts (tests/tests/stub_fidelity.rs),
    // and so does the stand-in: Estrade removes such a reconnection itself.
    stub.connect(&token.jwt).unwrap();
    assert!(stub.participant(ROOM, "l-bob").is_some());
}

#[tokio::test]
async fn twirp_errors_map_to_typed_errors() {
    let stub = start_stub().await;
    let gw = gateway(&stub);
    assert!(matches!(
        gw.get_participant("nope", "l-x").await,
        Err(Error::NotFound)
    ));

    stub.set_faults(Faults {
        fail_next_twirp: 1,
        ..Faults::default()
    });
    let err = gw.list_rooms(vec![]).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    assert!(err.is_transient());
    gw.list_rooms(vec![])
        .await
        .expect("only the next call failed");

    let other = Gateway::new(&estrade_livekit_config(
        &stub,
        "another-secret-0123456789abcdef0123",
    ));
    // LiveKit answers a bad signature with a plain-text 401 the SDK cannot
    // read as Twirp: the gateway can only call that "unavailable".
    assert!(matches!(other.ping().await, Err(Error::Unavailable(_))));
}

fn estrade_livekit_config(stub: &Stub, secret: &str) -> estrade_core::config::LiveKitConfig {
    let mut cfg = estrade_tests::livekit_config(&stub.url());
    cfg.api_secret = secret.to_owned().into();
    cfg
}

#[tokio::test]
async fn a_slow_livekit_times_out_as_unavailable() {
    let stub = start_stub().await;
    let mut cfg = estrade_tests::livekit_config(&stub.url());
    cfg.request_timeout = Duration::from_millis(200);
    let gw = Gateway::new(&cfg);
    stub.set_faults(Faults {
        latency_ms: 1_000,
        ..Faults::default()
    });
    assert!(matches!(gw.ping().await, Err(Error::Unavailable(_))));
}

/// POSTs a JSON Twirp request, returning status and body.
async fn twirp_json(stub: &Stub, method: &str, body: &Value, token: &str) -> (u16, String) {
    let res = http_client()
        .post(format!("{}/twirp/livekit.RoomService/{method}", stub.url()))
        .header("content-type", "application/json")
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn room_service_speaks_json_with_camel_case_and_int64_as_strings() {
    let stub = start_stub().await;
    let token = estrade_tests::service_token(|g| g.room_create = true);
    let (status, body) = twirp_json(
        &stub,
        "CreateRoom",
        &json!({"name": ROOM, "maxParticipants": 7, "emptyTimeout": 60}),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let room: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(room["name"], ROOM);
    assert_eq!(room["maxParticipants"], 7);
    assert!(
        room["creationTime"].is_string(),
        "int64 is a string in protojson: {room}"
    );
}

#[tokio::test]
async fn room_service_checks_the_grant_each_method_needs() {
    let stub = start_stub().await;
    let list = json!({});
    let no_grant = estrade_tests::service_token(|_| {});
    let (status, body) = twirp_json(&stub, "ListRooms", &list, &no_grant).await;
    assert_eq!(
        (status, body.contains("permission_denied")),
        (403, true),
        "{body}"
    );

    let res = http_client()
        .post(format!(
            "{}/twirp/livekit.RoomService/ListRooms",
            stub.url()
        ))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "no token at all");

    let (status, _) = twirp_json(&stub, "ListRooms", &list, "not-a-token").await;
    assert_eq!(status, 401, "an invalid token");

    let create = estrade_tests::service_token(|g| g.room_create = true);
    twirp_json(&stub, "CreateRoom", &json!({"name": ROOM}), &create).await;
    let (status, _) = twirp_json(
        &stub,
        "ListParticipants",
        &json!({"room": ROOM}),
        &admin_token("other-room"),
    )
    .await;
    assert_eq!(status, 403, "roomAdmin for another room");
    let (status, _) = twirp_json(
        &stub,
        "ListParticipants",
        &json!({"room": ROOM}),
        &admin_token(ROOM),
    )
    .await;
    assert_eq!(status, 200);

    let (status, body) = twirp_json(&stub, "NoSuchMethod", &list, &create).await;
    assert_eq!((status, body.contains("bad_route")), (404, true));
    let (status, body) = twirp_json(&stub, "ListRooms", &json!({"names": 3}), &create).await;
    assert_eq!((status, body.contains("malformed")), (400, true));
    let garbage = http_client()
        .post(format!(
            "{}/twirp/livekit.RoomService/CreateRoom",
            stub.url()
        ))
        .header("content-type", "application/protobuf")
        .bearer_auth(&create)
        .body(vec![0xff, 0xff, 0xff])
        .send()
        .await
        .unwrap();
    assert_eq!(
        garbage.status(),
        400,
        "protobuf that does not decode is malformed"
    );
    assert!(stub.room_names() == [ROOM], "and creates nothing");
}

async fn stub_with_sink(timing: DeliveryTiming) -> (Stub, WebhookSink) {
    let (sink, url) = WebhookSink::start().await;
    let mut config = StubConfig::new(LIVEKIT_KEY, LIVEKIT_SECRET);
    config.webhook_url = Some(url);
    config.timing = timing;
    (start_stub_with(config).await, sink)
}

fn fast() -> DeliveryTiming {
    DeliveryTiming {
        retry_base: Duration::from_millis(10),
        ..DeliveryTiming::default()
    }
}

#[tokio::test]
async fn webhooks_are_signed_and_shaped_as_livekit_sends_them() {
    let (stub, sink) = stub_with_sink(fast()).await;
    let gw = gateway(&stub);
    room_with(&gw).await;
    eventually(WAIT, || !sink.received().is_empty()).await;

    let hook = &sink.received()[0];
    assert_eq!(
        hook.content_type.as_deref(),
        Some("application/webhook+json")
    );
    let auth = hook.authorization.as_deref().unwrap();
    assert!(!auth.starts_with("Bearer"), "LiveKit sends the raw JWT");
    let event = gw
        .webhook_verifier()
        .verify(Some(auth), &hook.body)
        .expect("our verifier accepts it");
    assert_eq!(event.event, "room_started");
    assert!(event.id.starts_with("EV_"));
    let raw: Value = serde_json::from_slice(&hook.body).unwrap();
    assert!(raw["createdAt"].is_string(), "int64 as a string: {raw}");
    assert_eq!(raw["room"]["name"], ROOM);
}

#[tokio::test]
async fn webhooks_are_retried_after_5xx_and_429_then_delivered() {
    let (stub, sink) = stub_with_sink(fast()).await;
    sink.answer_with(&[503, 429]);
    gateway(&stub).create_room(ROOM, SETTINGS).await.unwrap();

    eventually(WAIT, || {
        stub.deliveries()
            .first()
            .is_some_and(|d| d.outcome == Outcome::Delivered)
    })
    .await;
    assert_eq!(stub.deliveries()[0].attempts, [503, 429, 200]);
}

#[tokio::test]
async fn a_webhook_answered_with_another_4xx_is_never_retried() {
    let (stub, sink) = stub_with_sink(fast()).await;
    sink.answer_with(&[401]);
    gateway(&stub).create_room(ROOM, SETTINGS).await.unwrap();

    eventually(WAIT, || {
        stub.deliveries()
            .first()
            .is_some_and(|d| d.outcome != Outcome::Pending)
    })
    .await;
    let d = &stub.deliveries()[0];
    assert_eq!(
        (d.outcome, d.attempts.as_slice()),
        (Outcome::Rejected, &[401][..])
    );
}

#[tokio::test]
async fn a_webhook_is_tried_five_times_with_doubling_waits_then_given_up() {
    let (stub, sink) = stub_with_sink(fast()).await;
    sink.answer_with(&[500; 5]);
    let started = std::time::Instant::now();
    gateway(&stub).create_room(ROOM, SETTINGS).await.unwrap();

    eventually(WAIT, || {
        stub.deliveries()
            .first()
            .is_some_and(|d| d.outcome != Outcome::Pending)
    })
    .await;
    let d = &stub.deliveries()[0];
    assert_eq!(
        (d.outcome, d.attempts.as_slice()),
        (Outcome::GaveUp, &[500; 5][..])
    );
    // 10 + 20 + 40 + 80 ms of waiting at least: the waits double.
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_webhook_older_than_the_maximum_age_is_dropped_not_sent() {
    let timing = DeliveryTiming {
        max_age: Duration::from_secs(1),
        ..fast()
    };
    let (stub, sink) = stub_with_sink(timing).await;
    stub.set_faults(Faults {
        webhook_delay_ms: 2_100,
        ..Faults::default()
    });
    gateway(&stub).create_room(ROOM, SETTINGS).await.unwrap();

    eventually(WAIT, || {
        stub.deliveries()
            .first()
            .is_some_and(|d| d.outcome != Outcome::Pending)
    })
    .await;
    assert_eq!(stub.deliveries()[0].outcome, Outcome::Stale);
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn injected_faults_drop_duplicate_and_reorder_webhooks() {
    let (stub, sink) = stub_with_sink(fast()).await;
    let gw = gateway(&stub);
    stub.set_faults(Faults {
        drop_webhooks: 1,
        ..Faults::default()
    });
    room_with(&gw).await; // room_started: dropped
    stub.set_faults(Faults {
        duplicate_webhooks: 1,
        ..Faults::default()
    });
    join(&stub, &gw, Role::Learner, "l-1"); // participant_joined: twice
    stub.set_faults(Faults {
        reorder_webhooks: 1,
        ..Faults::default()
    });
    join(&stub, &gw, Role::Learner, "l-2"); // overtaken by the next one
    join(&stub, &gw, Role::Learner, "l-3");

    eventually(WAIT, || sink.received().len() == 4).await;
    let seen: Vec<(String, String)> = sink
        .events()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_owned(),
                e["participant"]["identity"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect();
    let expected = [
        ("participant_joined", "l-1"),
        ("participant_joined", "l-1"),
        ("participant_joined", "l-3"),
        ("participant_joined", "l-2"),
    ];
    assert_eq!(seen, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    let ids: Vec<Value> = sink.events().iter().map(|e| e["id"].clone()).collect();
    assert_eq!(ids[0], ids[1], "a duplicate carries the same event id");
    assert_eq!(stub.deliveries()[0].outcome, Outcome::Dropped);
}

#[tokio::test]
async fn webhooks_of_one_room_arrive_in_order_and_deleting_a_room_says_who_left() {
    let (stub, sink) = stub_with_sink(fast()).await;
    let gw = gateway(&stub);
    room_with(&gw).await;
    for i in 0..5 {
        join(&stub, &gw, Role::Learner, &format!("l-{i}"));
    }
    gw.delete_room(ROOM).await.unwrap();

    eventually(WAIT, || sink.received().len() == 12).await;
    let kinds: Vec<String> = sink
        .events()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = vec!["room_started".to_owned()];
    expected.extend(std::iter::repeat_n("participant_joined".to_owned(), 5));
    expected.extend(std::iter::repeat_n("participant_left".to_owned(), 5));
    expected.push("room_finished".to_owned());
    assert_eq!(kinds, expected);
}

#[tokio::test]
async fn revoking_the_floor_emits_track_unpublished() {
    let (stub, sink) = stub_with_sink(fast()).await;
    let gw = gateway(&stub);
    room_with(&gw).await;
    join(&stub, &gw, Role::Learner, "l-ana");
    gw.grant_floor(ROOM, "l-ana").await.unwrap();
    let mic = stub
        .publish(ROOM, "l-ana", TrackSource::Microphone)
        .unwrap();
    gw.revoke_floor(ROOM, "l-ana").await.unwrap();

    eventually(WAIT, || {
        sink.events()
            .iter()
            .any(|e| e["event"] == "track_unpublished")
    })
    .await;
    let unpublished = sink
        .events()
        .into_iter()
        .find(|e| e["event"] == "track_unpublished")
        .unwrap();
    assert_eq!(unpublished["track"]["sid"], mic.sid.as_str());
    assert_eq!(unpublished["track"]["source"], "MICROPHONE");
}

#[tokio::test]
async fn the_scripting_api_connects_publishes_and_reports_state_over_http() {
    let stub = start_stub().await;
    let gw = gateway(&stub);
    room_with(&gw).await;
    let token = gw
        .mint(Role::Classroom, ROOM, "c-room12", "Room 12")
        .unwrap();
    let client = http_client();

    let joined = client
        .post(format!("{}/stub/participants", stub.url()))
        .json(&json!({"token": token.jwt}))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 201);
    let info: Value = joined.json().await.unwrap();
    assert_eq!(info["identity"], "c-room12");
    assert!(
        info["permission"]["canPublish"].is_null(),
        "false is omitted in protojson: {info}"
    );

    let tracks = format!(
        "{}/stub/rooms/{ROOM}/participants/c-room12/tracks",
        stub.url()
    );
    let refused = client
        .post(&tracks)
        .json(&json!({"source": "microphone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let bad = client
        .post(format!("{}/stub/participants", stub.url()))
        .json(&json!({"token": "forged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);

    let state: Value = client
        .get(format!("{}/stub/state", stub.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["rooms"][0]["participants"][0]["identity"], "c-room12");
}
