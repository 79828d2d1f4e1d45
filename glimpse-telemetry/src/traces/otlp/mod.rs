//! The OTLP span exporter: encodes each batch on the batch thread into a buffer it reuses
//! ([`encode`]), then sends it over gRPC ([`grpc`], the default, port 4317) or HTTP/protobuf
//! ([`http`], port 4318).
//!
//! It replaces opentelemetry-otlp's exporter for the SDK's own export, for cost (see
//! `encode.rs`); the wire format, the endpoints, headers and timeout are the same, and so is
//! the retry policy OTLP recommends: up to three retries of a transient failure, 100 ms doubling
//! to at most 1.6 s, never past the export timeout.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::config::{Protocol, TracesConfig};

mod encode;
#[cfg(feature = "otlp-grpc")]
mod grpc;
#[cfg(feature = "otlp-http")]
mod http;

use encode::SpanEncoder;

const MAX_RETRIES: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_millis(1600);

/// Why an export attempt failed, and whether OTLP says to try again.
#[derive(Debug)]
pub(crate) struct ExportError {
    pub(crate) retryable: bool,
    pub(crate) message: String,
}

#[derive(Debug)]
enum Transport {
    #[cfg(feature = "otlp-grpc")]
    Grpc(grpc::GrpcTransport),
    #[cfg(feature = "otlp-http")]
    Http(http::HttpTransport),
}

/// Exports spans over OTLP/protobuf.
#[derive(Debug)]
pub(crate) struct OtlpExporter {
    encoder: SpanEncoder,
    /// Reused from batch to batch; only the batch thread locks it.
    buf: Mutex<Vec<u8>>,
    transport: Transport,
    timeout: Duration,
}

impl OtlpExporter {
    /// The exporter for the configured protocol and endpoint; gRPC's channel runs on `runtime`.
    ///
    /// # Errors
    /// An endpoint that cannot be used, or a protocol this build has no feature for.
    pub(crate) fn new(
        config: &TracesConfig,
        runtime: Option<&tokio::runtime::Runtime>,
    ) -> Result<Self, crate::Error> {
        let endpoint = config.traces_endpoint();
        let (headers, timeout) = (config.header_map(), config.export_timeout);
        let transport = match config.protocol {
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => Transport::Grpc(grpc::GrpcTransport::new(
                &endpoint, headers, timeout, runtime,
            )?),
            #[cfg(feature = "otlp-http")]
            Protocol::HttpProtobuf => {
                let _ = runtime;
                Transport::Http(http::HttpTransport::new(&endpoint, headers, timeout)?)
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(crate::Error::invalid(
                    "OTEL_EXPORTER_OTLP_PROTOCOL",
                    format!("{:?}", config.protocol),
                    "a protocol whose feature (otlp-grpc, otlp-http) this build of glimpse-telemetry enables",
                ));
            }
        };
        Ok(OtlpExporter {
            encoder: SpanEncoder::default(),
            buf: Mutex::new(Vec::new()),
            transport,
            timeout,
        })
    }

    fn lock_buf(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.buf
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn send_once(&self, body: &[u8]) -> Result<(), ExportError> {
        match &self.transport {
            #[cfg(feature = "otlp-grpc")]
            Transport::Grpc(t) => t.send(bytes::Bytes::copy_from_slice(body)).await,
            #[cfg(feature = "otlp-http")]
            Transport::Http(t) => t.send(body.to_vec()),
        }
    }
}

impl SpanExporter for OtlpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        // Taken out for the export (a lock guard cannot be held across the wait) and put back.
        let mut buf = std::mem::take(&mut *self.lock_buf());
        self.encoder.encode(&batch, &mut buf);
        // Freed here, before the wait for the collector.
        drop(batch);
        let deadline = Instant::now() + self.timeout;
        let mut backoff = FIRST_BACKOFF;
        let mut retries = 0;
        let result = loop {
            match self.send_once(&buf).await {
                Ok(()) => break Ok(()),
                Err(e) if e.retryable && retries < MAX_RETRIES => {
                    if Instant::now() + backoff >= deadline {
                        break Err(OTelSdkError::InternalFailure(e.message));
                    }
                    // The batch thread has nothing else to do while it waits.
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    retries += 1;
                }
                Err(e) => break Err(OTelSdkError::InternalFailure(e.message)),
            }
        };
        *self.lock_buf() = buf;
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.encoder.set_resource(resource);
    }
}
