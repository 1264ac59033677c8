//! The OpenAPI 3.1 document, generated from the handlers' annotations
//! (its interactive page, `/docs`, is served with the web client:
//! `client.rs`).

use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::{Modify, OpenApi};

use crate::AppState;
use crate::error::{ErrorBody, ErrorDetail};
use crate::extract::Json;
use crate::routes::{
    accounts, audit, connectivity, console, events, floor, health, join, participants, reconcile,
    sessions, webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Estrade", description = "Control plane for live, two-way teaching on LiveKit."),
    paths(
        health::healthz, health::readyz,
        accounts::create_account, accounts::list_accounts, accounts::disable_account,
        accounts::create_key, accounts::revoke_key, audit::list,
        sessions::create_session, sessions::list_sessions, sessions::get_session,
        sessions::update_session, sessions::start_session, sessions::end_session,
        sessions::publish_token,
        join::join, join::refresh,
        participants::list_participants, participants::kick,
        floor::get_floor, floor::raise_hand, floor::lower_hand, floor::grant, floor::revoke,
        floor::configure, events::events, reconcile::run_now, reconcile::last,
        connectivity::connectivity,
        console::sign_in, console::signed_in, console::sign_out,
        webhooks::receive, webhooks::list, webhooks::replay,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerAuth, &ConsoleCookie, &Deadline),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "console", description = "Signing in to the teacher console (a cookie instead of the key)"),
        (name = "admin", description = "Accounts, API keys and stored webhooks (admins)"),
        (name = "sessions", description = "Teaching sessions"),
        (name = "participants", description = "Joining, tokens and participants"),
        (name = "floor", description = "Voice floor control: hands, grants, settings"),
        (name = "livekit", description = "Webhooks from LiveKit"),
    ),
)]
struct ApiDoc;

/// `Authorization: Bearer <API key or participant token>`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key (`estrade_…`) or a participant token from /v1/join",
                    ))
                    .build(),
            ),
        );
    }
}

/// The console's sign-in cookie, accepted wherever an API key is (the
/// account it was made for), when no `Authorization` is sent.
struct ConsoleCookie;

impl Modify for ConsoleCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "console",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::console::PLAIN_NAME,
                "The teacher console's sign-in (POST /v1/console/session), named \
                 `__Host-estrade_console` over HTTPS. Sent only when there is no \
                 `Authorization`; any method but GET and HEAD made with it must \
                 carry an `Origin` equal to the public URL's, or gets 403 `cross_origin`.",
            ))),
        );
        // Every operation a bearer credential opens, the cookie opens too.
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let Some(security) = op.security.as_mut() else {
                    continue;
                };
                let bearer = serde_json::to_value(&*security)
                    .is_ok_and(|v| v.to_string().contains("\"bearer\""));
                if bearer {
                    security.push(SecurityRequirement::new("console", Vec::<String>::new()));
                }
            }
        }
    }
}

/// Every operation may answer 408 `request_timeout` (`ESTRADE_REQUEST_TIMEOUT_S`).
struct Deadline;

impl Modify for Deadline {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let response = ResponseBuilder::new()
            .description(
                "`request_timeout`: the request, its body included, was not received and \
                 answered within `ESTRADE_REQUEST_TIMEOUT_S`; the connection is closed",
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                op.responses
                    .responses
                    .entry("408".to_owned())
                    .or_insert_with(|| response.clone().into());
            }
        }
    }
}

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(document()) }))
}
