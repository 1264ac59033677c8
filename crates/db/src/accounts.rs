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
    /// `admin` or `teacher`.
    pub role: String,
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
         returning id, name, role, created_at, disabled_at",
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

/// Creates an account together with its first API key, atomically.
pub async fn create_with_key(
    pool: &sqlx::PgPool,
    name: &AccountName,
    role: AccountRole,
    key: &estrade_core::api_key::NewApiKey,
) -> Result<Account, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let account = insert(&mut tx, name, role).await?;
    insert_key(&mut tx, account.id, &key.display_prefix, &key.hash).await?;
    // Both rows or neither: a printed key always works.
    tx.commit().await?;
    Ok(account)
}
