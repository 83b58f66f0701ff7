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
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use super::cluster::Cluster;
use super::connection::SocketQueue;
use super::databases::Databases;
use super::replication::{Backlog, Replication};
use super::shared::{Shared, Stats};
use super::tls::Acceptor;
use super::{connection, idle, layout, process, ServerError};
use crate::server::config::Config;
use crate::storage::Db;

/// How long shutdown waits for connections to finish before syncing anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The name of each worker thread, before its number (INFO cpu finds them by it).
pub(crate) const WORKER_NAME: &str = "cairn-worker-";

/// A bound, ready-to-run server.
pub struct Server {
    shared: Arc<Shared>,
    /// Plaintext clients; `None` with `port 0` and a TLS port, as in Redis.
    plain: Option<TcpListener>,
    /// TLS clients, and the acceptor that runs their handshakes.
    tls: Option<(TcpListener, Acceptor)>,
}

impl Server {
    /// Opens (or recovers) the data directory and binds the listening socket.
    pub async fn bind(mut config: Config) -> Result<Server, ServerError> {
        if !(1..=layout::MAX_DATABASES).contains(&config.databases) {
            return Err(ServerError::Config(format!(
                "databases must be 1 to {}, not {}",
                layout::MAX_DATABASES,
                config.databases
            )));
        }
        config.maxclients = process::maxclients_at_start(config.maxclients);
        if config.disable_thp {
            process::disable_transparent_huge_pages();
        }
        std::fs::create_dir_all(&config.dir).map_err(|source| ServerError::Dir {
            path: config.dir.clone(),
            source,
        })?;
        super::replication::link::finish_restore(&config.dir)?;
        let backlog = Arc::new(Backlog::new(config.repl_backlog_size));
        let options = super::replication::engine_options(&config, &backlog);
        // TLS files are read before anything opens, so a bad one fails fast and alone.
        let acceptor = Acceptor::new(&config)?;
        let db = Db::open(&config.dir, options)?;
        check_format(&db, &config.dir)?;
        let databases = Databases::load(&db).map_err(|message| ServerError::Format {
            path: config.dir.clone(),
            message,
        })?;
        let plain = match (config.port, &acceptor) {
            (0, Some(_)) => None,
            (port, _) => Some(listen(&config.bind, port, config.tcp_backlog).await?),
        };
        let tls = match (config.tls_port, acceptor) {
            (Some(port), Some(acceptor)) => Some((
                listen(&config.bind, port, config.tcp_backlog).await?,
                acceptor,
            )),
            _ => None,
        };
        // The map names nodes by the address clients reach: the plaintext port, or the TLS
        // port when there is no plaintext one.
        let cluster = match plain.as_ref().or(tls.as_ref().map(|(l, _)| l)) {
            Some(listener) if config.cluster_enabled => {
                let addr = listener.local_addr().map_err(|source| ServerError::Bind {
                    addr: config.bind.clone(),
                    source,
                })?;
                Some(Cluster::open(&config, addr).map_err(ServerError::Cluster)?)
            }
            _ => None,
        };
        let replication = Replication::new(backlog, &config, db.last_sequence());
        // The port a replica announces to its primary: its TLS port under tls-replication
        // (as Redis's), or when it has no plaintext one.
        let tls_listener = tls.as_ref().map(|(l, _)| l);
        let announced = if config.tls_replication {
            tls_listener.or(plain.as_ref())
        } else {
            plain.as_ref().or(tls_listener)
        };
        if let Some(port) = announced
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
        {
            replication
                .listening_port
                .store(u64::from(port), std::sync::atomic::Ordering::Relaxed);
        }
        let mut shared = Shared::new(db, config, cluster, replication);
        shared.databases = databases;
        Ok(Server {
            shared: Arc::new(shared),
            plain,
            tls,
        })
    }

    /// The address plaintext clients connect to (useful with port 0), if they may.
    pub fn plain_addr(&self) -> Option<SocketAddr> {
        self.plain.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The address TLS clients connect to, if TLS is on.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// What stops the server from outside (a signal handler), as SHUTDOWN does.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.shared.clone())
    }

    /// Serves until shutdown is triggered, then drains connections and syncs the engine.
    pub async fn run(self) -> Result<(), ServerError> {
        let Server { shared, plain, tls } = self;
        let workers = Workers::start(shared.config.read().threads)?;
        if shared.replication.is_replica() {
            super::replication::link::start(&shared);
        }
        // Every connection task holds a sender; when all are dropped, recv() returns None.
        let (alive, mut all_done) = mpsc::channel::<()>(1);
        let (tls_listener, acceptor) = tls.unzip();
        loop {
            let (accepted, acceptor) = tokio::select! {
                () = shared.shutdown.wait() => break,
                accepted = accept(plain.as_ref()) => (accepted, None),
                accepted = accept(tls_listener.as_ref()) => (accepted, acceptor.clone()),
            };
            match accepted {
                Ok((stream, peer)) => {
                    let worker = workers.next();
                    admit(&shared, stream, peer, acceptor, worker, alive.clone()).await;
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        tracing::info!("shutting down: closing connections after their in-flight requests");
        drop((plain, tls_listener));
        drop(alive);
        shared.clients.kill_where(|_| true);
        if tokio::time::timeout(DRAIN_TIMEOUT, all_done.recv())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; syncing anyway");
        }
        workers.stop();
        let db = shared.db.handle()?;
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
                .name(format!("{WORKER_NAME}{i}"))
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

/// Binds a listening socket on `bind`:`port` with a backlog of `backlog` connections.
async fn listen(bind: &str, port: u16, backlog: u32) -> Result<TcpListener, ServerError> {
    let addr = format!("{bind}:{port}");
    let error = |source| ServerError::Bind {
        addr: addr.clone(),
        source,
    };
    let mut last = None;
    for resolved in tokio::net::lookup_host(&addr).await.map_err(error)? {
        let socket = if resolved.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(error)?;
        // As std's bind does: a restarted server need not wait out TIME_WAIT.
        socket.set_reuseaddr(true).map_err(error)?;
        match socket.bind(resolved).and_then(|()| socket.listen(backlog)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(error(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the address resolves to nothing",
        )
    })))
}

/// The next connection on `listener`; never, without one.
async fn accept(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Registers an accepted connection and hands it to `worker`, which runs its TLS handshake
/// first if `tls` is given (on the worker, so a slow handshake holds up no one else).
async fn admit(
    shared: &Arc<Shared>,
    mut stream: TcpStream,
    peer: SocketAddr,
    tls: Option<Acceptor>,
    worker: &Handle,
    alive: mpsc::Sender<()>,
) {
    Stats::add(&shared.stats.connections_received, 1);
    let maxclients = shared.config.read().maxclients;
    if shared.clients.count() >= maxclients {
        Stats::add(&shared.stats.rejected_connections, 1);
        // A TLS client could not read a plaintext line: it is just closed.
        if tls.is_none() {
            let _ = stream
                .write_all(b"-ERR max number of clients reached\r\n")
                .await;
        }
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
        let stream = match TcpStream::from_std(stream) {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%error, "worker cannot adopt a connection");
                return;
            }
        };
        let socket = SocketQueue(stream.as_raw_fd());
        match tls {
            None => connection::serve(shared, stream, socket, registration).await,
            Some(acceptor) => match acceptor.handshake(stream).await {
                Ok(stream) => connection::serve(shared, stream, socket, registration).await,
                Err(reason) => tracing::warn!(%peer, %reason, "TLS handshake failed; closed"),
            },
        }
        drop(alive);
    });
}

/// Makes sure the data directory holds keys in the format this server reads
/// (`layout::FORMAT`), writing the format's record into a new one.
///
/// A directory written before numbered databases and data types holds raw user keys, and
/// no record naming the format: it is refused, not misread.
fn check_format(db: &Db, dir: &std::path::Path) -> Result<(), ServerError> {
    let refuse = |message: String| ServerError::Format {
        path: dir.to_path_buf(),
        message,
    };
    match db.get(layout::FORMAT_KEY)? {
        Some(format) if format[..] == *layout::FORMAT => Ok(()),
        Some(format) => Err(refuse(format!(
            "its keys are in format `{}`, which this server does not read (it reads `{}`)",
            String::from_utf8_lossy(&format),
            String::from_utf8_lossy(layout::FORMAT)
        ))),
        None if db.range::<&[u8], _>(..).next().is_none() => {
            db.put(layout::FORMAT_KEY, layout::FORMAT)?;
            Ok(())
        }
        None => Err(refuse(
            "it was written by a Cairn before numbered databases and data types (key format 1); \
             this server reads key format 2. Copy its keys with the older server running \
             into a new server on an empty directory: see docs/operations.md, \"Upgrading\""
                .to_string(),
        )),
    }
}
