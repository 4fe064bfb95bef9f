//! The HTTP server's connection threads (src/api/server.rs), through real sockets: a connection
//! stays on one thread from its first request to its last, open connections are spread over
//! the threads, handlers see the peer address, and shutdown lets requests in flight finish
//! before `before_stop` runs and the server returns.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use gridmap::api::server::serve_on_threads;

/// Answers "<thread name> <peer address>", and after `/slow` only after 400 ms.
fn app() -> Router {
    async fn who(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> String {
        format!("{} {peer}", std::thread::current().name().unwrap_or("?"))
    }
    async fn slow(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> String {
        tokio::time::sleep(Duration::from_millis(400)).await;
        format!("slept {peer}")
    }
    Router::new().route("/who", get(who)).route("/slow", get(slow))
}

/// One request on a kept-alive connection; the answer's status and body.
fn get_on(stream: &mut BufReader<TcpStream>, path: &str) -> (u16, String) {
    write!(stream.get_mut(), "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut status_line = String::new();
    stream.read_line(&mut status_line).unwrap();
    let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let mut length = 0;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    (status, String::from_utf8(body).unwrap())
}

fn connect(addr: SocketAddr) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    BufReader::new(stream)
}

struct Running {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Set by `before_stop`.
    flushed: Arc<AtomicBool>,
}

async fn start(threads: usize) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let flushed = Arc::new(AtomicBool::new(false));
    let flag = flushed.clone();
    let served = tokio::spawn(serve_on_threads(
        listener,
        app(),
        threads,
        async {
            let _ = stopped.await;
        },
        move || async move { flag.store(true, Ordering::SeqCst) },
    ));
    Running { addr, stop, served, flushed }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_stays_on_one_thread_and_open_connections_are_spread() {
    let server = start(2).await;
    let addr = server.addr;
    let answers = tokio::task::spawn_blocking(move || {
        // Four connections open at once, three requests on each.
        let mut conns: Vec<_> = (0..4).map(|_| connect(addr)).collect();
        let mut answers = Vec::new();
        for _ in 0..3 {
            for (i, c) in conns.iter_mut().enumerate() {
                let local = c.get_ref().local_addr().unwrap();
                let (status, body) = get_on(c, "/who");
                assert_eq!(status, 200, "{body}");
                let (thread, peer) = body.split_once(' ').unwrap();
                assert_eq!(peer, local.to_string(), "the handler sees the client's address");
                answers.push((i, thread.to_string()));
            }
        }
        answers
    })
    .await
    .unwrap();
    for i in 0..4 {
        let threads: std::collections::BTreeSet<_> = answers.iter().filter(|a| a.0 == i).map(|a| &a.1).collect();
        assert_eq!(threads.len(), 1, "connection {i} moved between threads: {threads:?}");
        assert!(threads.iter().all(|t| t.starts_with("gridmap-http-")), "{threads:?}");
    }
    let mut per_thread = std::collections::BTreeMap::<&str, usize>::new();
    for (_, t) in &answers {
        *per_thread.entry(t.as_str()).or_default() += 1;
    }
    assert_eq!(
        per_thread.values().copied().collect::<Vec<_>>(),
        vec![6, 6],
        "two connections per thread: {per_thread:?}"
    );
    server.stop.send(()).unwrap();
    server.served.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight_then_runs_before_stop() {
    let server = start(2).await;
    let addr = server.addr;
    let slow = tokio::task::spawn_blocking(move || get_on(&mut connect(addr), "/slow"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!server.flushed.load(Ordering::SeqCst), "before_stop ran while a request was still being answered");
    let (status, body) = slow.await.unwrap();
    assert_eq!(status, 200);
    assert!(body.starts_with("slept 127.0.0.1:"), "{body}");
    server.served.await.unwrap().unwrap();
    assert!(server.flushed.load(Ordering::SeqCst), "before_stop did not run");
    assert!(TcpStream::connect(addr).is_err(), "the listener is still open after shutdown");
}
