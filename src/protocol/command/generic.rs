//! Commands on keys of any type: DEL, EXISTS, TYPE, the EXPIRE family and TTLs, PERSIST,
//! RENAME, COPY, MOVE, RANDOMKEY, OBJECT, and the native protocol's atomic batch; their rows, their typed form and their
//! parsers. `server/commands/generic.rs` runs them.
//!
//! Each parser takes the arguments that are not keys, arity already checked against the
//! row.

use bytes::Bytes;

use super::args::{int, is, next, Args};
use super::error::render_full;
use super::table::{row, CommandSpec};
use super::CommandError;

/// A command on keys of any type, its keys aside.
#[derive(Debug, Clone, PartialEq)]
pub enum GenericCommand {
    /// `DEL key [key ...]` and `UNLINK` (same effect in Cairn).
    Del,
    /// `EXISTS key [key ...]` (a key named twice counts twice).
    Exists,
    /// `TYPE key`.
    Type,
    /// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT` `key time [NX | XX | GT | LT]`.
    /// Zero and negative times are valid (the key is deleted).
    Expire {
        /// The time as given, with its unit; see [`ExpireAt::deadline_millis`].
        when: ExpireAt,
        /// Condition on the current TTL.
        condition: Option<ExpireCondition>,
    },
    /// `TTL key`.
    Ttl,
    /// `PTTL key`.
    PTtl,
    /// `EXPIRETIME key`.
    ExpireTime,
    /// `PEXPIRETIME key`.
    PExpireTime,
    /// `PERSIST key`.
    Persist,
    /// `RENAME key newkey`: the keys are the current name and the new one.
    Rename,
    /// `RENAMENX key newkey`.
    RenameNx,
    /// `COPY source destination [DB destination-db] [REPLACE]`.
    Copy {
        /// The destination's database (`None`: the current one), range unchecked.
        db: Option<i64>,
        /// Overwrite an existing destination.
        replace: bool,
    },
    /// `MOVE key db`: the database, range unchecked.
    Move {
        /// The destination database.
        db: i64,
    },
    /// `RANDOMKEY`.
    RandomKey,
    /// `OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key`, `OBJECT HELP`.
    Object(ObjectQuery),
    /// An atomic batch of puts and deletes, one per key: `Some(value)` puts, `None`
    /// deletes. Native protocol only (its wire form is `binary::BatchOp`).
    Batch {
        /// What to do to each key, in the keys' order.
        values: Vec<Option<Bytes>>,
    },
}

/// What OBJECT asks about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectQuery {
    /// The name of Redis's in-memory encoding a value of its kind and size would have.
    Encoding,
    /// References to the value (always 1 here: values are not shared).
    RefCount,
    /// Seconds since last access (not tracked: 0).
    IdleTime,
    /// LFU access frequency (not tracked: Redis's error without an LFU policy).
    Freq,
    /// The subcommands.
    Help,
}

/// The generic commands' rows.
#[rustfmt::skip]
pub(super) const ROWS: &[CommandSpec] = &[
    DEL,
    row!("copy", -3, [WRITE, DENYOOM, OWN_ROUND], (1, 2, 1), [KEYSPACE], "generic", "6.2.0",
        "Copies the value of a key to a new key.",
        "source destination [DB destination-db:integer] [REPLACE]", copy),
    row!("exists", -2, [READONLY, FAST], (1, -1, 1), [KEYSPACE], "generic", "1.0.0",
        "Determines whether one or more keys exist.",
        "key [key ...]", |_| Ok(GenericCommand::Exists)),
    row!("expire", -3, [WRITE, FAST], (1, 1, 1), [KEYSPACE], "generic", "1.0.0",
        "Sets the expiration time of a key in seconds.",
        "key seconds [NX|XX|GT|LT]", |a| expire(a, ExpireAt::Seconds)),
    row!("expireat", -3, [WRITE, FAST], (1, 1, 1), [KEYSPACE], "generic", "1.2.0",
        "Sets the expiration time of a key to a Unix timestamp.",
        "key unix-time-seconds [NX|XX|GT|LT]", |a| expire(a, ExpireAt::UnixSeconds)),
    row!("expiretime", 2, [READONLY, FAST], (1, 1, 1), [KEYSPACE], "generic", "7.0.0",
        "Returns the expiration time of a key as a Unix timestamp.",
        "key", |_| Ok(GenericCommand::ExpireTime)),
    row!("move", 3, [WRITE, FAST, OWN_ROUND], (1, 1, 1), [KEYSPACE], "generic", "1.0.0",
        "Moves a key to another database.",
        "key db:integer", |a| Ok(GenericCommand::Move { db: int(&next(a)?)? })),
    row!("object", -2, [], (0, 0, 0), [], "generic", "2.2.3",
        "A container for object introspection commands.",
        "", |_| Err::<GenericCommand, _>(CommandError::Syntax),
        subcommands: OBJECT_SUBCOMMANDS),
    row!("persist", 2, [WRITE, FAST], (1, 1, 1), [KEYSPACE], "generic", "2.2.0",
        "Removes the expiration time of a key.",
        "key", |_| Ok(GenericCommand::Persist)),
    PEXPIRE,
    row!("pexpireat", -3, [WRITE, FAST], (1, 1, 1), [KEYSPACE], "generic", "2.6.0",
        "Sets the expiration time of a key to a Unix milliseconds timestamp.",
        "key unix-time-milliseconds [NX|XX|GT|LT]", |a| expire(a, ExpireAt::UnixMillis)),
    row!("pexpiretime", 2, [READONLY, FAST], (1, 1, 1), [KEYSPACE], "generic", "7.0.0",
        "Returns the expiration time of a key as a Unix milliseconds timestamp.",
        "key", |_| Ok(GenericCommand::PExpireTime)),
    row!("pttl", 2, [READONLY, FAST], (1, 1, 1), [KEYSPACE], "generic", "2.6.0",
        "Returns the expiration time in milliseconds of a key.",
        "key", |_| Ok(GenericCommand::PTtl)),
    row!("randomkey", 1, [READONLY, OWN_ROUND], (0, 0, 0), [KEYSPACE], "generic", "1.0.0",
        "Returns a random key name from the database.",
        "", |_| Ok(GenericCommand::RandomKey)),
    row!("rename", 3, [WRITE, OWN_ROUND], (1, 2, 1), [KEYSPACE], "generic", "1.0.0",
        "Renames a key and overwrites the destination.",
        "key newkey", |_| Ok(GenericCommand::Rename)),
    row!("renamenx", 3, [WRITE, FAST, OWN_ROUND], (1, 2, 1), [KEYSPACE], "generic", "1.0.0",
        "Renames a key only when the target key name doesn't exist.",
        "key newkey", |_| Ok(GenericCommand::RenameNx)),
    row!("ttl", 2, [READONLY, FAST], (1, 1, 1), [KEYSPACE], "generic", "1.0.0",
        "Returns the expiration time in seconds of a key.",
        "key", |_| Ok(GenericCommand::Ttl)),
    row!("type", 2, [READONLY, FAST], (1, 1, 1), [KEYSPACE], "generic", "1.0.0",
        "Determines the type of value stored at a key.",
        "key", |_| Ok(GenericCommand::Type)),
    row!("unlink", -2, [WRITE, FAST], (1, -1, 1), [KEYSPACE], "generic", "4.0.0",
        "Asynchronously deletes one or more keys.",
        "key [key ...]", |_| Ok(GenericCommand::Del)),
];

/// OBJECT's subcommands.
#[rustfmt::skip]
static OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    row!("object|encoding", 3, [READONLY, OWN_ROUND], (2, 2, 1), [KEYSPACE], "generic", "2.2.3",
        "Returns the internal encoding of a Redis object.",
        "key", |_| Ok(GenericCommand::Object(ObjectQuery::Encoding))),
    row!("object|freq", 3, [READONLY], (2, 2, 1), [KEYSPACE], "generic", "4.0.0",
        "Returns the logarithmic access frequency counter of a Redis object.",
        "key", |_| Ok(GenericCommand::Object(ObjectQuery::Freq))),
    row!("object|help", 2, [LOADING, STALE], (0, 0, 0), [KEYSPACE], "generic", "6.2.0",
        "Returns helpful text about the different subcommands.",
        "", |_| Ok(GenericCommand::Object(ObjectQuery::Help))),
    row!("object|idletime", 3, [READONLY], (2, 2, 1), [KEYSPACE], "generic", "2.2.3",
        "Returns the time since the last access to a Redis object.",
        "key", |_| Ok(GenericCommand::Object(ObjectQuery::IdleTime))),
    row!("object|refcount", 3, [READONLY], (2, 2, 1), [KEYSPACE], "generic", "2.2.3",
        "Returns the reference count of a value of a key.",
        "key", |_| Ok(GenericCommand::Object(ObjectQuery::RefCount))),
];

/// `COPY source destination [DB destination-db] [REPLACE]`, options in any order.
fn copy(args: &mut Args) -> Result<GenericCommand, CommandError> {
    let (mut db, mut replace) = (None, false);
    while let Some(opt) = args.next() {
        if is(&opt, "REPLACE") {
            replace = true;
        } else if is(&opt, "DB") && !args.as_slice().is_empty() {
            db = Some(int(&next(args)?)?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(GenericCommand::Copy { db, replace })
}

// Rows the native protocol's ops name directly (see `native.rs`).
#[rustfmt::skip]
pub(super) const DEL: CommandSpec =
    row!("del", -2, [WRITE], (1, -1, 1), [KEYSPACE], "generic", "1.0.0",
        "Deletes one or more keys.",
        "key [key ...]", |_| Ok(GenericCommand::Del));

#[rustfmt::skip]
pub(super) const PEXPIRE: CommandSpec =
    row!("pexpire", -3, [WRITE, FAST], (1, 1, 1), [KEYSPACE], "generic", "2.6.0",
        "Sets the expiration time of a key in milliseconds.",
        "key milliseconds [NX|XX|GT|LT]", |a| expire(a, ExpireAt::Millis));

/// The native protocol's batch ([`GenericCommand::Batch`]): every write of it is one WAL
/// record of its own, outside any round.
#[rustfmt::skip]
pub(super) const BATCH: CommandSpec =
    row!("batch", -1, [WRITE, OWN_ROUND, NATIVE_ONLY], (0, 0, 0), [KEYSPACE], "cairn", "0.1.0",
        "Applies puts and deletes atomically (native protocol).",
        "", |_| Err::<GenericCommand, _>(CommandError::Syntax));

/// The EXPIRE family: `key time [NX|XX|GT|LT ...]`, `make` giving the unit.
///
/// As Redis's `expireGenericCommand`: options first (an unknown one is "Unsupported
/// option"), then the number; seconds must survive the conversion to milliseconds.
fn expire(args: &mut Args, make: fn(i64) -> ExpireAt) -> Result<GenericCommand, CommandError> {
    let raw = next(args)?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in args {
        if is(&opt, "NX") {
            nx = true;
        } else if is(&opt, "XX") {
            xx = true;
        } else if is(&opt, "GT") {
            gt = true;
        } else if is(&opt, "LT") {
            lt = true;
        } else {
            return Err(CommandError::UnsupportedOption(render_full(&opt)));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CommandError::ExpireNxConflict);
    }
    if gt && lt {
        return Err(CommandError::ExpireGtLtConflict);
    }
    let n = int(&raw)?;
    let when = make(n);
    if matches!(when, ExpireAt::Seconds(_) | ExpireAt::UnixSeconds(_))
        && n.checked_mul(1000).is_none()
    {
        return Err(CommandError::InvalidExpireTime {
            command: when.command_name(),
        });
    }
    let condition = match (nx, xx, gt, lt) {
        (true, ..) => Some(ExpireCondition::Nx),
        (_, true, true, _) => Some(ExpireCondition::XxGt),
        (_, true, _, true) => Some(ExpireCondition::XxLt),
        (_, true, ..) => Some(ExpireCondition::Xx),
        (_, _, true, _) => Some(ExpireCondition::Gt),
        (_, _, _, true) => Some(ExpireCondition::Lt),
        _ => None,
    };
    Ok(GenericCommand::Expire { when, condition })
}

/// The time argument of the EXPIRE family, with its unit, as given. Seconds are
/// already known to fit `i64` once multiplied by 1000. Zero or negative times are
/// valid and mean "delete the key now".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireAt {
    /// EXPIRE: seconds from now.
    Seconds(i64),
    /// PEXPIRE: milliseconds from now.
    Millis(i64),
    /// EXPIREAT: Unix time in seconds.
    UnixSeconds(i64),
    /// PEXPIREAT: Unix time in milliseconds.
    UnixMillis(i64),
}

impl ExpireAt {
    /// The absolute deadline in Unix milliseconds (possibly in the past, even
    /// negative: the key is then deleted), or Redis's `invalid expire time in
    /// '<command>'` when adding `now_ms` overflows.
    pub fn deadline_millis(&self, now_ms: i64) -> Result<i64, CommandError> {
        let at = match *self {
            ExpireAt::Seconds(s) => s.checked_mul(1000).and_then(|ms| ms.checked_add(now_ms)),
            ExpireAt::Millis(m) => m.checked_add(now_ms),
            ExpireAt::UnixSeconds(s) => s.checked_mul(1000),
            ExpireAt::UnixMillis(m) => Some(m),
        };
        at.ok_or(CommandError::InvalidExpireTime {
            command: self.command_name(),
        })
    }

    /// The lower-case name of the command that gives a time this way.
    pub fn command_name(&self) -> &'static str {
        match self {
            ExpireAt::Seconds(_) => "expire",
            ExpireAt::Millis(_) => "pexpire",
            ExpireAt::UnixSeconds(_) => "expireat",
            ExpireAt::UnixMillis(_) => "pexpireat",
        }
    }
}

/// EXPIRE's condition on the current TTL. A key without a TTL counts as an infinite
/// TTL for GT and LT. Redis accepts XX together with GT or LT, hence the two pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireCondition {
    /// NX: only if the key has no TTL.
    Nx,
    /// XX: only if the key has a TTL.
    Xx,
    /// GT: only if the new TTL is greater than the current one.
    Gt,
    /// LT: only if the new TTL is less than the current one.
    Lt,
    /// XX and GT together.
    XxGt,
    /// XX and LT together.
    XxLt,
}
