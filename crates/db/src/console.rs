//! Sign-ins to the teacher console: a random token's hash, the key it was
//! exchanged for, and its expiry. See `migrations/0010_console_sessions.sql`.

use chrono::{DateTime, Utc};
use estrade_core::domain::AccountRole;
use uuid::Uuid;

/// Who a live console sign-in belongs to.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The sign-in.
    pub id: Uuid,
    /// The account.
    pub account_id: Uuid,
    /// Its display name.
    pub name: String,
    /// Admin or teacher.
    pub role: AccountRole,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Stores a sign-in made with `key_id`, valid for `ttl_s` seconds, and
/// forgets those that expired more than a day ago.
pub async fn insert(
    conn: &mut sqlx::PgConnection,
    token_hash: &[u8],
    account_id: Uuid,
    key_id: Uuid,
    ttl_s: i64,
) -> Result<(Uuid, DateTime<Utc>), sqlx::Error> {
    sqlx::query!("delete from console_sessions where expires_at < now() - interval '1 day'")
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query!(
        "insert into console_sessions (token_hash, account_id, key_id, expires_at)
         values ($1, $2, $3, now() + make_interval(secs => $4))
         returning id, expires_at",
        token_hash,
        account_id,
        key_id,
        ttl_s as f64,
    )
    .fetch_one(conn)
    .await?;
    Ok((row.id, row.expires_at))
}

/// The sign-in whose token hashes to `token_hash`, if it has not ended or
/// expired and its key and account still work.
pub async fn authenticate(
    db: impl sqlx::PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<Option<SignedIn>, sqlx::Error> {
    sqlx::query_as!(
        SignedIn,
        "select s.id, a.id as account_id, a.name, a.role as \"role: _\", s.expires_at
           from console_sessions s
           join api_keys k on k.id = s.key_id
           join accounts a on a.id = s.account_id
          where s.token_hash = $1
            and s.ended_at is null and s.expires_at > now()
            and k.revoked_at is null and a.disabled_at is null",
        token_hash
    )
    .fetch_optional(db)
    .await
}

/// Ends the sign-in whose token hashes to `token_hash`; returns it if it
/// was live.
pub async fn end(
    conn: &mut sqlx::PgConnection,
    token_hash: &[u8],
) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    let row = sqlx::query!(
        "update console_sessions set ended_at = now()
          where token_hash = $1 and ended_at is null and expires_at > now()
          returning id, account_id",
        token_hash
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.id, r.account_id)))
}
