//! The teacher console's sign-in (`/v1/console/session`): an API key
//! exchanged once for the console cookie ([`crate::console`]), who is
//! signed in, and sign-out. Failed sign-ins are limited per client
//! address; the key is never logged, stored or echoed.

use axum::Router;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::post;
use chrono::{DateTime, Utc};
use estrade_core::api_key;
use estrade_core::domain::AccountRole;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::ClientIp;
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/console/session",
        post(sign_in).get(signed_in).delete(sign_out),
    )
}

/// The longest key accepted (keys are 51 characters).
const MAX_KEY_LEN: usize = 256;

/// A sign-in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// An admin's or teacher's API key (`estrade_…`, at most 256
    /// characters); sent once, never stored in the browser.
    #[schema(value_type = String, example = "estrade_3q2…")]
    pub api_key: SecretString,
}

/// The signed-in account.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsoleAccount {
    /// The account.
    pub id: Uuid,
    /// Its display name.
    pub name: String,
    /// `teacher` or `admin`.
    pub role: AccountRole,
}

/// A console sign-in.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsoleSession {
    /// Who is signed in.
    pub account: ConsoleAccount,
    /// When the sign-in stops working (sign in again then).
    pub expires_at: DateTime<Utc>,
}

fn session_view(
    id: Uuid,
    name: String,
    role: AccountRole,
    expires_at: DateTime<Utc>,
) -> ConsoleSession {
    ConsoleSession {
        account: ConsoleAccount { id, name, role },
        expires_at,
    }
}

/// Signs this browser in to the console: the key is checked once and an
/// `HttpOnly`, `SameSite=Strict` cookie is set (`Secure`, named
/// `__Host-estrade_console`, over HTTPS). Only from Estrade's own pages
/// (`Origin`). After `ESTRADE_SIGN_IN_FAILURES_PER_MIN` failures (default
/// 5) a client address is refused with 429 before any key is looked up.
#[utoipa::path(post, path = "/v1/console/session", tag = "console",
    request_body = SignIn,
    responses(
        (status = 200, body = ConsoleSession, headers(("set-cookie" = String, description = "The console cookie"))),
        (status = 401, body = ErrorBody, description = "`invalid_api_key`: no working key"),
        (status = 403, body = ErrorBody, description = "`cross_origin`: not from Estrade's own pages"),
        (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody, headers(("retry-after" = u64))),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(req): Json<SignIn>,
) -> Result<impl IntoResponse, Error> {
    let cookies = &state.settings.console;
    cookies.check_origin(&Method::POST, &headers)?;
    let owner = key_owner(&state, ip, req.api_key.expose_secret()).await?;
    let token = crate::console::new_token();
    let ttl_s = i64::try_from(cookies.ttl().as_secs()).unwrap_or(i64::MAX);
    let hash = api_key::hash(&token);
    let expires_at =
        estrade_app::console::sign_in(&state.deps.db, owner.account_id, owner.key_id, &hash, ttl_s)
            .await?;
    let view = session_view(owner.account_id, owner.name, owner.role, expires_at);
    Ok((
        AppendHeaders([(SET_COOKIE, cookies.set(&token))]),
        Json(view),
    ))
}

/// The owner of `key`, within the client's budget of failed sign-ins (a
/// failure counts against it).
async fn key_owner(
    state: &AppState,
    ip: std::net::IpAddr,
    key: &str,
) -> Result<estrade_db::accounts::KeyOwner, Error> {
    let limits = &state.settings.sign_in_limits;
    let client = crate::limits::client_key(ip);
    limits.check(&client)?;
    let owner = if key.len() <= MAX_KEY_LEN && key.starts_with(api_key::PREFIX) {
        estrade_db::accounts::authenticate(&state.deps.db, &api_key::hash(key)).await?
    } else {
        None
    };
    let Some(owner) = owner else {
        limits.record(client)?;
        return Err(Error::Refused {
            code: "invalid_api_key",
            message: "This API key is not accepted (unknown, revoked, or its account is disabled)."
                .to_owned(),
        });
    };
    Ok(owner)
}

/// Who is signed in to the console with this browser's cookie.
#[utoipa::path(get, path = "/v1/console/session", tag = "console",
    security(("console" = [])),
    responses(
        (status = 200, body = ConsoleSession),
        (status = 401, body = ErrorBody, description = "Not signed in, or the sign-in ended"),
    ))]
pub async fn signed_in(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ConsoleSession>, Error> {
    let token = state
        .settings
        .console
        .token(&headers)
        .ok_or(Error::Unauthorized)?;
    let s = estrade_db::console::authenticate(&state.deps.db, &api_key::hash(&token))
        .await?
        .ok_or(Error::Unauthorized)?;
    Ok(Json(session_view(
        s.account_id,
        s.name,
        s.role,
        s.expires_at,
    )))
}

/// Signs out: the sign-in ends at once (its cookie stops working even if
/// kept) and the cookie is cleared. Idempotent; only from Estrade's own
/// pages (`Origin`).
#[utoipa::path(delete, path = "/v1/console/session", tag = "console",
    security(("console" = [])),
    responses(
        (status = 204, description = "Signed out", headers(("set-cookie" = String, description = "Clears the console cookie"))),
        (status = 403, body = ErrorBody, description = "`cross_origin`: not from Estrade's own pages"),
    ))]
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, Error> {
    let cookies = &state.settings.console;
    cookies.check_origin(&Method::DELETE, &headers)?;
    if let Some(token) = cookies.token(&headers) {
        estrade_app::console::sign_out(&state.deps.db, &api_key::hash(&token)).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        AppendHeaders([(SET_COOKIE, cookies.clear())]),
    ))
}
