//! The HTTP server: one acceptor and a few connection threads, each with its own
//! single-threaded tokio runtime.
//!
//! A request to `locate` costs microseconds; what it costs on top is the kernel's: loopback
//! writes, `epoll_wait` and waking threads. tokio's multi-threaded scheduler adds wake-ups of its
//! own (a worker that finds work wakes a sleeping one to share it); on a two-core machine
//! shared with the load generator, keeping each connection on one thread raised single-point
//! `locate` from 33-41k to 45-47k requests/s (docs/postgis.md). Here a connection lives on
//! one thread from accept to close: the acceptor hands it to the thread with the fewest open
//! connections, and that thread reads, answers and writes without waking any other. Work that
//! takes longer than a request should (batch locate, big layer answers, tiles, reach, edits)
//! runs on a blocking pool, so one slow request does not stall the other connections of its
//! thread.
//!
//! Everything else (the store's pool, the change follower, the audit writer) stays on the main
//! runtime; handlers reach them through channels and shared state, which works across runtimes.
//! Shutdown: stop accepting, let every thread finish its connections' requests in flight, write
//! the queued audit entries while the threads are still running, then stop the threads.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tower::ServiceExt;
use tracing::{debug, warn};

/// The default number of connection threads: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// How long shutdown waits for requests in flight before it closes their connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// One connection thread as the acceptor sees it.
struct Worker {
    connections: mpsc::UnboundedSender<(std::net::TcpStream, SocketAddr)>,
    /// Connections open on the thread; the acceptor picks the thread with the fewest.
    open: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

/// Serves `app` on `listener` with `threads` connection threads (at least one) until
/// `shutdown` resolves; `before_stop` runs after the last request has been answered and before
/// the threads stop (the audit writer flushes there).
pub async fn serve_on_threads<F>(
    listener: TcpListener,
    app: Router,
    threads: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
    before_stop: impl FnOnce() -> F,
) -> io::Result<()>
where
    F: Future<Output = ()>,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut workers = Vec::new();
    let mut drained = Vec::new();
    for i in 0..threads.max(1) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (drained_tx, drained_rx) = oneshot::channel();
        let open = Arc::new(AtomicUsize::new(0));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (app, open_in, stop) = (app.clone(), open.clone(), stop_rx.clone());
        let thread = std::thread::Builder::new()
            .name(format!("gridmap-http-{i}"))
            .spawn(move || runtime.block_on(connection_thread(rx, app, open_in, stop, drained_tx)))?;
        workers.push(Worker { connections: tx, open, thread });
        drained.push(drained_rx);
    }

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => dispatch(&workers, stream, peer),
                // Out of file descriptors and the like: wait a moment instead of spinning, as
                // hyper's own accept loop does; the connection that failed is the client's loss.
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    // Stop taking connections, then wait until every thread has answered what it was working on.
    let _ = stop_tx.send(true);
    for d in drained {
        let _ = d.await;
    }
    before_stop().await;
    let threads: Vec<_> = workers
        .into_iter()
        .map(|w| {
            drop(w.connections);
            w.thread
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        for t in threads {
            if t.join().is_err() {
                warn!("an HTTP thread panicked");
            }
        }
    })
    .await
    .map_err(io::Error::other)
}

/// Hands an accepted connection to the thread with the fewest open connections.
fn dispatch(workers: &[Worker], stream: tokio::net::TcpStream, peer: SocketAddr) {
    // Answers are written in one go; without Nagle's delay a keep-alive client gets each at once.
    let _ = stream.set_nodelay(true);
    let stream = match stream.into_std() {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "could not hand a connection over");
            return;
        }
    };
    let Some(worker) = workers.iter().min_by_key(|w| w.open.load(Ordering::Relaxed)) else {
        return;
    };
    worker.open.fetch_add(1, Ordering::Relaxed);
    if worker.connections.send((stream, peer)).is_err() {
        worker.open.fetch_sub(1, Ordering::Relaxed);
        warn!("an HTTP thread has stopped; connection dropped");
    }
}

/// One connection thread: serves each connection it is given on its own runtime until told to
/// stop, then lets the connections finish their requests in flight (up to [`DRAIN_TIMEOUT`])
/// and reports that it has drained. It keeps its runtime (and with it any database connection
/// opened on it) alive until the acceptor drops its sender.
async fn connection_thread(
    mut connections: mpsc::UnboundedReceiver<(std::net::TcpStream, SocketAddr)>,
    app: Router,
    open: Arc<AtomicUsize>,
    mut stop: watch::Receiver<bool>,
    drained: oneshot::Sender<()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true);
    loop {
        tokio::select! {
            next = connections.recv() => {
                let Some((stream, peer)) = next else { break };
                let stream = match tokio::net::TcpStream::from_std(stream) {
                    Ok(s) => s,
                    Err(e) => {
                        open.fetch_sub(1, Ordering::Relaxed);
                        warn!(error = %e, "could not take a connection over");
                        continue;
                    }
                };
                let app = app.clone();
                let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    app.clone().oneshot(request)
                });
                let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                let open = open.clone();
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        debug!(error = %e, %peer, "connection ended with an error");
                    }
                    open.fetch_sub(1, Ordering::Relaxed);
                });
            }
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
    }
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        warn!("requests still running after {DRAIN_TIMEOUT:?}; closing their connections");
    }
    let _ = drained.send(());
    // Keep the runtime up until the acceptor is done with the shared state (audit flush).
    while connections.recv().await.is_some() {}
}
