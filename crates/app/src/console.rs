//! The teacher console's sign-ins: an API key exchanged for a cookie's
//! token (stored only as its hash), and ended on sign-out.

use chrono::{DateTime, Utc};
use estrade_db::audit::{self, Actor, Entry};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::Error;

/// Records a sign-in of `account_id` with key `key_id`, whose token hashes
/// to `token_hash`, for `ttl_s` seconds, audited. Returns when it ends.
pub async fn sign_in(
    db: &PgPool,
    account_id: Uuid,
    key_id: Uuid,
    token_hash: &[u8],
    ttl_s: i64,
) -> Result<DateTime<Utc>, Error> {
    let mut tx = db.begin().await?;
    let (sign_in_id, expires_at) =
        estrade_db::console::insert(&mut tx, token_hash, account_id, key_id, ttl_s).await?;
    let entry = Entry::new(Actor::Account(account_id), "console.signed_in")
        .target(sign_in_id)
        .details(json!({ "key_id": key_id, "expires_at": expires_at }));
    audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(expires_at)
}

/// Ends the sign-in whose token hashes to `token_hash`, audited; nothing
/// when it already ended (idempotent).
pub async fn sign_out(db: &PgPool, token_hash: &[u8]) -> Result<(), Error> {
    let mut tx = db.begin().await?;
    if let Some((id, account_id)) = estrade_db::console::end(&mut tx, token_hash).await? {
        let entry = Entry::new(Actor::Account(account_id), "console.signed_out").target(id);
        audit::record(&mut tx, entry).await?;
    }
    tx.commit().await?;
    Ok(())
}
