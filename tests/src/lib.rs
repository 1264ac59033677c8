//! Shared test harness (filled below).
