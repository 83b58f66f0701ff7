//! Commands on keys of any type: DEL, EXISTS, TYPE, the EXPIRE family and TTLs, PERSIST,
//! RENAME, COPY, MOVE, RANDOMKEY, OBJECT, and the native protocol's atomic batch. Their rows and parsers are in
//! `protocol/command/generic.rs`.
//!
//! Expiry is Redis's: a key whose deadline has passed is gone for every command, and
//! setting a deadline in the past deletes the key at once.

use std::ops::Bound;

use bytes::{Bytes, BytesMut};

use super::first;
use super::scan::live_records;
use crate::protocol::command::{ExpireCondition, GenericCommand, Keys, ObjectQuery};
use crate::protocol::Reply;
use crate::server::keyspace::{ExecError, Keyspace};
use crate::server::layout;
use crate::server::value::{Entry, Kind, Meta, Record};

type Result = std::result::Result<Reply, ExecError>;

/// Runs a generic command on its keys.
pub(crate) fn run(ks: &mut Keyspace, keys: Keys, command: GenericCommand) -> Result {
    use GenericCommand::{
        Batch, Copy, Del, Exists, Expire, ExpireTime, Move, Object, PExpireTime, PTtl, Persist,
        RandomKey, Rename, RenameNx, Ttl, Type,
    };
    match command {
        Del => del(ks, keys),
        Exists => exists(ks, &keys),
        Type => type_of(ks, &first(keys)),
        Expire { when, condition } => match when.deadline_millis(signed(ks.now())) {
            Ok(deadline) => expire(ks, first(keys), deadline, condition),
            Err(error) => Ok(Reply::error(error.to_string())),
        },
        Ttl => ttl(ks, &first(keys), TtlForm::Seconds),
        PTtl => ttl(ks, &first(keys), TtlForm::Millis),
        ExpireTime => ttl(ks, &first(keys), TtlForm::UnixSeconds),
        PExpireTime => ttl(ks, &first(keys), TtlForm::UnixMillis),
        Persist => persist(ks, first(keys)),
        Rename | RenameNx => {
            // The row names two keys: the current name, then the new one.
            let mut names = keys.into_iter();
            let (from, to) = (names.next(), names.next());
            rename(
                ks,
                from.unwrap_or_default(),
                to.unwrap_or_default(),
                command == RenameNx,
            )
        }
        Copy { db, replace } => {
            let mut names = keys.into_iter();
            let (from, to) = (names.next(), names.next());
            copy(
                ks,
                &from.unwrap_or_default(),
                to.unwrap_or_default(),
                db,
                replace,
            )
        }
        Move { db } => move_to(ks, first(keys), db),
        RandomKey => random_key(ks),
        Object(query) => object(ks, keys.first().map(|k| &k[..]), query),
        Batch { values } => Ok(batch(ks, keys.into_iter().zip(values))),
    }
}

/// The database `index` names, if the server has it.
fn database(ks: &Keyspace, index: i64) -> Option<u8> {
    let databases = ks.shared().config.read().databases;
    u8::try_from(index)
        .ok()
        .filter(|db| usize::from(*db) < databases)
}

/// Runs `f` in database `db`, then returns to the current one.
fn in_database<R>(ks: &mut Keyspace, db: u8, f: impl FnOnce(&mut Keyspace) -> R) -> R {
    let current = ks.database();
    ks.select(db);
    let result = f(ks);
    ks.select(current);
    result
}

/// COPY source destination [DB db] [REPLACE]: 1 if copied, 0 if the source is missing or
/// the destination exists without REPLACE. A collection's elements are copied: O(n).
fn copy(ks: &mut Keyspace, from: &[u8], to: Bytes, db: Option<i64>, replace: bool) -> Result {
    let target = match db {
        None => ks.database(),
        Some(index) => match database(ks, index) {
            Some(db) => db,
            None => return Ok(Reply::error("ERR DB index is out of range")),
        },
    };
    if target == ks.database() && from == &to[..] {
        return Ok(Reply::error(
            "ERR source and destination objects are the same",
        ));
    }
    let Some(record) = ks.record(from)? else {
        return Ok(Reply::Integer(0));
    };
    if !replace && in_database(ks, target, |ks| ks.contains(&to))? {
        return Ok(Reply::Integer(0));
    }
    let record = copy_record(ks, from, record, target, &to)?;
    in_database(ks, target, |ks| ks.put_record(to, record));
    Ok(Reply::Integer(1))
}

/// MOVE key db: 1 if moved, 0 if the key is missing here or present there.
fn move_to(ks: &mut Keyspace, key: Bytes, index: i64) -> Result {
    let Some(target) = database(ks, index) else {
        return Ok(Reply::error("ERR DB index is out of range"));
    };
    if target == ks.database() {
        return Ok(Reply::error(
            "ERR source and destination objects are the same",
        ));
    }
    let Some(record) = ks.record(&key)? else {
        return Ok(Reply::Integer(0));
    };
    if in_database(ks, target, |ks| ks.contains(&key))? {
        return Ok(Reply::Integer(0));
    }
    let record = copy_record(ks, &key, record, target, &key)?;
    ks.delete(&key);
    in_database(ks, target, |ks| ks.put_record(key, record));
    Ok(Reply::Integer(1))
}

/// RANDOMKEY: the first live key at or after a random point of the database's key space
/// (wrapping round), so no walk of every key: uniform over the gaps between keys rather
/// than over keys, which is what a sorted store can offer without a count.
fn random_key(ks: &Keyspace) -> Result {
    let point = Bytes::copy_from_slice(&rand::random::<[u8; 8]>());
    let now = ks.now();
    let (shared, db) = (ks.shared(), ks.database());
    let after = live_records(
        shared,
        db,
        (Bound::Included(point.clone()), Bound::Unbounded),
        false,
        now,
    );
    let before = live_records(
        shared,
        db,
        (Bound::Unbounded, Bound::Excluded(point)),
        false,
        now,
    );
    match after.chain(before).next().transpose()? {
        Some((key, _)) => Ok(Reply::Bulk(key)),
        None => Ok(Reply::Null),
    }
}

/// Sets past this many members are never intsets in Redis (`set-max-intset-entries`).
const INTSET_ENTRIES: u64 = 512;
/// Hashes and sorted sets past this many elements leave listpacks in Redis.
const LISTPACK_ENTRIES: u64 = 128;

/// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key, OBJECT HELP.
fn object(ks: &Keyspace, key: Option<&[u8]>, query: ObjectQuery) -> Result {
    let Some(key) = key else {
        return Ok(super::help(OBJECT_HELP));
    };
    let Some(record) = ks.record(key)? else {
        return Ok(Reply::Null);
    };
    Ok(match query {
        ObjectQuery::Encoding => {
            Reply::Bulk(Bytes::from_static(encoding(ks, key, &record)?.as_bytes()))
        }
        ObjectQuery::RefCount => Reply::Integer(1),
        ObjectQuery::IdleTime => Reply::Integer(0),
        ObjectQuery::Freq => Reply::error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
             Please note that when switching between policies at runtime LRU and LFU data \
             will take some time to adjust.",
        ),
        ObjectQuery::Help => super::help(OBJECT_HELP),
    })
}

/// The encoding Redis 7.0 would report for `record`: what tools and tests that look at
/// it expect, though Cairn stores every kind the same way (docs/storage-format.md).
fn encoding(
    ks: &Keyspace,
    key: &[u8],
    record: &Record,
) -> std::result::Result<&'static str, ExecError> {
    let meta = match record {
        Record::Str(entry) if is_canonical_int(&entry.value) => return Ok("int"),
        Record::Str(entry) if entry.value.len() <= 44 => return Ok("embstr"),
        Record::Str(_) => return Ok("raw"),
        Record::Coll(meta) => meta,
    };
    let small = meta.len <= LISTPACK_ENTRIES;
    Ok(match meta.kind {
        Kind::List => "quicklist",
        Kind::Hash | Kind::ZSet if small => "listpack",
        Kind::ZSet => "skiplist",
        Kind::Set if meta.len <= INTSET_ENTRIES && all_members_ints(ks, key, meta)? => "intset",
        Kind::Hash | Kind::Set => "hashtable",
    })
}

/// Whether every member of the set `meta` (under `key`) is an integer Redis keeps in an
/// intset. A set's element suffix is its member.
fn all_members_ints(
    ks: &Keyspace,
    key: &[u8],
    meta: &Meta,
) -> std::result::Result<bool, ExecError> {
    let prefix = ks.elements_of(key, meta);
    for item in ks.elements_under(&prefix, false) {
        let (element, _) = item?;
        if !is_canonical_int(&element[prefix.len()..]) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether `bytes` is an i64 written as Redis writes one (no sign `+`, no leading zeros).
fn is_canonical_int(bytes: &[u8]) -> bool {
    bytes.len() <= 20
        && std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| text.parse::<i64>().ok())
            .is_some_and(|n| n.to_string().as_bytes() == bytes)
}

/// OBJECT HELP's text, as Redis 7.0 prints it.
const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Print this help.",
];

/// DEL / UNLINK key [key ...]: how many existed.
fn del(ks: &mut Keyspace, keys: Keys) -> Result {
    let mut removed = 0;
    for key in keys {
        if ks.contains(&key)? {
            ks.delete(key);
            removed += 1;
        }
    }
    Ok(Reply::Integer(removed))
}

/// EXISTS key [key ...]: a key named twice counts twice, as in Redis.
fn exists(ks: &Keyspace, keys: &[Bytes]) -> Result {
    let mut found = 0;
    for key in keys {
        if ks.contains(key)? {
            found += 1;
        }
    }
    Ok(Reply::Integer(found))
}

/// TYPE key
fn type_of(ks: &Keyspace, key: &[u8]) -> Result {
    let name = ks.record(key)?.map_or("none", |record| record.type_name());
    Ok(Reply::Simple(Bytes::from_static(name.as_bytes())))
}

/// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT, with the deadline already made absolute
/// (unix ms, possibly in the past or negative).
fn expire(
    ks: &mut Keyspace,
    key: Bytes,
    deadline: i64,
    condition: Option<ExpireCondition>,
) -> Result {
    let Some(mut record) = ks.record(&key)? else {
        return Ok(Reply::Integer(0));
    };
    // A key without expiry has an infinite TTL for GT and LT.
    let allowed = match (condition, record.expires_at()) {
        (Some(ExpireCondition::Nx), current) => current.is_none(),
        (Some(ExpireCondition::Xx), current) => current.is_some(),
        (Some(ExpireCondition::Gt | ExpireCondition::XxGt), Some(current)) => {
            deadline > signed(current)
        }
        (Some(ExpireCondition::Lt | ExpireCondition::XxLt), Some(current)) => {
            deadline < signed(current)
        }
        (None, _) | (Some(ExpireCondition::Lt), None) => true,
        (Some(ExpireCondition::Gt | ExpireCondition::XxGt | ExpireCondition::XxLt), None) => false,
    };
    if !allowed {
        return Ok(Reply::Integer(0));
    }
    if deadline <= signed(ks.now()) {
        ks.delete(key);
    } else {
        record.set_expires_at(Some(deadline.unsigned_abs()));
        ks.put_record(key, record);
    }
    Ok(Reply::Integer(1))
}

/// What TTL-family commands report.
#[derive(Debug, Clone, Copy)]
enum TtlForm {
    /// TTL: seconds remaining.
    Seconds,
    /// PTTL: milliseconds remaining.
    Millis,
    /// EXPIRETIME: the deadline in unix seconds.
    UnixSeconds,
    /// PEXPIRETIME: the deadline in unix milliseconds.
    UnixMillis,
}

/// TTL / PTTL / EXPIRETIME / PEXPIRETIME: -2 for a missing key, -1 for no expiry.
fn ttl(ks: &Keyspace, key: &[u8], form: TtlForm) -> Result {
    let Some(record) = ks.record(key)? else {
        return Ok(Reply::Integer(-2));
    };
    let Some(at) = record.expires_at() else {
        return Ok(Reply::Integer(-1));
    };
    let left = at.saturating_sub(ks.now());
    Ok(Reply::count(match form {
        // Redis rounds seconds to the nearest one.
        TtlForm::Seconds => left.saturating_add(500) / 1000,
        TtlForm::Millis => left,
        TtlForm::UnixSeconds => at.saturating_add(500) / 1000,
        TtlForm::UnixMillis => at,
    }))
}

/// PERSIST key
fn persist(ks: &mut Keyspace, key: Bytes) -> Result {
    match ks.record(&key)? {
        Some(mut record) if record.expires_at().is_some() => {
            record.set_expires_at(None);
            ks.put_record(key, record);
            Ok(Reply::Integer(1))
        }
        _ => Ok(Reply::Integer(0)),
    }
}

/// RENAME / RENAMENX from to: the value keeps its expiry. A collection's elements are
/// copied under the new name (elements are keyed by their collection's name): O(n), as
/// in kvrocks.
fn rename(ks: &mut Keyspace, from: Bytes, to: Bytes, only_if_absent: bool) -> Result {
    let Some(record) = ks.record(&from)? else {
        return Ok(Reply::error("ERR no such key"));
    };
    if only_if_absent && ks.contains(&to)? {
        return Ok(Reply::Integer(0));
    }
    if from != to {
        let record = copy_record(ks, &from, record, ks.database(), &to)?;
        ks.delete(from);
        // A client blocked in BLPOP on the new name may now have a list to pop.
        ks.shared().blocking.key_ready(ks.database(), &to);
        ks.put_record(to, record);
    }
    Ok(if only_if_absent {
        Reply::Integer(1)
    } else {
        Reply::ok()
    })
}

/// What to store under `to` in database `db` for a copy of `from`'s `record`: a string as
/// it is; a collection under a new version, its elements staged under `to`'s prefix.
pub(crate) fn copy_record(
    ks: &mut Keyspace,
    from: &[u8],
    record: Record,
    db: u8,
    to: &[u8],
) -> std::result::Result<Record, ExecError> {
    let Record::Coll(meta) = record else {
        return Ok(record);
    };
    let source = ks.elements_of(from, &meta);
    let copy = Meta {
        version: ks.new_version()?,
        ..meta
    };
    let target = layout::elements(ks.shared().databases.stored(db), to, copy.version);
    let elements: Vec<(Bytes, Bytes)> = ks
        .elements_under(&source, false)
        .collect::<std::result::Result<_, _>>()?;
    for (key, value) in elements {
        let mut moved = BytesMut::with_capacity(target.len() + key.len() - source.len());
        moved.extend_from_slice(&target);
        moved.extend_from_slice(&key[source.len()..]);
        ks.put_element(moved.freeze(), value);
    }
    Ok(Record::Coll(copy))
}

/// A unix time in milliseconds as the signed number EXPIRE's arithmetic uses (every
/// time this server sees is far below `i64::MAX`).
fn signed(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The native protocol's atomic batch: each key put (`Some`) or deleted (`None`).
fn batch(ks: &mut Keyspace, writes: impl Iterator<Item = (Bytes, Option<Bytes>)>) -> Reply {
    let mut n = 0;
    for (key, value) in writes {
        match value {
            Some(value) => ks.put(key, Entry::new(value)),
            None => ks.delete(key),
        }
        n += 1;
    }
    Reply::Integer(n)
}
