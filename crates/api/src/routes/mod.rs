//! The API's routes, one module per area; each exposes `router()`.

pub mod accounts;
pub mod floor;
pub mod health;
pub mod join;
pub mod participants;
pub mod sessions;
pub mod webhooks;
