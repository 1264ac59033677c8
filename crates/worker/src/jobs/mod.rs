//! The jobs, one module each.

pub mod floor_timer;
pub mod reconcile;
pub mod retention;
pub mod webhook;
