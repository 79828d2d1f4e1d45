//! OTLP over gRPC: the encoded request goes to `TraceService/Export` as one unary call on a
//! tonic channel, with a codec that passes bytes through (the request is already protobuf).
//!
//! The channel's connection task runs on the SDK's own runtime (the one `init` starts), which
//! outlives whatever runtime the service runs on.

use std::time::Duration;

use bytes::{Buf as _, BufMut as _, Bytes};
use http::uri::PathAndQuery;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::ExportError;

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// A lazily connected channel to the collector, and the headers sent with every export.
#[derive(Debug)]
pub(crate) struct GrpcTransport {
    channel: Channel,
    metadata: MetadataMap,
}

impl GrpcTransport {
    /// # Errors
    /// An endpoint that is not a URI, or an `https` endpoint in a build without the `tls`
    /// feature.
    pub(crate) fn new(
        endpoint: &str,
        headers: http::HeaderMap,
        timeout: Duration,
        runtime: Option<&tokio::runtime::Runtime>,
    ) -> Result<Self, crate::Error> {
        let invalid = |why: String| {
            crate::Error::invalid(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                endpoint,
                format!("an http:// or https:// URL of the collector's gRPC port ({why})"),
            )
        };
        let ep = Endpoint::from_shared(endpoint.to_owned()).map_err(|e| invalid(e.to_string()))?;
        let https = ep.uri().scheme_str() == Some("https");
        #[cfg(feature = "tls")]
        let ep = if https {
            ep.tls_config(tonic::transport::ClientTlsConfig::new().with_webpki_roots())
                .map_err(|e| invalid(e.to_string()))?
        } else {
            ep
        };
        #[cfg(not(feature = "tls"))]
        if https {
            return Err(invalid(
                "https needs glimpse-telemetry's `tls` feature".to_owned(),
            ));
        }
        // connect_lazy spawns the channel's worker on the current runtime.
        let _enter = runtime.map(|rt| rt.enter());
        Ok(GrpcTransport {
            channel: ep.timeout(timeout).connect_lazy(),
            metadata: MetadataMap::from_headers(headers),
        })
    }

    /// Sends one encoded `ExportTraceServiceRequest`.
    pub(crate) async fn send(&self, body: Bytes) -> Result<(), ExportError> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready().await.map_err(|e| ExportError {
            retryable: true,
            message: format!("gRPC channel: {e}"),
        })?;
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        grpc.unary::<_, (), _>(request, PathAndQuery::from_static(EXPORT_PATH), PassThrough)
            .await
            .map(|_| ())
            .map_err(|status| ExportError {
                retryable: retryable(&status),
                message: format!("gRPC status {:?}: {}", status.code(), status.message()),
            })
    }
}

/// The codes OTLP says to retry (RESOURCE_EXHAUSTED only with retry info, which this does not
/// read: not retried).
fn retryable(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// Sends the request's bytes as they are; reads nothing of the response (a partial success
/// is not reported).
#[derive(Debug, Clone, Copy)]
struct PassThrough;

impl Codec for PassThrough {
    type Encode = Bytes;
    type Decode = ();
    type Encoder = PassThrough;
    type Decoder = PassThrough;

    fn encoder(&mut self) -> Self::Encoder {
        PassThrough
    }

    fn decoder(&mut self) -> Self::Decoder {
        PassThrough
    }
}

impl Encoder for PassThrough {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for PassThrough {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        src.advance(src.remaining());
        Ok(Some(()))
    }
}
