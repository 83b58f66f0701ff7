//! Commands on a whole database: SCAN, KEYS, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB and Cairn's
//! ordered RANGE / RANGEKEYS; their rows, their typed form and their parsers.
//! `server/commands/scan.rs` runs them.
//!
//! Each reads (or, FLUSHDB, deletes) the engine as one snapshot, or (SWAPDB) waits for every
//! key's lock, so none joins a pipelined round: their rows carry `OWN_ROUND`.

use std::ops::Bound;

use bytes::Bytes;

use super::args::{int, is, next, parse_i64, parse_u64_cursor, Args};
use super::table::{row, CommandSpec};
use super::CommandError;

/// A command that walks the key space. SCAN's and RANGE's arguments are boxed, so that
/// every command stays small (see `Set::condition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanCommand {
    /// `KEYS pattern` (glob-style).
    Keys {
        /// The glob pattern.
        pattern: Bytes,
    },
    /// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
    Scan(Box<Scan>),
    /// `DBSIZE`.
    DbSize,
    /// `FLUSHDB [ASYNC | SYNC]` (the mode makes no difference in Cairn).
    FlushDb,
    /// `FLUSHALL [ASYNC | SYNC]` (the mode makes no difference in Cairn).
    FlushAll,
    /// Cairn's `RANGE start end [LIMIT n] [REV]` and `RANGEKEYS start end [LIMIT n] [REV]`.
    Range(Box<Range>),
    /// `SWAPDB index1 index2`: the indexes, `None` where not an integer (Redis reports
    /// that after refusing SWAPDB in cluster mode).
    SwapDb(Option<i64>, Option<i64>),
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The cursor, 0 to start.
    pub cursor: u64,
    /// Glob filter; `MATCH *` is normalised to `None` as Redis does.
    pub pattern: Option<Bytes>,
    /// COUNT hint, at least 1.
    pub count: Option<usize>,
    /// TYPE filter as sent (Redis 7 does not validate the name: an unknown one simply
    /// matches nothing).
    pub kind: Option<Bytes>,
}

/// Cairn's `RANGE`/`RANGEKEYS`: the keys in `[start, end)` in key order (descending with
/// REV, same bounds), as one snapshot. `-` as start and `+` as end mean unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// `Included(start)`, or `Unbounded` for `-`.
    pub start: Bound<Bytes>,
    /// `Excluded(end)`, or `Unbounded` for `+`.
    pub end: Bound<Bytes>,
    /// Return at most this many entries.
    pub limit: Option<usize>,
    /// Descending key order.
    pub reverse: bool,
    /// `RANGEKEYS`: keys only, no values.
    pub keys_only: bool,
}

/// The scan commands' rows.
#[rustfmt::skip]
pub(super) const ROWS: &[CommandSpec] = &[
    row!("dbsize", 1, [READONLY, FAST, OWN_ROUND], (0, 0, 0), [KEYSPACE], "server", "1.0.0",
        "Returns the number of keys in the database.",
        "", |_| Ok(ScanCommand::DbSize)),
    row!("flushall", -1, [WRITE, OWN_ROUND], (0, 0, 0), [KEYSPACE, DANGEROUS], "server", "1.0.0",
        "Removes all keys from all databases.",
        "[ASYNC|SYNC]", |a| flush(a).map(|()| ScanCommand::FlushAll)),
    row!("flushdb", -1, [WRITE, OWN_ROUND], (0, 0, 0), [KEYSPACE, DANGEROUS], "server", "1.0.0",
        "Remove all keys from the current database.",
        "[ASYNC|SYNC]", |a| flush(a).map(|()| ScanCommand::FlushDb)),
    row!("keys", 2, [READONLY, OWN_ROUND], (0, 0, 0), [KEYSPACE, DANGEROUS], "generic", "1.0.0",
        "Returns all key names that match a pattern.",
        "pattern", |a| Ok(ScanCommand::Keys { pattern: next(a)? })),
    RANGE,
    row!("rangekeys", -3, [READONLY, OWN_ROUND], (0, 0, 0), [KEYSPACE], "cairn", "0.1.0",
        "Returns the keys in [start, end) in key order, from one snapshot (Cairn).",
        "start:string end:string [LIMIT count] [REV]", |a| range(a, true)),
    row!("scan", -2, [READONLY, OWN_ROUND], (0, 0, 0), [KEYSPACE], "generic", "2.8.0",
        "Iterates over the key names in the database.",
        "cursor [MATCH pattern] [COUNT count] [TYPE type]", scan),
    row!("swapdb", 3, [WRITE, FAST, OWN_ROUND, EVERY_KEY], (0, 0, 0), [KEYSPACE, DANGEROUS], "server", "4.0.0",
        "Swaps two Redis databases.",
        "index1:integer index2:integer",
        swapdb),
];

// Rows the native protocol's ops name directly (see `native.rs`).
#[rustfmt::skip]
pub(super) const RANGE: CommandSpec =
    row!("range", -3, [READONLY, OWN_ROUND], (0, 0, 0), [KEYSPACE], "cairn", "0.1.0",
        "Returns the keys and values in [start, end) in key order, from one snapshot (Cairn).",
        "start:string end:string [LIMIT count] [REV]", |a| range(a, false));

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`, as Redis's
/// `scanGenericCommand`: the cursor first, then options in any order, repeats allowed.
fn scan(args: &mut Args) -> Result<ScanCommand, CommandError> {
    scan_options(args, true).map(|scan| ScanCommand::Scan(Box::new(scan)))
}

/// The arguments of SCAN (`with_type`) or of HSCAN, SSCAN and ZSCAN after the key:
/// `cursor [MATCH pattern] [COUNT count]`, and SCAN's `[TYPE type]`.
pub(super) fn scan_options(args: &mut Args, with_type: bool) -> Result<Scan, CommandError> {
    let cursor = parse_u64_cursor(&next(args)?).ok_or(CommandError::InvalidCursor)?;
    let mut pattern = None;
    let mut count = None;
    let mut kind = None;
    while let Some(opt) = args.next() {
        let more = !args.as_slice().is_empty();
        if is(&opt, "COUNT") && more {
            let n = int(&next(args)?)?;
            if n < 1 {
                return Err(CommandError::Syntax);
            }
            count = Some(usize::try_from(n).unwrap_or(usize::MAX));
        } else if is(&opt, "MATCH") && more {
            let p = next(args)?;
            // Redis skips matching altogether for `*`.
            pattern = if p.as_ref() == b"*" { None } else { Some(p) };
        } else if is(&opt, "TYPE") && more && with_type {
            kind = Some(next(args)?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(Scan {
        cursor,
        pattern,
        count,
        kind,
    })
}

/// `SWAPDB index1 index2`.
fn swapdb(args: &mut Args) -> Result<ScanCommand, CommandError> {
    let first = parse_i64(&next(args)?);
    Ok(ScanCommand::SwapDb(first, parse_i64(&next(args)?)))
}

/// `FLUSHDB`/`FLUSHALL [ASYNC|SYNC]`.
fn flush(args: &mut Args) -> Result<(), CommandError> {
    match (args.next(), args.next()) {
        (None, _) => Ok(()),
        (Some(mode), None) if is(&mode, "ASYNC") || is(&mode, "SYNC") => Ok(()),
        _ => Err(CommandError::Syntax),
    }
}

/// Cairn's `RANGE`/`RANGEKEYS start end [LIMIT count] [REV]`: `-` is an unbounded
/// start, `+` an unbounded end; options in any order, the last LIMIT wins.
fn range(args: &mut Args, keys_only: bool) -> Result<ScanCommand, CommandError> {
    let start = next(args)?;
    let end = next(args)?;
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
            let n = int(&next(args)?)?;
            limit = Some(usize::try_from(n).map_err(|_| CommandError::NotInteger)?);
        } else if is(&opt, "REV") {
            reverse = true;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(ScanCommand::Range(Box::new(Range {
        start,
        end,
        limit,
        reverse,
        keys_only,
    })))
}
