//! Running the real `gridmap` binary in tests: the CLI, `gridmap serve` processes on free
//! loopback ports, and a minimal HTTP/1.1 client to ask them questions.
//!
//! Included with `#[path = "support/process.rs"] mod process;` by the tests that need real
//! processes (`tests/transfer.rs`, `tests/instances.rs`, `tests/outage.rs`). Nothing here skips:
//! a process that does not start is a failed test, with its log in the message.

// Each test binary that includes this module uses only some of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `gridmap` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_gridmap");

/// The store a command uses: a PostGIS URL or a GeoPackage file.
#[derive(Debug, Clone)]
pub enum StoreAt {
    Postgis(String),
    Gpkg(PathBuf),
}

impl StoreAt {
    /// Points `cmd` at this store, and only at it (an inherited DATABASE_URL would win over
    /// `--gpkg`).
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env_remove("DATABASE_URL").env_remove("GRIDMAP_GPKG").env_remove("GRIDMAP_SEED_DIR");
        match self {
            StoreAt::Postgis(url) => cmd.env("DATABASE_URL", url),
            StoreAt::Gpkg(path) => cmd.arg("--gpkg").arg(path),
        };
    }
}

/// Runs `gridmap <args>` against `store` and waits for it.
pub fn gridmap(store: &StoreAt, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("RUST_LOG", "gridmap=warn");
    store.apply(&mut cmd);
    cmd.output().unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"))
}

/// Like [`gridmap`], and fails the test (with its output) unless it succeeds.
pub fn gridmap_ok(store: &StoreAt, args: &[&str]) -> String {
    let out = gridmap(store, args);
    assert!(out.status.success(), "gridmap {} failed ({}):\n{}", args.join(" "), out.status, text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stdout and stderr of a finished command, for messages.
pub fn text(out: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A free TCP port on 127.0.0.1 (free when asked; the OS may hand it out again later, which
/// on a test machine it practically never does within the next second).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A running `gridmap serve`, killed when dropped. Its stderr goes to a log file whose tail is
/// shown when something about it fails.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    /// Starts `gridmap serve` on a free port with `store`, logging to `log`, and waits until
    /// `/healthz` answers with a complete snapshot (at most `ready_within`).
    pub fn start(store: &StoreAt, log: &Path, ready_within: Duration) -> Server {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut cmd = Command::new(BIN);
        cmd.arg("serve").arg("--listen").arg(addr.to_string()).env("RUST_LOG", "gridmap=debug,tower_http=warn");
        store.apply(&mut cmd);
        let log_file = std::fs::File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        cmd.stdout(Stdio::null()).stderr(log_file);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {BIN} serve: {e}"));
        let mut server = Server { child, addr, log: log.to_path_buf() };
        server.wait_ready(ready_within);
        server
    }

    fn wait_ready(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("gridmap serve exited ({status}) before answering:\n{}", self.log_tail());
            }
            // Ready means every route answers: start-up from PostGIS is staged, and the first
            // snapshot (regions only) already answers /healthz with "complete": false.
            if self.get("/healthz").is_ok_and(|(status, body)| status == 200 && body.contains("\"complete\":true")) {
                return;
            }
            assert!(Instant::now() < deadline, "gridmap serve did not answer within {within:?}:\n{}", self.log_tail());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `GET path`: status and body.
    pub fn get(&self, path: &str) -> Result<(u16, String), String> {
        http(self.addr, "GET", path, None)
    }

    /// `GET path` that must answer 200 with JSON.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        match self.get(path) {
            Ok((200, body)) => {
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
            }
            other => panic!("GET {path}: expected 200, got {other:?}\n{}", self.log_tail()),
        }
    }

    /// The whole log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!("--- {} (last lines) ---\n{}", self.log.display(), lines[lines.len().saturating_sub(40)..].join("\n"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns the status and the body. Enough for
/// gridmap's JSON answers (fixed length or chunked, never compressed: we send no
/// Accept-Encoding).
pub fn http(addr: SocketAddr, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Result<(u16, String), String> {
    http_full(addr, method, path, &[], body).map(|(status, _, body)| (status, body))
}

/// [`http`] with extra request headers (`Authorization`, `If-Match`, ...), also returning the
/// response's header lines (status line first).
pub fn http_full(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Result<(u16, String, String), String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((content_type, bytes)) = body {
        request.push_str(&format!("Content-Type: {content_type}\r\nContent-Length: {}\r\n", bytes.len()));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    if let Some((_, bytes)) = body {
        stream.write_all(bytes).map_err(|e| e.to_string())?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut payload = raw[split + 4..].to_vec();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("no status")?;
    if head.lines().any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding: chunked")) {
        payload = dechunk(&payload)?;
    }
    Ok((status, head, String::from_utf8_lossy(&payload).into_owned()))
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").ok_or("bad chunk")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| format!("bad chunk size {size_text:?}: {e}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).ok_or("short chunk")?);
        data = data.get(size + 2..).ok_or("short chunk")?;
    }
}

/// Polls `check` every 10 ms until it gives `Some`, or `within` passes; returns the value
/// and how long it took.
pub fn wait_for<T>(within: Duration, mut check: impl FnMut() -> Option<T>) -> Option<(T, Duration)> {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return Some((v, start.elapsed()));
        }
        if start.elapsed() > within {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
