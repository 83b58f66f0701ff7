//! A sorted set's records in the engine, and the operations on them every command shares.
//!
//! Each member has two records under the collection's element prefix:
//!
//! ```text
//! 'm' | member                  -> score (f64 bits, 8 bytes big-endian)
//! 's' | score (8 ordered bytes) | member -> empty
//! ```
//!
//! The 'm' records answer ZSCORE with one point read and are in member order (ZSCAN, the
//! lex ranges); the 's' records are in Redis's order (score, then member bytes), so a
//! score range is one seek and a walk. A rank is a walk from one end: O(rank), as there
//! is no count per subtree to skip by (Redis's skiplist has one).

use std::ops::Bound;

use bytes::{BufMut, Bytes, BytesMut};

use crate::server::keyspace::{ExecError, Keyspace};
use crate::server::layout;
use crate::server::value::{Kind, Meta};

/// Tag of a member -> score record.
const MEMBER: u8 = b'm';
/// Tag of a (score, member) record.
const SCORE: u8 = b's';

/// A score as 8 bytes whose byte order is the numbers' order: the sign bit flipped for a
/// positive number, every bit for a negative one; -0.0 is 0.0 (Redis orders them alike).
pub(crate) fn ordered(score: f64) -> [u8; 8] {
    let score = if score == 0.0 { 0.0 } else { score };
    let bits = score.to_bits();
    let bits = if bits >> 63 == 0 {
        bits ^ (1 << 63)
    } else {
        !bits
    };
    bits.to_be_bytes()
}

/// The score 8 ordered bytes stand for.
pub(crate) fn unordered(bytes: [u8; 8]) -> f64 {
    let bits = u64::from_be_bytes(bytes);
    let bits = if bits >> 63 == 1 {
        bits ^ (1 << 63)
    } else {
        !bits
    };
    f64::from_bits(bits)
}

/// One sorted set being read or changed by a command: its key, header and element prefix.
pub(crate) struct ZSet {
    pub key: Bytes,
    pub meta: Meta,
    prefix: Bytes,
}

impl ZSet {
    /// The sorted set under `key`, if any (WRONGTYPE for another type).
    pub(crate) fn open(ks: &Keyspace, key: &Bytes) -> Result<Option<ZSet>, ExecError> {
        Ok(ks.collection(key, Kind::ZSet)?.map(|meta| ZSet {
            prefix: ks.elements_of(key, &meta),
            key: key.clone(),
            meta,
        }))
    }

    /// A new empty sorted set under `key`, replacing whatever is there once saved.
    pub(crate) fn new(ks: &mut Keyspace, key: &Bytes) -> Result<ZSet, ExecError> {
        let meta = Meta::new(Kind::ZSet, ks.new_version()?);
        Ok(ZSet {
            prefix: ks.elements_of(key, &meta),
            key: key.clone(),
            meta,
        })
    }

    fn member_key(&self, member: &[u8]) -> Bytes {
        let mut out = BytesMut::with_capacity(self.prefix.len() + 1 + member.len());
        out.put_slice(&self.prefix);
        out.put_u8(MEMBER);
        out.put_slice(member);
        out.freeze()
    }

    fn score_key(&self, score: f64, member: &[u8]) -> Bytes {
        let mut out = BytesMut::with_capacity(self.prefix.len() + 9 + member.len());
        out.put_slice(&self.prefix);
        out.put_u8(SCORE);
        out.put_slice(&ordered(score));
        out.put_slice(member);
        out.freeze()
    }

    /// The start of the 's' records of scores from `score` on.
    pub(crate) fn score_start(&self, score: f64) -> Bytes {
        self.score_key(score, b"")
    }

    /// The first 's' key after every record of `score` (scores beyond +inf do not exist:
    /// NaN is never stored, so the increment cannot overflow into another tag).
    pub(crate) fn score_after(&self, score: f64) -> Bytes {
        let next = u64::from_be_bytes(ordered(score)).saturating_add(1);
        let mut out = BytesMut::with_capacity(self.prefix.len() + 9);
        out.put_slice(&self.prefix);
        out.put_u8(SCORE);
        out.put_u64(next);
        out.freeze()
    }

    /// The 'm' key of `member`, for lex bounds.
    pub(crate) fn lex_key(&self, member: &[u8]) -> Bytes {
        self.member_key(member)
    }

    /// The bounds of the 'm' or 's' space (`space` is the tag).
    fn space(&self, tag: u8) -> (Bound<Bytes>, Bound<Bytes>) {
        let mut start = BytesMut::with_capacity(self.prefix.len() + 1);
        start.put_slice(&self.prefix);
        start.put_u8(tag);
        let start = start.freeze();
        let end = layout::prefix_end(&start).map_or(Bound::Unbounded, Bound::Excluded);
        (Bound::Included(start), end)
    }

    /// The bounds of every 's' record.
    pub(crate) fn scores(&self) -> (Bound<Bytes>, Bound<Bytes>) {
        self.space(SCORE)
    }

    /// The bounds of every 'm' record.
    pub(crate) fn members(&self) -> (Bound<Bytes>, Bound<Bytes>) {
        self.space(MEMBER)
    }

    /// The common prefix of the 'm' records (ZSCAN walks it).
    pub(crate) fn member_prefix(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.prefix.len() + 1);
        out.put_slice(&self.prefix);
        out.put_u8(MEMBER);
        out.freeze()
    }

    /// (score, member) of an 's' record's engine key.
    pub(crate) fn entry(&self, key: &[u8]) -> (f64, Bytes) {
        let suffix = key.get(self.prefix.len() + 1..).unwrap_or_default();
        let (score, member) = suffix.split_first_chunk::<8>().unwrap_or((&[0; 8], b""));
        (unordered(*score), Bytes::copy_from_slice(member))
    }

    /// The member of an 'm' record's engine key, and its score from the record's value.
    pub(crate) fn member_entry(&self, key: &[u8], value: &[u8]) -> (Bytes, f64) {
        let member = Bytes::copy_from_slice(key.get(self.prefix.len() + 1..).unwrap_or_default());
        (member, decode_score(value))
    }

    /// The score of `member`, if it is one.
    pub(crate) fn score(&self, ks: &Keyspace, member: &[u8]) -> Result<Option<f64>, ExecError> {
        if self.meta.len == 0 {
            return Ok(None);
        }
        Ok(ks
            .element(&self.member_key(member))?
            .map(|v| decode_score(&v)))
    }

    /// Sets `member`'s score (`old` its current one, if it is a member).
    /// A score of -0.0 is kept as 0.0, as Redis replies it.
    pub(crate) fn set(&mut self, ks: &mut Keyspace, member: &Bytes, old: Option<f64>, score: f64) {
        let score = if score == 0.0 { 0.0 } else { score };
        match old {
            Some(old) => ks.delete_element(self.score_key(old, member)),
            None => self.meta.len += 1,
        }
        ks.put_element(
            self.member_key(member),
            Bytes::copy_from_slice(&score.to_bits().to_be_bytes()),
        );
        ks.put_element(self.score_key(score, member), Bytes::new());
    }

    /// Removes `member`, whose score is `score`.
    pub(crate) fn remove(&mut self, ks: &mut Keyspace, member: &[u8], score: f64) {
        ks.delete_element(self.member_key(member));
        ks.delete_element(self.score_key(score, member));
        self.meta.len = self.meta.len.saturating_sub(1);
    }

    /// Writes the header (every write does, so WATCH sees it; an empty set is deleted).
    /// Stages the header (or the key's removal, when empty); a sorted set left non-empty
    /// may serve a client blocked in BZPOPMIN/BZPOPMAX on it.
    pub(crate) fn save(&self, ks: &mut Keyspace) {
        ks.put_meta(&self.key, self.meta);
        if self.meta.len > 0 {
            ks.shared().blocking.key_ready(ks.database(), &self.key);
        }
    }
}

/// A member record's score (its value: f64 bits, big-endian).
pub(crate) fn decode_score(value: &[u8]) -> f64 {
    let mut bits = [0u8; 8];
    if let Some(raw) = value.get(..8) {
        bits.copy_from_slice(raw);
    }
    f64::from_bits(u64::from_be_bytes(bits))
}

/// Whether `[lo, hi)`-style bounds select anything: the engine's and the staged map's
/// range walks refuse (or panic on) a start after the end.
pub(crate) fn nonempty(lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> bool {
    match (lo, hi) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a < b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_scores_sort_as_numbers() {
        let scores = [
            f64::NEG_INFINITY,
            -1e300,
            -1.5,
            -f64::MIN_POSITIVE,
            0.0,
            f64::MIN_POSITIVE,
            0.1,
            1.0,
            2.0,
            1e300,
            f64::INFINITY,
        ];
        for pair in scores.windows(2) {
            assert!(ordered(pair[0]) < ordered(pair[1]), "{pair:?}");
        }
        for s in scores {
            assert_eq!(unordered(ordered(s)).to_bits(), s.to_bits());
        }
        assert_eq!(ordered(-0.0), ordered(0.0));
    }

    #[test]
    fn empty_bounds_are_seen() {
        let a = Bytes::from_static(b"a");
        let b = Bytes::from_static(b"b");
        assert!(nonempty(
            &Bound::Included(a.clone()),
            &Bound::Included(a.clone())
        ));
        assert!(!nonempty(
            &Bound::Included(a.clone()),
            &Bound::Excluded(a.clone())
        ));
        assert!(!nonempty(
            &Bound::Included(b.clone()),
            &Bound::Excluded(a.clone())
        ));
        assert!(nonempty(&Bound::Excluded(a), &Bound::Excluded(b)));
    }
}
