//! Cairn: a networked key-value database server.
//!
//! The crate is four layers, and dependencies point one way
//! (`bin -> server/client -> protocol, storage`):
//!
//! - [`storage`]: the log-structured engine (write-ahead log, memtables, tables).
//!   It knows bytes, files and time, nothing of networks.
//! - [`protocol`]: wire formats, bytes to `Command`/`Reply` and back. It knows no
//!   sockets and no storage.
//! - [`server`]: the tokio listener, connections and the dispatcher.
//! - [`client`]: the async client (native protocol) and a blocking wrapper.
//!
//! Beside them, [`tls`] reads the TLS files both the server and the client use.
//!
//! This file only re-exports the layers; see docs/architecture.md for the map.
#![deny(missing_docs)]

pub mod client;
pub mod protocol;
pub mod server;
pub mod storage;
pub mod tls;
