//! `livekit-stub`: runs the LiveKit stand-in as its own process.

use clap::Parser;
use estrade_livekit_stub::{Stub, StubConfig};

/// A LiveKit stand-in speaking LiveKit's server API, for tests and local runs.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 7880)]
    port: u16,
    /// API key tokens must be issued by.
    #[arg(long, env = "LIVEKIT_API_KEY")]
    key: String,
    /// API secret tokens are signed with.
    #[arg(long, env = "LIVEKIT_API_SECRET", hide_env_values = true)]
    secret: String,
    /// Where to POST webhooks (none are sent when absent).
    #[arg(long)]
    webhook_url: Option<String>,
    /// Create a room when a client joins one that does not exist.
    #[arg(long)]
    auto_create_rooms: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let args = Args::parse();
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let mut config = StubConfig::new(args.key, args.secret);
    config.webhook_url = args.webhook_url;
    config.auto_create_rooms = args.auto_create_rooms;
    let mut stub = Stub::serve(listener, config)?;
    println!("livekit-stub listening on {}", stub.url());
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    stub.shutdown().await;
    Ok(())
}
