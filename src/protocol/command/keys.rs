//! Parsers for the generic key-space commands, transactions and Cairn's RANGE.
//!
//! Each takes the arguments after the name, arity already checked against the table.

use std::ops::Bound;

use super::args::{int, is, next, parse_u64_cursor, Args};
use super::error::render_full;
use super::{Command, CommandError};

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
    /// negative: the key is then deleted), or Redis's "invalid expire time in
    /// '<command>'" when adding `now_ms` overflows.
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

/// One-key commands: `TYPE`, `TTL`, `PTTL`, `EXPIRETIME`, `PEXPIRETIME`, `PERSIST`.
pub(super) fn one_key(
    mut args: Args,
    make: fn(bytes::Bytes) -> Command,
) -> Result<Command, CommandError> {
    Ok(make(next(&mut args)?))
}

/// Many-key commands: `DEL`, `UNLINK`, `EXISTS`, `WATCH`.
pub(super) fn many_keys(
    args: Args,
    make: fn(Vec<bytes::Bytes>) -> Command,
) -> Result<Command, CommandError> {
    Ok(make(args.collect()))
}

/// `DEL key [key ...]` and `UNLINK`.
pub(super) fn del(args: Args) -> Result<Command, CommandError> {
    many_keys(args, |keys| Command::Del { keys })
}

/// The EXPIRE family: `key time [NX|XX|GT|LT ...]`, `make` giving the unit.
///
/// As Redis's `expireGenericCommand`: options first (an unknown one is "Unsupported
/// option"), then the number; seconds must survive the conversion to milliseconds.
pub(super) fn expire(mut args: Args, make: fn(i64) -> ExpireAt) -> Result<Command, CommandError> {
    let key = next(&mut args)?;
    let raw = next(&mut args)?;
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
    Ok(Command::Expire {
        key,
        when,
        condition,
    })
}

/// `KEYS pattern`.
pub(super) fn keys(mut args: Args) -> Result<Command, CommandError> {
    Ok(Command::Keys {
        pattern: next(&mut args)?,
    })
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`, as Redis's
/// `scanGenericCommand`: the cursor first, then options in any order, repeats allowed.
pub(super) fn scan(mut args: Args) -> Result<Command, CommandError> {
    let cursor = parse_u64_cursor(&next(&mut args)?).ok_or(CommandError::InvalidCursor)?;
    let mut pattern = None;
    let mut count = None;
    let mut kind = None;
    while let Some(opt) = args.next() {
        let more = !args.as_slice().is_empty();
        if is(&opt, "COUNT") && more {
            let n = int(&next(&mut args)?)?;
            if n < 1 {
                return Err(CommandError::Syntax);
            }
            count = Some(usize::try_from(n).unwrap_or(usize::MAX));
        } else if is(&opt, "MATCH") && more {
            let p = next(&mut args)?;
            // Redis skips matching altogether for `*`.
            pattern = if p.as_ref() == b"*" { None } else { Some(p) };
        } else if is(&opt, "TYPE") && more {
            kind = Some(next(&mut args)?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(Command::Scan {
        cursor,
        pattern,
        count,
        kind,
    })
}

/// `RENAME key newkey` / `RENAMENX key newkey`.
pub(super) fn rename(mut args: Args, nx: bool) -> Result<Command, CommandError> {
    let from = next(&mut args)?;
    let to = next(&mut args)?;
    Ok(if nx {
        Command::RenameNx { from, to }
    } else {
        Command::Rename { from, to }
    })
}

/// `FLUSHDB`/`FLUSHALL [ASYNC|SYNC]`.
pub(super) fn flush(mut args: Args, all: bool) -> Result<Command, CommandError> {
    match (args.next(), args.next()) {
        (None, _) => {}
        (Some(mode), None) if is(&mode, "ASYNC") || is(&mode, "SYNC") => {}
        _ => return Err(CommandError::Syntax),
    }
    Ok(if all {
        Command::FlushAll
    } else {
        Command::FlushDb
    })
}

/// Cairn's `RANGE`/`RANGEKEYS start end [LIMIT count] [REV]`: `-` is an unbounded
/// start, `+` an unbounded end; options in any order, the last LIMIT wins.
pub(super) fn range(mut args: Args, keys_only: bool) -> Result<Command, CommandError> {
    let start = next(&mut args)?;
    let end = next(&mut args)?;
    let start = if start.as_ref() == b"-" {
        Bound::Unbounded
    } else {
        Bound::Included(start)
    };
    let end = if end.as_ref() == b"+" {
        Bound::Unbounded
    } else {
        Bound::Excluded(end)
    };
    let mut limit = None;
    let mut reverse = false;
    while let Some(opt) = args.next() {
        if is(&opt, "LIMIT") && !args.as_slice().is_empty() {
            let n = int(&next(&mut args)?)?;
            limit = Some(usize::try_from(n).map_err(|_| CommandError::NotInteger)?);
        } else if is(&opt, "REV") {
            reverse = true;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(Command::Range {
        start,
        end,
        limit,
        reverse,
        keys_only,
    })
}
