//! Sorted-set commands (Redis 7.0): ZADD, ZINCRBY, scores, ranks, the ZRANGE family,
//! removals, pops, ZUNIONSTORE/ZINTERSTORE and ZSCAN. Their rows and parsers are in
//! `protocol/command/zsets.rs`; the records in `store.rs`, the ranges in `range.rs`.
//!
//! Replies follow Redis 7.0: scores as `%.17g` doubles (RESP3 `,`), member/score pairs
//! flat in RESP2 and nested in RESP3.
//!
//! Scores compare exactly, as Redis's do (`float_cmp` is allowed for that).
#![allow(clippy::float_cmp)]

mod range;
mod store;

use std::collections::HashMap;

use bytes::Bytes;

use super::elements;
use crate::protocol::command::{Aggregate, RangeBy, ZAddFlags, ZRange, ZSetCommand, ZStore};
use crate::protocol::reply::DoubleBuf;
use crate::protocol::{Reply, RespVersion};
use crate::server::blocking::{self, block_if_none, out_of_range};
use crate::server::dispatch::Context;
use crate::server::keyspace::{ExecError, Keyspace};
use crate::server::pattern;
use range::Members;
pub(crate) use store::decode_score;
use store::ZSet;

type Result = std::result::Result<Reply, ExecError>;

const NAN: &str = "ERR resulting score is not a number (NaN)";

/// Runs a sorted-set command on its keys; the session's protocol shapes the pairs of
/// WITHSCORES.
pub(crate) fn run(cx: &mut Context, keys: &[Bytes], command: ZSetCommand) -> Result {
    let resp = cx.session.resp;
    if let ZSetCommand::BPop { max, timeout } = command {
        if let Some(error) = out_of_range(cx.ks, timeout) {
            return Ok(error);
        }
        let reply = bzpop(cx.ks, keys, max, cx.session.woken)?;
        return Ok(block_if_none(
            cx,
            reply,
            keys.to_vec(),
            Some(timeout),
            Reply::NullArray,
        ));
    }
    let ks = &mut *cx.ks;
    let key = keys.first().cloned().unwrap_or_default();
    match command {
        ZSetCommand::Add { flags, pairs } => zadd(ks, &key, flags, pairs),
        ZSetCommand::IncrBy { delta, member } => {
            let flags = ZAddFlags {
                incr: true,
                ..ZAddFlags::default()
            };
            zadd(ks, &key, flags, vec![(delta, member)])
        }
        ZSetCommand::Score(member) => Ok(match ZSet::open(ks, &key)? {
            Some(z) => z.score(ks, &member)?.map_or(Reply::Null, Reply::Double),
            None => Reply::Null,
        }),
        ZSetCommand::MScore(members) => {
            let z = ZSet::open(ks, &key)?;
            let mut out = Vec::with_capacity(members.len());
            for member in members {
                let score = match &z {
                    Some(z) => z.score(ks, &member)?,
                    None => None,
                };
                out.push(score.map_or(Reply::Null, Reply::Double));
            }
            Ok(Reply::Array(out))
        }
        ZSetCommand::Rank { member, reverse } => {
            let Some(z) = ZSet::open(ks, &key)? else {
                return Ok(Reply::Null);
            };
            let Some(score) = z.score(ks, &member)? else {
                return Ok(Reply::Null);
            };
            let rank = range::rank(ks, &z, score, &member)?;
            let rank = if reverse {
                z.meta.len.saturating_sub(rank + 1)
            } else {
                rank
            };
            Ok(Reply::count(rank))
        }
        ZSetCommand::Range(range) => zrange(ks, resp, &key, &range),
        ZSetCommand::Rem(members) => zrem(ks, &key, &members),
        ZSetCommand::RemRange(by) => zremrange(ks, &key, &by),
        ZSetCommand::Card => Ok(Reply::count(
            ZSet::open(ks, &key)?.map_or(0, |z| z.meta.len),
        )),
        ZSetCommand::Count(range) => counted(ks, &key, &RangeBy::Score(range)),
        ZSetCommand::LexCount(range) => counted(ks, &key, &RangeBy::Lex(*range)),
        ZSetCommand::Pop { max, count } => zpop(ks, resp, &key, max, count),
        ZSetCommand::Store(store) => zstore(ks, keys, *store),
        // Answered above, before the keyspace is borrowed alone.
        ZSetCommand::BPop { .. } => Ok(Reply::NullArray),
        ZSetCommand::Scan(scan) => {
            let Some(z) = ZSet::open(ks, &key)? else {
                return Ok(Reply::Array(vec![
                    Reply::Bulk(Bytes::from_static(b"0")),
                    Reply::Array(Vec::new()),
                ]));
            };
            let scan = match *scan {
                Ok(scan) => scan,
                Err(error) => return Ok(Reply::error(error.to_string())),
            };
            let prefix = z.member_prefix();
            elements::scan(
                ks,
                &prefix,
                scan.cursor,
                scan.count,
                |member, value, items| {
                    if scan
                        .pattern
                        .as_ref()
                        .is_some_and(|p| !pattern::matches(p, member))
                    {
                        return;
                    }
                    let (_, score) = z.member_entry(&[&prefix[..], member].concat(), value);
                    let mut buf = DoubleBuf::new();
                    items.push(Reply::Bulk(Bytes::copy_from_slice(member)));
                    items.push(Reply::Bulk(Bytes::copy_from_slice(buf.format(score))));
                },
            )
        }
    }
}

/// Members and their scores as Redis replies them: flat in RESP2, pairs in RESP3.
fn with_scores(resp: RespVersion, members: Members) -> Reply {
    if resp == RespVersion::Resp2 {
        let mut out = Vec::with_capacity(members.len() * 2);
        for (member, score) in members {
            out.push(Reply::Bulk(member));
            out.push(Reply::Double(score));
        }
        Reply::Array(out)
    } else {
        Reply::Array(
            members
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect(),
        )
    }
}

/// ZADD (and ZINCRBY, as ZADD INCR), as `zsetAdd` decides each member.
fn zadd(ks: &mut Keyspace, key: &Bytes, flags: ZAddFlags, pairs: Vec<(f64, Bytes)>) -> Result {
    let found = ZSet::open(ks, key)?;
    let nothing = || {
        if flags.incr {
            Reply::Null
        } else {
            Reply::Integer(0)
        }
    };
    if found.is_none() && flags.xx {
        return Ok(nothing());
    }
    let mut z = match found {
        Some(z) => z,
        None => ZSet::new(ks, key)?,
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0);
    let mut last = 0.0;
    for (score, member) in pairs {
        let old = z.score(ks, &member)?;
        let new = match old {
            Some(_) if flags.nx => continue,
            None if flags.xx => continue,
            Some(old) => {
                let new = if flags.incr { score + old } else { score };
                if new.is_nan() {
                    // Only INCR (one pair) gets here: nothing was changed.
                    return Ok(Reply::error(NAN));
                }
                if (flags.lt && new >= old) || (flags.gt && new <= old) {
                    continue;
                }
                if new != old {
                    z.set(ks, &member, Some(old), new);
                    updated += 1;
                }
                new
            }
            None => {
                z.set(ks, &member, None, score);
                added += 1;
                score
            }
        };
        processed += 1;
        last = new;
    }
    z.save(ks);
    Ok(if flags.incr {
        if processed > 0 {
            Reply::Double(last)
        } else {
            Reply::Null
        }
    } else if flags.ch {
        Reply::Integer(added + updated)
    } else {
        Reply::Integer(added)
    })
}

fn zrange(ks: &Keyspace, resp: RespVersion, key: &Bytes, range: &ZRange) -> Result {
    let Some(z) = ZSet::open(ks, key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let members = range::select(ks, &z, &range.by, range.reverse, range.limit)?;
    Ok(if range.with_scores {
        with_scores(resp, members)
    } else {
        Reply::Array(members.into_iter().map(|(m, _)| Reply::Bulk(m)).collect())
    })
}

fn counted(ks: &Keyspace, key: &Bytes, by: &RangeBy) -> Result {
    Ok(Reply::count(match ZSet::open(ks, key)? {
        Some(z) => range::count(ks, &z, by)?,
        None => 0,
    }))
}

fn zrem(ks: &mut Keyspace, key: &Bytes, members: &[Bytes]) -> Result {
    let Some(mut z) = ZSet::open(ks, key)? else {
        return Ok(Reply::Integer(0));
    };
    let mut removed = 0u64;
    for member in members {
        if let Some(score) = z.score(ks, member)? {
            z.remove(ks, member, score);
            removed += 1;
        }
    }
    if removed > 0 {
        z.save(ks);
    }
    Ok(Reply::count(removed))
}

fn zremrange(ks: &mut Keyspace, key: &Bytes, by: &RangeBy) -> Result {
    let Some(mut z) = ZSet::open(ks, key)? else {
        return Ok(Reply::Integer(0));
    };
    let doomed = range::select(ks, &z, by, false, None)?;
    for (member, score) in &doomed {
        z.remove(ks, member, *score);
    }
    if !doomed.is_empty() {
        z.save(ks);
    }
    Ok(Reply::count(doomed.len()))
}

/// ZPOPMIN / ZPOPMAX: without a count a flat pair whatever the protocol, as Redis 7.0.
fn zpop(
    ks: &mut Keyspace,
    resp: RespVersion,
    key: &Bytes,
    max: bool,
    count: Option<u64>,
) -> Result {
    let Some(mut z) = ZSet::open(ks, key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let n = count.unwrap_or(1);
    if n == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let popped = pop_members(ks, &mut z, max, n)?;
    Ok(match count {
        None => with_scores(RespVersion::Resp2, popped),
        Some(_) => with_scores(resp, popped),
    })
}

/// Removes the `n` lowest (or highest, `max`) members of `z` and returns them in order.
fn pop_members(
    ks: &mut Keyspace,
    z: &mut ZSet,
    max: bool,
    n: u64,
) -> std::result::Result<Members, ExecError> {
    let stop = i64::try_from(n - 1).unwrap_or(i64::MAX);
    let popped = range::select(ks, z, &RangeBy::Rank(0, stop), max, None)?;
    for (member, score) in &popped {
        z.remove(ks, member, *score);
    }
    z.save(ks);
    Ok(popped)
}

/// BZPOPMIN / BZPOPMAX's attempt, as `blockingGenericZpopCommand`: the first non-empty
/// sorted set of `keys`, in order, gives its lowest (highest) member as `[key, member,
/// score]`; a key of another type on the way is WRONGTYPE (passed over on a retry after a
/// wake-up, see `blocking::source`). `None` when all are empty.
fn bzpop(
    ks: &mut Keyspace,
    keys: &[Bytes],
    max: bool,
    woken: bool,
) -> std::result::Result<Option<Reply>, ExecError> {
    for key in keys {
        let Some(mut z) = blocking::source(ZSet::open(ks, key), woken)? else {
            continue;
        };
        let popped = pop_members(ks, &mut z, max, 1)?;
        let Some((member, score)) = popped.into_iter().next() else {
            continue;
        };
        return Ok(Some(Reply::Array(vec![
            Reply::Bulk(key.clone()),
            Reply::Bulk(member),
            Reply::Double(score),
        ])));
    }
    Ok(None)
}

/// ZUNIONSTORE / ZINTERSTORE, as `zunionInterDiffGenericCommand`: the sources' types are
/// checked before the options; sources are combined smallest first; a product or sum
/// that is NaN counts as 0. The result replaces the destination (a new version: the old
/// elements are left to compaction), or deletes it when empty.
fn zstore(ks: &mut Keyspace, keys: &[Bytes], store: ZStore) -> Result {
    let Some((dest, source_keys)) = keys.split_first() else {
        return Ok(Reply::error(
            "ERR wrong number of arguments for 'zunionstore' command",
        ));
    };
    let mut sources = Vec::with_capacity(source_keys.len());
    for key in source_keys {
        sources.push(ZSet::open(ks, key)?);
    }
    let (weights, aggregate) = match store.options {
        Ok(options) => options,
        Err(error) => return Ok(Reply::error(error.to_string())),
    };
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|&i| sources[i].as_ref().map_or(0, |z| z.meta.len));
    let combine = |acc: f64, score: f64| match aggregate {
        Aggregate::Sum => {
            let sum = acc + score;
            if sum.is_nan() {
                0.0
            } else {
                sum
            }
        }
        Aggregate::Min => acc.min(score),
        Aggregate::Max => acc.max(score),
    };
    let weighted = |score: f64, weight: f64| {
        let v = score * weight;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut result: HashMap<Bytes, f64> = HashMap::new();
    let mut members_order: Vec<Bytes> = Vec::new();
    if store.inter {
        if order.iter().any(|&i| sources[i].is_none()) {
            return finish(ks, dest, Vec::new());
        }
        let smallest = order[0];
        let Some(z) = &sources[smallest] else {
            return finish(ks, dest, Vec::new());
        };
        let (lo, hi) = z.members();
        'member: for item in ks.elements(lo, hi, false) {
            let (k, v) = item?;
            let (member, score) = z.member_entry(&k, &v);
            let mut acc = weighted(score, weights[smallest]);
            for &i in &order[1..] {
                let Some(other) = &sources[i] else {
                    continue 'member;
                };
                let Some(score) = other.score(ks, &member)? else {
                    continue 'member;
                };
                acc = combine(acc, weighted(score, weights[i]));
            }
            members_order.push(member.clone());
            result.insert(member, acc);
        }
    } else {
        for &i in &order {
            let Some(z) = &sources[i] else { continue };
            let (lo, hi) = z.members();
            for item in ks.elements(lo, hi, false) {
                let (k, v) = item?;
                let (member, score) = z.member_entry(&k, &v);
                let score = weighted(score, weights[i]);
                if let Some(acc) = result.get_mut(&member) {
                    *acc = combine(*acc, score);
                } else {
                    members_order.push(member.clone());
                    result.insert(member, score);
                }
            }
        }
    }
    let members = members_order
        .into_iter()
        .map(|m| {
            let score = result.get(&m).copied().unwrap_or(0.0);
            (m, score)
        })
        .collect();
    finish(ks, dest, members)
}

fn finish(ks: &mut Keyspace, dest: &Bytes, members: Members) -> Result {
    let n = members.len();
    if n == 0 {
        ks.delete(dest);
        return Ok(Reply::Integer(0));
    }
    let mut z = ZSet::new(ks, dest)?;
    for (member, score) in members {
        z.set(ks, &member, None, score);
    }
    z.save(ks);
    Ok(Reply::count(n))
}
