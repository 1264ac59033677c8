//! Extractors whose rejections answer in the API's error shape.

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
