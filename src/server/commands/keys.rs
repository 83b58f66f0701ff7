//! Generic key commands: DEL, EXISTS, TYPE, the EXPIRE family and TTLs, PERSIST, RENAME.
//!
//! Expiry is Redis's: a key whose deadline has passed is gone for every command, and
//! setting a deadline in the past deletes the key at once.

use bytes::Bytes;

use crate::protocol::command::ExpireCondition;
use crate::protocol::Reply;
use crate::server::keyspace::{ExecError, Keyspace};

type Result = std::result::Result<Reply, ExecError>;

/// DEL / UNLINK key [key ...]: how many existed.
pub fn del(ks: &mut Keyspace, keys: Vec<Bytes>) -> Result {
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
pub fn exists(ks: &Keyspace, keys: &[Bytes]) -> Result {
    let mut found = 0;
    for key in keys {
        if ks.contains(key)? {
            found += 1;
        }
    }
    Ok(Reply::Integer(found))
}

/// TYPE key
pub fn type_of(ks: &Keyspace, key: &[u8]) -> Result {
    Ok(Reply::Simple(Bytes::from_static(if ks.contains(key)? {
        b"string"
    } else {
        b"none"
    })))
}

/// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT, with the deadline already made absolute
/// (unix ms, possibly in the past or negative).
pub fn expire(
    ks: &mut Keyspace,
    key: Bytes,
    deadline: i64,
    condition: Option<ExpireCondition>,
) -> Result {
    let Some(mut entry) = ks.get(&key)? else {
        return Ok(Reply::Integer(0));
    };
    // A key without expiry has an infinite TTL for GT and LT.
    let allowed = match (condition, entry.expires_at) {
        (None, _) => true,
        (Some(ExpireCondition::Nx), current) => current.is_none(),
        (Some(ExpireCondition::Xx), current) => current.is_some(),
        (Some(ExpireCondition::Gt | ExpireCondition::XxGt), Some(current)) => {
            deadline > current as i64
        }
        (Some(ExpireCondition::Gt | ExpireCondition::XxGt), None) => false,
        (Some(ExpireCondition::Lt), Some(current)) => deadline < current as i64,
        (Some(ExpireCondition::Lt), None) => true,
        (Some(ExpireCondition::XxLt), Some(current)) => deadline < current as i64,
        (Some(ExpireCondition::XxLt), None) => false,
    };
    if !allowed {
        return Ok(Reply::Integer(0));
    }
    if deadline <= ks.now() as i64 {
        ks.delete(key);
    } else {
        entry.expires_at = Some(deadline as u64);
        ks.put(key, entry);
    }
    Ok(Reply::Integer(1))
}

/// What TTL-family commands report.
#[derive(Debug, Clone, Copy)]
pub enum TtlForm {
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
pub fn ttl(ks: &Keyspace, key: &[u8], form: TtlForm) -> Result {
    let Some(entry) = ks.get(key)? else {
        return Ok(Reply::Integer(-2));
    };
    let Some(at) = entry.expires_at else {
        return Ok(Reply::Integer(-1));
    };
    let left = at.saturating_sub(ks.now());
    Ok(Reply::Integer(match form {
        // Redis rounds seconds to the nearest one.
        TtlForm::Seconds => (left.saturating_add(500) / 1000) as i64,
        TtlForm::Millis => left as i64,
        TtlForm::UnixSeconds => (at.saturating_add(500) / 1000) as i64,
        TtlForm::UnixMillis => at as i64,
    }))
}

/// PERSIST key
pub fn persist(ks: &mut Keyspace, key: Bytes) -> Result {
    match ks.get(&key)? {
        Some(mut entry) if entry.expires_at.is_some() => {
            entry.expires_at = None;
            ks.put(key, entry);
            Ok(Reply::Integer(1))
        }
        _ => Ok(Reply::Integer(0)),
    }
}

/// RENAME / RENAMENX from to: the value keeps its expiry.
pub fn rename(ks: &mut Keyspace, from: Bytes, to: Bytes, only_if_absent: bool) -> Result {
    let Some(entry) = ks.get(&from)? else {
        return Ok(Reply::error("ERR no such key"));
    };
    if only_if_absent && ks.contains(&to)? {
        return Ok(Reply::Integer(0));
    }
    if from != to {
        ks.delete(from);
        ks.put(to, entry);
    }
    Ok(if only_if_absent {
        Reply::Integer(1)
    } else {
        Reply::ok()
    })
}

/// The native protocol's atomic batch of puts and deletes.
pub fn batch(ks: &mut Keyspace, ops: Vec<crate::protocol::command::BatchOp>) -> Result {
    use crate::protocol::command::BatchOp;
    let n = ops.len() as i64;
    for op in ops {
        match op {
            BatchOp::Put { key, value } => ks.put(key, crate::server::value::Entry::new(value)),
            BatchOp::Delete { key } => ks.delete(key),
        }
    }
    Ok(Reply::Integer(n))
}
