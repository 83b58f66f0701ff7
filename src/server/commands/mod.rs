//! The command families, a file each, named as the file of their rows and parsers under
//! `protocol/command/` (mini-redis keeps a file per command): data commands run against a
//! `Keyspace`; connection, server and transaction commands against the session and the
//! shared state.

pub(crate) mod connection;
pub(crate) mod generic;
pub(crate) mod scan;
pub(crate) mod server;
pub(crate) mod strings;
pub(crate) mod transactions;

use bytes::Bytes;

use crate::protocol::command::Keys;

/// The key of a command whose row names exactly one (key positions `(1, 1, 1)`).
fn first(keys: Keys) -> Bytes {
    keys.into_iter().next().unwrap_or_default()
}
