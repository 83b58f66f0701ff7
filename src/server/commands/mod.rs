//! The command families, a file each, as mini-redis keeps a file per command: data commands
//! run against a `Keyspace`; connection, admin and transaction commands against the
//! session and the shared state.

pub mod admin;
pub mod connection;
pub mod keys;
pub mod scan;
pub mod strings;
pub mod transactions;
