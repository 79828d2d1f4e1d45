//! OTLP over HTTP/protobuf: the encoded request is the body of a `POST` to the traces endpoint
//! (`.../v1/traces`), with reqwest's blocking client, from the batch thread.

use std::time::Duration;

use super::ExportError;

/// The client (with the export headers as its default headers) and the request's target.
#[derive(Debug)]
pub(crate) struct HttpTransport {
    client: reqwest::blocking::Client,
    endpoint: String,
}

impl HttpTransport {
    /// # Errors
    /// A client that cannot be built (no TLS provider for an `https` endpoint).
    pub(crate) fn new(
        endpoint: &str,
        mut headers: http::HeaderMap,
        timeout: Duration,
    ) -> Result<Self, crate::Error> {
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/x-protobuf"),
        );
        // The blocking client starts a runtime of its own, which cannot happen on a thread that
        // is already in one (`init` is often called from `#[tokio::main]`).
        let client = std::thread::spawn(move || {
            reqwest::blocking::Client::builder()
                .timeout(timeout)
                .default_headers(headers)
                .build()
        })
        .join()
        .map_err(|_| crate::Error::setup("OTLP HTTP exporter", "the client's thread panicked"))?
        .map_err(|e| crate::Error::setup("OTLP HTTP exporter", e))?;
        Ok(HttpTransport {
            client,
            endpoint: endpoint.to_owned(),
        })
    }

    /// Sends one encoded `ExportTraceServiceRequest`.
    pub(crate) fn send(&self, body: Vec<u8>) -> Result<(), ExportError> {
        let response = self
            .client
            .post(&self.endpoint)
            .body(body)
            .send()
            .map_err(|e| ExportError {
                retryable: true,
                message: format!("HTTP: {e}"),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        Err(ExportError {
            // What OTLP/HTTP says to retry.
            retryable: matches!(status.as_u16(), 429 | 502 | 503 | 504),
            message: format!("HTTP status {status}"),
        })
    }
}
