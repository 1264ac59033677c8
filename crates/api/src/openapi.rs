//! The OpenAPI 3.1 document, generated from the handlers' annotations, and
//! the interactive docs page.

use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_scalar::{Scalar, Servable};

use crate::AppState;
use crate::error::{ErrorBody, ErrorDetail};
use crate::extract::Json;
use crate::routes::health;

#[derive(OpenApi)]
#[openapi(
    info(title = "Estrade", description = "Control plane for live, two-way teaching on LiveKit."),
    paths(health::healthz, health::readyz),
    components(schemas(ErrorBody, ErrorDetail)),
    tags((name = "health", description = "Liveness and readiness")),
)]
struct ApiDoc;

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(|| async { Json(document()) }))
        .merge(Scalar::with_url("/docs", document()))
}
