//! The jobs, one module each.

pub mod reconcile;
pub mod retention;
pub mod webhook;
