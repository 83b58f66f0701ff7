//! The algebra of several sets: SINTER, SUNION, SDIFF, their STORE forms and SINTERCARD.
//!
//! As Redis 7.0, every key is looked up and type-checked before any work, so a string
//! among the keys is WRONGTYPE even when an earlier set is missing. An intersection
//! walks its smallest set and probes the others with point reads (it stops at once when
//! one is missing or empty); a difference walks the first set and probes the rest; a
//! union merges them all. A STORE form computes the result before it writes, so its
//! destination may be one of its sources, and replaces whatever the destination held
//! (any type, and its TTL) with a new set, or deletes it for an empty result.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::{members_reply, set};
use crate::protocol::command::Keys;
use crate::protocol::Reply;
use crate::server::keyspace::{ExecError, Keyspace};
use crate::server::value::{Kind, Meta};

use super::pick::element_key;

type Result<T> = std::result::Result<T, ExecError>;

/// Which combination of the sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    /// Members of every set.
    Inter,
    /// Members of any set.
    Union,
    /// Members of the first set and of none of the others.
    Diff,
}

/// Every key's set (`None` for a missing key), type-checked before any is read.
fn sets_of(ks: &Keyspace, keys: &[Bytes]) -> Result<Vec<Option<(Meta, Bytes)>>> {
    keys.iter().map(|key| set(ks, key)).collect()
}

/// Whether `member` is in the set whose elements are under `prefix`.
fn contains(ks: &Keyspace, prefix: &[u8], member: &[u8]) -> Result<bool> {
    Ok(ks.element(&element_key(prefix, member))?.is_some())
}

/// The members of the set under `prefix`, in byte order, stopping when `keep` says so.
fn walk(ks: &Keyspace, prefix: &Bytes, mut keep: impl FnMut(Bytes) -> Result<bool>) -> Result<()> {
    for item in ks.elements_under(prefix, false) {
        let (key, _) = item?;
        if !keep(key.slice(prefix.len()..))? {
            break;
        }
    }
    Ok(())
}

/// The intersection, up to `limit` members (0: all).
fn inter(ks: &Keyspace, sets: &[Option<(Meta, Bytes)>], limit: u64) -> Result<Vec<Bytes>> {
    let mut present: Vec<&(Meta, Bytes)> = Vec::with_capacity(sets.len());
    for found in sets {
        match found {
            Some(found) => present.push(found),
            // An empty set empties the intersection.
            None => return Ok(Vec::new()),
        }
    }
    present.sort_by_key(|(meta, _)| meta.len);
    let Some(((_, smallest), rest)) = present.split_first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    walk(ks, smallest, |member| {
        for (_, prefix) in rest {
            if !contains(ks, prefix, &member)? {
                return Ok(true);
            }
        }
        out.push(member);
        Ok(limit == 0 || (out.len() as u64) < limit)
    })?;
    Ok(out)
}

/// The union, in byte order.
fn union(ks: &Keyspace, sets: &[Option<(Meta, Bytes)>]) -> Result<Vec<Bytes>> {
    let mut out = BTreeSet::new();
    for (_, prefix) in sets.iter().flatten() {
        walk(ks, prefix, |member| {
            out.insert(member);
            Ok(true)
        })?;
    }
    Ok(out.into_iter().collect())
}

/// The first set less the others.
fn diff(ks: &Keyspace, sets: &[Option<(Meta, Bytes)>]) -> Result<Vec<Bytes>> {
    let Some((Some((_, first)), rest)) = sets.split_first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    walk(ks, first, |member| {
        for (_, prefix) in rest.iter().flatten() {
            if prefix == first || contains(ks, prefix, &member)? {
                return Ok(true);
            }
        }
        out.push(member);
        Ok(true)
    })?;
    Ok(out)
}

/// SINTER/SUNION/SDIFF key [key ...], and their STORE forms (`store`: the first key is
/// the destination).
pub(super) fn run(ks: &mut Keyspace, keys: &Keys, op: Op, store: bool) -> Result<Reply> {
    let sources = if store { &keys[1..] } else { &keys[..] };
    let sets = sets_of(ks, sources)?;
    let members = match op {
        Op::Inter => inter(ks, &sets, 0)?,
        Op::Union => union(ks, &sets)?,
        Op::Diff => diff(ks, &sets)?,
    };
    if !store {
        return Ok(members_reply(members));
    }
    let destination = keys[0].clone();
    let len = members.len() as u64;
    if members.is_empty() {
        ks.delete(destination);
        return Ok(Reply::Integer(0));
    }
    let mut meta = Meta::new(Kind::Set, ks.new_version()?);
    let prefix = ks.elements_of(&destination, &meta);
    for member in members {
        ks.put_element(element_key(&prefix, &member), Bytes::new());
    }
    meta.len = len;
    ks.put_meta(destination, meta);
    Ok(Reply::count(len))
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub(super) fn intercard(ks: &Keyspace, keys: &[Bytes], limit: u64) -> Result<Reply> {
    let sets = sets_of(ks, keys)?;
    Ok(Reply::count(inter(ks, &sets, limit)?.len() as u64))
}
