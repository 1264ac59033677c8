//! The jobs, one module each.

pub mod retention;
pub mod webhook;
