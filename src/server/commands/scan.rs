//! Commands that walk the key space in order: SCAN, KEYS, DBSIZE, FLUSHDB and Cairn's
//! ordered RANGE / RANGEKEYS. Their rows and parsers are in `protocol/command/scan.rs`.
//!
//! Every walk reads one engine snapshot (`Db::range`), skips expired entries, and never
//! holds key locks: writes go on while a scan runs.

use std::ops::Bound;

use bytes::Bytes;

use crate::protocol::command::{Range, ScanCommand};
use crate::protocol::slot::key_slot;
use crate::protocol::Reply;
use crate::server::cluster::Cluster;
use crate::server::dispatch::Context;
use crate::server::keyspace::{ExecError, Keyspace};
use crate::server::layout;
use crate::server::pattern;
use crate::server::shared::ScanCursors;
use crate::server::shared::Shared;
use crate::server::value::{now_millis, Entry, Record};
use crate::storage::{Db, WriteBatch};

type Result = std::result::Result<Reply, ExecError>;

/// Runs a scan command.
pub(crate) fn run(cx: &mut Context, command: ScanCommand) -> Result {
    let ks = &*cx.ks;
    match command {
        ScanCommand::Keys { pattern } => keys(ks, &pattern),
        ScanCommand::Scan(args) => scan(
            ks,
            &cx.shared.cursors,
            args.cursor,
            args.pattern.as_deref(),
            args.count,
            args.kind.as_deref(),
        ),
        ScanCommand::DbSize => dbsize(ks),
        ScanCommand::FlushDb => flush(&*ks.db()?, layout::database(ks.stored_database())),
        ScanCommand::FlushAll => flush(&*ks.db()?, layout::every_database()),
        ScanCommand::SwapDb(first, second) => swapdb(cx.shared, first, second),
        ScanCommand::Range(args) => {
            let Range {
                start,
                end,
                limit,
                reverse,
                keys_only,
            } = *args;
            range(ks, start, end, limit, reverse, keys_only)
        }
    }
}

/// Live (unexpired) keys of database `db` whose user keys are in `range`, with their
/// records, in key order or in reverse; in cluster mode only those of the slots this node
/// serves (a slot given away may leave keys behind).
pub(crate) fn live_records(
    shared: &Shared,
    db: u8,
    range: (Bound<Bytes>, Bound<Bytes>),
    reverse: bool,
    now: u64,
) -> impl Iterator<Item = std::result::Result<(Bytes, Record), ExecError>> + Send {
    type Pairs = Box<dyn Iterator<Item = crate::storage::Result<(Bytes, Bytes)>> + Send>;
    let serves = shared.cluster.as_ref().map(Cluster::serving_filter);
    let db = shared.databases.stored(db);
    let (first, after) = layout::database(db);
    let engine_bound = |bound: Bound<Bytes>, unbounded: Bound<Bytes>| match bound {
        Bound::Included(key) => Bound::Included(layout::key_bytes(db, &key)),
        Bound::Excluded(key) => Bound::Excluded(layout::key_bytes(db, &key)),
        Bound::Unbounded => unbounded,
    };
    let (start, end) = range;
    let range = (
        engine_bound(start, Bound::Included(first)),
        engine_bound(end, Bound::Excluded(after)),
    );
    let iter: Pairs = match shared.db.get() {
        Ok(db) if reverse => Box::new(db.range(range).rev()),
        Ok(db) => Box::new(db.range(range)),
        // A full sync is replacing the data: the walk ends with the reason.
        Err(e) => Box::new(std::iter::once(Err(e))),
    };
    iter.filter_map(move |item| {
        let (key, raw) = match item {
            Ok((key, raw)) => (key.slice(2..), raw),
            Err(error) => return Some(Err(error.into())),
        };
        // Another node's key is skipped before its value is decoded.
        if serves.as_ref().is_some_and(|serves| !serves(&key)) {
            return None;
        }
        match Record::decode(raw) {
            Ok(record) if record.is_expired(now) => None,
            Ok(record) => Some(Ok((key, record))),
            Err(error) => Some(Err(error.into())),
        }
    })
}

/// Live strings of database 0 whose keys are in `range`, in key order or in reverse:
/// what the native protocol's range streams (its client knows only strings).
pub(crate) fn live_entries(
    shared: &Shared,
    range: (Bound<Bytes>, Bound<Bytes>),
    reverse: bool,
    now: u64,
) -> impl Iterator<Item = std::result::Result<(Bytes, Entry), ExecError>> + Send {
    live_records(shared, 0, range, reverse, now).filter_map(|item| match item {
        Ok((key, Record::Str(entry))) => Some(Ok((key, entry))),
        Ok((_, Record::Coll(_))) => None,
        Err(error) => Some(Err(error)),
    })
}

/// The live keys in `slot`, at most `limit` of them, in key order: a walk of every key
/// (keys are ordered by key, not by slot), for CLUSTER COUNTKEYSINSLOT, GETKEYSINSLOT
/// and slot moves.
pub(crate) fn keys_in_slot(
    shared: &Shared,
    slot: u16,
    limit: usize,
) -> std::result::Result<Vec<Bytes>, ExecError> {
    let everything = (Bound::Unbounded, Bound::Unbounded);
    let mut keys = Vec::new();
    for item in live_records(shared, 0, everything, false, now_millis()) {
        let (key, _) = item?;
        if keys.len() == limit {
            break;
        }
        if key_slot(&key) == slot {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// Keys SCAN examines per call when COUNT is not given (Redis's default).
const DEFAULT_SCAN_COUNT: usize = 10;

/// SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]
///
/// The cursor names the last key a previous call examined (see [`ScanCursors`]); a full
/// iteration sees every key that existed throughout it, because keys are walked in order.
fn scan(
    ks: &Keyspace,
    cursors: &ScanCursors,
    cursor: u64,
    pattern: Option<&[u8]>,
    count: Option<usize>,
    kind: Option<&[u8]>,
) -> Result {
    let start = if cursor == 0 {
        Bound::Unbounded
    } else {
        match cursors.resume_key(cursor) {
            Some(key) => Bound::Excluded(key),
            None => return Ok(Reply::error("ERR invalid cursor")),
        }
    };
    // An unknown type matches nothing, but still walks so the client's loop ends normally.
    let budget = count.unwrap_or(DEFAULT_SCAN_COUNT).max(1);
    let mut keys = Vec::new();
    let mut last = None;
    let mut iter = live_records(
        ks.shared(),
        ks.database(),
        (start, Bound::Unbounded),
        false,
        ks.now(),
    );
    for item in iter.by_ref().take(budget) {
        let (key, record) = item?;
        let kind_matches =
            kind.is_none_or(|k| k.eq_ignore_ascii_case(record.type_name().as_bytes()));
        if kind_matches && pattern.is_none_or(|p| pattern::matches(p, &key)) {
            keys.push(Reply::Bulk(key.clone()));
        }
        last = Some(key);
    }
    let more = iter.next().transpose()?.is_some();
    let next = match (more, last) {
        (true, Some(last)) => cursors.save(last),
        _ => 0,
    };
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(keys),
    ]))
}

/// KEYS pattern
fn keys(ks: &Keyspace, pattern: &[u8]) -> Result {
    let mut keys = Vec::new();
    for item in live_records(
        ks.shared(),
        ks.database(),
        (Bound::Unbounded, Bound::Unbounded),
        false,
        ks.now(),
    ) {
        let (key, _) = item?;
        if pattern::matches(pattern, &key) {
            keys.push(Reply::Bulk(key));
        }
    }
    Ok(Reply::Array(keys))
}

/// DBSIZE: counts live keys (a walk, not a counter: the engine keeps none, and expired
/// keys must not count).
fn dbsize(ks: &Keyspace) -> Result {
    let mut n = 0;
    for item in live_records(
        ks.shared(),
        ks.database(),
        (Bound::Unbounded, Bound::Unbounded),
        false,
        ks.now(),
    ) {
        item?;
        n += 1;
    }
    Ok(Reply::Integer(n))
}

/// How many deletes FLUSHDB writes per batch, so no single WAL record grows without bound.
const FLUSH_BATCH: usize = 10_000;

/// SWAPDB index1 index2, with Redis 7.0's errors in its order (`server::databases` says
/// how the swap is done).
fn swapdb(shared: &Shared, first: Option<i64>, second: Option<i64>) -> Result {
    if shared.cluster.is_some() {
        return Ok(Reply::error("ERR SWAPDB is not allowed in cluster mode"));
    }
    let Some(first) = first else {
        return Ok(Reply::error("ERR invalid first DB index"));
    };
    let Some(second) = second else {
        return Ok(Reply::error("ERR invalid second DB index"));
    };
    let databases = shared.config.read().databases;
    let number = |index: i64| {
        u8::try_from(index)
            .ok()
            .filter(|db| usize::from(*db) < databases)
    };
    let (Some(a), Some(b)) = (number(first), number(second)) else {
        return Ok(Reply::error("ERR DB index is out of range"));
    };
    shared.databases.swap(shared, a, b)?;
    Ok(Reply::ok())
}

/// FLUSHDB / FLUSHALL: deletes every key of `[start, end)` (one database's, or every
/// database's) present when it starts, expired ones included. A collection's elements
/// are left to compaction (`server::compaction`), so a flush costs a delete per key, not
/// per element.
fn flush(db: &Db, (start, end): (Bytes, Bytes)) -> Result {
    let mut batch = WriteBatch::new();
    let mut in_batch = 0;
    for item in db.range(start..end) {
        let (key, _) = item?;
        batch.delete(&key);
        in_batch += 1;
        if in_batch == FLUSH_BATCH {
            db.write(std::mem::take(&mut batch))?;
            in_batch = 0;
        }
    }
    if in_batch > 0 {
        db.write(batch)?;
    }
    Ok(Reply::ok())
}

/// RANGE / RANGEKEYS start end [LIMIT n] [REV]: pairs (or keys) in key order from one
/// snapshot, `start` inclusive and `end` exclusive. Pairs come as a flat array
/// `[k1, v1, k2, v2, ...]` in both RESP versions.
fn range(
    ks: &Keyspace,
    start: Bound<Bytes>,
    end: Bound<Bytes>,
    limit: Option<usize>,
    reverse: bool,
    keys_only: bool,
) -> Result {
    let mut out = Vec::new();
    let records = live_records(ks.shared(), ks.database(), (start, end), reverse, ks.now());
    // RANGE pairs keys with string values; a collection is listed by RANGEKEYS only.
    let records = records.filter(|item| keys_only || !matches!(item, Ok((_, Record::Coll(_)))));
    for item in records.take(limit.unwrap_or(usize::MAX)) {
        let (key, record) = item?;
        out.push(Reply::Bulk(key));
        if let Record::Str(entry) = record {
            if !keys_only {
                out.push(Reply::Bulk(entry.value));
            }
        }
    }
    Ok(Reply::Array(out))
}
