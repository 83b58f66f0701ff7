//! The hash commands: HSET and its relatives, reads of one field, of several and of all,
//! counters inside a field, random fields and HSCAN; their rows, their typed form and
//! their parsers. `server/commands/hashes.rs` runs them.
//!
//! Each parser takes the arguments that are not keys, arity already checked against the
//! row.

use bytes::Bytes;

use super::args::{int, is, next, Args};
use super::scan::{scan_options, Scan};
use super::table::{row, CommandSpec};
use super::CommandError;
use crate::protocol::long_double::LongDouble;

/// A hash command, its key aside.
#[derive(Debug, Clone, PartialEq)]
pub enum HashCommand {
    /// `HSET key field value [field value ...]` (replies the fields added) and `HMSET`
    /// (replies OK).
    Set {
        /// The fields and their values, in argument order (a later duplicate wins).
        pairs: Vec<(Bytes, Bytes)>,
        /// HMSET: reply OK instead of a count.
        ok: bool,
    },
    /// `HSETNX key field value`.
    SetNx {
        /// The field.
        field: Bytes,
        /// Its value, if it is new.
        value: Bytes,
    },
    /// `HGET key field`.
    Get {
        /// The field.
        field: Bytes,
    },
    /// `HMGET key field [field ...]`.
    MGet {
        /// The fields, in the reply's order.
        fields: Vec<Bytes>,
    },
    /// `HGETALL key`.
    GetAll,
    /// `HDEL key field [field ...]`.
    Del {
        /// The fields to remove.
        fields: Vec<Bytes>,
    },
    /// `HEXISTS key field`.
    Exists {
        /// The field.
        field: Bytes,
    },
    /// `HINCRBY key field increment`.
    IncrBy {
        /// The field.
        field: Bytes,
        /// Amount to add; the server checks the sum for overflow.
        delta: i64,
    },
    /// `HINCRBYFLOAT key field increment`, in C long double as Redis computes it.
    IncrByFloat {
        /// The field.
        field: Bytes,
        /// Amount to add (finite: parse refuses infinities, as Redis does).
        delta: LongDouble,
    },
    /// `HKEYS key`.
    Keys,
    /// `HVALS key`.
    Vals,
    /// `HLEN key`.
    Len,
    /// `HSTRLEN key field`.
    StrLen {
        /// The field.
        field: Bytes,
    },
    /// `HRANDFIELD key [count [WITHVALUES]]`.
    RandField {
        /// `None`: one field, or nil. Negative: that many picks, repeats allowed.
        count: Option<i64>,
        /// Reply each field with its value.
        with_values: bool,
    },
    /// `HSCAN key cursor [MATCH pattern] [COUNT count]`: a bad option is reported only
    /// after the key is found and of the right type, as Redis does.
    Scan(Result<Box<Scan>, CommandError>),
}

/// The hash commands' rows.
#[rustfmt::skip]
pub(super) const ROWS: &[CommandSpec] = &[
    row!("hdel", -3, [WRITE, FAST], (1, 1, 1), [HASH], "hash", "2.0.0",
        "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
        "key field [field ...]", |a: &mut Args| Ok(HashCommand::Del { fields: a.collect() })),
    row!("hexists", 3, [READONLY, FAST], (1, 1, 1), [HASH], "hash", "2.0.0",
        "Determines whether a field exists in a hash.",
        "key field", |a| Ok(HashCommand::Exists { field: next(a)? })),
    row!("hget", 3, [READONLY, FAST], (1, 1, 1), [HASH], "hash", "2.0.0",
        "Returns the value of a field in a hash.",
        "key field", |a| Ok(HashCommand::Get { field: next(a)? })),
    row!("hgetall", 2, [READONLY], (1, 1, 1), [HASH], "hash", "2.0.0",
        "Returns all fields and values in a hash.",
        "key", |_| Ok(HashCommand::GetAll)),
    row!("hincrby", 4, [WRITE, DENYOOM, FAST], (1, 1, 1), [HASH], "hash", "2.0.0",
        "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
        "key field increment", hincrby),
    row!("hincrbyfloat", 4, [WRITE, DENYOOM, FAST], (1, 1, 1), [HASH], "hash", "2.6.0",
        "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
        "key field increment:double", hincrbyfloat),
    row!("hkeys", 2, [READONLY], (1, 1, 1), [HASH], "hash", "2.0.0",
        "Returns all fields in a hash.",
        "key", |_| Ok(HashCommand::Keys)),
    row!("hlen", 2, [READONLY, FAST], (1, 1, 1), [HASH], "hash", "2.0.0",
        "Returns the number of fields in a hash.",
        "key", |_| Ok(HashCommand::Len)),
    row!("hmget", -3, [READONLY, FAST], (1, 1, 1), [HASH], "hash", "2.0.0",
        "Returns the values of all fields in a hash.",
        "key field [field ...]", |a: &mut Args| Ok(HashCommand::MGet { fields: a.collect() })),
    row!("hmset", -4, [WRITE, DENYOOM, FAST], (1, 1, 1), [HASH], "hash", "2.0.0",
        "Sets the values of multiple fields.",
        "key field value [field value ...]", |a| hset(a, "hmset", true)),
    row!("hrandfield", -2, [READONLY], (1, 1, 1), [HASH], "hash", "6.2.0",
        "Returns one or more random fields from a hash.",
        "key [count:integer [WITHVALUES]]", hrandfield),
    row!("hscan", -3, [READONLY], (1, 1, 1), [HASH], "hash", "2.8.0",
        "Iterates over fields and values of a hash.",
        "key cursor [MATCH pattern] [COUNT count:integer]",
        |a| scan_later(a).map(HashCommand::Scan)),
    row!("hset", -4, [WRITE, DENYOOM, FAST], (1, 1, 1), [HASH], "hash", "2.0.0",
        "Creates or modifies the value of a field in a hash.",
        "key field value [field value ...]", |a| hset(a, "hset", false)),
    row!("hsetnx", 4, [WRITE, DENYOOM, FAST], (1, 1, 1), [HASH], "hash", "2.0.0",
        "Sets the value of a field in a hash only when the field doesn't exist.",
        "key field value", |a: &mut Args| Ok(HashCommand::SetNx { field: next(a)?, value: next(a)? })),
    row!("hstrlen", 3, [READONLY, FAST], (1, 1, 1), [HASH], "hash", "3.2.0",
        "Returns the length of the value of a field.",
        "key field", |a| Ok(HashCommand::StrLen { field: next(a)? })),
    row!("hvals", 2, [READONLY], (1, 1, 1), [HASH], "hash", "2.0.0",
        "Returns all values in a hash.",
        "key", |_| Ok(HashCommand::Vals)),
];

/// The arguments of HSCAN and SSCAN after the key: a bad cursor is refused now, a bad
/// option is kept for the server to report once it has looked the key up (Redis's
/// order: `parseScanCursorOrReply`, the lookup, then `scanGenericCommand`'s options).
pub(super) fn scan_later(args: &mut Args) -> Result<Result<Box<Scan>, CommandError>, CommandError> {
    match scan_options(args, false) {
        Ok(scan) => Ok(Ok(Box::new(scan))),
        Err(CommandError::InvalidCursor) => Err(CommandError::InvalidCursor),
        Err(error) => Ok(Err(error)),
    }
}

/// `HSET`/`HMSET key field value [field value ...]`: an odd count of the rest is an
/// arity error, as Redis.
fn hset(args: &mut Args, command: &'static str, ok: bool) -> Result<HashCommand, CommandError> {
    if !args.len().is_multiple_of(2) {
        return Err(CommandError::WrongArgumentCount { command });
    }
    let mut pairs = Vec::with_capacity(args.len() / 2);
    while let (Some(field), Some(value)) = (args.next(), args.next()) {
        pairs.push((field, value));
    }
    Ok(HashCommand::Set { pairs, ok })
}

/// `HINCRBY key field increment`.
fn hincrby(args: &mut Args) -> Result<HashCommand, CommandError> {
    let field = next(args)?;
    let delta = int(&next(args)?)?;
    Ok(HashCommand::IncrBy { field, delta })
}

/// `HINCRBYFLOAT key field increment`: Redis refuses an infinite increment before it
/// looks at the hash.
fn hincrbyfloat(args: &mut Args) -> Result<HashCommand, CommandError> {
    let field = next(args)?;
    let delta = LongDouble::parse(next(args)?).ok_or(CommandError::NotFloat)?;
    if is_infinite(delta.as_bytes()) {
        return Err(CommandError::Invalid("ERR value is NaN or Infinity"));
    }
    Ok(HashCommand::IncrByFloat { field, delta })
}

/// Whether a long double's text is an infinity (`strtold` takes `inf` and `infinity` in
/// any case, signed; an overflowing number is no long double by `string2ld`).
fn is_infinite(text: &[u8]) -> bool {
    let unsigned = match text.split_first() {
        Some((b'+' | b'-', rest)) => rest,
        _ => text,
    };
    is(unsigned, "INF") || is(unsigned, "INFINITY")
}

/// Largest count of picks with repeats Cairn builds a reply for: Redis would try any
/// count up to `LONG_MAX` (and run out of memory); Cairn refuses more than this with
/// Redis's range error rather than allocate what the count claims.
pub const MAX_PICKS: u64 = 1 << 24;

/// `HRANDFIELD key [count [WITHVALUES]]`, as Redis's `hrandfieldCommand`: the count in
/// `-LONG_MAX..=LONG_MAX`, and with WITHVALUES not below `-LONG_MAX / 2`.
fn hrandfield(args: &mut Args) -> Result<HashCommand, CommandError> {
    let Some(count) = args.next() else {
        return Ok(HashCommand::RandField {
            count: None,
            with_values: false,
        });
    };
    let count = random_count(&count)?;
    let with_values = match (args.next(), args.next()) {
        (None, _) => false,
        (Some(word), None) if is(&word, "WITHVALUES") => true,
        _ => return Err(CommandError::Syntax),
    };
    if with_values && count < -(i64::MAX / 2) {
        return Err(CommandError::Invalid("ERR value is out of range"));
    }
    Ok(HashCommand::RandField {
        count: Some(count),
        with_values,
    })
}

/// The count of HRANDFIELD or SRANDMEMBER: an integer in `-LONG_MAX..=LONG_MAX`, and
/// (Cairn's bound, see [`MAX_PICKS`]) a negative one no larger than `MAX_PICKS`.
pub(super) fn random_count(arg: &[u8]) -> Result<i64, CommandError> {
    let count = int(arg)?;
    if count == i64::MIN {
        return Err(CommandError::OutOfRange {
            min: -i64::MAX,
            max: i64::MAX,
        });
    }
    if count < 0 && count.unsigned_abs() > MAX_PICKS {
        return Err(CommandError::Invalid("ERR value is out of range"));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinities_are_recognised_in_every_spelling() {
        for text in ["inf", "-INF", "+Infinity", "infinity"] {
            assert!(is_infinite(text.as_bytes()), "{text}");
        }
        for text in ["1e308", "in", "nan", "-1"] {
            assert!(!is_infinite(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn random_counts_are_bounded() {
        assert_eq!(random_count(b"-5"), Ok(-5));
        assert_eq!(random_count(b"9223372036854775807"), Ok(i64::MAX));
        assert!(random_count(b"-9223372036854775808").is_err());
        assert!(random_count(b"-99999999999").is_err());
        assert!(random_count(b"x").is_err());
    }
}
