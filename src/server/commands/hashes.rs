//! Hash commands: a hash is a header (`value::Meta`, kind Hash, its field count) and one
//! element per field, its suffix the field's bytes and its value the field's value (see
//! docs/storage-format.md, "Collections"). Their rows and parsers are in
//! `protocol/command/hashes.rs`.
//!
//! Each function runs against a [`Keyspace`] and returns the reply; the dispatcher holds
//! the key locks and commits what was staged. A write rewrites the header whenever it
//! changes the hash (so WATCH sees it), and an emptied hash is deleted.

use bytes::Bytes;

use super::elements::scan;
use super::first;
use super::sets::pick::{self, element_key, Picked};
use crate::protocol::command::{parse_i64, HashCommand, Keys};
use crate::protocol::long_double::{self, LongDouble};
use crate::protocol::{CommandError, Reply, RespVersion};
use crate::server::keyspace::{ExecError, Keyspace};
use crate::server::pattern;
use crate::server::value::{Kind, Meta};

type Result = std::result::Result<Reply, ExecError>;

/// Runs a hash command on its key.
/// `resp` is the client's protocol: HRANDFIELD WITHVALUES pairs its items in RESP3 only.
pub(crate) fn run(
    ks: &mut Keyspace,
    resp: RespVersion,
    keys: Keys,
    command: HashCommand,
) -> Result {
    let key = first(keys);
    match command {
        HashCommand::Set { pairs, ok } => hset(ks, key, pairs, ok),
        HashCommand::SetNx { field, value } => hsetnx(ks, key, &field, value),
        HashCommand::Get { field } => hget(ks, &key, &field),
        HashCommand::MGet { fields } => hmget(ks, &key, &fields),
        HashCommand::GetAll => hgetall(ks, &key),
        HashCommand::Del { fields } => hdel(ks, key, &fields),
        HashCommand::Exists { field } => Ok(Reply::Integer(i64::from(
            hget_value(ks, &key, &field)?.is_some(),
        ))),
        HashCommand::IncrBy { field, delta } => hincrby(ks, key, &field, delta),
        HashCommand::IncrByFloat { field, delta } => hincrbyfloat(ks, key, &field, &delta),
        HashCommand::Keys => listing(ks, &key, |field, _| Reply::Bulk(field)),
        HashCommand::Vals => listing(ks, &key, |_, value| Reply::Bulk(value)),
        HashCommand::Len => Ok(Reply::count(
            ks.collection(&key, Kind::Hash)?.map_or(0, |m| m.len),
        )),
        HashCommand::StrLen { field } => {
            let len = hget_value(ks, &key, &field)?.map_or(0, |v| v.len());
            Ok(Reply::count(len as u64))
        }
        HashCommand::RandField { count, with_values } => {
            hrandfield(ks, &key, count, with_values, resp)
        }
        HashCommand::Scan(options) => {
            let Some(meta) = ks.collection(&key, Kind::Hash)? else {
                return Ok(empty_scan());
            };
            let prefix = ks.elements_of(&key, &meta);
            let options = match options {
                Ok(options) => options,
                Err(error) => return Ok(Reply::error(error.to_string())),
            };
            let pattern = options.pattern.as_deref();
            scan(
                ks,
                &prefix,
                options.cursor,
                options.count,
                |field, value, out| {
                    if pattern.is_none_or(|p| pattern::matches(p, field)) {
                        out.push(Reply::Bulk(Bytes::copy_from_slice(field)));
                        out.push(Reply::Bulk(value.clone()));
                    }
                },
            )
        }
    }
}

/// The reply of an xSCAN of a missing key: cursor 0, no elements.
pub(crate) fn empty_scan() -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from_static(b"0")),
        Reply::Array(Vec::new()),
    ])
}

/// The hash under `key` and the prefix of its elements, if it exists.
fn hash(ks: &Keyspace, key: &[u8]) -> std::result::Result<Option<(Meta, Bytes)>, ExecError> {
    Ok(ks
        .collection(key, Kind::Hash)?
        .map(|meta| (meta, ks.elements_of(key, &meta))))
}

/// The hash under `key`, or a new empty one to write.
fn hash_or_new(ks: &mut Keyspace, key: &[u8]) -> std::result::Result<(Meta, Bytes), ExecError> {
    if let Some(found) = hash(ks, key)? {
        return Ok(found);
    }
    let meta = Meta::new(Kind::Hash, ks.new_version()?);
    let prefix = ks.elements_of(key, &meta);
    Ok((meta, prefix))
}

/// The value of `field` in the hash under `key`.
fn hget_value(
    ks: &Keyspace,
    key: &[u8],
    field: &[u8],
) -> std::result::Result<Option<Bytes>, ExecError> {
    let Some((_, prefix)) = hash(ks, key)? else {
        return Ok(None);
    };
    ks.element(&element_key(&prefix, field))
}

/// HSET key field value [field value ...], and HMSET (`ok`).
fn hset(ks: &mut Keyspace, key: Bytes, pairs: Vec<(Bytes, Bytes)>, ok: bool) -> Result {
    let (mut meta, prefix) = hash_or_new(ks, &key)?;
    let mut added = 0u64;
    for (field, value) in pairs {
        let element = element_key(&prefix, &field);
        if ks.element(&element)?.is_none() {
            added += 1;
        }
        ks.put_element(element, value);
    }
    meta.len += added;
    ks.put_meta(key, meta);
    Ok(if ok { Reply::ok() } else { Reply::count(added) })
}

/// HSETNX key field value
fn hsetnx(ks: &mut Keyspace, key: Bytes, field: &[u8], value: Bytes) -> Result {
    let (mut meta, prefix) = hash_or_new(ks, &key)?;
    let element = element_key(&prefix, field);
    if ks.element(&element)?.is_some() {
        return Ok(Reply::Integer(0));
    }
    ks.put_element(element, value);
    meta.len += 1;
    ks.put_meta(key, meta);
    Ok(Reply::Integer(1))
}

/// HGET key field
fn hget(ks: &Keyspace, key: &[u8], field: &[u8]) -> Result {
    Ok(hget_value(ks, key, field)?.map_or(Reply::Null, Reply::Bulk))
}

/// HMGET key field [field ...]
fn hmget(ks: &Keyspace, key: &[u8], fields: &[Bytes]) -> Result {
    let Some((_, prefix)) = hash(ks, key)? else {
        return Ok(Reply::Array(vec![Reply::Null; fields.len()]));
    };
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        out.push(
            ks.element(&element_key(&prefix, field))?
                .map_or(Reply::Null, Reply::Bulk),
        );
    }
    Ok(Reply::Array(out))
}

/// HGETALL key: fields in their stored (byte) order, a map in RESP3.
fn hgetall(ks: &Keyspace, key: &[u8]) -> Result {
    let Some((_, prefix)) = hash(ks, key)? else {
        return Ok(Reply::Map(Vec::new()));
    };
    let pairs = pick::all(ks, &prefix)?
        .into_iter()
        .map(|(field, value)| (Reply::Bulk(field), Reply::Bulk(value)))
        .collect();
    Ok(Reply::Map(pairs))
}

/// HKEYS and HVALS: one reply item per field.
fn listing(ks: &Keyspace, key: &[u8], item: impl Fn(Bytes, Bytes) -> Reply) -> Result {
    let Some((_, prefix)) = hash(ks, key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let items = pick::all(ks, &prefix)?
        .into_iter()
        .map(|(field, value)| item(field, value))
        .collect();
    Ok(Reply::Array(items))
}

/// HDEL key field [field ...]
fn hdel(ks: &mut Keyspace, key: Bytes, fields: &[Bytes]) -> Result {
    let Some((mut meta, prefix)) = hash(ks, &key)? else {
        return Ok(Reply::Integer(0));
    };
    let mut removed = 0u64;
    for field in fields {
        let element = element_key(&prefix, field);
        if ks.element(&element)?.is_some() {
            ks.delete_element(element);
            removed += 1;
        }
    }
    if removed > 0 {
        meta.len = meta.len.saturating_sub(removed);
        ks.put_meta(key, meta);
    }
    Ok(Reply::count(removed))
}

/// Stages `value` as `field`'s, counting the field if it is new.
fn put_field(
    ks: &mut Keyspace,
    key: Bytes,
    mut meta: Meta,
    element: Bytes,
    new: bool,
    value: Bytes,
) {
    ks.put_element(element, value);
    if new {
        meta.len += 1;
    }
    ks.put_meta(key, meta);
}

/// HINCRBY key field increment
fn hincrby(ks: &mut Keyspace, key: Bytes, field: &[u8], delta: i64) -> Result {
    let (meta, prefix) = hash_or_new(ks, &key)?;
    let element = element_key(&prefix, field);
    let current = ks.element(&element)?;
    let old = match &current {
        None => 0,
        Some(value) => match parse_i64(value) {
            Some(n) => n,
            None => return Ok(Reply::error("ERR hash value is not an integer")),
        },
    };
    let Some(new) = old.checked_add(delta) else {
        return Ok(Reply::error(CommandError::IncrementOverflow.to_string()));
    };
    let text = Bytes::copy_from_slice(itoa::Buffer::new().format(new).as_bytes());
    put_field(ks, key, meta, element, current.is_none(), text);
    Ok(Reply::Integer(new))
}

/// HINCRBYFLOAT key field increment, in C long double, printed as Redis prints it.
fn hincrbyfloat(ks: &mut Keyspace, key: Bytes, field: &[u8], delta: &LongDouble) -> Result {
    let (meta, prefix) = hash_or_new(ks, &key)?;
    let element = element_key(&prefix, field);
    let current = ks.element(&element)?;
    let text = match long_double::incr(current.as_deref(), delta) {
        Ok(text) => text,
        Err(CommandError::NotFloat) => return Ok(Reply::error("ERR hash value is not a float")),
        Err(error) => return Ok(Reply::error(error.to_string())),
    };
    put_field(ks, key, meta, element, current.is_none(), text.clone());
    Ok(Reply::Bulk(text))
}

/// HRANDFIELD key [count [WITHVALUES]] (see `sets::pick` for how fields are picked).
fn hrandfield(
    ks: &Keyspace,
    key: &[u8],
    count: Option<i64>,
    with_values: bool,
    resp: RespVersion,
) -> Result {
    let picks = match pick::random(ks, hash(ks, key)?, count)? {
        Picked::One(field) => return Ok(field.map_or(Reply::Null, Reply::Bulk)),
        Picked::Many(picks) => picks,
    };
    let items = if with_values && resp == RespVersion::Resp3 {
        picks
            .into_iter()
            .map(|(field, value)| Reply::Array(vec![Reply::Bulk(field), Reply::Bulk(value)]))
            .collect()
    } else if with_values {
        // RESP2 flattens the pairs.
        let mut items = Vec::with_capacity(picks.len().saturating_mul(2));
        for (field, value) in picks {
            items.push(Reply::Bulk(field));
            items.push(Reply::Bulk(value));
        }
        items
    } else {
        picks
            .into_iter()
            .map(|(field, _)| Reply::Bulk(field))
            .collect()
    };
    Ok(Reply::Array(items))
}
