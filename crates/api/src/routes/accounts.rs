//! Accounts and API keys, for IT staff (admins).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use chrono::{DateTime, Utc};
use estrade_core::domain::{AccountName, AccountRole};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Admin;
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/admin/accounts",
            post(create_account).get(list_accounts),
        )
        .route("/v1/admin/accounts/{id}", delete(disable_account))
        .route("/v1/admin/accounts/{id}/keys", post(create_key))
        .route("/v1/admin/accounts/{id}/keys/{key_id}", delete(revoke_key))
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// 1–128 characters, no control or invisible characters.
    #[schema(example = "Chef Anne Martin", min_length = 1, max_length = 128)]
    pub name: String,
    /// `teacher` or `admin`.
    pub role: AccountRole,
}

/// An account with its first key, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAccount {
    /// The account.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: AccountRole,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// The API key: store it now, it is never shown again.
    #[schema(example = "estrade_3q2…")]
    pub api_key: String,
}

/// An API key as listed; the key itself is never shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// Key id.
    pub id: Uuid,
    /// First characters of the key.
    pub prefix: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last use, to the minute.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An account as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    /// The account.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: AccountRole,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When disabled; its keys stopped working then.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Its keys.
    pub keys: Vec<KeyView>,
}

/// Every account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    /// Oldest first.
    pub accounts: Vec<AccountView>,
}

/// A new key for an existing account, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// Key id.
    pub id: Uuid,
    /// First characters of the key.
    pub prefix: String,
    /// The API key: store it now, it is never shown again.
    pub api_key: String,
}

fn key_view(k: estrade_db::accounts::ApiKey) -> KeyView {
    KeyView {
        id: k.id,
        prefix: k.prefix,
        created_at: k.created_at,
        last_used_at: k.last_used_at,
        revoked_at: k.revoked_at,
    }
}

/// Create an account (teacher or admin) with its first API key.
#[utoipa::path(post, path = "/v1/admin/accounts", tag = "admin", request_body = NewAccount,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CreatedAccount),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn create_account(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Json(req): Json<NewAccount>,
) -> Result<(StatusCode, Json<CreatedAccount>), Error> {
    let name =
        AccountName::parse(&req.name).map_err(|e| Error::invalid("invalid_name", e.to_string()))?;
    let (account, key) =
        estrade_app::accounts::create(&state.deps.db, admin.actor(), &name, req.role).await?;
    let body = CreatedAccount {
        id: account.id,
        name: account.name,
        role: req.role,
        created_at: account.created_at,
        api_key: key.expose().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(body)))
}

/// List every account with its keys.
#[utoipa::path(get, path = "/v1/admin/accounts", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = AccountList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_accounts(
    State(state): State<AppState>,
    Admin(_admin): Admin,
) -> Result<Json<AccountList>, Error> {
    let accounts = estrade_db::accounts::list(&state.deps.db).await?;
    let mut keys = estrade_db::accounts::list_keys(&state.deps.db).await?;
    let accounts = accounts
        .into_iter()
        .map(|a| {
            let (mine, rest): (Vec<_>, Vec<_>) = keys.drain(..).partition(|k| k.account_id == a.id);
            keys = rest;
            account_view(a, mine)
        })
        .collect();
    Ok(Json(AccountList { accounts }))
}

fn account_view(
    a: estrade_db::accounts::Account,
    keys: Vec<estrade_db::accounts::ApiKey>,
) -> AccountView {
    AccountView {
        id: a.id,
        name: a.name,
        role: a.role,
        created_at: a.created_at,
        disabled_at: a.disabled_at,
        keys: keys.into_iter().map(key_view).collect(),
    }
}

/// Disable an account: its keys stop working at once. Its sessions stay.
#[utoipa::path(delete, path = "/v1/admin/accounts/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, body = AccountView),
        (status = 404, body = ErrorBody), (status = 409, description = "`cannot_disable_self`, `last_admin`", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
pub async fn disable_account(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<Uuid>,
) -> Result<Json<AccountView>, Error> {
    let account = estrade_app::accounts::disable(&state.deps.db, &admin, id).await?;
    Ok(Json(account_view(account, Vec::new())))
}

/// Issue another API key for an account (to rotate keys without downtime).
#[utoipa::path(post, path = "/v1/admin/accounts/{id}/keys", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Account id")),
    responses((status = 201, body = CreatedKey), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_key(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, Json<CreatedKey>), Error> {
    let (key_id, key) = estrade_app::accounts::create_key(&state.deps.db, &admin, id).await?;
    let body = CreatedKey {
        id: key_id,
        prefix: key.display_prefix.clone(),
        api_key: key.expose().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(body)))
}

/// Revoke one API key; it stops working at once.
#[utoipa::path(delete, path = "/v1/admin/accounts/{id}/keys/{key_id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Account id"), ("key_id" = Uuid, Path, description = "Key id")),
    responses((status = 200, body = KeyView), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path((id, key_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<KeyView>, Error> {
    let key = estrade_app::accounts::revoke_key(&state.deps.db, &admin, id, key_id).await?;
    Ok(Json(key_view(key)))
}
