//! The members a range selects, by rank, score or lex, with LIMIT, in either direction:
//! what ZRANGE and its older forms, ZCOUNT, ZLEXCOUNT and the ZREMRANGEBY commands share.
//!
//! A score range is a seek into the 's' records and a walk; a rank is a walk from one end
//! (O(rank)); a lex range is a seek into the 'm' records, which are in member order. Redis
//! defines lex ranges only for a set whose scores are all equal, where member order is
//! its order too; with mixed scores Redis's answer depends on its skiplist, and Cairn's
//! (every member in the lex range, in member order) may differ from it.
//!
//! Scores compare exactly, as Redis's do (`float_cmp` is allowed for that).
#![allow(clippy::float_cmp)]

use std::ops::Bound;

use bytes::Bytes;

use super::store::{nonempty, ZSet};
use crate::protocol::command::{LexBound, LexRange, RangeBy, ScoreRange};
use crate::server::keyspace::{ExecError, Keyspace};

/// Members with their scores, in the order asked.
pub(crate) type Members = Vec<(Bytes, f64)>;

type Bounds = (Bound<Bytes>, Bound<Bytes>);

/// The 's' keys of the scores in `range`, or `None` when it is empty.
fn score_bounds(z: &ZSet, range: &ScoreRange) -> Option<Bounds> {
    if range.min > range.max || (range.min == range.max && (range.min_ex || range.max_ex)) {
        return None;
    }
    let lo = if range.min_ex {
        z.score_after(range.min)
    } else {
        z.score_start(range.min)
    };
    let hi = if range.max_ex {
        z.score_start(range.max)
    } else {
        z.score_after(range.max)
    };
    let bounds = (Bound::Included(lo), Bound::Excluded(hi));
    nonempty(&bounds.0, &bounds.1).then_some(bounds)
}

/// The 'm' keys of the members in `range`, or `None` when it is empty.
fn lex_bounds(z: &ZSet, range: &LexRange) -> Option<Bounds> {
    let (space_lo, space_hi) = z.members();
    let lo = match &range.min {
        LexBound::Min => space_lo,
        LexBound::Max => return None,
        LexBound::Incl(m) => Bound::Included(z.lex_key(m)),
        LexBound::Excl(m) => Bound::Excluded(z.lex_key(m)),
    };
    let hi = match &range.max {
        LexBound::Max => space_hi,
        LexBound::Min => return None,
        LexBound::Incl(m) => Bound::Included(z.lex_key(m)),
        LexBound::Excl(m) => Bound::Excluded(z.lex_key(m)),
    };
    nonempty(&lo, &hi).then_some((lo, hi))
}

/// Redis's LIMIT: a negative offset selects nothing, a negative count everything after it.
fn limits(limit: Option<(i64, i64)>) -> Option<(usize, usize)> {
    let (offset, count) = limit.unwrap_or((0, -1));
    let offset = usize::try_from(offset).ok()?;
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    Some((offset, count))
}

/// Ranks `start..=stop` (negative from the end) of a set of `len` as an offset and
/// count, as `zrangeGenericCommand` clamps them; `None` when empty.
pub(crate) fn rank_span(start: i64, stop: i64, len: u64) -> Option<(usize, usize)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let start = if start < 0 {
        start.saturating_add(len)
    } else {
        start
    }
    .max(0);
    let stop = if stop < 0 {
        stop.saturating_add(len)
    } else {
        stop
    };
    if start > stop || start >= len {
        return None;
    }
    let stop = stop.min(len - 1);
    let offset = usize::try_from(start).ok()?;
    let count = usize::try_from(stop - start + 1).ok()?;
    Some((offset, count))
}

/// The members `by` selects, lowest first (or highest, `reverse`), after LIMIT.
pub(crate) fn select(
    ks: &Keyspace,
    z: &ZSet,
    by: &RangeBy,
    reverse: bool,
    limit: Option<(i64, i64)>,
) -> Result<Members, ExecError> {
    let (bounds, span, lex) = match by {
        RangeBy::Rank(start, stop) => (
            Some(z.scores()),
            rank_span(*start, *stop, z.meta.len),
            false,
        ),
        RangeBy::Score(range) => (score_bounds(z, range), limits(limit), false),
        RangeBy::Lex(range) => (lex_bounds(z, range), limits(limit), true),
    };
    let (Some((lo, hi)), Some((offset, count))) = (bounds, span) else {
        return Ok(Vec::new());
    };
    let cap = usize::try_from(z.meta.len)
        .unwrap_or(usize::MAX)
        .min(count)
        .min(1024);
    let mut out = Vec::with_capacity(cap);
    for item in ks.elements(lo, hi, reverse).skip(offset).take(count) {
        let (key, value) = item?;
        if lex {
            out.push(z.member_entry(&key, &value));
        } else {
            let (score, member) = z.entry(&key);
            out.push((member, score));
        }
    }
    Ok(out)
}

/// How many members `by` selects (ZCOUNT, ZLEXCOUNT): a walk over them.
pub(crate) fn count(ks: &Keyspace, z: &ZSet, by: &RangeBy) -> Result<usize, ExecError> {
    let bounds = match by {
        RangeBy::Rank(start, stop) => {
            return Ok(rank_span(*start, *stop, z.meta.len).map_or(0, |(_, n)| n));
        }
        RangeBy::Score(range) => score_bounds(z, range),
        RangeBy::Lex(range) => lex_bounds(z, range),
    };
    let Some((lo, hi)) = bounds else {
        return Ok(0);
    };
    let mut n = 0;
    for item in ks.elements(lo, hi, false) {
        item?;
        n += 1;
    }
    Ok(n)
}

/// The rank of the member whose score is `score`: the 's' records before its own.
pub(crate) fn rank(ks: &Keyspace, z: &ZSet, score: f64, member: &[u8]) -> Result<u64, ExecError> {
    let (lo, _) = z.scores();
    let mut own = z.score_start(score).to_vec();
    own.extend_from_slice(member);
    let hi = Bound::Excluded(Bytes::from(own));
    if !nonempty(&lo, &hi) {
        return Ok(0);
    }
    let mut n = 0;
    for item in ks.elements(lo, hi, false) {
        item?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_clamp_as_redis_does() {
        assert_eq!(rank_span(0, -1, 3), Some((0, 3)));
        assert_eq!(rank_span(-100, 100, 3), Some((0, 3)));
        assert_eq!(rank_span(2, 1, 3), None);
        assert_eq!(rank_span(3, 5, 3), None);
        assert_eq!(rank_span(-1, -1, 3), Some((2, 1)));
        assert_eq!(rank_span(i64::MIN, i64::MAX, 3), Some((0, 3)));
        assert_eq!(rank_span(0, -1, 0), None);
    }

    #[test]
    fn limits_as_redis() {
        assert_eq!(limits(None), Some((0, usize::MAX)));
        assert_eq!(limits(Some((-1, 5))), None);
        assert_eq!(limits(Some((1, -5))), Some((1, usize::MAX)));
    }
}
