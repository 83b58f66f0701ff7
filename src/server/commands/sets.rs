//! Set commands: a set is a header (`value::Meta`, kind Set, its member count) and one
//! element per member, its suffix the member's bytes and its value empty (see
//! docs/storage-format.md, "Collections"). Their rows and parsers are in
//! `protocol/command/sets.rs`; the algebra of several sets is in `sets/algebra.rs`,
//! random picks (shared with HRANDFIELD) in `sets/pick.rs`.
//!
//! Each function runs against a [`Keyspace`] and returns the reply; the dispatcher holds
//! the key locks and commits what was staged. A write rewrites the header whenever it
//! changes the set (so WATCH sees it), and an emptied set is deleted.

mod algebra;
pub(crate) mod pick;

use bytes::Bytes;

use super::elements::scan;
use super::first;
use super::hashes::empty_scan;
use crate::protocol::command::{Keys, SetCommand};
use crate::protocol::Reply;
use crate::server::keyspace::{ExecError, Keyspace};
use crate::server::pattern;
use crate::server::value::{Kind, Meta};
use pick::element_key;

type Result = std::result::Result<Reply, ExecError>;

/// Runs a set command on its keys.
pub(crate) fn run(ks: &mut Keyspace, keys: Keys, command: SetCommand) -> Result {
    match command {
        SetCommand::Add { members } => sadd(ks, first(keys), &members),
        SetCommand::Rem { members } => srem(ks, first(keys), &members),
        SetCommand::Members => {
            let Some((_, prefix)) = set(ks, &first(keys))? else {
                return Ok(Reply::Set(Vec::new()));
            };
            Ok(members_reply(members_of(ks, &prefix)?))
        }
        SetCommand::IsMember { member } => {
            let found = is_member(ks, &first(keys), &member)?;
            Ok(Reply::Integer(i64::from(found)))
        }
        SetCommand::MIsMember { members } => smismember(ks, &first(keys), &members),
        SetCommand::Card => {
            let len = ks.collection(&first(keys), Kind::Set)?.map_or(0, |m| m.len);
            Ok(Reply::count(len))
        }
        SetCommand::Pop { count } => spop(ks, first(keys), count),
        SetCommand::RandMember { count } => srandmember(ks, &first(keys), count),
        SetCommand::Inter { store } => algebra::run(ks, &keys, algebra::Op::Inter, store),
        SetCommand::Union { store } => algebra::run(ks, &keys, algebra::Op::Union, store),
        SetCommand::Diff { store } => algebra::run(ks, &keys, algebra::Op::Diff, store),
        SetCommand::InterCard { keys: _, limit } => algebra::intercard(ks, &keys, limit),
        SetCommand::Move { member } => smove(ks, keys, &member),
        SetCommand::Scan(options) => {
            let Some((_, prefix)) = set(ks, &first(keys))? else {
                return Ok(empty_scan());
            };
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
                |member, _, out| {
                    if pattern.is_none_or(|p| pattern::matches(p, member)) {
                        out.push(Reply::Bulk(Bytes::copy_from_slice(member)));
                    }
                },
            )
        }
    }
}

/// The set under `key` and the prefix of its members, if it exists.
pub(crate) fn set(
    ks: &Keyspace,
    key: &[u8],
) -> std::result::Result<Option<(Meta, Bytes)>, ExecError> {
    Ok(ks
        .collection(key, Kind::Set)?
        .map(|meta| (meta, ks.elements_of(key, &meta))))
}

/// Every member of the set whose elements are under `prefix`, in byte order.
fn members_of(ks: &Keyspace, prefix: &Bytes) -> std::result::Result<Vec<Bytes>, ExecError> {
    ks.elements_under(prefix, false)
        .map(|item| item.map(|(key, _)| key.slice(prefix.len()..)))
        .collect()
}

/// Members as a reply: a set in RESP3, as Redis replies SMEMBERS, SINTER, SPOP with a
/// count, ...
pub(crate) fn members_reply(members: Vec<Bytes>) -> Reply {
    Reply::Set(members.into_iter().map(Reply::Bulk).collect())
}

fn is_member(ks: &Keyspace, key: &[u8], member: &[u8]) -> std::result::Result<bool, ExecError> {
    let Some((_, prefix)) = set(ks, key)? else {
        return Ok(false);
    };
    Ok(ks.element(&element_key(&prefix, member))?.is_some())
}

/// Adds `members` to the set (`meta`, `prefix`) under `key` and rewrites its header;
/// the count of members that were new.
fn add_members(
    ks: &mut Keyspace,
    key: Bytes,
    (mut meta, prefix): (Meta, Bytes),
    members: &[Bytes],
) -> std::result::Result<u64, ExecError> {
    let mut added = 0u64;
    for member in members {
        let element = element_key(&prefix, member);
        if ks.element(&element)?.is_none() {
            ks.put_element(element, Bytes::new());
            added += 1;
        }
    }
    if added > 0 {
        meta.len += added;
        ks.put_meta(key, meta);
    }
    Ok(added)
}

/// The set under `key`, or a new empty one to write.
fn set_or_new(ks: &mut Keyspace, key: &[u8]) -> std::result::Result<(Meta, Bytes), ExecError> {
    if let Some(found) = set(ks, key)? {
        return Ok(found);
    }
    let meta = Meta::new(Kind::Set, ks.new_version()?);
    let prefix = ks.elements_of(key, &meta);
    Ok((meta, prefix))
}

/// SADD key member [member ...]
fn sadd(ks: &mut Keyspace, key: Bytes, members: &[Bytes]) -> Result {
    let found = set_or_new(ks, &key)?;
    Ok(Reply::count(add_members(ks, key, found, members)?))
}

/// SREM key member [member ...]
fn srem(ks: &mut Keyspace, key: Bytes, members: &[Bytes]) -> Result {
    let Some((meta, prefix)) = set(ks, &key)? else {
        return Ok(Reply::Integer(0));
    };
    let removed = remove_members(ks, key, meta, &prefix, members.iter().cloned())?;
    Ok(Reply::count(removed))
}

/// Removes the `members` present from the set and rewrites its header (deleting it when
/// emptied); the count removed.
fn remove_members(
    ks: &mut Keyspace,
    key: Bytes,
    mut meta: Meta,
    prefix: &[u8],
    members: impl Iterator<Item = Bytes>,
) -> std::result::Result<u64, ExecError> {
    let mut removed = 0u64;
    for member in members {
        let element = element_key(prefix, &member);
        if ks.element(&element)?.is_some() {
            ks.delete_element(element);
            removed += 1;
        }
    }
    if removed > 0 {
        meta.len = meta.len.saturating_sub(removed);
        ks.put_meta(key, meta);
    }
    Ok(removed)
}

/// SMISMEMBER key member [member ...]
fn smismember(ks: &Keyspace, key: &[u8], members: &[Bytes]) -> Result {
    let found = set(ks, key)?;
    let mut out = Vec::with_capacity(members.len());
    for member in members {
        let here = match &found {
            Some((_, prefix)) => ks.element(&element_key(prefix, member))?.is_some(),
            None => false,
        };
        out.push(Reply::Integer(i64::from(here)));
    }
    Ok(Reply::Array(out))
}

/// SPOP key [count]: a count covering the whole set pops it all (and deletes the key).
fn spop(ks: &mut Keyspace, key: Bytes, count: Option<u64>) -> Result {
    let Some((meta, prefix)) = set(ks, &key)? else {
        return Ok(if count.is_some() {
            Reply::Set(Vec::new())
        } else {
            Reply::Null
        });
    };
    let Some(count) = count else {
        let Some((member, _)) = pick::one(ks, &prefix, meta.len)? else {
            return Ok(Reply::Null);
        };
        remove_members(ks, key, meta, &prefix, std::iter::once(member.clone()))?;
        return Ok(Reply::Bulk(member));
    };
    if count == 0 {
        return Ok(Reply::Set(Vec::new()));
    }
    let members: Vec<Bytes> = if count >= meta.len {
        members_of(ks, &prefix)?
    } else {
        pick::distinct(ks, &prefix, meta.len, count)?
            .into_iter()
            .map(|(member, _)| member)
            .collect()
    };
    if count >= meta.len {
        // Elements of a deleted key are compaction's to drop.
        ks.delete(key);
    } else {
        remove_members(ks, key, meta, &prefix, members.iter().cloned())?;
    }
    Ok(members_reply(members))
}

/// SRANDMEMBER key [count]: distinct members for a positive count, independent picks for
/// a negative one; an array in RESP3 too, as Redis replies.
fn srandmember(ks: &Keyspace, key: &[u8], count: Option<i64>) -> Result {
    Ok(match pick::random(ks, set(ks, key)?, count)? {
        pick::Picked::One(member) => member.map_or(Reply::Null, Reply::Bulk),
        pick::Picked::Many(picks) => Reply::Array(
            picks
                .into_iter()
                .map(|(member, _)| Reply::Bulk(member))
                .collect(),
        ),
    })
}

/// SMOVE source destination member, as Redis 7.0: a missing source is 0 before the
/// destination's type is checked; source = destination only reports membership.
fn smove(ks: &mut Keyspace, keys: Keys, member: &Bytes) -> Result {
    let mut keys = keys.into_iter();
    let (Some(source), Some(destination)) = (keys.next(), keys.next()) else {
        return Ok(Reply::Integer(0));
    };
    let Some((meta, prefix)) = set(ks, &source)? else {
        return Ok(Reply::Integer(0));
    };
    let target = ks.collection(&destination, Kind::Set)?;
    let element = element_key(&prefix, member);
    let here = ks.element(&element)?.is_some();
    if source == destination || !here {
        return Ok(Reply::Integer(i64::from(here)));
    }
    remove_members(ks, source, meta, &prefix, std::iter::once(member.clone()))?;
    let target = match target {
        Some(meta) => (meta, ks.elements_of(&destination, &meta)),
        None => set_or_new(ks, &destination)?,
    };
    add_members(ks, destination, target, std::slice::from_ref(member))?;
    Ok(Reply::Integer(1))
}
