//! The list commands: pushes and pops at both ends (LPUSH, RPOP with a count, LMPOP),
//! reads by index and range, LSET/LINSERT/LREM/LTRIM, LPOS, the moves between lists
//! (LMOVE, RPOPLPUSH), and the blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP);
//! their rows, their typed form and their parsers. `server/commands/lists/` runs them, and
//! `server/blocking.rs` makes a blocking pop wait.
//!
//! Each parser takes the arguments that are not keys, arity already checked against the
//! row. LMPOP and BLMPOP name their keys after a count (`movablekeys`): their rows have no
//! key positions and their parsers hand the keys back through [`ListCommand::take_keys`].

use bytes::Bytes;

use super::args::{int, is, next, parse_i64, Args};
use super::table::{row, CommandSpec};
use super::{CommandError, Keys};
use crate::protocol::long_double::LongDouble;

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head (LEFT, index 0).
    Left,
    /// The tail (RIGHT, index -1).
    Right,
}

/// A list command, its key (or keys) aside.
#[derive(Debug, Clone, PartialEq)]
pub enum ListCommand {
    /// `LPUSH`/`RPUSH key element [element ...]`, and the X forms that push only onto an
    /// existing list.
    Push {
        /// Where the elements go, one after another.
        end: End,
        /// The elements, in argument order.
        elements: Vec<Bytes>,
        /// LPUSHX/RPUSHX: only if the list exists.
        existing: bool,
    },
    /// `LPOP`/`RPOP key [count]`.
    Pop {
        /// Which end.
        end: End,
        /// The count, when given (the reply is then an array).
        count: Option<u64>,
    },
    /// `LRANGE key start stop`.
    Range {
        /// First index (negative from the end).
        start: i64,
        /// Last index, inclusive.
        stop: i64,
    },
    /// `LINDEX key index`.
    Index {
        /// The index (negative from the end); `None` when it is not an integer, which
        /// Redis reports only after the key's type (a missing key answers nil).
        index: Option<i64>,
    },
    /// `LSET key index element`.
    Set {
        /// The index (negative from the end); `None` when not an integer, reported after
        /// the key's existence and type, as Redis does.
        index: Option<i64>,
        /// The new element.
        element: Bytes,
    },
    /// `LINSERT key BEFORE|AFTER pivot element`.
    Insert {
        /// BEFORE (true) or AFTER.
        before: bool,
        /// The element to insert next to.
        pivot: Bytes,
        /// The element inserted.
        element: Bytes,
    },
    /// `LLEN key`.
    Len,
    /// `LREM key count element`.
    Rem {
        /// How many (0 all; negative from the tail).
        count: i64,
        /// The element removed.
        element: Bytes,
    },
    /// `LTRIM key start stop`.
    Trim {
        /// First index kept.
        start: i64,
        /// Last index kept, inclusive.
        stop: i64,
    },
    /// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`.
    Pos {
        /// The element looked for.
        element: Bytes,
        /// Which match is the first reported (negative: from the tail); never 0.
        rank: i64,
        /// COUNT: how many matches (0 all); `None` replies one index, not an array.
        count: Option<u64>,
        /// MAXLEN: compare at most this many elements (0 all).
        maxlen: u64,
    },
    /// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`, `RPOPLPUSH source destination`,
    /// and their blocking forms.
    Move {
        /// The end popped from the source.
        from: End,
        /// The end pushed onto the destination.
        to: End,
        /// BLMOVE/BRPOPLPUSH: how long to wait.
        timeout: Option<Timeout>,
    },
    /// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]` and `BLMPOP timeout ...`.
    MPop {
        /// The keys (the row has no key positions: they follow numkeys).
        keys: Keys,
        /// Which end.
        end: End,
        /// How many from the first non-empty list (default 1).
        count: u64,
        /// BLMPOP: how long to wait.
        timeout: Option<Timeout>,
    },
    /// `BLPOP`/`BRPOP key [key ...] timeout`.
    BPop {
        /// Which end.
        end: End,
        /// How long to wait.
        timeout: Timeout,
    },
}

/// How long a blocking pop waits, as Redis's `getTimeoutFromObjectOrReply` reads it:
/// seconds as a float, rounded up to milliseconds; 0 waits for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout {
    /// Milliseconds; 0 = for ever. The server checks it against the clock ("timeout is
    /// out of range").
    pub millis: u64,
}

impl ListCommand {
    /// LMPOP's and BLMPOP's keys, which the row's key positions cannot name: moved out for
    /// the command's key list (what is locked, routed and watched). Empty for the rest.
    pub fn take_keys(&mut self) -> Keys {
        match self {
            ListCommand::MPop { keys, .. } => std::mem::take(keys),
            _ => Keys::new(),
        }
    }
}

/// The list commands' rows.
#[rustfmt::skip]
pub(super) const ROWS: &[CommandSpec] = &[
    row!("blmove", 6, [WRITE, DENYOOM, NOSCRIPT, BLOCKING, OWN_ROUND], (1, 2, 1), [LIST], "list", "6.2.0",
        "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
        "source destination LEFT|RIGHT LEFT|RIGHT timeout:double", |a| lmove(a, true)),
    row!("blmpop", -5, [WRITE, BLOCKING, MOVABLEKEYS, OWN_ROUND], (0, 0, 0), [LIST], "list", "7.0.0",
        "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        "timeout:double numkeys:integer key [key ...] LEFT|RIGHT [COUNT count:integer]", |a| lmpop(a, true)),
    row!("blpop", -3, [WRITE, NOSCRIPT, BLOCKING, OWN_ROUND], (1, -2, 1), [LIST], "list", "2.0.0",
        "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        "key [key ...] timeout:double", |a| bpop(a, End::Left)),
    row!("brpop", -3, [WRITE, NOSCRIPT, BLOCKING, OWN_ROUND], (1, -2, 1), [LIST], "list", "2.0.0",
        "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        "key [key ...] timeout:double", |a| bpop(a, End::Right)),
    row!("brpoplpush", 4, [WRITE, DENYOOM, NOSCRIPT, BLOCKING, OWN_ROUND], (1, 2, 1), [LIST], "list", "2.2.0",
        "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
        "source destination timeout:double", |a| Ok(ListCommand::Move { from: End::Right, to: End::Left, timeout: Some(timeout(&next(a)?)?) })),
    row!("lindex", 3, [READONLY], (1, 1, 1), [LIST], "list", "1.0.0",
        "Returns an element from a list by its index.",
        "key index:integer", |a| Ok(ListCommand::Index { index: parse_i64(&next(a)?) })),
    row!("linsert", 5, [WRITE, DENYOOM], (1, 1, 1), [LIST], "list", "2.2.0",
        "Inserts an element before or after another element in a list.",
        "key BEFORE|AFTER pivot element", linsert),
    row!("llen", 2, [READONLY, FAST], (1, 1, 1), [LIST], "list", "1.0.0",
        "Returns the length of a list.",
        "key", |_| Ok(ListCommand::Len)),
    row!("lmove", 5, [WRITE, DENYOOM], (1, 2, 1), [LIST], "list", "6.2.0",
        "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
        "source destination LEFT|RIGHT LEFT|RIGHT", |a| lmove(a, false)),
    row!("lmpop", -4, [WRITE, MOVABLEKEYS], (0, 0, 0), [LIST], "list", "7.0.0",
        "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
        "numkeys:integer key [key ...] LEFT|RIGHT [COUNT count:integer]", |a| lmpop(a, false)),
    row!("lpop", -2, [WRITE, FAST], (1, 1, 1), [LIST], "list", "1.0.0",
        "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
        "key [count:integer]", |a| pop(a, End::Left)),
    row!("lpos", -3, [READONLY], (1, 1, 1), [LIST], "list", "6.0.6",
        "Returns the index of matching elements in a list.",
        "key element [RANK rank:integer] [COUNT num-matches:integer] [MAXLEN len:integer]", lpos),
    row!("lpush", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), [LIST], "list", "1.0.0",
        "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
        "key element [element ...]", |a| Ok::<_, CommandError>(push(a, End::Left, false))),
    row!("lpushx", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), [LIST], "list", "2.2.0",
        "Prepends one or more elements to a list only when the list exists.",
        "key element [element ...]", |a| Ok::<_, CommandError>(push(a, End::Left, true))),
    row!("lrange", 4, [READONLY], (1, 1, 1), [LIST], "list", "1.0.0",
        "Returns a range of elements from a list.",
        "key start:integer stop:integer", |a: &mut Args| two_ints(a).map(|(start, stop)| ListCommand::Range { start, stop })),
    row!("lrem", 4, [WRITE], (1, 1, 1), [LIST], "list", "1.0.0",
        "Removes elements from a list. Deletes the list if the last element was removed.",
        "key count:integer element", |a: &mut Args| int_and_element(a).map(|(count, element)| ListCommand::Rem { count, element })),
    row!("lset", 4, [WRITE, DENYOOM], (1, 1, 1), [LIST], "list", "1.0.0",
        "Sets the value of an element in a list by its index.",
        "key index:integer element", |a: &mut Args| {
            let index = parse_i64(&next(a)?);
            Ok(ListCommand::Set { index, element: next(a)? })
        }),
    row!("ltrim", 4, [WRITE], (1, 1, 1), [LIST], "list", "1.0.0",
        "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
        "key start:integer stop:integer", |a: &mut Args| two_ints(a).map(|(start, stop)| ListCommand::Trim { start, stop })),
    row!("rpop", -2, [WRITE, FAST], (1, 1, 1), [LIST], "list", "1.0.0",
        "Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
        "key [count:integer]", |a| pop(a, End::Right)),
    row!("rpoplpush", 3, [WRITE, DENYOOM], (1, 2, 1), [LIST], "list", "1.2.0",
        "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
        "source destination", |_| Ok(ListCommand::Move { from: End::Right, to: End::Left, timeout: None })),
    row!("rpush", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), [LIST], "list", "1.0.0",
        "Appends one or more elements to a list. Creates the key if it doesn't exist.",
        "key element [element ...]", |a| Ok::<_, CommandError>(push(a, End::Right, false))),
    row!("rpushx", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), [LIST], "list", "2.2.0",
        "Appends an element to a list only when the list exists.",
        "key element [element ...]", |a| Ok::<_, CommandError>(push(a, End::Right, true))),
];

/// `start stop` (LRANGE, LTRIM).
fn two_ints(args: &mut Args) -> Result<(i64, i64), CommandError> {
    let start = int(&next(args)?)?;
    Ok((start, int(&next(args)?)?))
}

/// `index element` (LSET), `count element` (LREM).
fn int_and_element(args: &mut Args) -> Result<(i64, Bytes), CommandError> {
    let n = int(&next(args)?)?;
    Ok((n, next(args)?))
}

/// LEFT or RIGHT, else a syntax error.
fn end(arg: &[u8]) -> Result<End, CommandError> {
    if is(arg, "LEFT") {
        Ok(End::Left)
    } else if is(arg, "RIGHT") {
        Ok(End::Right)
    } else {
        Err(CommandError::Syntax)
    }
}

/// A blocking command's timeout, with Redis 7.0's errors: a long double of seconds
/// (not NaN), times 1000 rounded up; a product past `i64` is what C's cast makes of it,
/// a negative number, hence "negative" for `inf` and `1e20` too (as Redis 7.0 answers).
pub(super) fn timeout(arg: &[u8]) -> Result<Timeout, CommandError> {
    let not_float = CommandError::Invalid("ERR timeout is not a float or out of range");
    if LongDouble::parse(Bytes::copy_from_slice(arg)).is_none() {
        return Err(not_float);
    }
    let seconds: f64 = std::str::from_utf8(arg)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or(not_float)?;
    let millis = (seconds * 1000.0).ceil();
    // 2^63 as a float: a product at or past it (or any negative one) is negative in C.
    if !(0.0..9_223_372_036_854_775_808.0).contains(&millis) && millis != 0.0 {
        return Err(CommandError::Invalid("ERR timeout is negative"));
    }
    // In range and non-negative (or -0.0): the cast is exact enough and cannot wrap.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Timeout {
        millis: millis.max(0.0) as u64,
    })
}

/// `LPUSH`/`RPUSH`/`LPUSHX`/`RPUSHX key element [element ...]`.
fn push(args: &mut Args, end: End, existing: bool) -> ListCommand {
    ListCommand::Push {
        end,
        elements: args.collect(),
        existing,
    }
}

/// `LPOP`/`RPOP key [count]`: a count that is not a non-negative integer gets Redis's
/// "must be positive".
fn pop(args: &mut Args, end: End) -> Result<ListCommand, CommandError> {
    let count = match args.next() {
        None => None,
        Some(arg) => match parse_i64(&arg) {
            Some(n) if n >= 0 => Some(n.unsigned_abs()),
            _ => {
                return Err(CommandError::Invalid(
                    "ERR value is out of range, must be positive",
                ))
            }
        },
    };
    if args.next().is_some() {
        return Err(CommandError::WrongArgumentCount {
            command: if end == End::Left { "lpop" } else { "rpop" },
        });
    }
    Ok(ListCommand::Pop { end, count })
}

/// `LINSERT key BEFORE|AFTER pivot element`.
fn linsert(args: &mut Args) -> Result<ListCommand, CommandError> {
    let position = next(args)?;
    let before = if is(&position, "BEFORE") {
        true
    } else if is(&position, "AFTER") {
        false
    } else {
        return Err(CommandError::Syntax);
    };
    let pivot = next(args)?;
    Ok(ListCommand::Insert {
        before,
        pivot,
        element: next(args)?,
    })
}

/// `LPOS key element [RANK r] [COUNT n] [MAXLEN m]`, options in any order, as Redis's
/// `lposCommand` reads them.
fn lpos(args: &mut Args) -> Result<ListCommand, CommandError> {
    let element = next(args)?;
    let (mut rank, mut count, mut maxlen) = (1, None, 0);
    while let Some(opt) = args.next() {
        let more = args.len() > 0;
        if is(&opt, "RANK") && more {
            rank = int(&next(args)?)?;
            if rank == 0 {
                return Err(CommandError::Invalid("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"));
            }
        } else if is(&opt, "COUNT") && more {
            let n = int(&next(args)?)?;
            if n < 0 {
                return Err(CommandError::Invalid("ERR COUNT can't be negative"));
            }
            count = Some(n.unsigned_abs());
        } else if is(&opt, "MAXLEN") && more {
            let n = int(&next(args)?)?;
            if n < 0 {
                return Err(CommandError::Invalid("ERR MAXLEN can't be negative"));
            }
            maxlen = n.unsigned_abs();
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(ListCommand::Pos {
        element,
        rank,
        count,
        maxlen,
    })
}

/// `LMOVE src dst LEFT|RIGHT LEFT|RIGHT` and `BLMOVE ... timeout`.
fn lmove(args: &mut Args, blocking: bool) -> Result<ListCommand, CommandError> {
    let from = end(&next(args)?)?;
    let to = end(&next(args)?)?;
    let timeout = if blocking {
        Some(timeout(&next(args)?)?)
    } else {
        None
    };
    Ok(ListCommand::Move { from, to, timeout })
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT n]` and `BLMPOP timeout numkeys ...`,
/// as Redis's `lmpopGenericCommand` checks them (the timeout first).
fn lmpop(args: &mut Args, blocking: bool) -> Result<ListCommand, CommandError> {
    let timeout = if blocking {
        Some(timeout(&next(args)?)?)
    } else {
        None
    };
    let numkeys = match parse_i64(&next(args)?) {
        Some(n) if n > 0 => n.unsigned_abs(),
        _ => {
            return Err(CommandError::Invalid(
                "ERR numkeys should be greater than 0",
            ))
        }
    };
    // The keys and the end must all be there.
    if numkeys >= args.len() as u64 {
        return Err(CommandError::Syntax);
    }
    let keys: Keys = args
        .by_ref()
        .take(usize::try_from(numkeys).unwrap_or(usize::MAX))
        .collect();
    let end = end(&next(args)?)?;
    let mut count = None;
    while let Some(opt) = args.next() {
        if count.is_none() && is(&opt, "COUNT") && args.len() > 0 {
            match parse_i64(&next(args)?) {
                Some(n) if n > 0 => count = Some(n.unsigned_abs()),
                _ => return Err(CommandError::Invalid("ERR count should be greater than 0")),
            }
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(ListCommand::MPop {
        keys,
        end,
        count: count.unwrap_or(1),
        timeout,
    })
}

/// `BLPOP`/`BRPOP key [key ...] timeout`: the keys are the row's; the timeout is left.
fn bpop(args: &mut Args, end: End) -> Result<ListCommand, CommandError> {
    Ok(ListCommand::BPop {
        end,
        timeout: timeout(&next(args)?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_redis_reads_them() {
        let ms = |text: &str| timeout(text.as_bytes()).map(|t| t.millis);
        assert_eq!(ms("0"), Ok(0));
        assert_eq!(ms("1.5"), Ok(1500));
        assert_eq!(ms("0.0001"), Ok(1));
        assert_eq!(ms("-0.0001"), Ok(0));
        assert!(ms("-1").is_err());
        assert!(ms("inf").is_err());
        assert!(ms("1e20").is_err());
        assert!(ms("nan").is_err());
        assert!(ms("abc").is_err());
        assert!(ms("").is_err());
    }
}
