//! The TCP listener: accepts connections up to `maxclients` and hands each to a worker, and
//! on shutdown stops accepting, closes every connection after its in-flight requests, and
//! syncs the engine.
//!
//! Workers are thread-per-core: one single-threaded tokio runtime per worker thread, each
//! connection living on one worker for its whole life. Nothing migrates between threads, so
//! a request costs no cross-thread wake-ups (a work-stealing runtime spent a large share of
//! its CPU waking and parking workers under redis-benchmark); connections are spread over
//! the workers round-robin as they are accepted.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use super::shared::{Shared, Stats};
use super::{connection, idle, ServerError};
use crate::server::config::Config;
use crate::storage::{Db, Options};

/// How long shutdown waits for connections to finish before syncing anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound, ready-to-run server.
pub struct Server {
    shared: Arc<Shared>,
    listener: TcpListener,
}

impl Server {
    /// Opens (or recovers) the data directory and binds the listening socket.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        let options = Options {
            sync: config.fsync.policy(),
            memtable_bytes: config.memtable_bytes,
            compaction_filter: Some(Arc::new(super::value::ExpiredFilter)),
            ..Options::default()
        };
        std::fs::create_dir_all(&config.dir).map_err(|source| ServerError::Dir {
            path: config.dir.clone(),
            source,
        })?;
        let db = Db::open(&config.dir, options)?;
        let addr = format!("{}:{}", config.bind, config.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Server {
            shared: Arc::new(Shared::new(db, config)),
            listener,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// What stops the server from outside (a signal handler), as SHUTDOWN does.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.shared.clone())
    }

    /// Serves until shutdown is triggered, then drains connections and syncs the engine.
    pub async fn run(self) -> Result<(), ServerError> {
        let Server { shared, listener } = self;
        let workers = Workers::start(shared.config.read().threads)?;
        // Every connection task holds a sender; when all are dropped, recv() returns None.
        let (alive, mut all_done) = mpsc::channel::<()>(1);
        loop {
            tokio::select! {
                () = shared.shutdown.wait() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        admit(&shared, stream, peer, workers.next(), alive.clone()).await;
                    }
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        tracing::info!("shutting down: closing connections after their in-flight requests");
        drop(listener);
        drop(alive);
        shared.clients.kill_where(|_| true);
        if tokio::time::timeout(DRAIN_TIMEOUT, all_done.recv())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; syncing anyway");
        }
        workers.stop();
        let db = shared.db.clone();
        tokio::task::spawn_blocking(move || db.sync())
            .await
            .map_err(|e| ServerError::Shutdown(e.to_string()))??;
        tracing::info!("data synced; bye");
        Ok(())
    }
}

/// Stops a running [`Server`]: it stops accepting, closes every connection after its
/// in-flight requests, syncs the engine, and `run` returns.
#[derive(Clone)]
pub struct StopHandle(Arc<Shared>);

impl StopHandle {
    /// Starts the shutdown; later calls do nothing more.
    pub fn stop(&self) {
        self.0.shutdown.trigger();
    }
}

/// The worker threads, each running a single-threaded runtime until told to stop.
struct Workers {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    next: AtomicUsize,
}

impl Workers {
    /// Starts `count` workers (0 = half the cores, at least one).
    ///
    /// Fewer workers than cores is deliberate: each worker finds more clients ready per
    /// wake-up, so it sleeps and wakes less per request; on two cores shared with
    /// redis-benchmark one worker used less CPU per GET than two (docs/benchmarks.md).
    fn start(count: usize) -> Result<Workers, ServerError> {
        let count = match count {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        };
        let mut workers = Workers {
            handles: Vec::with_capacity(count),
            stops: Vec::with_capacity(count),
            threads: Vec::with_capacity(count),
            next: AtomicUsize::new(0),
        };
        for i in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .on_thread_park(idle::before_sleep)
                .on_thread_unpark(idle::after_wake)
                .build()
                .map_err(|e| ServerError::Shutdown(format!("cannot start worker {i}: {e}")))?;
            let (stop, stopped) = oneshot::channel::<()>();
            workers.handles.push(runtime.handle().clone());
            workers.stops.push(stop);
            let thread = std::thread::Builder::new()
                .name(format!("cairn-worker-{i}"))
                .spawn(move || {
                    // Resolves when the listener sends or drops the stop signal.
                    let _ = runtime.block_on(stopped);
                })
                .map_err(|e| ServerError::Shutdown(format!("cannot start worker {i}: {e}")))?;
            workers.threads.push(thread);
        }
        Ok(workers)
    }

    /// The worker for the next connection (round-robin).
    fn next(&self) -> &Handle {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        &self.handles[i % self.handles.len()]
    }

    /// Stops every worker (after their connections have ended) and joins the threads.
    fn stop(self) {
        drop(self.stops);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

async fn admit(
    shared: &Arc<Shared>,
    mut stream: TcpStream,
    peer: SocketAddr,
    worker: &Handle,
    alive: mpsc::Sender<()>,
) {
    Stats::add(&shared.stats.connections_received, 1);
    let maxclients = shared.config.read().maxclients;
    if shared.clients.count() >= maxclients {
        Stats::add(&shared.stats.rejected_connections, 1);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    // Replies are already batched per read; Nagle would only add latency.
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().unwrap_or(peer);
    let registration = shared.clients.register(peer, local);
    let shared = shared.clone();
    // The stream must be registered with the worker's own reactor, so it crosses as a std
    // socket and is converted there.
    let stream = match stream.into_std() {
        Ok(stream) => stream,
        Err(error) => {
            tracing::warn!(%error, "cannot hand a connection to a worker");
            return;
        }
    };
    worker.spawn(async move {
        match TcpStream::from_std(stream) {
            Ok(stream) => connection::serve(shared, stream, registration).await,
            Err(error) => tracing::warn!(%error, "worker cannot adopt a connection"),
        }
        drop(alive);
    });
}
