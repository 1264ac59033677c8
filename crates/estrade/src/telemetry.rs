//! Logging: one `init()` for the whole process. JSON lines by default,
//! human-readable with `ESTRADE_LOG_FORMAT=pretty`. Spans carry dotted field
//! names; tokens, keys and learner names are never logged.

use estrade_core::config::{LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init(config: &LogConfig) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.filter)
        .map_err(|e| anyhow::anyhow!("ESTRADE_LOG is not a valid filter: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
        // Colours only on a terminal, never into a file or a pipe.
        LogFormat::Pretty => builder
            .compact()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    Ok(())
}
