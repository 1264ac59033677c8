//! The gateway to LiveKit: the only crate that talks to the SFU. It wraps
//! the official `livekit-api` client, puts a deadline on every call and maps
//! LiveKit's Twirp errors to [`Error`], so callers can tell "the room is
//! gone" from "LiveKit is down".

use std::sync::Arc;
use std::time::Duration;

use estrade_core::config::LiveKitConfig;
use livekit_api::services::room::RoomClient;
use livekit_api::services::{ServerError, ServiceError};

pub use livekit_protocol as proto;

/// Why a LiveKit call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The room or participant does not exist (Twirp `not_found`).
    #[error("not found in LiveKit")]
    NotFound,
    /// LiveKit refused our credentials (`unauthenticated`, `permission_denied`).
    #[error("LiveKit refused our credentials ({0})")]
    Unauthorized(String),
    /// LiveKit refused the request itself (`invalid_argument`, …).
    #[error("LiveKit refused the request: {code}")]
    Rejected {
        /// Twirp error code.
        code: String,
    },
    /// LiveKit did not answer in time, could not be reached, or answered
    /// with an error on its side: worth retrying later.
    #[error("LiveKit is unavailable: {0}")]
    Unavailable(String),
}

impl Error {
    fn from_service(e: ServiceError) -> Self {
        match e {
            ServiceError::Twirp(ServerError::Twirp(twirp)) => match twirp.code.as_str() {
                "not_found" => Self::NotFound,
                "unauthenticated" | "permission_denied" => Self::Unauthorized(twirp.code),
                "unavailable" | "internal" | "unknown" | "deadline_exceeded"
                | "resource_exhausted" | "aborted" | "dataloss" => Self::Unavailable(twirp.code),
                _ => Self::Rejected { code: twirp.code },
            },
            // Transport errors, timeouts, and non-Twirp bodies (a proxy's 502).
            other => Self::Unavailable(other.to_string()),
        }
    }
}

/// A handle on LiveKit's server API. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Gateway {
    rooms: Arc<RoomClient>,
    timeout: Duration,
}

impl Gateway {
    /// Builds the gateway; no connection is made until the first call.
    pub fn new(config: &LiveKitConfig) -> Self {
        let rooms =
            RoomClient::with_api_key(&config.api_url(), &config.api_key, config.expose_secret())
                .with_request_timeout(config.request_timeout);
        Self {
            rooms: Arc::new(rooms),
            timeout: config.request_timeout,
        }
    }

    /// Runs one call under our own deadline as well as the client's, so no
    /// call can hang longer than the configured timeout.
    async fn call<T>(
        &self,
        fut: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(result) => result.map_err(Error::from_service),
            Err(_) => Err(Error::Unavailable("timed out".to_owned())),
        }
    }

    /// Checks that LiveKit answers an authenticated call (readiness).
    pub async fn ping(&self) -> Result<(), Error> {
        self.call(
            self.rooms
                .list_rooms(vec!["estrade-readiness-probe".to_owned()]),
        )
        .await
        .map(|_| ())
    }
}
