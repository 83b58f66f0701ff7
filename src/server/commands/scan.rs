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
use crate::server::pattern;
use crate::server::shared::ScanCursors;
use crate::server::shared::Shared;
use crate::server::value::{now_millis, Entry};
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
        ScanCommand::FlushDb | ScanCommand::FlushAll => flush_all(&*ks.db()?),
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

/// Live (unexpired) entries of `range` in key order, or in reverse; in cluster mode only
/// those of the slots this node serves (a slot given away may leave keys behind).
pub(crate) fn live_entries(
    shared: &Shared,
    range: (Bound<Bytes>, Bound<Bytes>),
    reverse: bool,
    now: u64,
) -> impl Iterator<Item = std::result::Result<(Bytes, Entry), ExecError>> + Send {
    type Pairs = Box<dyn Iterator<Item = crate::storage::Result<(Bytes, Bytes)>> + Send>;
    let serves = shared.cluster.as_ref().map(Cluster::serving_filter);
    let iter: Pairs = match shared.db.get() {
        Ok(db) if reverse => Box::new(db.range(range).rev()),
        Ok(db) => Box::new(db.range(range)),
        // A full sync is replacing the data: the walk ends with the reason.
        Err(e) => Box::new(std::iter::once(Err(e))),
    };
    iter.filter_map(move |item| {
        let (key, raw) = match item {
            // Another node's key is skipped before its value is decoded.
            Ok((key, _)) if serves.as_ref().is_some_and(|serves| !serves(&key)) => return None,
            Ok(pair) => pair,
            Err(error) => return Some(Err(error.into())),
        };
        match Entry::decode(raw) {
            Ok(entry) if entry.is_expired(now) => None,
            Ok(entry) => Some(Ok((key, entry))),
            Err(error) => Some(Err(error.into())),
        }
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
    for item in live_entries(shared, everything, false, now_millis()) {
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
    // Every key is a string; asking for another type matches nothing, but still walks so
    // the client's loop ends normally.
    let kind_matches = kind.is_none_or(|k| k.eq_ignore_ascii_case(b"string"));
    let budget = count.unwrap_or(DEFAULT_SCAN_COUNT).max(1);
    let mut keys = Vec::new();
    let mut last = None;
    let mut iter = live_entries(ks.shared(), (start, Bound::Unbounded), false, ks.now());
    for item in iter.by_ref().take(budget) {
        let (key, _) = item?;
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
    for item in live_entries(
        ks.shared(),
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
    for item in live_entries(
        ks.shared(),
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

/// FLUSHDB / FLUSHALL: deletes every key present when it starts (including expired ones,
/// which frees their space).
fn flush_all(db: &Db) -> Result {
    let mut batch = WriteBatch::new();
    let mut in_batch = 0;
    for item in db.range::<Bytes, _>(..) {
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
    let entries = live_entries(ks.shared(), (start, end), reverse, ks.now());
    for item in entries.take(limit.unwrap_or(usize::MAX)) {
        let (key, entry) = item?;
        out.push(Reply::Bulk(key));
        if !keys_only {
            out.push(Reply::Bulk(entry.value));
        }
    }
    Ok(Reply::Array(out))
}
