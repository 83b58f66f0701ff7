//! Commands on keys of any type: DEL, EXISTS, TYPE, the EXPIRE family and TTLs, PERSIST,
//! RENAME, and the native protocol's atomic batch. Their rows and parsers are in
//! `protocol/command/generic.rs`.
//!
//! Expiry is Redis's: a key whose deadline has passed is gone for every command, and
//! setting a deadline in the past deletes the key at once.

use bytes::{Bytes, BytesMut};

use super::first;
use crate::protocol::command::{ExpireCondition, GenericCommand, Keys};
use crate::protocol::Reply;
use crate::server::keyspace::{ExecError, Keyspace};
use crate::server::layout;
use crate::server::value::{Entry, Meta, Record};

type Result = std::result::Result<Reply, ExecError>;

/// Runs a generic command on its keys.
pub(crate) fn run(ks: &mut Keyspace, keys: Keys, command: GenericCommand) -> Result {
    use GenericCommand::{
        Batch, Del, Exists, Expire, ExpireTime, PExpireTime, PTtl, Persist, Rename, RenameNx, Ttl,
        Type,
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
        Batch { values } => Ok(batch(ks, keys.into_iter().zip(values))),
    }
}

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
        version: ks.new_version(),
        ..meta
    };
    let target = layout::elements(db, to, copy.version);
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
