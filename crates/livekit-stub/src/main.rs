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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let mut stub = Stub::serve(
        listener,
        StubConfig {
            api_key: args.key,
            api_secret: args.secret,
        },
    )?;
    println!("livekit-stub listening on {}", stub.url());
    tokio::signal::ctrl_c().await?;
    stub.shutdown().await;
    Ok(())
}
