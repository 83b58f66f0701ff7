//! `Command`: the typed meaning of a request, whichever protocol carried it.
//!
//! This module owns the translation from an argument list (`args[0]` the name) to a
//! [`Command`], with Redis 7's arity, option and error rules, and the command table
//! ([`COMMANDS`]) that COMMAND and cairn-cli report. It never touches sockets, storage or
//! time: deadlines are computed by the server from the values parsed here.
//!
//! Values are moved out of the argument `Vec<Bytes>`, never copied.

mod args;
mod client;
mod docs;
mod error;
mod keys;
mod server;
mod strings;
mod table;

#[cfg(test)]
mod tests;

use std::ops::Bound;

use bytes::Bytes;

pub use args::{digest, digest_hex};
pub use client::{
    validate_client_name, ClientAttr, ClientCommand, ClientKill, ClientKillFilter, ClientType,
};
pub use docs::{ArgKind, ArgSpec};
pub use error::CommandError;
pub use keys::{ExpireAt, ExpireCondition};
pub use server::{CommandListFilter, CommandQuery, ConfigCommand};
pub use strings::{Expiry, GetExExpiry, Set, SetCondition, ValueCondition};
pub use table::{lookup, CommandSpec, COMMANDS};

/// Largest string Redis builds by default (proto-max-bulk-len, 512 MiB).
pub const MAX_STRING_LEN: usize = 512 * 1024 * 1024;

/// A parsed request. Each variant documents the commands that produce it.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    // ---- strings ----
    /// `GET key`.
    Get {
        /// The key.
        key: Bytes,
    },
    /// `SET`, and `SETEX k s v` (= `SET k v EX s`), `PSETEX k ms v` (= `SET k v PX ms`),
    /// `GETSET k v` (= `SET k v GET`).
    Set(Set),
    /// `SETNX key value`: replies 1 or 0, unlike `SET NX`.
    SetNx {
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
    },
    /// `GETDEL key`.
    GetDel {
        /// The key.
        key: Bytes,
    },
    /// `GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]`. A bad number parses as
    /// [`GetExExpiry::Invalid`]: Redis reports it only if the key exists.
    GetEx {
        /// The key.
        key: Bytes,
        /// What to do to the TTL; `None` leaves it alone.
        expiry: Option<GetExExpiry>,
    },
    /// `MGET key [key ...]`.
    MGet {
        /// The keys, at least one.
        keys: Vec<Bytes>,
    },
    /// `MSET key value [key value ...]`.
    MSet {
        /// Key/value pairs in request order (a later duplicate key wins).
        pairs: Vec<(Bytes, Bytes)>,
    },
    /// `MSETNX key value [key value ...]`.
    MSetNx {
        /// Key/value pairs in request order.
        pairs: Vec<(Bytes, Bytes)>,
    },
    /// `APPEND key value`.
    Append {
        /// The key.
        key: Bytes,
        /// Bytes to append.
        value: Bytes,
    },
    /// `STRLEN key`.
    StrLen {
        /// The key.
        key: Bytes,
    },
    /// `GETRANGE key start end` and its old alias `SUBSTR`. Indexes as Redis: negative
    /// counts from the end, both inclusive.
    GetRange {
        /// The key.
        key: Bytes,
        /// First index (inclusive; negative from the end).
        start: i64,
        /// Last index (inclusive; negative from the end).
        end: i64,
    },
    /// `SETRANGE key offset value`. Parse guarantees `offset + value.len()` stays within
    /// [`MAX_STRING_LEN`] whenever `value` is non-empty (an empty value never grows the
    /// string, so Redis accepts any non-negative offset then).
    SetRange {
        /// Byte offset, non-negative.
        offset: usize,
        /// The key.
        key: Bytes,
        /// Bytes to write at `offset`.
        value: Bytes,
    },
    /// `INCR` (delta 1), `DECR` (-1), `INCRBY key n`, `DECRBY key n` (delta -n).
    IncrBy {
        /// The key.
        key: Bytes,
        /// Amount to add; the server checks the sum for overflow
        /// ([`CommandError::IncrementOverflow`]).
        delta: i64,
    },
    /// `INCRBYFLOAT key increment`; the increment is finite.
    IncrByFloat {
        /// The key.
        key: Bytes,
        /// Amount to add, finite (NaN and infinities are refused by parse).
        delta: f64,
    },
    /// `DELEX key [IFEQ v | IFNE v | IFDEQ d | IFDNE d]` (Redis 8.4).
    DelEx {
        /// The key.
        key: Bytes,
        /// Delete only if this holds; `None` deletes unconditionally.
        condition: Option<ValueCondition>,
    },
    /// `DIGEST key` (Redis 8.4): XXH3-64 of the value, see [`digest`] and [`digest_hex`].
    Digest {
        /// The key.
        key: Bytes,
    },

    // ---- keys ----
    /// `DEL key [key ...]` and `UNLINK` (same effect in Cairn).
    Del {
        /// The keys, at least one.
        keys: Vec<Bytes>,
    },
    /// `EXISTS key [key ...]` (a key named twice counts twice).
    Exists {
        /// The keys, at least one.
        keys: Vec<Bytes>,
    },
    /// `TYPE key`.
    Type {
        /// The key.
        key: Bytes,
    },
    /// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT` `key time [NX | XX | GT | LT]`.
    /// Zero and negative times are valid (the key is deleted).
    Expire {
        /// The key.
        key: Bytes,
        /// The time as given, with its unit; see [`ExpireAt::deadline_millis`].
        when: ExpireAt,
        /// Condition on the current TTL.
        condition: Option<ExpireCondition>,
    },
    /// `TTL key`.
    Ttl {
        /// The key.
        key: Bytes,
    },
    /// `PTTL key`.
    PTtl {
        /// The key.
        key: Bytes,
    },
    /// `EXPIRETIME key`.
    ExpireTime {
        /// The key.
        key: Bytes,
    },
    /// `PEXPIRETIME key`.
    PExpireTime {
        /// The key.
        key: Bytes,
    },
    /// `PERSIST key`.
    Persist {
        /// The key.
        key: Bytes,
    },
    /// `KEYS pattern` (glob-style).
    Keys {
        /// The glob pattern.
        pattern: Bytes,
    },
    /// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
    Scan {
        /// The cursor, 0 to start.
        cursor: u64,
        /// Glob filter; `MATCH *` is normalised to `None` as Redis does.
        pattern: Option<Bytes>,
        /// COUNT hint, at least 1.
        count: Option<usize>,
        /// TYPE filter as sent (Redis 7 does not validate the name: an unknown one
        /// simply matches nothing).
        kind: Option<Bytes>,
    },
    /// `RENAME key newkey`.
    Rename {
        /// Current name.
        from: Bytes,
        /// New name.
        to: Bytes,
    },
    /// `RENAMENX key newkey`.
    RenameNx {
        /// Current name.
        from: Bytes,
        /// New name.
        to: Bytes,
    },
    /// `DBSIZE`.
    DbSize,
    /// `FLUSHDB [ASYNC | SYNC]` (the mode makes no difference in Cairn).
    FlushDb,
    /// `FLUSHALL [ASYNC | SYNC]` (the mode makes no difference in Cairn).
    FlushAll,
    /// Cairn's `RANGE start end [LIMIT n] [REV]` and `RANGEKEYS start end [LIMIT n] [REV]`:
    /// the keys in `[start, end)` in key order (descending with REV, same bounds), as one
    /// snapshot. `-` as start and `+` as end mean unbounded.
    Range {
        /// `Included(start)`, or `Unbounded` for `-`.
        start: Bound<Bytes>,
        /// `Excluded(end)`, or `Unbounded` for `+`.
        end: Bound<Bytes>,
        /// Return at most this many entries.
        limit: Option<usize>,
        /// Descending key order.
        reverse: bool,
        /// `RANGEKEYS`: keys only, no values.
        keys_only: bool,
    },

    // ---- transactions ----
    /// `MULTI`.
    Multi,
    /// `EXEC`.
    Exec,
    /// `DISCARD`.
    Discard,
    /// `WATCH key [key ...]`.
    Watch {
        /// The keys, at least one.
        keys: Vec<Bytes>,
    },
    /// `UNWATCH`.
    Unwatch,

    // ---- connection and server ----
    /// `PING [message]`.
    Ping {
        /// Echoed back as a bulk string when present (else `PONG`).
        message: Option<Bytes>,
    },
    /// `ECHO message`.
    Echo {
        /// The message.
        message: Bytes,
    },
    /// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
    ///
    /// A protocol version other than 2 or 3 parses (options are then not even looked
    /// at, as in Redis) and the server must answer `NOPROTO unsupported protocol version`.
    /// The SETNAME value is validated here, before any AUTH runs, as Redis 7.2 does.
    Hello {
        /// The requested protocol version, if given.
        protover: Option<i64>,
        /// `(username, password)` from AUTH.
        auth: Option<(Bytes, Bytes)>,
        /// The name from SETNAME.
        setname: Option<Bytes>,
    },
    /// `AUTH [username] password`.
    Auth {
        /// The user; `None` means `default`.
        username: Option<Bytes>,
        /// The password.
        password: Bytes,
    },
    /// `SELECT index`: any 32-bit index parses; the server answers all but 0 with
    /// [`CommandError::DbIndexOutOfRange`].
    Select {
        /// The database index.
        index: i64,
    },
    /// `QUIT`.
    Quit,
    /// `RESET`.
    Reset,
    /// `CLIENT <subcommand>`.
    Client(ClientCommand),
    /// `COMMAND [COUNT | INFO ... | DOCS ... | LIST ... | HELP]`.
    CommandInfo(CommandQuery),
    /// `CONFIG <subcommand>`.
    Config(ConfigCommand),
    /// `INFO [section [section ...]]`.
    Info {
        /// Requested sections as sent (empty: the default set).
        sections: Vec<Bytes>,
    },
    /// `TIME`.
    Time,
    /// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]`.
    Shutdown {
        /// `Some(true)` for SAVE, `Some(false)` for NOSAVE.
        save: Option<bool>,
        /// NOW: skip waiting for replicas.
        now: bool,
        /// FORCE: ignore errors on the way down.
        force: bool,
        /// ABORT: cancel a shutdown in progress (never combined with the others).
        abort: bool,
    },
    /// An atomic batch of puts and deletes. Native protocol only: no RESP name, so
    /// [`Command::parse`] never produces it.
    Batch {
        /// The operations, applied in order, all or nothing.
        ops: Vec<BatchOp>,
    },
    /// Read a key with its version (the sequence number of its last write), for
    /// compare-by-version with [`SetCondition::IfVersion`]. Native protocol only.
    GetVersioned {
        /// The key.
        key: Bytes,
    },
}

/// One operation of a [`Command::Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    /// Set `key` to `value` (no TTL).
    Put {
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
    },
    /// Delete `key`.
    Delete {
        /// The key.
        key: Bytes,
    },
}

impl Command {
    /// Parses a request; `args[0]` is the command name, case-insensitive. Never panics.
    ///
    /// The arity comes from [`COMMANDS`], so parse and COMMAND INFO never disagree.
    /// Arguments are moved into the result, never copied.
    pub fn parse(args: Vec<Bytes>) -> Result<Command, CommandError> {
        let Some(name) = args.first() else {
            return Err(CommandError::Empty);
        };
        let Some(spec) = lookup(name) else {
            return Err(CommandError::unknown_command(&args));
        };
        if !spec.arity_accepts(args.len()) {
            return Err(CommandError::WrongArity { command: spec.name });
        }
        let mut rest = args.into_iter();
        rest.next();
        (spec.parse)(spec, rest)
    }

    /// The lower-case canonical name of the command, e.g. `"set"`. Aliases map to the
    /// variant's main command: SETEX, PSETEX and GETSET give `"set"`, UNLINK `"del"`,
    /// SUBSTR `"getrange"`, INCR/DECR/DECRBY `"incrby"`. Batch gives `"batch"` (native only).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Get { .. } => "get",
            Command::Set(_) => "set",
            Command::SetNx { .. } => "setnx",
            Command::GetDel { .. } => "getdel",
            Command::GetEx { .. } => "getex",
            Command::MGet { .. } => "mget",
            Command::MSet { .. } => "mset",
            Command::MSetNx { .. } => "msetnx",
            Command::Append { .. } => "append",
            Command::StrLen { .. } => "strlen",
            Command::GetRange { .. } => "getrange",
            Command::SetRange { .. } => "setrange",
            Command::IncrBy { .. } => "incrby",
            Command::IncrByFloat { .. } => "incrbyfloat",
            Command::DelEx { .. } => "delex",
            Command::Digest { .. } => "digest",
            Command::Del { .. } => "del",
            Command::Exists { .. } => "exists",
            Command::Type { .. } => "type",
            Command::Expire { when, .. } => when.command_name(),
            Command::Ttl { .. } => "ttl",
            Command::PTtl { .. } => "pttl",
            Command::ExpireTime { .. } => "expiretime",
            Command::PExpireTime { .. } => "pexpiretime",
            Command::Persist { .. } => "persist",
            Command::Keys { .. } => "keys",
            Command::Scan { .. } => "scan",
            Command::Rename { .. } => "rename",
            Command::RenameNx { .. } => "renamenx",
            Command::DbSize => "dbsize",
            Command::FlushDb => "flushdb",
            Command::FlushAll => "flushall",
            Command::Range {
                keys_only: false, ..
            } => "range",
            Command::Range {
                keys_only: true, ..
            } => "rangekeys",
            Command::Multi => "multi",
            Command::Exec => "exec",
            Command::Discard => "discard",
            Command::Watch { .. } => "watch",
            Command::Unwatch => "unwatch",
            Command::Ping { .. } => "ping",
            Command::Echo { .. } => "echo",
            Command::Hello { .. } => "hello",
            Command::Auth { .. } => "auth",
            Command::Select { .. } => "select",
            Command::Quit => "quit",
            Command::Reset => "reset",
            Command::Client(_) => "client",
            Command::CommandInfo(_) => "command",
            Command::Config(_) => "config",
            Command::Info { .. } => "info",
            Command::Time => "time",
            Command::Shutdown { .. } => "shutdown",
            Command::Batch { .. } => "batch",
            Command::GetVersioned { .. } => "getversioned",
        }
    }

    /// The keys the command names, in argument order (MSET's keys without their
    /// values, RENAME's source then destination, a batch's keys). Empty for commands
    /// without keys, and for RANGE, whose bounds are not keys. The server uses it for
    /// WATCH: a write to any of these invalidates transactions watching it.
    pub fn keys(&self) -> Vec<&Bytes> {
        match self {
            Command::Get { key }
            | Command::GetVersioned { key }
            | Command::SetNx { key, .. }
            | Command::GetDel { key }
            | Command::GetEx { key, .. }
            | Command::Append { key, .. }
            | Command::StrLen { key }
            | Command::GetRange { key, .. }
            | Command::SetRange { key, .. }
            | Command::IncrBy { key, .. }
            | Command::IncrByFloat { key, .. }
            | Command::DelEx { key, .. }
            | Command::Digest { key }
            | Command::Type { key }
            | Command::Expire { key, .. }
            | Command::Ttl { key }
            | Command::PTtl { key }
            | Command::ExpireTime { key }
            | Command::PExpireTime { key }
            | Command::Persist { key } => vec![key],
            Command::Set(set) => vec![&set.key],
            Command::MGet { keys }
            | Command::Del { keys }
            | Command::Exists { keys }
            | Command::Watch { keys } => keys.iter().collect(),
            Command::MSet { pairs } | Command::MSetNx { pairs } => {
                pairs.iter().map(|(k, _)| k).collect()
            }
            Command::Rename { from, to } | Command::RenameNx { from, to } => vec![from, to],
            Command::Batch { ops } => ops
                .iter()
                .map(|op| match op {
                    BatchOp::Put { key, .. } | BatchOp::Delete { key } => key,
                })
                .collect(),
            Command::Keys { .. }
            | Command::Scan { .. }
            | Command::DbSize
            | Command::FlushDb
            | Command::FlushAll
            | Command::Range { .. }
            | Command::Multi
            | Command::Exec
            | Command::Discard
            | Command::Unwatch
            | Command::Ping { .. }
            | Command::Echo { .. }
            | Command::Hello { .. }
            | Command::Auth { .. }
            | Command::Select { .. }
            | Command::Quit
            | Command::Reset
            | Command::Client(_)
            | Command::CommandInfo(_)
            | Command::Config(_)
            | Command::Info { .. }
            | Command::Time
            | Command::Shutdown { .. } => Vec::new(),
        }
    }

    /// Whether the command may change data (the table's `write` flag; Batch is one).
    /// The server uses it for read-only replicas and MULTI bookkeeping.
    pub fn is_write(&self) -> bool {
        match self {
            Command::Batch { .. } => true,
            other => lookup(other.name().as_bytes()).is_some_and(|s| s.flags.contains(&"write")),
        }
    }
}
