//! OTLP over HTTP/protobuf: the encoded request is the body of a `POST` to the traces endpoint
//! (`.../v1/traces`), with reqwest's blocking client, from the batch thread.

use std::time::Duration;

use super::ExportError;

/// The client and the request's target and headers.
#[derive(Debug)]
pub(crate) struct HttpTransport {
    client: reqwest::blocking::Client,
    endpoint: String,
    headers: reqwest::header::HeaderMap,
}

impl HttpTransport {
    /// # Errors
    /// A client that cannot be built (no TLS provider for an `https` endpoint).
    pub(crate) fn new(
        endpoint: &str,
        headers: &[(String, String)],
        timeout: Duration,
    ) -> Result<Self, crate::Error> {
        let mut map = reqwest::header::HeaderMap::new();
        for (k, v) in headers {
            // The configuration checked that both parse.
            if let (Ok(k), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(k.as_bytes()),
                reqwest::header::HeaderValue::from_str(v),
            ) {
                map.insert(k, v);
            }
        }
        map.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/x-protobuf"),
        );
        // The blocking client starts a runtime of its own, which cannot happen on a thread that
        // is already in one (`init` is often called from `#[tokio::main]`).
        let client = std::thread::spawn(move || {
            reqwest::blocking::Client::builder()
                .timeout(timeout)
                .build()
        })
        .join()
        .map_err(|_| crate::Error::setup("OTLP HTTP exporter", "the client's thread panicked"))?
        .map_err(|e| crate::Error::setup("OTLP HTTP exporter", e))?;
        Ok(HttpTransport {
            client,
            endpoint: endpoint.to_owned(),
            headers: map,
        })
    }

    /// Sends one encoded `ExportTraceServiceRequest`.
    pub(crate) fn send(&self, body: Vec<u8>) -> Result<(), ExportError> {
        let response = self
            .client
            .post(&self.endpoint)
            .headers(self.headers.clone())
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
