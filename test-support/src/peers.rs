//! Running a Node.js peer as a child process that speaks a line-delimited JSON
//! protocol on stdout.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::peer_missing;

/// How long a peer may take to print its `{"ready":true,...}` line.
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(15);
/// How much of a peer's stderr is kept for error messages.
const STDERR_KEEP: usize = 64 * 1024;

const INSTALL_HINT: &str = "run ./scripts/test or `npm ci --prefix test-support/peers`";

/// The `test-support/peers` folder (the npm package holding the Node.js peers),
/// located from this crate's manifest directory so that it works from any
/// crate's tests.
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// Finds an executable called `name` on `PATH`.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[derive(Default)]
struct State {
    /// Every stdout line after the ready line, parsed as JSON.
    messages: Vec<Value>,
    /// The tail of the child's stderr (plus any stdout line that was not JSON).
    stderr: String,
    /// The child's stdout reached EOF: it exited (or closed stdout).
    stdout_closed: bool,
}

/// What the reader threads collected from a peer's stdout and stderr, and the signal that it
/// changed.
struct PeerOutput {
    state: Mutex<State>,
    changed: Condvar,
}

impl PeerOutput {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking reader thread must not take every test down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn append_stderr(&self, text: &str) {
        let mut state = self.lock();
        state.stderr.push_str(text);
        if state.stderr.len() > STDERR_KEEP {
            let mut cut = state.stderr.len() - STDERR_KEEP;
            while !state.stderr.is_char_boundary(cut) {
                cut += 1;
            }
            state.stderr.drain(..cut);
        }
    }
}

/// A running Node.js peer. Kills the child on drop.
pub(crate) struct PeerProcess {
    name: &'static str,
    child: Child,
    /// Held open for the child's lifetime: the peers exit when their stdin
    /// closes, i.e. when this is dropped or when the test process dies.
    stdin: Option<ChildStdin>,
    shared: Arc<PeerOutput>,
}

/// What a peer needs to run.
pub(crate) struct PeerSpec {
    /// Human name, used in messages (`otlp-receiver`).
    pub name: &'static str,
    /// Script file inside `test-support/peers`.
    pub script: &'static str,
    /// npm package (folder inside `test-support/peers/node_modules`) the script needs.
    pub package: &'static str,
}

impl PeerProcess {
    /// Starts the peer and waits for its ready line. Returns `None` after
    /// [`peer_missing`] when `node` or the npm package is not installed;
    /// panics (with the child's stderr) when an installed peer fails to start.
    pub(crate) fn start(spec: &PeerSpec) -> Option<(PeerProcess, Value)> {
        let dir = peers_dir();
        let script = dir.join(spec.script);
        assert!(
            script.is_file(),
            "{} is missing: the test harness is broken",
            script.display()
        );
        let modules = dir.join("node_modules");
        if !modules.is_dir() {
            peer_missing(
                spec.name,
                &format!("{} is missing: {INSTALL_HINT}", modules.display()),
            );
            return None;
        }
        if !modules.join(spec.package).is_dir() {
            peer_missing(
                spec.name,
                &format!(
                    "npm package {} is not installed in {}: {INSTALL_HINT}",
                    spec.package,
                    modules.display()
                ),
            );
            return None;
        }
        let Some(node) = find_on_path("node") else {
            peer_missing(
                spec.name,
                "`node` (Node.js >= 20) was not found on PATH: install Node.js, \
                 e.g. with ./scripts/test",
            );
            return None;
        };

        let mut child = match Command::new(&node)
            .arg(&script)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(err) => {
                peer_missing(
                    spec.name,
                    &format!(
                        "could not run {} {}: {err}",
                        node.display(),
                        script.display()
                    ),
                );
                return None;
            }
        };

        let shared = Arc::new(PeerOutput {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let stdin = child.stdin.take();
        let (ready_tx, ready_rx) = mpsc::channel();

        let name = spec.name;
        let out_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name(format!("{name}-stdout"))
            .spawn(move || read_stdout(name, stdout, &out_shared, ready_tx))
            .expect("spawn stdout reader thread");
        let err_shared = Arc::clone(&shared);
        let stderr_thread = thread::Builder::new()
            .name(format!("{name}-stderr"))
            .spawn(move || read_stderr(name, stderr, &err_shared))
            .expect("spawn stderr reader thread");

        let mut peer = PeerProcess {
            name,
            child,
            stdin,
            shared,
        };
        let timeout = start_timeout();
        match ready_rx.recv_timeout(timeout) {
            Ok(ready) => Some((peer, ready)),
            Err(err) => {
                let why = match err {
                    mpsc::RecvTimeoutError::Timeout => {
                        format!("it did not report ready within {timeout:?}")
                    }
                    mpsc::RecvTimeoutError::Disconnected => {
                        "it closed stdout without reporting ready".to_owned()
                    }
                };
                peer.stdin.take();
                let _ = peer.child.kill();
                let status = peer.child.wait();
                // The stderr pipe is closed now that the child is gone.
                let _ = stderr_thread.join();
                let stderr = peer.stderr();
                panic!(
                    "{name} ({} {}) failed to start: {why}; exit status: {status:?}\n\
                     --- {name} stderr ---\n{stderr}",
                    node.display(),
                    script.display(),
                );
            }
        }
    }

    /// The child's process id.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes the child's stdin (which makes a well-behaved peer exit).
    #[cfg(test)]
    pub(crate) fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Polls the child for having exited, for up to `timeout`.
    #[cfg(test)]
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// A copy of every message received so far.
    pub(crate) fn messages(&self) -> Vec<Value> {
        self.shared.lock().messages.clone()
    }

    /// The tail of the child's stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.shared.lock().stderr.clone()
    }

    /// Calls `done` with all messages received so far, again every time a new
    /// message arrives, until it returns `Some` or `timeout` passes (then the
    /// result of a last call is returned). Panics if the peer dies meanwhile.
    pub(crate) fn wait_until<T>(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&[Value]) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(result) = done(&state.messages) {
                return Some(result);
            }
            if state.stdout_closed {
                let stderr = state.stderr.clone();
                drop(state);
                panic!(
                    "{} exited while a test was waiting for data from it\n--- {} stderr ---\n{stderr}",
                    self.name, self.name
                );
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_timeout() -> Duration {
    std::env::var("GLIMPSE_PEER_START_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_START_TIMEOUT)
}

fn echo_peer_logs() -> bool {
    matches!(
        std::env::var("GLIMPSE_PEER_LOG").as_deref(),
        Ok("1") | Ok("true")
    )
}

fn read_stdout(name: &str, stdout: impl Read, shared: &PeerOutput, ready_tx: mpsc::Sender<Value>) {
    let mut ready_tx = Some(ready_tx);
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(msg) => {
                if ready_tx.is_some() && msg.get("ready").and_then(Value::as_bool) == Some(true) {
                    let _ = ready_tx.take().expect("checked").send(msg);
                    continue;
                }
                shared.lock().messages.push(msg);
                shared.changed.notify_all();
            }
            Err(err) => {
                let text = format!("[{name} stdout, not JSON: {err}] {line}\n");
                if echo_peer_logs() {
                    eprint!("{text}");
                }
                shared.append_stderr(&text);
            }
        }
    }
    drop(ready_tx);
    shared.lock().stdout_closed = true;
    shared.changed.notify_all();
}

fn read_stderr(name: &str, stderr: impl Read, shared: &PeerOutput) {
    let echo = echo_peer_logs();
    let mut reader = BufReader::new(stderr);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                if echo {
                    eprint!("[{name}] {text}");
                }
                shared.append_stderr(&text);
            }
        }
    }
}
