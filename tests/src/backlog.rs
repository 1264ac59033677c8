//! A webhook backlog: many rooms of learners, each connecting again and
//! again, as LiveKit would report them, stored in the inbox and queued in
//! Redis exactly as `POST /webhooks/livekit` does once an event is
//! verified, with no worker running. Shared by the backlog tests and
//! `estrade-bench backlog`.

use estrade_app::WebhookQueue;
use estrade_core::webhook::Envelope;
use futures::StreamExt as _;
use serde_json::{Value, json};
use sqlx::PgPool;

/// The shape of a backlog.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Live sessions.
    pub rooms: usize,
    /// Learners admitted to each.
    pub learners_per_room: usize,
    /// Connections per learner; each is four events (joined, microphone
    /// published, unpublished, left).
    pub cycles: usize,
}

impl Shape {
    /// 100,000 events: 10 rooms of 25 learners, 100 connections each.
    pub const HUNDRED_THOUSAND: Shape = Shape {
        rooms: 10,
        learners_per_room: 25,
        cycles: 100,
    };

    /// How many events it makes.
    pub fn events(&self) -> usize {
        self.rooms * self.learners_per_room * self.cycles * 4
    }

    /// How many learners.
    pub fn learners(&self) -> usize {
        self.rooms * self.learners_per_room
    }

    /// How many microphone tracks.
    pub fn tracks(&self) -> usize {
        self.learners() * self.cycles
    }
}

/// Every learner's connections, in LiveKit's order: each joins, publishes a
/// microphone it has no floor for, unpublishes it and leaves. A room's
/// events are a second apart, so LiveKit's `createdAt` alone orders them.
/// `rooms` holds each room's name and its learners' identities.
pub fn events(rooms: &[(String, Vec<String>)], cycles: usize) -> Vec<Value> {
    let mut events = Vec::new();
    for (room, identities) in rooms {
        let mut second = 1_790_000_000_i64;
        for cycle in 0..cycles {
            for identity in identities {
                let participant = json!({
                    "sid": format!("PA_{identity}_{cycle}"), "identity": identity,
                    "joinedAtMs": (second * 1000).to_string()
                });
                let track = json!({
                    "sid": format!("TR_{identity}_{cycle}"), "type": "AUDIO", "source": "MICROPHONE"
                });
                for (step, kind) in [
                    "participant_joined",
                    "track_published",
                    "track_unpublished",
                    "participant_left",
                ]
                .into_iter()
                .enumerate()
                {
                    let mut event = json!({
                        "event": kind, "id": format!("EV_{identity}_{cycle}_{step}"),
                        "createdAt": second.to_string(),
                        "room": {"name": room, "sid": "RM_backlog"},
                        "participant": participant,
                    });
                    if kind.starts_with("track") {
                        event["track"] = track.clone();
                    }
                    events.push(event);
                    second += 1;
                }
            }
        }
    }
    events
}

/// Stores each event in the inbox and, when it is new, queues its job:
/// what the webhook endpoint does after verifying a signature (its name
/// stripping does nothing here: these events carry no names).
pub async fn fill(db: &PgPool, queue: &WebhookQueue, events: &[Value]) {
    futures::stream::iter(events)
        .for_each_concurrent(32, |payload| async move {
            let body = serde_json::to_vec(payload).expect("JSON");
            let event = Envelope::parse(&body).expect("a webhook event");
            if estrade_db::webhooks::insert(db, &event)
                .await
                .expect("store the event")
            {
                queue
                    .push_new(&event.event_id)
                    .await
                    .expect("queue the event");
            }
        })
        .await;
}
