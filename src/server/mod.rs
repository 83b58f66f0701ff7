//! The network server: a tokio listener, one task per connection, and the dispatcher that
//! turns each `Command` into engine calls and a `Reply`.
//!
//! It depends on `protocol` (to read requests and write replies) and `storage` (to keep the
//! data); neither depends on it. Its public surface is what the binary starts it with
//! ([`Config`], [`Server`], [`StopHandle`]); everything else is internal.

mod blocking;
mod checkpoints;
mod clients;
mod cluster;
mod commands;
mod compaction;
mod config;
mod connection;
mod databases;
mod dbslot;
mod dispatch;
mod idle;
mod keyspace;
mod layout;
mod listener;
mod native;
mod os;
mod pattern;
mod process;
mod pubsub;
mod replication;
mod replies;
mod round;
mod session;
mod shared;
mod shutdown;
mod tls;
mod value;
mod versions;

pub use config::{Config, Fsync, OutputLimit, OutputLimits, TlsAuthClients};
pub use listener::{Server, StopHandle};

use std::path::PathBuf;

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listening address could not be bound (in use, not permitted, not local).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The data directory could not be created.
    #[error("cannot use data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The engine failed to open (locked by another server, corrupt, unreadable) or to sync.
    #[error(transparent)]
    Storage(#[from] crate::storage::Error),
    /// The TLS settings are incomplete, or their files unreadable or mismatched.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// Cluster mode's map file is unreadable or malformed, or its settings are wrong.
    #[error("{0}")]
    Cluster(String),
    /// A setting is out of its range.
    #[error("{0}")]
    Config(String),
    /// The data directory holds keys in a format this server does not read.
    #[error("data directory {path}: {message}")]
    Format {
        /// The directory.
        path: PathBuf,
        /// What is wrong, and what to do.
        message: String,
    },
    /// A background task failed during shutdown.
    #[error("shutdown failed: {0}")]
    Shutdown(String),
}
