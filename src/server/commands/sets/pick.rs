//! Random elements of a hash or a set, for HRANDFIELD, SRANDMEMBER and SPOP, and the one
//! helper both types' commands share: an element's engine key from its prefix and suffix.
//!
//! A collection's elements are ordered by their suffix and have no rank index, so a pick
//! cannot go "to the i-th element" without walking up to it. Two ways, by size:
//!
//! * A small collection (at most [`READ_ALL`] elements), or a distinct pick of more than a
//!   quarter of one, reads every element and samples them uniformly (a partial
//!   Fisher-Yates shuffle for distinct picks, independent indexes for repeats).
//! * Otherwise each pick descends the trie of the suffixes at random: the first and the
//!   last element under the prefix chosen so far share a head; a byte between theirs
//!   where they differ extends it (redrawn up to [`TRIES`] times when no element has
//!   it), and two seeks find the first and last element under the longer prefix, until
//!   one element is left. That costs two seeks per level of the trie (its depth past the
//!   members' common head, at most [`MAX_DEPTH`]) whatever the collection's size, but is
//!   not uniform: each branch of a level is equally likely, whatever it holds, and a
//!   byte no element has yields the element after the gap (Redis's own picks, a random
//!   bucket of its hash table, are not exactly uniform either). Distinct picks retry a
//!   bounded number of times, then fill up by walking from the first element.

use std::collections::HashSet;
use std::ops::Bound;

use bytes::{BufMut, Bytes, BytesMut};
use rand::seq::SliceRandom;
use rand::Rng;

use crate::server::keyspace::{ExecError, Keyspace};
use crate::server::layout;
use crate::server::value::Meta;

/// Collections of at most this many elements are read whole to pick from.
pub(crate) const READ_ALL: u64 = 256;

/// An element: its suffix (field or member) and its value.
pub(crate) type Element = (Bytes, Bytes);

/// The engine key of the element `suffix` of the collection whose elements are under
/// `prefix`.
pub(crate) fn element_key(prefix: &[u8], suffix: &[u8]) -> Bytes {
    let mut key = BytesMut::with_capacity(prefix.len() + suffix.len());
    key.put_slice(prefix);
    key.put_slice(suffix);
    key.freeze()
}

/// What HRANDFIELD and SRANDMEMBER pick, before each shapes its reply.
pub(crate) enum Picked {
    /// Without a count: one element's suffix, or none (no such key).
    One(Option<Bytes>),
    /// With a count: the elements picked (none for no such key).
    Many(Vec<Element>),
}

/// HRANDFIELD's and SRANDMEMBER's pick from `found` (the collection's header and element
/// prefix, `None` when there is no such key): one element without a count, distinct
/// elements for a positive count, independent picks for a negative one.
pub(crate) fn random(
    ks: &Keyspace,
    found: Option<(Meta, Bytes)>,
    count: Option<i64>,
) -> Result<Picked, ExecError> {
    let Some(count) = count else {
        let one = match found {
            Some((meta, prefix)) => one(ks, &prefix, meta.len)?.map(|(suffix, _)| suffix),
            None => None,
        };
        return Ok(Picked::One(one));
    };
    let Some((meta, prefix)) = found else {
        return Ok(Picked::Many(Vec::new()));
    };
    Ok(Picked::Many(if count >= 0 {
        distinct(ks, &prefix, meta.len, count.unsigned_abs())?
    } else {
        repeated(ks, &prefix, meta.len, count.unsigned_abs())?
    }))
}

/// Every element under `prefix`, suffixes cut from their keys.
pub(crate) fn all(ks: &Keyspace, prefix: &Bytes) -> Result<Vec<Element>, ExecError> {
    ks.elements_under(prefix, false)
        .map(|item| item.map(|(key, value)| (key.slice(prefix.len()..), value)))
        .collect()
}

/// `count` distinct elements of the collection of `len` elements under `prefix` (all of
/// them when `count >= len`), in random order.
pub(crate) fn distinct(
    ks: &Keyspace,
    prefix: &Bytes,
    len: u64,
    count: u64,
) -> Result<Vec<Element>, ExecError> {
    let mut rng = rand::thread_rng();
    if len <= READ_ALL || count.saturating_mul(4) >= len {
        let mut elements = all(ks, prefix)?;
        let take = usize::try_from(count)
            .unwrap_or(usize::MAX)
            .min(elements.len());
        let (chosen, _) = elements.partial_shuffle(&mut rng, take);
        return Ok(chosen.to_vec());
    }
    // count < len / 4 here, so the picks fit in memory as the reply will.
    let want = usize::try_from(count).unwrap_or(usize::MAX);
    let Some(seeker) = Seeker::new(ks, prefix)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(want);
    let mut seen = HashSet::with_capacity(want);
    let mut attempts = want.saturating_mul(8).saturating_add(64);
    while out.len() < want && attempts > 0 {
        attempts -= 1;
        let (suffix, value) = seeker.seek(ks, &mut rng)?;
        if seen.insert(suffix.clone()) {
            out.push((suffix, value));
        }
    }
    // Unlucky seeks: the rest in order from the first element.
    if out.len() < want {
        for item in ks.elements_under(prefix, false) {
            let (key, value) = item?;
            let suffix = key.slice(prefix.len()..);
            if seen.insert(suffix.clone()) {
                out.push((suffix, value));
                if out.len() == want {
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// `count` independent picks (repeats allowed) of the collection of `len` elements under
/// `prefix`; `count` is bounded by the parser (`MAX_PICKS`).
pub(crate) fn repeated(
    ks: &Keyspace,
    prefix: &Bytes,
    len: u64,
    count: u64,
) -> Result<Vec<Element>, ExecError> {
    let mut rng = rand::thread_rng();
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if len <= READ_ALL {
        let elements = all(ks, prefix)?;
        if elements.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(elements[rng.gen_range(0..elements.len())].clone());
        }
        return Ok(out);
    }
    let Some(seeker) = Seeker::new(ks, prefix)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(seeker.seek(ks, &mut rng)?);
    }
    Ok(out)
}

/// One random element, `None` for an empty collection.
pub(crate) fn one(ks: &Keyspace, prefix: &Bytes, len: u64) -> Result<Option<Element>, ExecError> {
    Ok(repeated(ks, prefix, len, 1)?.into_iter().next())
}

/// Random seeks into one collection: its first and last elements bound the keys drawn.
struct Seeker<'p> {
    prefix: &'p Bytes,
    first: Element,
    last: Bytes,
}

impl<'p> Seeker<'p> {
    fn new(ks: &Keyspace, prefix: &'p Bytes) -> Result<Option<Seeker<'p>>, ExecError> {
        let first = ks.elements_under(prefix, false).next().transpose()?;
        let last = ks.elements_under(prefix, true).next().transpose()?;
        let (Some((first_key, first_value)), Some((last_key, _))) = (first, last) else {
            return Ok(None);
        };
        Ok(Some(Seeker {
            prefix,
            first: (first_key.slice(prefix.len()..), first_value),
            last: last_key.slice(prefix.len()..),
        }))
    }

    /// A random element, by a random descent of the suffixes' trie: at each level, the
    /// first and the last element under the prefix so far bound the next byte, drawn
    /// among theirs (redrawn a few times when no element has it).
    fn seek(&self, ks: &Keyspace, rng: &mut impl Rng) -> Result<Element, ExecError> {
        let (mut lo, mut hi) = (self.first.clone(), self.last.clone());
        for _ in 0..MAX_DEPTH {
            let common =
                lo.0.iter()
                    .zip(hi.iter())
                    .take_while(|(a, b)| a == b)
                    .count();
            if common == lo.0.len() && common == hi.len() {
                break;
            }
            let mut found = None;
            for _ in 0..TRIES {
                let target = random_between(&lo.0, &hi, rng);
                let Some(next) = self.at_or_after(ks, &target)? else {
                    continue;
                };
                let hit = next.0.starts_with(&target);
                found = Some((target, next));
                if hit {
                    break;
                }
            }
            let Some((target, next)) = found else {
                return Ok(lo);
            };
            if !next.0.starts_with(&target) {
                // A byte no element has: the next element after the gap.
                return Ok(next);
            }
            hi = self
                .last_under(ks, &target)?
                .unwrap_or_else(|| next.0.clone());
            lo = next;
        }
        Ok(lo)
    }

    /// The first element whose suffix is at or after `suffix`.
    fn at_or_after(&self, ks: &Keyspace, suffix: &[u8]) -> Result<Option<Element>, ExecError> {
        let start = element_key(self.prefix, suffix);
        let end = layout::prefix_end(self.prefix).map_or(Bound::Unbounded, Bound::Excluded);
        match ks.elements(Bound::Included(start), end, false).next() {
            Some(item) => {
                let (key, value) = item?;
                Ok(Some((key.slice(self.prefix.len()..), value)))
            }
            None => Ok(None),
        }
    }

    /// The suffix of the last element whose suffix starts with `head`.
    fn last_under(&self, ks: &Keyspace, head: &[u8]) -> Result<Option<Bytes>, ExecError> {
        let start = element_key(self.prefix, head);
        let end = layout::prefix_end(&start).map_or(Bound::Unbounded, Bound::Excluded);
        match ks.elements(Bound::Included(start), end, true).next() {
            Some(item) => Ok(Some(item?.0.slice(self.prefix.len()..))),
            None => Ok(None),
        }
    }
}

/// Levels of the trie a pick descends at most (a longer common head is walked no
/// further: the first element under it is taken).
const MAX_DEPTH: usize = 32;

/// Draws of a level's byte before a gap is accepted.
const TRIES: usize = 4;

/// The head of a random suffix between `lo` and `hi` (`lo <= hi`, not equal): their
/// common prefix, then a byte between theirs where they first differ.
fn random_between(lo: &[u8], hi: &[u8], rng: &mut impl Rng) -> Vec<u8> {
    let common = lo.iter().zip(hi).take_while(|(a, b)| a == b).count();
    let mut out = lo[..common].to_vec();
    let low = lo.get(common).copied().unwrap_or(0);
    let high = hi.get(common).copied().unwrap_or(low);
    out.push(rng.gen_range(low..=high.max(low)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_keys_stay_between_their_bounds_prefix() {
        let mut rng = rand::thread_rng();
        for _ in 0..1000 {
            let key = random_between(b"member:1000", b"member:9999", &mut rng);
            assert!(key.starts_with(b"member:"));
            assert!((b'1'..=b'9').contains(&key[7]));
        }
        let key = random_between(b"", b"z", &mut rng);
        assert!(key[0] <= b'z');
    }

    #[test]
    fn element_keys_are_prefix_then_suffix() {
        assert_eq!(&element_key(b"ab", b"cd")[..], b"abcd");
    }
}
