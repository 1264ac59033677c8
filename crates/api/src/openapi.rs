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
    accounts, audit, connectivity, console, events, floor, health, join, outbound, participants,
    polls, privacy, questions, reconcile, report, sessions, webhooks,
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
        sessions::publish_token, sessions::observer_token, report::report,
        join::join, join::refresh,
        participants::list_participants, participants::kick,
        floor::get_floor, floor::raise_hand, floor::lower_hand, floor::grant, floor::revoke,
        floor::configure, questions::ask, questions::list, questions::answer,
        questions::dismiss, polls::open, polls::list, polls::answer, polls::close,
        privacy::erase, privacy::export,
        outbound::register, outbound::list, outbound::show, outbound::remove, outbound::log,
        outbound::retry,
        events::events, reconcile::run_now, reconcile::last,
        connectivity::connectivity,
        console::sign_in, console::signed_in, console::sign_out,
        webhooks::receive, webhooks::list, webhooks::replay,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerAuth, &ConsoleCookie, &CommonResponses, &NamePatterns),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "console", description = "Signing in to the teacher console (a cookie instead of the key)"),
        (name = "admin", description = "Accounts, API keys, stored webhooks, webhooks to the LMS and sessions' personal data (admins)"),
        (name = "sessions", description = "Teaching sessions"),
        (name = "participants", description = "Joining, tokens and participants"),
        (name = "floor", description = "Voice floor control: hands, grants, settings"),
        (name = "livekit", description = "Webhooks from LiveKit"),
    ),
)]
struct ApiDoc;

pub use estrade_core::domain::NAME_PATTERN;

/// Puts [`NAME_PATTERN`] on every name, title and typed text a request
/// carries (a derive attribute takes only a literal, and the pattern is
/// one), a poll's choices included.
struct NamePatterns;

impl Modify for NamePatterns {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{ArrayItems, Schema};
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for (schema, property) in [
            ("CreateSession", "title"),
            ("UpdateSession", "title"),
            ("NewAccount", "name"),
            ("AskRequest", "text"),
            ("OpenPoll", "question"),
        ] {
            let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) else {
                panic!("the OpenAPI document has no object schema {schema}");
            };
            let Some(RefOr::T(Schema::Object(field))) = object.properties.get_mut(property) else {
                panic!("{schema} has no string property {property}");
            };
            field.pattern = Some(NAME_PATTERN.to_owned());
        }
        // A poll's choices: each a name-like line of 1–100 characters.
        let Some(RefOr::T(Schema::Object(poll))) = components.schemas.get_mut("OpenPoll") else {
            panic!("the OpenAPI document has no object schema OpenPoll");
        };
        let Some(RefOr::T(Schema::Array(choices))) = poll.properties.get_mut("choices") else {
            panic!("OpenPoll has no array property choices");
        };
        let ArrayItems::RefOrSchema(item) = &mut choices.items else {
            panic!("OpenPoll.choices has no item schema");
        };
        let RefOr::T(Schema::Object(item)) = item.as_mut() else {
            panic!("OpenPoll.choices items are not a string schema");
        };
        item.pattern = Some(NAME_PATTERN.to_owned());
        item.min_length = Some(1);
        item.max_length = Some(estrade_core::poll::MAX_CHOICE_CHARS);
        // An endpoint's URL: the grammar the API checks.
        let Some(RefOr::T(Schema::Object(endpoint))) = components.schemas.get_mut("NewEndpoint")
        else {
            panic!("the OpenAPI document has no object schema NewEndpoint");
        };
        let Some(RefOr::T(Schema::Object(url))) = endpoint.properties.get_mut("url") else {
            panic!("NewEndpoint has no string property url");
        };
        url.pattern = Some(estrade_core::outbound::ENDPOINT_URL_PATTERN.to_owned());
    }
}

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
            for op in operations(item) {
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

/// The answers any operation may give whatever it does, added to each so
/// the document lists every status the server can send: 408
/// `request_timeout` (`ESTRADE_REQUEST_TIMEOUT_S`); 400
/// `malformed_request` where a path parameter, a query or a header does not
/// parse, or a body is not JSON; 413 where there is a body, and 415 and
/// 422 `invalid_body` where it is JSON; 503
/// `unavailable` where PostgreSQL, Redis or LiveKit does not answer.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        let timeout = error(
            "`request_timeout`: the request, its body included, was not received and \
             answered within `ESTRADE_REQUEST_TIMEOUT_S`; the connection is closed",
        );
        let malformed = error(
            "`malformed_request`: a path parameter, query or header that does not parse, \
             or a body that is not JSON",
        );
        let too_large = error("`payload_too_large`: a body over `ESTRADE_BODY_LIMIT_BYTES`");
        let media_type = error("`unsupported_media_type`: a body that is not `application/json`");
        let invalid_body = error(
            "`invalid_body`: a JSON body that is not an object or does not fit the schema \
             (a missing or unknown field, a wrong type); other codes name the rule a value breaks",
        );
        let unavailable =
            error("`unavailable`: PostgreSQL, Redis or LiveKit is not answering; try again");
        for (path, item) in openapi.paths.paths.iter_mut() {
            // Liveness answers from memory: it depends on nothing.
            let depends = path != "/healthz";
            for op in operations(item) {
                let has_parameters = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let has_body = op.request_body.is_some();
                let json_body = op
                    .request_body
                    .as_ref()
                    .is_some_and(|b| b.content.contains_key("application/json"));
                let mut add = |status: &str, response: &utoipa::openapi::Response| {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| response.clone().into());
                };
                add("408", &timeout);
                if depends {
                    add("503", &unavailable);
                }
                if has_parameters || has_body {
                    add("400", &malformed);
                }
                if has_body {
                    add("413", &too_large);
                }
                if json_body {
                    add("415", &media_type);
                    add("422", &invalid_body);
                }
            }
        }
    }
}

/// The operations of one path, whatever their method.
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(document()) }))
}
