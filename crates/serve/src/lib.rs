//! Serving HTTP for every role: [`serve`] runs HTTP/1.1 connections with a
//! header-read deadline and a graceful drain, and [`metrics`] is the
//! process's Prometheus recorder and its `/metrics` router. The API and the
//! worker both serve through it, so neither role imports the other.

pub mod metrics;

use std::time::Duration;

use axum::Router;
use estrade_core::config::Config;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How a listener treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct Serving {
    /// How long in-flight requests may drain after the shutdown signal.
    pub drain: Duration,
    /// How long a connection may take to send a request's headers, and
    /// stay idle between requests, before it is closed.
    pub header_read_timeout: Duration,
}

impl Serving {
    /// The configured limits.
    pub fn from_config(config: &Config) -> Self {
        Self {
            drain: config.shutdown_timeout,
            header_read_timeout: config.header_read_timeout,
        }
    }
}

/// Serves `app` over HTTP/1.1 on `listener` until `shutdown` is cancelled,
/// then drains in-flight requests for at most `serving.drain`.
///
/// A connection that does not finish sending a request's headers within
/// `serving.header_read_timeout` (or idles that long between requests) is
/// closed, so slow clients cannot hold connections open (`axum::serve`
/// sets no such deadline). How long the rest of a request may take is the
/// router's business (the API's request timeout).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    serving: Serving,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(serving.header_read_timeout);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: pause rather than spin.
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY refused");
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
            let mut request = request.map(axum::body::Body::new);
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let connection = connections.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // A client that went away, or one too slow with its headers.
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = connections.shutdown() => {}
        () = tokio::time::sleep(serving.drain) => {
            tracing::warn!(drain_s = serving.drain.as_secs(), "drain timed out; closing remaining connections");
        }
    }
    Ok(())
}
