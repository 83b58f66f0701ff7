//! String commands: GET and SET with all their conditions and expiries, counters, ranges
//! within a value, bitmaps (`strings/bits.rs`), and Redis 8.4's compare-and-set
//! (IFEQ/IFNE/IFDEQ/IFDNE, DELEX, DIGEST). Their rows and parsers are in
//! `protocol/command/strings.rs`.
//!
//! Each function runs against a [`Keyspace`] and returns the reply; the dispatcher holds
//! the key locks and commits what was staged.

use bytes::{Bytes, BytesMut};

mod bits;
mod lcs;

use super::first;
use crate::protocol::command::{
    digest, digest_hex, Expiry, GetExExpiry, Keys, Set, SetCondition, StringCommand,
    ValueCondition, MAX_STRING_LEN,
};
use crate::protocol::long_double::{self, LongDouble};
use crate::protocol::{Reply, RespVersion};
use crate::server::keyspace::{ExecError, Keyspace};
use crate::server::replies::Replies;
use crate::server::value::Entry;
use lcs::{lcs, LcsOptions};

type Result = std::result::Result<Reply, ExecError>;

/// Runs a string command on its keys.
pub(crate) fn run(ks: &mut Keyspace, keys: Keys, command: StringCommand) -> Result {
    use StringCommand::{
        Append, BitCount, BitField, BitOp, BitPos, DelEx, Digest, Get, GetBit, GetDel, GetEx,
        GetRange, GetVersioned, IncrBy, IncrByFloat, Lcs, MGet, MSet, MSetNx, Set, SetBit, SetNx,
        SetRange, StrLen,
    };
    match command {
        Get => get(ks, &first(keys)),
        GetVersioned => get_versioned(ks, &first(keys)),
        Set(cmd) => set(ks, first(keys), cmd),
        SetNx { value } => setnx(ks, first(keys), value),
        GetDel => getdel(ks, first(keys)),
        GetEx { expiry } => getex(ks, first(keys), expiry),
        MGet => mget(ks, &keys),
        MSet { values } => Ok(mset(ks, keys.into_iter().zip(values))),
        MSetNx { values } => msetnx(ks, keys.into_iter().zip(values).collect()),
        Append { value } => append(ks, first(keys), &value),
        StrLen => strlen(ks, &first(keys)),
        GetRange { start, end } => getrange(ks, &first(keys), start, end),
        SetRange { offset, value } => setrange(ks, first(keys), offset, &value),
        IncrBy { delta } => incr_by(ks, first(keys), delta),
        IncrByFloat { delta } => incr_by_float(ks, first(keys), &delta),
        DelEx { condition } => delex(ks, first(keys), condition.as_ref()),
        Digest => digest_of(ks, &first(keys)),
        SetBit { offset, value } => bits::setbit(ks, first(keys), offset, value),
        GetBit { offset } => bits::getbit(ks, &first(keys), offset),
        BitCount { range } => bits::bitcount(ks, &first(keys), &range),
        BitPos { bit, range } => bits::bitpos(ks, &first(keys), bit, &range),
        BitOp { op } => bits::bitop(ks, keys, op),
        BitField { ops } => bits::bitfield(ks, first(keys), &ops),
        Lcs {
            len,
            idx,
            min_match_len,
            with_match_len,
        } => lcs(
            ks,
            &keys,
            &LcsOptions {
                len,
                idx,
                min_match_len,
                with_match_len,
            },
        ),
    }
}

fn bulk_or_null(entry: Option<Entry>) -> Reply {
    entry.map_or(Reply::Null, |e| Reply::Bulk(e.value))
}

/// Whether a value condition holds for the current entry (a missing key fails IFEQ and
/// IFDEQ, and passes IFNE and IFDNE).
fn value_condition_holds(condition: &ValueCondition, current: Option<&Entry>) -> bool {
    match condition {
        ValueCondition::IfEq(want) => current.is_some_and(|e| e.value == *want),
        ValueCondition::IfNe(want) => current.is_none_or(|e| e.value != *want),
        ValueCondition::IfDeq(want) => current.is_some_and(|e| digest(&e.value) == *want),
        ValueCondition::IfDne(want) => current.is_none_or(|e| digest(&e.value) != *want),
    }
}

/// The absolute expiry (unix ms) an option asks for at `now` (`KeepTtl` keeps `current`'s),
/// or the error reply Redis gives when it overflows.
fn resolve_expiry(
    expiry: &Expiry,
    now: u64,
    current: Option<&Entry>,
    command: &'static str,
) -> std::result::Result<Option<u64>, Reply> {
    match expiry {
        Expiry::KeepTtl => Ok(current.and_then(|e| e.expires_at)),
        other => other
            .deadline_millis(now, command)
            .map_err(|e| Reply::error(e.to_string())),
    }
}

/// Stages `entry` under `key`, or a delete when its expiry has already passed (Redis deletes
/// a key SET with an expiry in the past).
fn store(ks: &mut Keyspace, key: Bytes, entry: Entry) {
    if entry.is_expired(ks.now()) {
        ks.delete(key);
    } else {
        ks.put(key, entry);
    }
}

/// GET key
fn get(ks: &Keyspace, key: &[u8]) -> Result {
    Ok(bulk_or_null(ks.get(key)?))
}

/// GET key, its reply encoded into `out` straight from where the value lies, with no
/// `Reply` and no reference count on the value (see `Db::get_with`): how a RESP
/// connection's round runs GET, the commonest request. A large value is copied after the
/// engine's lock is released, so a big read never holds up writes.
pub(crate) fn get_into(
    ks: &Keyspace,
    key: &[u8],
    version: RespVersion,
    out: &mut Replies,
) -> std::result::Result<(), ExecError> {
    /// Values up to this size are copied into `out` under the engine's lock (a microsecond).
    const COPIED_IN_PLACE: usize = 16 * 1024;
    let large = ks.get_with(key, |entry| match entry {
        Some(entry) if entry.value().len() > COPIED_IN_PLACE => Some(entry.to_entry()),
        Some(entry) => {
            out.bulk(entry.value());
            None
        }
        None => {
            out.reply(version, Reply::Null);
            None
        }
    })?;
    if let Some(entry) = large {
        out.bulk(&entry.value);
    }
    Ok(())
}

/// The native protocol's versioned read: `[value, version]`, or nil.
fn get_versioned(ks: &Keyspace, key: &[u8]) -> Result {
    let Some((entry, version)) = ks.get_versioned(key)? else {
        return Ok(Reply::Null);
    };
    Ok(Reply::Array(vec![
        Reply::Bulk(entry.value),
        Reply::Integer(i64::try_from(version).unwrap_or(i64::MAX)),
    ]))
}

/// SET key value [NX|XX|IFEQ|IFNE|IFDEQ|IFDNE] [GET] [EX|PX|EXAT|PXAT|KEEPTTL]
fn set(ks: &mut Keyspace, key: Bytes, cmd: Set) -> Result {
    let needs_current =
        cmd.get || cmd.condition.is_some() || matches!(cmd.expiry, Some(Expiry::KeepTtl));
    let current = if needs_current { ks.get(&key)? } else { None };
    let allowed = match cmd.condition.as_deref() {
        None => true,
        Some(SetCondition::Nx) => current.is_none(),
        Some(SetCondition::Xx) => current.is_some(),
        Some(SetCondition::IfEq(v)) => current.as_ref().is_some_and(|e| e.value == *v),
        Some(SetCondition::IfNe(v)) => current.as_ref().is_none_or(|e| e.value != *v),
        Some(SetCondition::IfDeq(d)) => current.as_ref().is_some_and(|e| digest(&e.value) == *d),
        Some(SetCondition::IfDne(d)) => current.as_ref().is_none_or(|e| digest(&e.value) != *d),
        Some(SetCondition::IfVersion(v)) => ks.version(&key)? == Some(*v),
    };
    let old = if cmd.get {
        bulk_or_null(current.clone())
    } else {
        Reply::Null
    };
    if !allowed {
        return Ok(old);
    }
    let expires_at = match &cmd.expiry {
        None => None,
        Some(expiry) => match resolve_expiry(expiry, ks.now(), current.as_ref(), "set") {
            Ok(at) => at,
            Err(reply) => return Ok(reply),
        },
    };
    store(
        ks,
        key,
        Entry {
            value: cmd.value,
            expires_at,
        },
    );
    Ok(if cmd.get { old } else { Reply::ok() })
}

/// SETNX key value
fn setnx(ks: &mut Keyspace, key: Bytes, value: Bytes) -> Result {
    if ks.contains(&key)? {
        return Ok(Reply::Integer(0));
    }
    ks.put(key, Entry::new(value));
    Ok(Reply::Integer(1))
}

/// GETDEL key
fn getdel(ks: &mut Keyspace, key: Bytes) -> Result {
    let current = ks.get(&key)?;
    if current.is_some() {
        ks.delete(key);
    }
    Ok(bulk_or_null(current))
}

/// GETEX key [EX|PX|EXAT|PXAT|PERSIST]
fn getex(ks: &mut Keyspace, key: Bytes, expiry: Option<GetExExpiry>) -> Result {
    let Some(mut entry) = ks.get(&key)? else {
        return Ok(Reply::Null);
    };
    let value = entry.value.clone();
    match expiry {
        Some(GetExExpiry::Persist) if entry.expires_at.is_some() => {
            entry.expires_at = None;
            ks.put(key, entry);
        }
        None | Some(GetExExpiry::Persist) => {}
        // Redis checks the expiry only once the key is found.
        Some(GetExExpiry::Invalid(error)) => return Ok(Reply::error(error.to_string())),
        Some(GetExExpiry::Expire(e)) => {
            entry.expires_at = match resolve_expiry(&e, ks.now(), None, "getex") {
                Ok(at) => at,
                Err(reply) => return Ok(reply),
            };
            store(ks, key, entry);
        }
    }
    Ok(Reply::Bulk(value))
}

/// MGET key [key ...]
fn mget(ks: &Keyspace, keys: &[Bytes]) -> Result {
    let mut values = Vec::with_capacity(keys.len());
    for key in keys {
        values.push(bulk_or_null(ks.get(key)?));
    }
    Ok(Reply::Array(values))
}

/// MSET key value [key value ...]
fn mset(ks: &mut Keyspace, pairs: impl IntoIterator<Item = (Bytes, Bytes)>) -> Reply {
    for (key, value) in pairs {
        ks.put(key, Entry::new(value));
    }
    Reply::ok()
}

/// MSETNX key value [key value ...]: all or none, only if none exists.
fn msetnx(ks: &mut Keyspace, pairs: Vec<(Bytes, Bytes)>) -> Result {
    for (key, _) in &pairs {
        if ks.contains(key)? {
            return Ok(Reply::Integer(0));
        }
    }
    mset(ks, pairs);
    Ok(Reply::Integer(1))
}

fn too_big() -> Reply {
    Reply::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
}

/// APPEND key value
fn append(ks: &mut Keyspace, key: Bytes, value: &[u8]) -> Result {
    let current = ks.get(&key)?;
    let (old, expires_at) = match &current {
        Some(e) => (e.value.clone(), e.expires_at),
        None => (Bytes::new(), None),
    };
    if old.len() + value.len() > MAX_STRING_LEN {
        return Ok(too_big());
    }
    let mut joined = BytesMut::with_capacity(old.len() + value.len());
    joined.extend_from_slice(&old);
    joined.extend_from_slice(value);
    let len = joined.len();
    ks.put(
        key,
        Entry {
            value: joined.freeze(),
            expires_at,
        },
    );
    Ok(Reply::count(len))
}

/// STRLEN key
fn strlen(ks: &Keyspace, key: &[u8]) -> Result {
    let len = ks.get_with(key, |entry| entry.map_or(0, |e| e.value().len()))?;
    Ok(Reply::count(len))
}

/// The byte range GETRANGE selects, with Redis's handling of negative and outsized offsets.
fn clamp_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = i64::try_from(len).ok()?;
    if len == 0 {
        return None;
    }
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 {
        (len + end).max(0)
    } else {
        end.min(len - 1)
    };
    if start > end || start >= len {
        return None;
    }
    // Both are now within 0..len.
    Some((
        start.unsigned_abs() as usize,
        end.unsigned_abs() as usize + 1,
    ))
}

/// GETRANGE key start end
fn getrange(ks: &Keyspace, key: &[u8], start: i64, end: i64) -> Result {
    let value = ks.get(key)?.map(|e| e.value).unwrap_or_default();
    Ok(Reply::Bulk(match clamp_range(value.len(), start, end) {
        Some((from, to)) => value.slice(from..to),
        None => Bytes::new(),
    }))
}

/// SETRANGE key offset value
fn setrange(ks: &mut Keyspace, key: Bytes, offset: usize, value: &[u8]) -> Result {
    let current = ks.get(&key)?;
    let old_len = current.as_ref().map_or(0, |e| e.value.len());
    if value.is_empty() {
        return Ok(Reply::count(old_len));
    }
    let Some(new_len) = offset
        .checked_add(value.len())
        .filter(|&n| n <= MAX_STRING_LEN)
    else {
        return Ok(too_big());
    };
    let expires_at = current.as_ref().and_then(|e| e.expires_at);
    let mut bytes = BytesMut::zeroed(new_len.max(old_len));
    if let Some(e) = &current {
        bytes[..old_len].copy_from_slice(&e.value);
    }
    bytes[offset..new_len].copy_from_slice(value);
    let len = bytes.len();
    ks.put(
        key,
        Entry {
            value: bytes.freeze(),
            expires_at,
        },
    );
    Ok(Reply::count(len))
}

/// Parses a stored value as Redis's string2ll does: optional '-', digits, no spaces or '+',
/// no leading zeros, at most 20 bytes.
fn parse_i64(value: &[u8]) -> Option<i64> {
    if value.is_empty() || value.len() > 20 {
        return None;
    }
    let digits = value.strip_prefix(b"-").unwrap_or(value);
    if digits.is_empty()
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits.len() > 1 && digits[0] == b'0')
        || value == b"-0"
    {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// INCR, DECR, INCRBY, DECRBY
fn incr_by(ks: &mut Keyspace, key: Bytes, delta: i64) -> Result {
    // Read in place: the counter is parsed where it lies, not cloned.
    let current = ks.get_with(&key, |e| e.map(|e| (parse_i64(e.value()), e.expires_at)))?;
    let (old, expires_at) = match current {
        Some((Some(n), expires_at)) => (n, expires_at),
        Some((None, _)) => return Ok(Reply::error("ERR value is not an integer or out of range")),
        None => (0, None),
    };
    let Some(new) = old.checked_add(delta) else {
        return Ok(Reply::error("ERR increment or decrement would overflow"));
    };
    ks.put(
        key,
        Entry {
            // itoa, not `to_string`: formatting through `fmt` and a growing String cost
            // more than the rest of the command's own work.
            value: Bytes::copy_from_slice(itoa::Buffer::new().format(new).as_bytes()),
            expires_at,
        },
    );
    Ok(Reply::Integer(new))
}

/// INCRBYFLOAT key increment, in C long double as Redis computes it; the stored value
/// keeps its expiry.
fn incr_by_float(ks: &mut Keyspace, key: Bytes, delta: &LongDouble) -> Result {
    let current = ks.get_with(&key, |e| {
        e.map(|e| (long_double::incr(Some(e.value()), delta), e.expires_at))
    })?;
    let (sum, expires_at) = current.unwrap_or_else(|| (long_double::incr(None, delta), None));
    let text = match sum {
        Ok(text) => text,
        Err(e) => return Ok(Reply::error(e.to_string())),
    };
    ks.put(
        key,
        Entry {
            value: text.clone(),
            expires_at,
        },
    );
    Ok(Reply::Bulk(text))
}

/// DELEX key [IFEQ v|IFNE v|IFDEQ d|IFDNE d]
fn delex(ks: &mut Keyspace, key: Bytes, condition: Option<&ValueCondition>) -> Result {
    let current = ks.get(&key)?;
    let Some(entry) = &current else {
        return Ok(Reply::Integer(0));
    };
    if let Some(condition) = condition {
        if !value_condition_holds(condition, Some(entry)) {
            return Ok(Reply::Integer(0));
        }
    }
    ks.delete(key);
    Ok(Reply::Integer(1))
}

/// DIGEST key: the value's XXH3-64 as 16 hex digits.
fn digest_of(ks: &Keyspace, key: &[u8]) -> Result {
    Ok(match ks.get(key)? {
        Some(e) => Reply::Bulk(Bytes::from(digest_hex(digest(&e.value)))),
        None => Reply::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_as_redis_does() {
        assert_eq!(parse_i64(b"42"), Some(42));
        assert_eq!(parse_i64(b"-7"), Some(-7));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"+1",
            b"01",
            b"-0",
            b"1.0",
            b"9223372036854775808",
            b"-",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn getrange_clamps_like_redis() {
        // "This is a string" examples from the Redis docs.
        assert_eq!(clamp_range(16, 0, 3), Some((0, 4)));
        assert_eq!(clamp_range(16, -3, -1), Some((13, 16)));
        assert_eq!(clamp_range(16, 0, -1), Some((0, 16)));
        assert_eq!(clamp_range(16, 10, 100), Some((10, 16)));
        assert_eq!(clamp_range(16, 5, 3), None);
        assert_eq!(clamp_range(0, 0, -1), None);
        assert_eq!(clamp_range(16, 20, 30), None);
    }
}
