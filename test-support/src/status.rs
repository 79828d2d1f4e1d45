//! A broken collector / GlitchTip: answers every HTTP request with a fixed
//! status.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Largest request head / body the server reads.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One HTTP request received by a [`StatusServer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The request target, e.g. `/v1/traces` or `/api/0/envelope/`.
    pub path: String,
    /// Header names (lowercased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked if it was sent chunked.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// An HTTP/1.1 server on `127.0.0.1:0` that answers every request with a
/// fixed status (e.g. `500`, or `429` with `Retry-After`): a broken GlitchTip
/// or OTLP/HTTP collector. Each response carries `Connection: close`.
/// (HTTP/1.1 only: a gRPC client gets a protocol error from it, not a status.)
///
/// Every request is recorded before it is answered, so once a client has seen
/// the response, [`requests`](Self::requests) already counts it.
pub struct StatusServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StatusServer {
    /// Starts a server answering every request with `status` and a short
    /// plain-text body (no `Retry-After`; see
    /// [`start_with_headers`](Self::start_with_headers)).
    pub fn start(status: u16) -> StatusServer {
        StatusServer::start_with_headers(status, &[])
    }

    /// Starts a server answering every request with `status` and the given
    /// extra response headers, e.g. `&[("Retry-After", "1")]` for a 429, or
    /// `&[("X-Sentry-Rate-Limits", "60:error:organization")]`.
    pub fn start_with_headers(status: u16, headers: &[(&str, &str)]) -> StatusServer {
        let response = Arc::new(Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: format!("{status} {}\n", reason(status)),
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (Arc::clone(&requests), Arc::clone(&stop));
            thread::Builder::new()
                .name(format!("status-{status}-accept"))
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(stream) = stream else { continue };
                        let (requests, response) = (Arc::clone(&requests), Arc::clone(&response));
                        let _ = thread::Builder::new()
                            .name(format!("status-{status}-conn"))
                            .spawn(move || serve(stream, &requests, &response));
                    }
                })
                .expect("spawn status server thread")
        };
        StatusServer {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many requests were answered so far.
    pub fn requests(&self) -> usize {
        self.lock().len()
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<RecordedRequest> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RecordedRequest>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for StatusServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, requests: &Mutex<Vec<RecordedRequest>>, response: &Response) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let Some(request) = read_request(&mut reader, &mut writer) else {
        return;
    };
    requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(request);

    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        reason(response.status),
        response.body.len()
    );
    for (k, v) in &response.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head.push_str(&response.body);
    if writer.write_all(head.as_bytes()).is_err() {
        return;
    }
    let _ = writer.flush();
    // Half-close, then drain so that closing does not reset the connection
    // before the client has read the response.
    let _ = writer.shutdown(Shutdown::Write);
    let _ = reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(2)));
    let mut sink = [0u8; 4096];
    while let Ok(n) = reader.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
}

fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> Option<RecordedRequest> {
    let mut head_len = 0;
    let mut line = String::new();
    let mut read_line = |reader: &mut BufReader<TcpStream>, line: &mut String| -> Option<()> {
        line.clear();
        let n = reader.read_line(line).ok()?;
        head_len += n;
        (n > 0 && head_len <= MAX_HEAD).then_some(())
    };

    read_line(reader, &mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();

    let mut headers = Vec::new();
    loop {
        read_line(reader, &mut line)?;
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };

    if header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }

    let chunked =
        header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let mut body = Vec::new();
    if chunked {
        loop {
            read_line(reader, &mut line)?;
            let size = line.trim().split(';').next()?;
            let size = usize::from_str_radix(size.trim(), 16).ok()?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    read_line(reader, &mut line)?;
                    if line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            if body.len() + size > MAX_BODY {
                return None;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).ok()?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf).ok()?;
        }
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if len > MAX_BODY {
            return None;
        }
        body.resize(len, 0);
        reader.read_exact(&mut body).ok()?;
    }

    Some(RecordedRequest {
        method,
        path,
        headers,
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_http::http_request;

    #[test]
    fn answers_every_request_with_its_status() {
        let server = StatusServer::start(500);
        assert!(server.url().starts_with("http://127.0.0.1:"));
        for i in 0..3 {
            let body = format!("request {i}");
            let (status, resp) = http_request(
                &format!("{}/v1/traces", server.url()),
                "POST",
                &[("Content-Type", "application/x-protobuf")],
                body.as_bytes(),
            );
            assert_eq!(status, 500, "{resp}");
            assert_eq!(server.requests(), i + 1);
        }
        let received = server.received();
        assert_eq!(received[2].method, "POST");
        assert_eq!(received[2].path, "/v1/traces");
        assert_eq!(
            received[2].header("Content-Type"),
            Some("application/x-protobuf")
        );
        assert_eq!(received[2].body, b"request 2");
    }

    #[test]
    fn sends_extra_headers_and_reads_chunked_bodies() {
        let server = StatusServer::start_with_headers(429, &[("Retry-After", "1")]);
        let authority = server.url().strip_prefix("http://").unwrap().to_owned();
        let mut stream = TcpStream::connect(&authority).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(
                b"POST /api/0/envelope/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                  5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            )
            .unwrap();
        let mut resp = String::new();
        stream.read_to_string(&mut resp).unwrap();
        assert!(
            resp.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
            "{resp}"
        );
        assert!(resp.contains("\r\nRetry-After: 1\r\n"), "{resp}");
        assert_eq!(server.requests(), 1);
        assert_eq!(server.received()[0].body, b"hello world");
    }
}
