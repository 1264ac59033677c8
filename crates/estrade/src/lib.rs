//! The parts of the `estrade` package that tests reach too.

pub mod services;
