//! Extractors whose rejections answer in the API's error shape, and the
//! query parameters the listing routes share.

use axum::extract::FromRequest;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::Error;

/// `axum::Json`, but a bad body is answered with [`Error`].
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Most entries one page of a listing holds.
pub const MAX_PAGE: i64 = 500;

/// A listing's `limit` query parameter: 1–500, `default` when absent;
/// anything else is a 422 `invalid_query`.
pub fn page_limit(value: Option<&str>, default: i64) -> Result<i64, Error> {
    match value {
        None => Ok(default),
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_PAGE).contains(l))
            .ok_or_else(|| Error::invalid("invalid_query", "limit must be between 1 and 500.")),
    }
}
