//! What every handler shares: the JSON refusal ([`ApiError`]) and the request's parameters
//! ([`Params`]), read from the query string or multipart text fields.

use std::collections::HashMap;
use std::str::FromStr;

use axum::extract::Query;
use axum::extract::multipart::MultipartError;
use axum::extract::rejection::QueryRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use regen::Error;

/// A refusal or failure: its status and one line saying why.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let one_line = self
            .message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let body = serde_json::json!({ "error": one_line }).to_string() + "\n";
        (
            self.status,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status = match &e {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                StatusCode::NOT_FOUND
            }
            e if e.is_user_error() => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

pub(crate) fn multipart_error(e: MultipartError) -> ApiError {
    ApiError::new(e.status(), format!("bad upload: {}", e.body_text()))
}

/// Request parameters by name: from the query string and multipart text fields.
pub(crate) struct Params(pub(crate) HashMap<String, String>);

impl Params {
    pub(crate) fn from_query(
        q: Result<Query<HashMap<String, String>>, QueryRejection>,
    ) -> Result<Params, ApiError> {
        q.map(|Query(m)| Params(m))
            .map_err(|e| ApiError::bad(format!("bad query string: {}", e.body_text())))
    }

    /// Refuses names other than `known`, so that a misspelt one is not silently ignored.
    pub(crate) fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(ApiError::bad(format!(
                "unknown parameter {k:?}; this endpoint takes {}",
                known.join(", ")
            ))),
            None => Ok(()),
        }
    }

    pub(crate) fn text(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn get<T: FromStr>(&self, key: &str, what: &str) -> Result<Option<T>, ApiError> {
        self.text(key)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| ApiError::bad(format!("{key} {v:?}: must be {what}")))
            })
            .transpose()
    }

    pub(crate) fn flag(&self, key: &str) -> bool {
        matches!(self.text(key), Some("1" | "true" | "yes" | "on"))
    }
}
