//! Accounts and their hashed API keys.

use chrono::{DateTime, Utc};
use estrade_core::domain::{AccountName, AccountRole};
use sqlx::PgConnection;
use uuid::Uuid;

/// An account as stored.
#[derive(Debug, Clone)]
pub struct Account {
    /// Primary key.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Admin or teacher.
    pub role: AccountRole,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Set once the account is disabled.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// Creates an account. Call inside the transaction that also stores its
/// first key, so an account never exists without the key that was printed.
pub async fn insert(
    conn: &mut PgConnection,
    name: &AccountName,
    role: AccountRole,
) -> Result<Account, sqlx::Error> {
    sqlx::query_as!(
        Account,
        "insert into accounts (name, role) values ($1, $2)
         returning id, name, role as \"role: _\", created_at, disabled_at",
        name.as_str(),
        role.as_str(),
    )
    .fetch_one(conn)
    .await
}

/// Stores an API key's hash and display prefix for an account.
pub async fn insert_key(
    conn: &mut PgConnection,
    account_id: Uuid,
    prefix: &str,
    key_hash: &[u8],
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "insert into api_keys (account_id, prefix, key_hash) values ($1, $2, $3) returning id",
        account_id,
        prefix,
        key_hash,
    )
    .fetch_one(conn)
    .await
}

/// Every account, oldest first.
pub async fn list(db: impl sqlx::PgExecutor<'_>) -> Result<Vec<Account>, sqlx::Error> {
    sqlx::query_as!(
        Account,
        "select id, name, role as \"role: _\", created_at, disabled_at from accounts order by created_at, id"
    )
    .fetch_all(db)
    .await
}

/// One account.
pub async fn get(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> Result<Option<Account>, sqlx::Error> {
    sqlx::query_as!(
        Account,
        "select id, name, role as \"role: _\", created_at, disabled_at from accounts where id = $1",
        id
    )
    .fetch_optional(db)
    .await
}

/// Disables an account; its keys stop working at once (every request
/// checks `disabled_at`). Disabling twice keeps the first time.
pub async fn disable(conn: &mut PgConnection, id: Uuid) -> Result<Option<Account>, sqlx::Error> {
    sqlx::query_as!(
        Account,
        "update accounts set disabled_at = coalesce(disabled_at, now()) where id = $1
         returning id, name, role as \"role: _\", created_at, disabled_at",
        id
    )
    .fetch_optional(conn)
    .await
}

/// An API key as listed (never the key itself).
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// Primary key.
    pub id: Uuid,
    /// Owning account.
    pub account_id: Uuid,
    /// The first characters, to tell keys apart.
    pub prefix: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last time it authenticated a request (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Set once revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Every key, for listing next to their accounts.
pub async fn list_keys(db: impl sqlx::PgExecutor<'_>) -> Result<Vec<ApiKey>, sqlx::Error> {
    sqlx::query_as!(
        ApiKey,
        "select id, account_id, prefix, created_at, last_used_at, revoked_at from api_keys order by created_at, id"
    )
    .fetch_all(db)
    .await
}

/// Revokes one key of an account. `None` when no such key.
pub async fn revoke_key(
    conn: &mut PgConnection,
    account_id: Uuid,
    key_id: Uuid,
) -> Result<Option<ApiKey>, sqlx::Error> {
    sqlx::query_as!(
        ApiKey,
        "update api_keys set revoked_at = coalesce(revoked_at, now())
          where id = $1 and account_id = $2
         returning id, account_id, prefix, created_at, last_used_at, revoked_at",
        key_id,
        account_id,
    )
    .fetch_optional(conn)
    .await
}

/// Who a presented key authenticates.
#[derive(Debug, Clone)]
pub struct KeyOwner {
    /// The key's id.
    pub key_id: Uuid,
    /// The account.
    pub account_id: Uuid,
    /// The account's name.
    pub name: String,
    /// Admin or teacher.
    pub role: AccountRole,
}

/// The live owner of a key hash: the key is not revoked and its account is
/// not disabled. Notes the use (at most once a minute per key, so a busy
/// client does not turn every read into a write).
pub async fn authenticate(
    db: impl sqlx::PgExecutor<'_>,
    key_hash: &[u8],
) -> Result<Option<KeyOwner>, sqlx::Error> {
    sqlx::query_as!(
        KeyOwner,
        "with owner as (
             select k.id as key_id, a.id as account_id, a.name, a.role
               from api_keys k join accounts a on a.id = k.account_id
              where k.key_hash = $1 and k.revoked_at is null and a.disabled_at is null
         ), touched as (
             update api_keys set last_used_at = now()
              where id = (select key_id from owner)
                and (last_used_at is null or last_used_at < now() - interval '1 minute')
         )
         select key_id as \"key_id!\", account_id as \"account_id!\", name as \"name!\", role as \"role: _\" from owner",
        key_hash
    )
    .fetch_optional(db)
    .await
}

/// The enabled admin accounts, locked until the transaction ends, so two
/// admins disabling each other at once cannot leave none.
pub async fn lock_enabled_admins(conn: &mut PgConnection) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select id from accounts where role = 'admin' and disabled_at is null order by id for update"
    )
    .fetch_all(conn)
    .await
}
