//! Replication commands: REPLICAOF/SLAVEOF, ROLE, WAIT, and the replica's side of the
//! handshake a primary answers (REPLCONF, PSYNC, SYNC); their rows, typed form and parsers.
//! `server/commands/replication.rs` runs them over `server/replication/`.
//!
//! Offsets and ids arrive from the network: they are parsed here into numbers and checked
//! (a replication id is 40 hex digits or `?`), so the server never sees garbage.

use bytes::Bytes;

use super::args::{self, Args};
use super::table::{row, CommandSpec};
use super::CommandError;

/// A replication command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationCommand {
    /// `REPLICAOF host port` (or `SLAVEOF`): follow that primary.
    ReplicaOf {
        /// The primary's host.
        host: String,
        /// Its port.
        port: u16,
    },
    /// `REPLICAOF NO ONE`: become a primary.
    ReplicaOfNoOne,
    /// `ROLE`.
    Role,
    /// `WAIT numreplicas timeout` (milliseconds, 0 = for ever).
    Wait {
        /// Replicas that must acknowledge.
        replicas: u64,
        /// Longest wait in milliseconds; 0 waits for ever.
        timeout_ms: u64,
    },
    /// `REPLCONF option value ...`.
    ReplConf(ReplConf),
    /// `PSYNC replid offset`: `None` for `?` (no history), offset -1 meaning none.
    PSync {
        /// The history the replica has.
        replid: Option<String>,
        /// The last sequence number it holds (-1: none).
        offset: i64,
    },
    /// `SYNC`: the old full synchronisation (redis-cli --replica).
    Sync,
}

/// What a replica tells its primary with REPLCONF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplConf {
    /// Settings (`listening-port`, `ip-address`, `capa`, ...): `listening-port`'s value
    /// when given.
    Settings {
        /// The port the replica serves clients on.
        listening_port: Option<u16>,
        /// The address it announces (`ip-address`).
        ip_address: Option<String>,
    },
    /// `ACK offset`: what the replica has applied.
    Ack(u64),
    /// `GETACK *`: the primary asks for an ACK now.
    GetAck,
}

/// The replication commands' rows.
#[rustfmt::skip]
pub(super) const ROWS: &[CommandSpec] = &[
    row!("psync", -3, [NOSCRIPT, NO_MULTI, ADMIN, NO_ASYNC_LOADING], (0, 0, 0), [], "server", "2.8.0",
        "An internal command used in replication.",
        "replicationid offset", psync),
    row!("replconf", -1, [ADMIN, NOSCRIPT, LOADING, STALE, ALLOW_BUSY], (0, 0, 0), [], "server", "3.0.0",
        "An internal command for configuring the replication stream.",
        "", replconf),
    row!("replicaof", 3, [ADMIN, NOSCRIPT, STALE, NO_ASYNC_LOADING], (0, 0, 0), [], "server", "5.0.0",
        "Configures a server as replica of another, or promotes it to a master.",
        "host port", replicaof),
    row!("role", 1, [NOSCRIPT, LOADING, STALE, FAST], (0, 0, 0), [ADMIN, DANGEROUS], "server", "2.8.12",
        "Returns the replication role.",
        "", |_| Ok(ReplicationCommand::Role)),
    row!("slaveof", 3, [ADMIN, NOSCRIPT, STALE, NO_ASYNC_LOADING], (0, 0, 0), [], "server", "1.0.0",
        "Sets a Redis server as a replica of another, or promotes it to being a master.",
        "host port", replicaof),
    row!("sync", 1, [NO_MULTI, ADMIN, NOSCRIPT, NO_ASYNC_LOADING], (0, 0, 0), [], "server", "1.0.0",
        "An internal command used in replication.",
        "", |_| Ok(ReplicationCommand::Sync)),
    row!("wait", 3, [NOSCRIPT], (0, 0, 0), [CONNECTION], "generic", "3.0.0",
        "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
        "numreplicas timeout", wait),
];

/// `REPLICAOF host port` / `REPLICAOF NO ONE`.
fn replicaof(a: &mut Args) -> Result<ReplicationCommand, CommandError> {
    let host = args::next(a)?;
    let port = args::next(a)?;
    if args::is(&host, "no") && args::is(&port, "one") {
        return Ok(ReplicationCommand::ReplicaOfNoOne);
    }
    let port = args::parse_i64(&port)
        .and_then(|p| u16::try_from(p).ok())
        .ok_or(CommandError::Invalid("ERR Invalid master port"))?;
    let host = String::from_utf8(host.to_vec())
        .ok()
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or(CommandError::Invalid("ERR Invalid master host"))?;
    Ok(ReplicationCommand::ReplicaOf { host, port })
}

/// `WAIT numreplicas timeout`.
fn wait(a: &mut Args) -> Result<ReplicationCommand, CommandError> {
    let replicas = args::int(&args::next(a)?)?;
    let timeout = args::int(&args::next(a)?)?;
    if timeout < 0 {
        return Err(CommandError::Invalid("ERR timeout is negative"));
    }
    Ok(ReplicationCommand::Wait {
        replicas: u64::try_from(replicas).unwrap_or(0),
        timeout_ms: timeout.unsigned_abs(),
    })
}

/// `PSYNC replid offset`.
fn psync(a: &mut Args) -> Result<ReplicationCommand, CommandError> {
    let id = args::next(a)?;
    let offset = args::int(&args::next(a)?)?;
    let replid = if id.as_ref() == b"?" {
        None
    } else if id.len() == 40 && id.iter().all(u8::is_ascii_hexdigit) {
        Some(String::from_utf8_lossy(&id).to_ascii_lowercase())
    } else {
        return Err(CommandError::Invalid("ERR invalid replication id"));
    };
    if offset < -1 {
        return Err(CommandError::Invalid("ERR invalid replication offset"));
    }
    Ok(ReplicationCommand::PSync { replid, offset })
}

/// `REPLCONF <option> <value> [<option> <value> ...]`.
fn replconf(a: &mut Args) -> Result<ReplicationCommand, CommandError> {
    let rest: Vec<Bytes> = a.collect();
    if !rest.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    let mut listening_port = None;
    let mut ip_address = None;
    for pair in rest.chunks_exact(2) {
        let (option, value) = (&pair[0], &pair[1]);
        if args::is(option, "ack") {
            let offset = args::parse_i64(value)
                .and_then(|o| u64::try_from(o).ok())
                .ok_or(CommandError::NotInteger)?;
            return Ok(ReplicationCommand::ReplConf(ReplConf::Ack(offset)));
        } else if args::is(option, "getack") {
            return Ok(ReplicationCommand::ReplConf(ReplConf::GetAck));
        } else if args::is(option, "listening-port") {
            listening_port = Some(
                args::parse_i64(value)
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or(CommandError::NotInteger)?,
            );
        } else if args::is(option, "ip-address") {
            let text = String::from_utf8_lossy(value).into_owned();
            if text.len() > 255 || !text.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(CommandError::Syntax);
            }
            ip_address = Some(text);
        } else if !["capa", "rdb-only", "rdb-filter-only"]
            .iter()
            .any(|known| args::is(option, known))
        {
            return Err(CommandError::UnrecognizedOption(super::error::render(
                option, 128,
            )));
        }
    }
    Ok(ReplicationCommand::ReplConf(ReplConf::Settings {
        listening_port,
        ip_address,
    }))
}
