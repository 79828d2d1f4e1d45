//! Unreachable and unresponsive collectors.

use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

/// A TCP listener on `127.0.0.1:0` that accepts connections, reads and
/// discards whatever the client sends, and never answers: a hung collector.
/// An exporter pointed at it must give up on its own timeout.
///
/// On drop the listener stops and every accepted connection is shut down.
pub struct Blackhole {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    received: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<JoinHandle<()>>,
}

impl Blackhole {
    /// Starts listening on a free port of 127.0.0.1.
    pub fn start() -> Blackhole {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (accepted, received, stop, conns) = (
                Arc::clone(&accepted),
                Arc::clone(&received),
                Arc::clone(&stop),
                Arc::clone(&conns),
            );
            thread::Builder::new()
                .name("blackhole-accept".into())
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(mut stream) = stream else { continue };
                        if let Ok(clone) = stream.try_clone() {
                            conns.lock().unwrap_or_else(|e| e.into_inner()).push(clone);
                        }
                        accepted.fetch_add(1, Ordering::SeqCst);
                        let received = Arc::clone(&received);
                        let _ =
                            thread::Builder::new()
                                .name("blackhole-conn".into())
                                .spawn(move || {
                                    let mut buf = [0u8; 16 * 1024];
                                    while let Ok(n) = stream.read(&mut buf) {
                                        if n == 0 {
                                            break;
                                        }
                                        received.fetch_add(n, Ordering::SeqCst);
                                    }
                                });
                    }
                })
                .expect("spawn blackhole thread")
        };
        Blackhole {
            addr,
            accepted,
            received,
            stop,
            conns,
            thread: Some(thread),
        }
    }

    /// The listening address (127.0.0.1 and the port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// How many bytes clients sent so far (all discarded).
    pub fn bytes_received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop up so that it sees `stop`.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        for conn in self
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

/// `http://127.0.0.1:PORT` for a port on 127.0.0.1 where nothing listens, so
/// connecting is refused. (The port was free a moment ago; another process
/// could grab it meanwhile, which is very unlikely within one test.)
pub fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    drop(listener);
    format!("http://{addr}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Write};
    use std::time::{Duration, Instant};

    #[test]
    fn blackhole_accepts_and_never_answers() {
        let hole = Blackhole::start();
        assert!(hole.url().starts_with("http://127.0.0.1:"));
        assert_eq!(hole.accepted(), 0);
        let mut stream = TcpStream::connect(hole.addr()).expect("connect");
        stream
            .write_all(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
            .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 64];
        let err = stream
            .read(&mut buf)
            .expect_err("the blackhole must not answer");
        assert!(
            matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{err:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(400));
        assert_eq!(hole.accepted(), 1);
        assert!(hole.bytes_received() > 0);

        // Dropping the blackhole closes the connection.
        drop(hole);
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(matches!(stream.read(&mut buf), Ok(0) | Err(_)));
    }

    #[test]
    fn refused_url_refuses() {
        let url = refused_url();
        let authority = url.strip_prefix("http://").unwrap();
        let err = TcpStream::connect(authority).expect_err("nothing listens there");
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    }
}
