//! LiveKit's signalling as a client sees it, without media: opens the
//! `/rtc` WebSocket with a token and returns the `JoinResponse` LiveKit
//! sends first (the room, the participant, and the ICE servers it hands
//! that client). Media tests use LiveKit's own SDK (`bot`); this reads
//! what the SDK does not show.

use std::time::Duration;

use futures::StreamExt as _;
use livekit_protocol::{JoinResponse, SignalResponse, signal_response};
use prost::Message as _;
use tokio_tungstenite::tungstenite::Message;

/// Connects to `ws_url` (`ws://host:port`) with `token` and returns the
/// first `JoinResponse`; panics if LiveKit refuses or sends none in 10 s.
pub async fn join_response(ws_url: &str, token: &str) -> JoinResponse {
    let url = format!("{ws_url}/rtc?access_token={token}&protocol=16&sdk=rust&auto_subscribe=0");
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("LiveKit accepts the signalling connection");
    let read = async {
        while let Some(message) = socket.next().await {
            if let Message::Binary(bytes) = message.expect("a signalling message") {
                let response = SignalResponse::decode(bytes).expect("a SignalResponse");
                if let Some(signal_response::Message::Join(join)) = response.message {
                    return join;
                }
            }
        }
        panic!("LiveKit closed the signalling connection before joining");
    };
    let join = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("a JoinResponse within 10 s");
    let _ = socket.close(None).await;
    join
}
