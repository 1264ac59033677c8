//! Estrade's core: typed configuration and the domain vocabulary shared by
//! every other crate. Nothing here performs I/O, so everything here is tested
//! with plain unit tests.

pub mod api_key;
pub mod config;
pub mod domain;
pub mod floor;
pub mod floor_view;
pub mod outbound;
pub mod poll;
pub mod question;
pub mod report;
#[cfg(feature = "sqlx")]
pub mod stored;
pub mod turn;
pub mod webhook;

pub use config::{Config, ConfigError};
