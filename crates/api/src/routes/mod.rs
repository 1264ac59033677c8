//! The API's routes, one module per area; each exposes `router()`.

pub mod accounts;
pub mod audit;
pub mod connectivity;
pub mod console;
pub mod events;
pub mod floor;
pub mod health;
pub mod join;
pub mod outbound;
pub mod participants;
pub mod polls;
pub mod privacy;
pub mod questions;
pub mod reconcile;
pub mod report;
pub mod sessions;
pub mod webhooks;
