//! How a request ended, and the plain record of a finished request that the tracker hands to the
//! metrics, the server span and the access line (each reads only what it needs).

use std::time::Duration;

use http::{Method, StatusCode};

use super::request::PathText;
use crate::glitchtip::ResponseError;

/// How the request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A response (its status).
    Response(StatusCode),
    /// The future was dropped before a response: the client went away.
    Cancelled,
    /// The inner service returned an error instead of a response.
    Failed,
}

/// One finished request.
pub(crate) struct Finished<'a> {
    pub(crate) outcome: Outcome,
    pub(crate) elapsed: Duration,
    /// The index of the method's label (see `metrics::METHODS`).
    pub(crate) method_index: usize,
    pub(crate) method: &'a Method,
    /// The `http_route` label (`unmatched` when no route matched).
    pub(crate) route: &'a str,
    /// Read as text only by a line that is written (the check of its UTF-8 costs).
    pub(crate) path: &'a PathText,
    pub(crate) query: Option<&'a str>,
    pub(crate) response_bytes: u64,
    pub(crate) panicked: bool,
    pub(crate) error: Option<&'a ResponseError>,
}
