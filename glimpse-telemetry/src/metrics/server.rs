//! `GLIMPSE_METRICS_ADDR`: the SDK serves `GET /metrics` itself, on the telemetry runtime, for
//! services without an HTTP router (workers, consumers). Anything else is a 404.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};

use super::{Format, encode};

/// Binds now (so a taken port is an error from `init`), serves on `runtime`.
pub(crate) fn start(
    addr: SocketAddr,
    runtime: &tokio::runtime::Runtime,
) -> Result<SocketAddr, crate::Error> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        crate::Error::invalid(
            "GLIMPSE_METRICS_ADDR",
            addr.to_string(),
            format!("an address this process can listen on ({e})"),
        )
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| crate::Error::setup("metrics listener", e))?;
    let local = listener
        .local_addr()
        .map_err(|e| crate::Error::setup("metrics listener", e))?;
    let listener = {
        let _enter = runtime.enter();
        tokio::net::TcpListener::from_std(listener)
            .map_err(|e| crate::Error::setup("metrics listener", e))?
    };
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors or similar: wait instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            };
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, hyper::service::service_fn(handle))
                    .await;
            });
        }
    });
    Ok(local)
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = if req.method() == hyper::Method::GET && req.uri().path() == "/metrics" {
        let format = Format::from_accept(
            req.headers()
                .get(hyper::header::ACCEPT)
                .and_then(|v| v.to_str().ok()),
        );
        Response::builder()
            .header(hyper::header::CONTENT_TYPE, format.content_type())
            .body(Full::new(Bytes::from(encode(format))))
    } else {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"not found\n")))
    };
    Ok(response.unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}
