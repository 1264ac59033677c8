//! The one shutdown signal: a token cancelled on SIGTERM or SIGINT, passed
//! to the servers, the workers and every loop.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Returns a token that is cancelled when SIGTERM or SIGINT arrives.
///
/// The handlers are installed before this returns, so a signal that
/// arrives right after start-up is never left to the default action
/// (which would kill the process without draining).
pub fn on_signal() -> std::io::Result<CancellationToken> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("shutdown signal received");
        trigger.cancel();
    });
    Ok(token)
}
