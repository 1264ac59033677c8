//! Webhooks to the LMS (docs/OUTBOUND.md), for admins: endpoints
//! registered (each with its own secret, shown once), listed, removed;
//! each endpoint's delivery log, and a delivery sent again by hand. The
//! deliveries themselves are written by the use cases whose changes they
//! tell of (`estrade_db::outbound::enqueue`, in their transactions) and
//! sent by the worker through [`send`].

pub mod send;

use estrade_core::domain::{AccountRole, DeliveryStatus};
use estrade_core::outbound::NewEndpoint;
use estrade_db::audit::{self, Entry};
use estrade_db::outbound::{Attempt, Delivery, Endpoint, Key};
use rand::RngCore as _;
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use crate::{Account, Deps, Error};

/// A new endpoint and its secret, which is never shown again.
#[derive(Debug)]
pub struct Registered {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Its signing secret, `whsec_…` (Standard Webhooks).
    pub secret: SecretString,
}

fn admin_only(by: &Account) -> Result<(), Error> {
    if by.role == AccountRole::Admin {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// Registers an endpoint (admins) with a fresh 256-bit secret, once
/// `estrade_core::outbound::NewEndpoint::parse` accepts it (with the
/// deployment's allowed ranges). Audited with its host and events (a URL
/// may carry a token in its query).
pub async fn register(
    deps: &Deps,
    by: &Account,
    url: &str,
    events: &[String],
    description: &str,
) -> Result<Registered, Error> {
    admin_only(by)?;
    let new = NewEndpoint::parse(url, events, description, &deps.outbound.allowed)?;
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let key = Key(key);
    let events: Vec<&str> = new.events.iter().map(|e| e.as_str()).collect();
    let mut tx = deps.db.begin().await?;
    let endpoint =
        estrade_db::outbound::insert_endpoint(&mut tx, url, &events, &key, &new.description)
            .await?;
    let entry = Entry::new(by.actor(), "webhook_endpoint.registered")
        .target(endpoint.id)
        .details(json!({ "host": new.url.host_str(), "events": events }));
    audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    let secret = SecretString::from(estrade_core::outbound::secret_string(&key.0));
    Ok(Registered { endpoint, secret })
}

/// Every endpoint (admins).
pub async fn list(deps: &Deps, by: &Account) -> Result<Vec<Endpoint>, Error> {
    admin_only(by)?;
    Ok(estrade_db::outbound::endpoints(&deps.db).await?)
}

/// Endpoint `id` (admins).
pub async fn get(deps: &Deps, by: &Account, id: Uuid) -> Result<Endpoint, Error> {
    admin_only(by)?;
    estrade_db::outbound::endpoint(&deps.db, id)
        .await?
        .ok_or(Error::NotFound)
}

/// Removes endpoint `id` and its delivery log (admins): nothing more is
/// sent to it, pending deliveries included. Audited.
pub async fn remove(deps: &Deps, by: &Account, id: Uuid) -> Result<(), Error> {
    admin_only(by)?;
    let mut tx = deps.db.begin().await?;
    if !estrade_db::outbound::delete_endpoint(&mut tx, id).await? {
        return Err(Error::NotFound);
    }
    let entry = Entry::new(by.actor(), "webhook_endpoint.removed").target(id);
    audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// An endpoint's latest deliveries, each with its attempts.
#[derive(Debug, Clone)]
pub struct Log {
    /// Newest first.
    pub deliveries: Vec<(Delivery, Vec<Attempt>)>,
}

/// Endpoint `id`'s latest `limit` deliveries, of `status` when given
/// (admins).
pub async fn log(
    deps: &Deps,
    by: &Account,
    id: Uuid,
    status: Option<DeliveryStatus>,
    limit: i64,
) -> Result<Log, Error> {
    admin_only(by)?;
    let mut tx = estrade_db::snapshot(&deps.db).await?;
    if estrade_db::outbound::endpoint(&mut *tx, id)
        .await?
        .is_none()
    {
        return Err(Error::NotFound);
    }
    let (deliveries, attempts) =
        estrade_db::outbound::deliveries(&mut tx, id, status, limit).await?;
    tx.rollback().await?;
    let mut by_delivery: std::collections::HashMap<Uuid, Vec<Attempt>> = Default::default();
    for attempt in attempts {
        by_delivery
            .entry(attempt.delivery_id)
            .or_default()
            .push(attempt);
    }
    let deliveries = deliveries
        .into_iter()
        .map(|d| {
            let attempts = by_delivery.remove(&d.id).unwrap_or_default();
            (d, attempts)
        })
        .collect();
    Ok(Log { deliveries })
}

/// Sends delivery `delivery_id` of endpoint `id` again, now, with a fresh
/// retry window and the same `webhook-id` (admins). Audited.
pub async fn retry(
    deps: &Deps,
    by: &Account,
    id: Uuid,
    delivery_id: Uuid,
) -> Result<(Delivery, Vec<Attempt>), Error> {
    admin_only(by)?;
    let mut tx = deps.db.begin().await?;
    let delivery = estrade_db::outbound::retry(&mut tx, id, delivery_id)
        .await?
        .ok_or(Error::NotFound)?;
    let attempts = estrade_db::outbound::attempts_of(&mut tx, &[delivery_id]).await?;
    let entry = Entry::new(by.actor(), "webhook_delivery.retried")
        .target(id)
        .details(json!({ "delivery_id": delivery_id }));
    audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    Ok((delivery, attempts))
}
