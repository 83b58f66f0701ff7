//! The command families, a file each, named as the file of their rows and parsers under
//! `protocol/command/` (mini-redis keeps a file per command): data commands run against a
//! `Keyspace`; connection, server and transaction commands against the session and the
//! shared state.

pub(crate) mod cluster;
pub(crate) mod connection;
pub(crate) mod elements;
pub(crate) mod generic;
pub(crate) mod hashes;
pub(crate) mod lists;
pub(crate) mod pubsub;
pub(crate) mod replication;
pub(crate) mod scan;
pub(crate) mod server;
pub(crate) mod sets;
pub(crate) mod strings;
pub(crate) mod transactions;
pub(crate) mod zsets;

use bytes::Bytes;

use crate::protocol::command::Keys;
use crate::protocol::Reply;

/// A text listing in the type Redis uses for it: verbatim in RESP3, bulk in RESP2.
fn listing(text: String) -> Reply {
    Reply::Verbatim {
        format: *b"txt",
        text: Bytes::from(text),
    }
}

/// A HELP subcommand's reply: one status line per line of text.
fn help(lines: &[&'static str]) -> Reply {
    Reply::Array(
        lines
            .iter()
            .map(|line| Reply::Simple(Bytes::from_static(line.as_bytes())))
            .collect(),
    )
}

/// The key of a command whose row names exactly one (key positions `(1, 1, 1)`).
fn first(keys: Keys) -> Bytes {
    keys.into_iter().next().unwrap_or_default()
}
