//! A LiveKit stand-in for tests and `estrade dev`.
//!
//! It speaks LiveKit's server API wire protocol: Twirp `RoomService` over
//! HTTP with protobuf or JSON bodies, Twirp error bodies, and the
//! `Authorization: Bearer` access-token check with the grants LiveKit
//! requires per method. Rooms live in memory. `docs/LIVEKIT.md` lists what
//! it reproduces and what it does not.

mod twirp;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use livekit_api::access_token::TokenVerifier;
use livekit_protocol as proto;
use tokio::net::TcpListener;

/// How the stand-in is set up.
#[derive(Clone)]
pub struct StubConfig {
    /// The API key every token must be issued by.
    pub api_key: String,
    /// The API secret tokens are signed with.
    pub api_secret: String,
}

impl std::fmt::Debug for StubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StubConfig")
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

/// The in-memory world: rooms by name.
#[derive(Debug, Default)]
pub(crate) struct World {
    pub(crate) rooms: BTreeMap<String, proto::Room>,
    pub(crate) next_sid: u64,
}

impl World {
    pub(crate) fn sid(&mut self, prefix: &str) -> String {
        self.next_sid += 1;
        format!("{prefix}_{:012}", self.next_sid)
    }
}

/// Shared state of one stand-in.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) verifier: TokenVerifier,
    pub(crate) world: Arc<Mutex<World>>,
}

/// A stand-in that is running. Dropping it does not stop it; call
/// [`Stub::shutdown`] or let the shutdown future passed to [`Stub::serve`]
/// finish.
pub struct Stub {
    addr: SocketAddr,
    shared: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Stub {
    /// Starts serving on `listener` in a background task.
    pub fn serve(listener: TcpListener, config: StubConfig) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let shared = Shared {
            verifier: TokenVerifier::with_api_key(&config.api_key, &config.api_secret),
            world: Arc::default(),
        };
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
        self.shared
            .world
            .lock()
            .expect("stub state")
            .rooms
            .keys()
            .cloned()
            .collect()
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
        .with_state(shared)
}
