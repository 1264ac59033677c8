//! A LiveKit stand-in for tests and `estrade dev`.
//!
//! It speaks LiveKit's server API wire protocol: Twirp `RoomService` over
//! HTTP with protobuf or JSON bodies, Twirp error bodies, and the
//! `Authorization: Bearer` access-token check with the grants LiveKit
//! requires per method. Rooms and participants live in memory with
//! LiveKit's semantics, and webhooks are signed and delivered as LiveKit
//! delivers them. A scripting API (`/stub/…`, and the same operations as
//! methods on [`Stub`]) lets tests act as clients and inject faults.
//! `docs/LIVEKIT.md` lists what it reproduces and what it does not.

mod script;
mod twirp;
mod webhooks;
mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use livekit_api::access_token::TokenVerifier;
use livekit_protocol::{ParticipantInfo, Room, TrackInfo, TrackSource};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

pub use twirp::TwirpError;
pub use webhooks::{Delivery, DeliveryTiming, Outcome};

/// How the stand-in is set up.
#[derive(Clone)]
pub struct StubConfig {
    /// The API key every token must be issued by.
    pub api_key: String,
    /// The API secret tokens are signed with.
    pub api_secret: String,
    /// Where webhooks go; none are sent when unset.
    pub webhook_url: Option<String>,
    /// Whether a client joining a missing room creates it (LiveKit's
    /// `room.auto_create`); off, as in our production configuration.
    pub auto_create_rooms: bool,
    /// Webhook retry and age limits.
    pub timing: DeliveryTiming,
    /// Whether to keep a log of the permission changes received, in the
    /// order they took effect, with the time each arrived (benchmarks, and
    /// tests of ordering: [`Stub::permission_updates`]).
    pub record_calls: bool,
}

/// A permission change as the stand-in received it.
#[derive(Debug, Clone)]
pub struct PermissionUpdate {
    /// The participant's identity.
    pub identity: String,
    /// Whether it may now publish.
    pub can_publish: bool,
    /// When the request arrived.
    pub at: std::time::Instant,
}

impl StubConfig {
    /// A stand-in with these credentials, no webhooks, LiveKit's timings.
    pub fn new(api_key: impl Into<String>, api_secret: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            api_secret: api_secret.into(),
            webhook_url: None,
            auto_create_rooms: false,
            timing: DeliveryTiming::default(),
            record_calls: false,
        }
    }
}

impl std::fmt::Debug for StubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StubConfig")
            .field("api_key", &self.api_key)
            .field("webhook_url", &self.webhook_url)
            .finish_non_exhaustive()
    }
}

/// Faults to inject, switchable at run time (`PUT /stub/faults`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added before every Twirp answer.
    pub latency_ms: u64,
    /// The next N Twirp calls fail with 503 `unavailable`.
    pub fail_next_twirp: u32,
    /// The next N webhooks are never sent.
    pub drop_webhooks: u32,
    /// The next N webhooks are sent twice (same id).
    pub duplicate_webhooks: u32,
    /// The next N webhooks are overtaken by the event after them in the
    /// same room.
    pub reorder_webhooks: u32,
    /// Every webhook waits this long before its first try.
    pub webhook_delay_ms: u64,
    /// The next UpdateParticipant that lets a participant publish is held
    /// until [`Stub::release_held_grant`]: a slow path, which a later call
    /// (say, the revoke of another replica) overtakes.
    pub hold_next_grant: bool,
}

/// Grants held by [`Faults::hold_next_grant`].
#[derive(Default)]
pub(crate) struct GrantHold {
    pub(crate) held: std::sync::atomic::AtomicUsize,
    pub(crate) release: tokio::sync::Notify,
}

/// A room and everyone in it, as the stand-in sees them.
#[derive(Debug, Clone, Serialize)]
pub struct RoomSnapshot {
    /// The room, in protojson form.
    pub room: Room,
    /// Its participants, in protojson form.
    pub participants: Vec<ParticipantInfo>,
    /// How many SendData packets reached it.
    pub data_packets: usize,
}

/// Shared state of one stand-in.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) verifier: TokenVerifier,
    pub(crate) world: Arc<Mutex<world::World>>,
    pub(crate) faults: Arc<Mutex<Faults>>,
    pub(crate) webhooks: webhooks::Sender,
    /// The permission changes received, when recording.
    pub(crate) updates: Option<Arc<Mutex<Vec<PermissionUpdate>>>>,
    /// Grants held by a fault.
    pub(crate) grant_hold: Arc<GrantHold>,
}

impl Shared {
    fn new(config: StubConfig) -> Self {
        let faults = Arc::new(Mutex::new(Faults::default()));
        let mut world = world::World::default();
        world.auto_create_rooms = config.auto_create_rooms;
        Self {
            updates: config.record_calls.then(Default::default),
            grant_hold: Arc::default(),
            verifier: TokenVerifier::with_api_key(&config.api_key, &config.api_secret),
            world: Arc::new(Mutex::new(world)),
            webhooks: webhooks::Sender::new(
                config.webhook_url,
                config.api_key,
                config.api_secret,
                config.timing,
                faults.clone(),
            ),
            faults,
        }
    }

    fn world(&self) -> std::sync::MutexGuard<'_, world::World> {
        self.world.lock().expect("stub state")
    }

    /// Connects a client holding `token`, verified as LiveKit would.
    pub(crate) fn connect(&self, token: &str) -> Result<ParticipantInfo, TwirpError> {
        let claims = self
            .verifier
            .verify(token)
            .map_err(|e| TwirpError::new("unauthenticated", format!("invalid token: {e}")))?;
        let mut world = self.world();
        let (info, events) = world.connect(&claims)?;
        self.webhooks.send(events);
        Ok(info)
    }

    pub(crate) fn disconnect(
        &self,
        room: &str,
        identity: &str,
        aborted: bool,
    ) -> Result<(), TwirpError> {
        let mut world = self.world();
        let events = world.disconnect(room, identity, aborted)?;
        self.webhooks.send(events);
        Ok(())
    }

    pub(crate) fn publish(
        &self,
        room: &str,
        identity: &str,
        source: TrackSource,
        name: &str,
    ) -> Result<TrackInfo, TwirpError> {
        let mut world = self.world();
        let (track, events) = world.publish(room, identity, source, name)?;
        self.webhooks.send(events);
        Ok(track)
    }

    pub(crate) fn unpublish(
        &self,
        room: &str,
        identity: &str,
        track_sid: &str,
    ) -> Result<(), TwirpError> {
        let mut world = self.world();
        let events = world.unpublish(room, identity, track_sid)?;
        self.webhooks.send(events);
        Ok(())
    }

    pub(crate) fn snapshot(&self) -> Vec<RoomSnapshot> {
        self.world()
            .rooms
            .values()
            .map(|r| RoomSnapshot {
                room: r.room.clone(),
                participants: r.participants.values().cloned().collect(),
                data_packets: r.data.len(),
            })
            .collect()
    }
}

/// A stand-in that is running. Dropping it does not stop the server; call
/// [`Stub::shutdown`].
pub struct Stub {
    addr: SocketAddr,
    shared: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Stub {
    /// Starts serving on `listener` in a background task. Refuses an empty
    /// API key or secret, which could sign nothing.
    pub fn serve(listener: TcpListener, config: StubConfig) -> std::io::Result<Self> {
        if config.api_key.is_empty() || config.api_secret.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the stand-in needs a non-empty API key and secret",
            ));
        }
        let addr = listener.local_addr()?;
        let shared = Shared::new(config);
        let app = router(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %e, "livekit stub stopped");
            }
        });
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
            task,
        })
    }

    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start(config: StubConfig) -> std::io::Result<Self> {
        Self::serve(TcpListener::bind("127.0.0.1:0").await?, config)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients use (`http://127.0.0.1:port`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Names of the rooms that exist now.
    pub fn room_names(&self) -> Vec<String> {
        self.shared.world().rooms.keys().cloned().collect()
    }

    /// Every room with its participants.
    pub fn rooms(&self) -> Vec<RoomSnapshot> {
        self.shared.snapshot()
    }

    /// One participant, if connected.
    pub fn participant(&self, room: &str, identity: &str) -> Option<ParticipantInfo> {
        self.shared.world().get_participant(room, identity).ok()
    }

    /// Acts as a client connecting with `token` (which LiveKit would verify).
    pub fn connect(&self, token: &str) -> Result<ParticipantInfo, TwirpError> {
        self.shared.connect(token)
    }

    /// Acts as a client leaving (or its connection aborting).
    pub fn disconnect(&self, room: &str, identity: &str, aborted: bool) -> Result<(), TwirpError> {
        self.shared.disconnect(room, identity, aborted)
    }

    /// Acts as a client publishing a track of `source`; refused unless its
    /// current permission allows that source.
    pub fn publish(
        &self,
        room: &str,
        identity: &str,
        source: TrackSource,
    ) -> Result<TrackInfo, TwirpError> {
        self.shared
            .publish(room, identity, source, source.as_str_name())
    }

    /// Acts as a client unpublishing a track.
    pub fn unpublish(&self, room: &str, identity: &str, track_sid: &str) -> Result<(), TwirpError> {
        self.shared.unpublish(room, identity, track_sid)
    }

    /// The permission changes received so far (empty unless
    /// `record_calls`).
    pub fn permission_updates(&self) -> Vec<PermissionUpdate> {
        self.shared
            .updates
            .as_ref()
            .map(|log| log.lock().expect("updates").clone())
            .unwrap_or_default()
    }

    /// How many grants [`Faults::hold_next_grant`] is holding now.
    pub fn held_grants(&self) -> usize {
        self.shared
            .grant_hold
            .held
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Lets the held grant take effect.
    pub fn release_held_grant(&self) {
        self.shared.grant_hold.release.notify_one();
    }

    /// Replaces the injected faults.
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().expect("faults") = faults;
    }

    /// Every webhook delivery so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.webhooks.deliveries()
    }

    /// Stops serving and waits for in-flight requests. Safe to call twice.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            let _ = (&mut self.task).await;
        }
    }
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route(
            "/twirp/livekit.RoomService/{method}",
            axum::routing::post(twirp::room_service),
        )
        .merge(script::router())
        .with_state(shared)
}
