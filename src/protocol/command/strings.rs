//! The string commands: GET, SET and its relatives, counters, ranges within a value, the
//! bitmap commands (`bits.rs`), and Redis 8.4's compare-and-set (IFEQ/IFNE/IFDEQ/IFDNE,
//! DELEX, DIGEST); their rows, their typed form and their parsers. `server/commands/strings.rs` runs them.
//!
//! Each parser takes the arguments that are not keys, arity already checked against the
//! row.

use bytes::Bytes;

mod bits;
mod set;

pub use bits::{
    BitFieldAction, BitFieldOp, BitFieldType, BitOperation, BitRange, BitUnit, DeferredRange,
    Overflow,
};
pub use set::{Expiry, GetExExpiry, Set, SetCondition, ValueCondition};

use super::args::{int, is, next, Args};
use super::table::{row, CommandSpec};
use super::{CommandError, MAX_STRING_LEN};
use crate::protocol::long_double::LongDouble;
use set::{getex, getset, set, setex, value_condition, Unit};

/// A string command, its key (or keys) aside.
#[derive(Debug, Clone, PartialEq)]
pub enum StringCommand {
    /// `GET key`.
    Get,
    /// `SET`, and `SETEX k s v` (= `SET k v EX s`), `PSETEX k ms v` (= `SET k v PX ms`),
    /// `GETSET k v` (= `SET k v GET`).
    Set(Set),
    /// `SETNX key value`: replies 1 or 0, unlike `SET NX`.
    SetNx {
        /// The value.
        value: Bytes,
    },
    /// `GETDEL key`.
    GetDel,
    /// `GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]`. A bad number parses as
    /// [`GetExExpiry::Invalid`]: Redis reports it only if the key exists.
    GetEx {
        /// What to do to the TTL; `None` leaves it alone.
        expiry: Option<GetExExpiry>,
    },
    /// `MGET key [key ...]`.
    MGet,
    /// `MSET key value [key value ...]`: the values, one per key (a later duplicate key
    /// wins).
    MSet {
        /// The values, in the keys' order.
        values: Vec<Bytes>,
    },
    /// `MSETNX key value [key value ...]`.
    MSetNx {
        /// The values, in the keys' order.
        values: Vec<Bytes>,
    },
    /// `APPEND key value`.
    Append {
        /// Bytes to append.
        value: Bytes,
    },
    /// `STRLEN key`.
    StrLen,
    /// `GETRANGE key start end` and its old alias `SUBSTR`. Indexes as Redis: negative
    /// counts from the end, both inclusive.
    GetRange {
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
        /// Bytes to write at `offset`.
        value: Bytes,
    },
    /// `INCR` (delta 1), `DECR` (-1), `INCRBY key n`, `DECRBY key n` (delta -n).
    IncrBy {
        /// Amount to add; the server checks the sum for overflow
        /// ([`CommandError::IncrementOverflow`]).
        delta: i64,
    },
    /// `INCRBYFLOAT key increment`, computed in C long double as Redis does
    /// ([`long_double`](crate::protocol::long_double)).
    IncrByFloat {
        /// Amount to add: a long double by Redis's rules, perhaps infinite (the sum is then
        /// refused, after the stored value is checked, as Redis does).
        delta: LongDouble,
    },
    /// `DELEX key [IFEQ v | IFNE v | IFDEQ d | IFDNE d]` (Redis 8.4).
    DelEx {
        /// Delete only if this holds; `None` deletes unconditionally.
        condition: Option<ValueCondition>,
    },
    /// `DIGEST key` (Redis 8.4): XXH3-64 of the value, see [`digest`](super::digest).
    Digest,
    /// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`: the longest common
    /// subsequence of two strings, its length, or the matching ranges.
    Lcs {
        /// LEN: reply with the length only.
        len: bool,
        /// IDX: reply with the matching ranges and the length.
        idx: bool,
        /// MINMATCHLEN: leave out ranges shorter than this (a negative one is 0).
        min_match_len: u64,
        /// WITHMATCHLEN: give each range's length.
        with_match_len: bool,
    },
    /// `SETBIT key offset value`: replies with the bit's old value.
    SetBit {
        /// The bit's index, below 2^32 (bit 0 the most significant of the first byte).
        offset: u64,
        /// Set (1) or clear (0).
        value: bool,
    },
    /// `GETBIT key offset`.
    GetBit {
        /// The bit's index, below 2^32.
        offset: u64,
    },
    /// `BITCOUNT key [start end [BYTE|BIT]]`.
    BitCount {
        /// The range; a bad one is reported only if the key exists, as Redis 7.0 does.
        range: DeferredRange,
    },
    /// `BITPOS key bit [start [end [BYTE|BIT]]]`.
    BitPos {
        /// Look for a set bit (1) or a clear one (0).
        bit: bool,
        /// The range; a bad one is reported only if the key exists, as Redis 7.0 does.
        range: DeferredRange,
    },
    /// `BITOP AND|OR|XOR|NOT destkey key [key ...]`: the keys are the destination, then
    /// the sources (one for NOT, checked at parse).
    BitOp {
        /// The operation.
        op: BitOperation,
    },
    /// `BITFIELD key [GET|SET|INCRBY|OVERFLOW ...]` and `BITFIELD_RO key [GET ...]`
    /// (which parses only if every operation is a GET).
    BitField {
        /// The operations, in order.
        ops: Vec<BitFieldOp>,
    },
    /// Read a key with its version (the sequence number of its last write), for
    /// compare-by-version with [`SetCondition::IfVersion`]. Native protocol only.
    GetVersioned,
}

/// The string commands' rows.
#[rustfmt::skip]
pub(super) const ROWS: &[CommandSpec] = &[
    row!("append", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), [STRING], "string", "2.0.0",
        "Appends a string to the value of a key. Creates the key if it doesn't exist.",
        "key value", append),
    row!("bitcount", -2, [READONLY], (1, 1, 1), [BITMAP], "bitmap", "2.6.0",
        "Counts the number of set bits (population counting) in a string.",
        "key [start end [BYTE|BIT]]", |a| Ok(bits::bitcount(a))),
    row!("bitfield", -2, [WRITE, DENYOOM], (1, 1, 1), [BITMAP], "bitmap", "3.2.0",
        "Performs arbitrary bitfield integer operations on strings.",
        "key [GET encoding offset|[OVERFLOW WRAP|SAT|FAIL] <SET encoding offset value:integer|INCRBY encoding offset increment> ...]",
        bits::bitfield),
    row!("bitfield_ro", -2, [READONLY, FAST], (1, 1, 1), [BITMAP], "bitmap", "6.0.0",
        "Performs arbitrary read-only bitfield integer operations on strings.",
        "key [GET encoding offset ...]", bits::bitfield_ro),
    row!("bitop", -4, [WRITE, DENYOOM], (2, -1, 1), [BITMAP], "bitmap", "2.6.0",
        "Performs bitwise operations on multiple strings, and stores the result.",
        "<AND|OR|XOR|NOT> destkey key [key ...]", bits::bitop),
    row!("bitpos", -3, [READONLY], (1, 1, 1), [BITMAP], "bitmap", "2.8.7",
        "Finds the first set (1) or clear (0) bit in a string.",
        "key bit:integer [start [end [BYTE|BIT]]]", bits::bitpos),
    row!("decr", 2, [WRITE, DENYOOM, FAST], (1, 1, 1), [STRING], "string", "1.0.0",
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        "key", |_| Ok(StringCommand::IncrBy { delta: -1 })),
    row!("decrby", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), [STRING], "string", "1.0.0",
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
        "key decrement", |a| incrby(a, -1)),
    row!("delex", -2, [WRITE, FAST], (1, 1, 1), [STRING], "string", "8.4.0",
        "Conditionally removes the specified key based on value or digest comparison.",
        "key [IFEQ match-value|IFNE match-value|IFDEQ match-digest|IFDNE match-digest]", delex),
    row!("digest", 2, [READONLY, FAST], (1, 1, 1), [STRING], "string", "8.4.0",
        "Returns the XXH3 hash of a string value.",
        "key", |_| Ok(StringCommand::Digest)),
    GET,
    row!("getbit", 3, [READONLY, FAST], (1, 1, 1), [BITMAP], "bitmap", "2.2.0",
        "Returns a bit value by offset.",
        "key offset", bits::getbit),
    row!("getdel", 2, [WRITE, FAST], (1, 1, 1), [STRING], "string", "6.2.0",
        "Returns the string value of a key after deleting the key.",
        "key", |_| Ok(StringCommand::GetDel)),
    row!("getex", -2, [WRITE, FAST], (1, 1, 1), [STRING], "string", "6.2.0",
        "Returns the string value of a key after setting its expiration time.",
        "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]",
        getex),
    row!("getrange", 4, [READONLY], (1, 1, 1), [STRING], "string", "2.4.0",
        "Returns a substring of the string stored at a key.",
        "key start end", getrange),
    row!("getset", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), [STRING], "string", "1.0.0",
        "Returns the previous string value of a key after setting it to a new value.",
        "key value", getset),
    row!("incr", 2, [WRITE, DENYOOM, FAST], (1, 1, 1), [STRING], "string", "1.0.0",
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        "key", |_| Ok(StringCommand::IncrBy { delta: 1 })),
    INCRBY,
    row!("incrbyfloat", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), [STRING], "string", "2.6.0",
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        "key increment:double", incrbyfloat),
    row!("lcs", -3, [READONLY], (1, 2, 1), [STRING], "string", "7.0.0",
        "Finds the longest common substring.",
        "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len:integer] [WITHMATCHLEN]", lcs),
    row!("mget", -2, [READONLY, FAST], (1, -1, 1), [STRING], "string", "1.0.0",
        "Atomically returns the string values of one or more keys.",
        "key [key ...]", |_| Ok(StringCommand::MGet)),
    row!("mset", -3, [WRITE, DENYOOM], (1, -1, 2), [STRING], "string", "1.0.1",
        "Atomically creates or modifies the string values of one or more keys.",
        "key value [key value ...]", |a| mset(a, "mset").map(|values| StringCommand::MSet { values })),
    row!("msetnx", -3, [WRITE, DENYOOM], (1, -1, 2), [STRING], "string", "1.0.1",
        "Atomically modifies the string values of one or more keys only when all keys don't exist.",
        "key value [key value ...]", |a| mset(a, "msetnx").map(|values| StringCommand::MSetNx { values })),
    row!("psetex", 4, [WRITE, DENYOOM], (1, 1, 1), [STRING], "string", "2.6.0",
        "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
        "key milliseconds value", |a| setex(a, Unit::Px, "psetex")),
    SET,
    row!("setbit", 4, [WRITE, DENYOOM], (1, 1, 1), [BITMAP], "bitmap", "2.2.0",
        "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
        "key offset value:integer", bits::setbit),
    row!("setex", 4, [WRITE, DENYOOM], (1, 1, 1), [STRING], "string", "2.0.0",
        "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
        "key seconds value", |a| setex(a, Unit::Ex, "setex")),
    row!("setnx", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), [STRING], "string", "1.0.0",
        "Set the string value of a key only when the key doesn't exist.",
        "key value", |a| Ok(StringCommand::SetNx { value: next(a)? })),
    row!("setrange", 4, [WRITE, DENYOOM], (1, 1, 1), [STRING], "string", "2.2.0",
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
        "key offset value", setrange),
    row!("strlen", 2, [READONLY, FAST], (1, 1, 1), [STRING], "string", "2.2.0",
        "Returns the length of a string value.",
        "key", |_| Ok(StringCommand::StrLen)),
    row!("substr", 4, [READONLY], (1, 1, 1), [STRING], "string", "1.0.0",
        "Returns a substring from a string value.",
        "key start end", getrange),
];

// Rows the native protocol's ops name directly (see `native.rs`).
#[rustfmt::skip]
pub(super) const GET: CommandSpec =
    row!("get", 2, [READONLY, FAST], (1, 1, 1), [STRING], "string", "1.0.0",
        "Returns the string value of a key.",
        "key", |_| Ok(StringCommand::Get));

#[rustfmt::skip]
pub(super) const SET: CommandSpec =
    row!("set", -3, [WRITE, DENYOOM], (1, 1, 1), [STRING], "string", "1.0.0",
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        "key value [NX|XX|IFEQ match-value|IFNE match-value|IFDEQ match-digest|IFDNE match-digest] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]",
        set);

#[rustfmt::skip]
pub(super) const INCRBY: CommandSpec =
    row!("incrby", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), [STRING], "string", "1.0.0",
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        "key increment", |a| incrby(a, 1));

/// The native protocol's versioned read ([`StringCommand::GetVersioned`]): it compares
/// versions, which staged writes do not have yet, so it runs outside a round.
#[rustfmt::skip]
pub(super) const GET_VERSIONED: CommandSpec =
    row!("getversioned", 2, [READONLY, FAST, OWN_ROUND, NATIVE_ONLY], (1, 1, 1), [STRING], "cairn", "0.1.0",
        "Returns the value of a key with its version (native protocol).",
        "key", |_| Ok(StringCommand::GetVersioned));

/// The native protocol's SET with [`SetCondition::IfVersion`]: SET's row, but outside a
/// round, for the reason [`GET_VERSIONED`] gives.
#[rustfmt::skip]
pub(super) const SET_IF_VERSION: CommandSpec =
    row!("setifversion", 3, [WRITE, DENYOOM, OWN_ROUND, NATIVE_ONLY], (1, 1, 1), [STRING], "cairn", "0.1.0",
        "Sets a key only if its version is the one given (native protocol).",
        "key value", set);

/// The values of `MSET`/`MSETNX key value [key value ...]`: an odd count is an arity
/// error, as Redis.
fn mset(args: &mut Args, command: &'static str) -> Result<Vec<Bytes>, CommandError> {
    if args.argc().is_multiple_of(2) {
        return Err(CommandError::WrongArgumentCount { command });
    }
    Ok(args.collect())
}

/// `APPEND key value`.
fn append(args: &mut Args) -> Result<StringCommand, CommandError> {
    Ok(StringCommand::Append { value: next(args)? })
}

/// `GETRANGE key start end` / `SUBSTR key start end`.
fn getrange(args: &mut Args) -> Result<StringCommand, CommandError> {
    let start = int(&next(args)?)?;
    let end = int(&next(args)?)?;
    Ok(StringCommand::GetRange { start, end })
}

/// `SETRANGE key offset value`.
fn setrange(args: &mut Args) -> Result<StringCommand, CommandError> {
    let offset = int(&next(args)?)?;
    let value = next(args)?;
    let offset = usize::try_from(offset).map_err(|_| CommandError::OffsetOutOfRange)?;
    // An empty value never grows the string, so Redis skips the size check for it.
    if !value.is_empty() && offset.saturating_add(value.len()) > MAX_STRING_LEN {
        return Err(CommandError::StringTooLong);
    }
    Ok(StringCommand::SetRange { offset, value })
}

/// `INCRBY key n` and `DECRBY key n` (`sign` -1).
fn incrby(args: &mut Args, sign: i64) -> Result<StringCommand, CommandError> {
    let n = int(&next(args)?)?;
    let delta = if sign < 0 {
        n.checked_neg().ok_or(CommandError::DecrementOverflow)?
    } else {
        n
    };
    Ok(StringCommand::IncrBy { delta })
}

/// `INCRBYFLOAT key increment`.
fn incrbyfloat(args: &mut Args) -> Result<StringCommand, CommandError> {
    let delta = LongDouble::parse(next(args)?).ok_or(CommandError::NotFloat)?;
    Ok(StringCommand::IncrByFloat { delta })
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`, as Redis's
/// `lcsCommand`: options in any order, repeats allowed, LEN and IDX not together.
fn lcs(args: &mut Args) -> Result<StringCommand, CommandError> {
    let (mut len, mut idx, mut min_match_len, mut with_match_len) = (false, false, 0, false);
    while let Some(opt) = args.next() {
        if is(&opt, "LEN") {
            len = true;
        } else if is(&opt, "IDX") {
            idx = true;
        } else if is(&opt, "WITHMATCHLEN") {
            with_match_len = true;
        } else if is(&opt, "MINMATCHLEN") && args.len() > 0 {
            min_match_len = int(&next(args)?)?.max(0).unsigned_abs();
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if len && idx {
        return Err(CommandError::Invalid(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    Ok(StringCommand::Lcs {
        len,
        idx,
        min_match_len,
        with_match_len,
    })
}

/// `DELEX key [IFEQ v|IFNE v|IFDEQ d|IFDNE d]`.
fn delex(args: &mut Args) -> Result<StringCommand, CommandError> {
    let condition = match (args.next(), args.next(), args.next()) {
        (None, _, _) => None,
        (Some(opt), Some(arg), None) => {
            Some(value_condition(&opt, arg)?.ok_or(CommandError::Syntax)?)
        }
        _ => return Err(CommandError::Syntax),
    };
    Ok(StringCommand::DelEx { condition })
}
