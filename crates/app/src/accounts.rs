//! Accounts and their API keys: created (by an admin, or by Estrade itself
//! for `estrade admin create-key` and `estrade dev`), disabled, keys added
//! and revoked. PostgreSQL only: these run without Redis or LiveKit.

use estrade_core::api_key::NewApiKey;
use estrade_core::domain::{AccountName, AccountRole};
use estrade_db::accounts::{Account as AccountRow, ApiKey};
use estrade_db::audit::{self, Actor, Entry};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{Account, Error};

/// Creates an account with its first API key and its audit entry, all
/// three or none: a key handed out always works, and is accounted for.
/// `by` is the admin, or [`Actor::System`] for an account made outside the
/// API (the audit says `via: cli`).
pub async fn create(
    db: &PgPool,
    by: Actor,
    name: &AccountName,
    role: AccountRole,
) -> Result<(AccountRow, NewApiKey), Error> {
    let key = NewApiKey::generate();
    let mut tx = db.begin().await?;
    let account = estrade_db::accounts::insert(&mut tx, name, role).await?;
    estrade_db::accounts::insert_key(&mut tx, account.id, &key.display_prefix, &key.hash).await?;
    let details = match by {
        Actor::System => json!({ "role": role, "via": "cli" }),
        _ => json!({ "role": role }),
    };
    let entry = Entry::new(by, "account.created")
        .target(account.id)
        .details(details);
    audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    Ok((account, key))
}

/// Disables account `id` (its keys stop working); never the admin's own,
/// nor the last enabled admin.
pub async fn disable(db: &PgPool, admin: &Account, id: Uuid) -> Result<AccountRow, Error> {
    if id == admin.id {
        return Err(Error::CannotDisableSelf);
    }
    let mut tx = db.begin().await?;
    let admins = estrade_db::accounts::lock_enabled_admins(&mut tx).await?;
    if admins.contains(&id) && admins.len() <= 1 {
        return Err(Error::LastAdmin);
    }
    let account = estrade_db::accounts::disable(&mut tx, id)
        .await?
        .ok_or(Error::NotFound)?;
    let entry = Entry::new(admin.actor(), "account.disabled").target(id);
    audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(account)
}

/// A new API key for account `id`, which must be enabled. Returns the key's
/// id and the key (shown once).
pub async fn create_key(
    db: &PgPool,
    admin: &Account,
    id: Uuid,
) -> Result<(Uuid, NewApiKey), Error> {
    let account = estrade_db::accounts::get(db, id)
        .await?
        .ok_or(Error::NotFound)?;
    if account.disabled_at.is_some() {
        return Err(Error::AccountDisabled);
    }
    let key = NewApiKey::generate();
    let mut tx = db.begin().await?;
    let key_id =
        estrade_db::accounts::insert_key(&mut tx, id, &key.display_prefix, &key.hash).await?;
    let entry = Entry::new(admin.actor(), "api_key.created")
        .target(id)
        .details(json!({ "key_id": key_id }));
    audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    Ok((key_id, key))
}

/// Revokes key `key_id` of account `id`.
pub async fn revoke_key(
    db: &PgPool,
    admin: &Account,
    id: Uuid,
    key_id: Uuid,
) -> Result<ApiKey, Error> {
    let mut tx = db.begin().await?;
    let key = estrade_db::accounts::revoke_key(&mut tx, id, key_id)
        .await?
        .ok_or(Error::NotFound)?;
    let entry = Entry::new(admin.actor(), "api_key.revoked")
        .target(id)
        .details(json!({ "key_id": key_id }));
    audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(key)
}
