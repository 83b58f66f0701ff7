//! The TCP listener: accepts connections up to `maxclients`, tells the protocols apart by a
//! connection's first byte, and on shutdown stops accepting, closes every connection after
//! its in-flight requests, and syncs the engine.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::shared::{Shared, Stats};
use super::{connection, ServerError};
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

    /// The state shared with connections (to trigger shutdown from outside, for example).
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Serves until shutdown is triggered, then drains connections and syncs the engine.
    pub async fn run(self) -> Result<(), ServerError> {
        let Server { shared, listener } = self;
        // Every connection task holds a sender; when all are dropped, recv() returns None.
        let (alive, mut all_done) = mpsc::channel::<()>(1);
        loop {
            tokio::select! {
                _ = shared.shutdown.wait() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => admit(&shared, stream, peer, alive.clone()).await,
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
        let db = shared.db.clone();
        tokio::task::spawn_blocking(move || db.sync())
            .await
            .map_err(|e| ServerError::Shutdown(e.to_string()))??;
        tracing::info!("data synced; bye");
        Ok(())
    }
}

async fn admit(
    shared: &Arc<Shared>,
    mut stream: TcpStream,
    peer: SocketAddr,
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
    tokio::spawn(async move {
        connection::serve(shared, stream, registration).await;
        drop(alive);
    });
}
