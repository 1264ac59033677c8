//! The jobs, one module each.

pub mod floor_timer;
pub mod retention;
pub mod webhook;
