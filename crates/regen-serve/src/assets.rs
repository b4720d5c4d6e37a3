//! The page's files, compiled into the binary: the app works with no network at all.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../assets/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../assets/app.css"),
    ),
];

/// The asset called `name`, ready to send.
pub fn respond(name: &str) -> Option<Response> {
    let (_, kind, body) = FILES.iter().find(|(n, _, _)| *n == name)?;
    Some(([(header::CONTENT_TYPE, *kind)], *body).into_response())
}
