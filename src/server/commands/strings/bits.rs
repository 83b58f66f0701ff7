//! The bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and `BITFIELD_RO`,
//! run on string values as Redis 7.0's `bitops.c` runs them. Their arguments are parsed
//! in `protocol/command/strings/bits.rs`; the field arithmetic of BITFIELD (widths,
//! signs, overflow) is in `bits/field.rs`.
//!
//! Bit 0 is the most significant bit of the first byte. Reads past the end of a value see
//! zero bits; writes grow the value with zero bytes, and keep its TTL, as Redis does.

use bytes::Bytes;

mod field;

use crate::protocol::command::{BitFieldAction, BitFieldOp, BitOperation, BitRange, BitUnit};
use crate::protocol::command::{DeferredRange, Keys};
use crate::protocol::Reply;
use crate::server::keyspace::{ExecError, Keyspace};
use crate::server::value::Entry;

type Result = std::result::Result<Reply, ExecError>;

/// The byte that holds bit `offset`, and the mask of that bit within it.
fn locate(offset: u64) -> (usize, u8) {
    // Offsets are below 2^32 (checked at parse), so the byte index fits any usize that
    // can hold a 512 MB string; a larger one would be past every value's end.
    let byte = usize::try_from(offset >> 3).unwrap_or(usize::MAX);
    (byte, 0x80 >> (offset & 7))
}

/// `value` copied into a buffer of at least `len` bytes, zero-padded, or `None` when the
/// memory cannot be had (the length is a client's offset: never trust the allocator to
/// succeed).
fn grown(value: &[u8], len: usize) -> Option<Vec<u8>> {
    let len = len.max(value.len());
    let mut buf = Vec::new();
    buf.try_reserve_exact(len).ok()?;
    buf.extend_from_slice(value);
    buf.resize(len, 0);
    Some(buf)
}

/// The reply when a value cannot be grown: Redis's out-of-memory refusal.
fn out_of_memory() -> Reply {
    Reply::error("OOM command not allowed when used memory > 'maxmemory'.")
}

/// The reply of a count or position.
fn int(n: u64) -> Reply {
    Reply::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// SETBIT key offset value: the old bit. Writes only when the bit or the length changes.
pub(super) fn setbit(ks: &mut Keyspace, key: Bytes, offset: u64, value: bool) -> Result {
    let current = ks.get(&key)?;
    let (old, expires_at) = current
        .as_ref()
        .map_or((&[][..], None), |e| (&e.value[..], e.expires_at));
    let (byte, mask) = locate(offset);
    let was = old.get(byte).is_some_and(|b| b & mask != 0);
    if was == value && byte < old.len() {
        return Ok(Reply::Integer(i64::from(was)));
    }
    let Some(mut buf) = byte.checked_add(1).and_then(|len| grown(old, len)) else {
        return Ok(out_of_memory());
    };
    if let Some(b) = buf.get_mut(byte) {
        if value {
            *b |= mask;
        } else {
            *b &= !mask;
        }
    }
    let value = Bytes::from(buf);
    ks.put(key, Entry { value, expires_at });
    Ok(Reply::Integer(i64::from(was)))
}

/// GETBIT key offset: 0 past the end and for a missing key.
pub(super) fn getbit(ks: &Keyspace, key: &[u8], offset: u64) -> Result {
    let (byte, mask) = locate(offset);
    let set = ks.get_with(key, |e| {
        e.and_then(|e| e.value().get(byte).copied())
            .is_some_and(|b| b & mask != 0)
    })?;
    Ok(Reply::Integer(i64::from(set)))
}

/// The inclusive bit range `[first, last]` that a range selects in a value of `len`
/// bytes, by Redis's rules (negative indexes from the end, then clamped to the value);
/// `None` when it is empty. `end` is the last index given, or the value's last byte.
fn bit_span(len: usize, start: i64, end: i64, unit: BitUnit) -> Option<(u64, u64)> {
    // A value is at most a little over 512 MB, so its length in bits fits an i64.
    let bytes = i64::try_from(len).ok()?;
    let total = match unit {
        BitUnit::Byte => bytes,
        BitUnit::Bit => bytes.checked_mul(8)?,
    };
    let resolve = |i: i64| if i < 0 { i.saturating_add(total) } else { i };
    let start = resolve(start).max(0);
    let end = resolve(end).max(0).min(total - 1);
    if start > end {
        return None;
    }
    let (start, end) = (start.unsigned_abs(), end.unsigned_abs());
    Some(match unit {
        BitUnit::Bit => (start, end),
        // Both are below the value's length, so far from overflowing.
        BitUnit::Byte => (start.checked_mul(8)?, end.checked_mul(8)?.checked_add(7)?),
    })
}

/// The set bits of `value` within the inclusive bit range `[first, last]`.
fn count_bits(value: &[u8], first: u64, last: u64) -> u64 {
    let (from, _) = locate(first);
    let (to, _) = locate(last);
    let Some(bytes) = value.get(from..=to.min(value.len().saturating_sub(1))) else {
        return 0;
    };
    let mut count: u64 = bytes.iter().map(|b| u64::from(b.count_ones())).sum();
    // Take off the bits of the edge bytes that lie outside the range: those before
    // `first` in its byte, those after `last` in its byte (if the value reaches it).
    let head_outside = !(0xffu8 >> (first & 7));
    let tail_outside = !(0xffu8 << (7 - (last & 7)));
    if let Some(b) = bytes.first() {
        count -= u64::from((b & head_outside).count_ones());
    }
    if to < value.len() {
        if let Some(b) = bytes.last() {
            count -= u64::from((b & tail_outside).count_ones());
        }
    }
    count
}

/// The first bit equal to `bit` within the inclusive bit range `[first, last]` of
/// `value`, if any (bits past the end of the value are not looked at).
fn find_bit(value: &[u8], first: u64, last: u64, bit: bool) -> Option<u64> {
    let (from, _) = locate(first);
    let (to, _) = locate(last);
    let bytes = value.get(from..=to.min(value.len().checked_sub(1)?))?;
    bytes.iter().zip(from..).find_map(|(&b, index)| {
        // The set bits of `wanted` are the ones looked for, edges masked off.
        let mut wanted = if bit { b } else { !b };
        if index == from {
            wanted &= 0xff >> (first & 7);
        }
        if index == to {
            wanted &= 0xff << (7 - (last & 7));
        }
        let byte_start = u64::try_from(index).ok()?.checked_mul(8)?;
        (wanted != 0).then(|| byte_start + u64::from(wanted.leading_zeros()))
    })
}

/// BITCOUNT key [start end [BYTE|BIT]]: 0 for a missing key, whatever the range.
pub(super) fn bitcount(ks: &Keyspace, key: &[u8], range: &DeferredRange) -> Result {
    let counted = ks.get_with(key, |e| {
        let e = e?;
        let value = e.value();
        Some(match range {
            Err(error) => Reply::error(error.to_string()),
            Ok(None) => int(value.iter().map(|b| u64::from(b.count_ones())).sum()),
            Ok(Some(BitRange { start, end, unit })) => {
                let end = end.unwrap_or(-1);
                // Both negative and crossed: empty before clamping could uncross them.
                if *start < 0 && end < 0 && *start > end {
                    return Some(Reply::Integer(0));
                }
                int(bit_span(value.len(), *start, end, *unit)
                    .map_or(0, |(first, last)| count_bits(value, first, last)))
            }
        })
    })?;
    Ok(counted.unwrap_or(Reply::Integer(0)))
}

/// BITPOS key bit [start [end [BYTE|BIT]]]: the first bit equal to `bit` in the range.
/// A missing key is all zeros: 0 for a clear bit, -1 for a set one. When no clear bit is
/// found and no end was given, the value counts as followed by zeros, so the answer is
/// the first bit past it; with an end given it is -1.
pub(super) fn bitpos(ks: &Keyspace, key: &[u8], bit: bool, range: &DeferredRange) -> Result {
    let found = ks.get_with(key, |e| {
        let value = e?.value();
        let (start, end, unit) = match range {
            Err(error) => return Some(Reply::error(error.to_string())),
            Ok(None) => (0, None, BitUnit::Byte),
            Ok(Some(BitRange { start, end, unit })) => (*start, *end, *unit),
        };
        let last = i64::try_from(value.len()).map_or(i64::MAX, |n| n - 1);
        let Some((first, last)) = bit_span(value.len(), start, end.unwrap_or(last), unit) else {
            return Some(Reply::Integer(-1));
        };
        Some(match find_bit(value, first, last, bit) {
            Some(at) => int(at),
            None if bit || end.is_some() => Reply::Integer(-1),
            None => int(last + 1),
        })
    })?;
    Ok(found.unwrap_or(Reply::Integer(if bit { -1 } else { 0 })))
}

/// BITOP op destkey key [key ...]: the result is as long as the longest source (missing
/// keys and shorter sources count as zero bytes); an empty result deletes the
/// destination. Replies with the result's length.
pub(super) fn bitop(ks: &mut Keyspace, keys: Keys, op: BitOperation) -> Result {
    let mut keys = keys.into_iter();
    let dest = keys.next().unwrap_or_default();
    let mut sources = Vec::with_capacity(keys.len());
    for key in keys {
        sources.push(ks.get(&key)?.map(|e| e.value).unwrap_or_default());
    }
    let len = sources.iter().map(Bytes::len).max().unwrap_or(0);
    if len == 0 {
        ks.delete(dest);
        return Ok(Reply::Integer(0));
    }
    let mut sources = sources.iter();
    let first = sources.next().map_or(&[][..], |s| &s[..]);
    let Some(mut out) = grown(first, len) else {
        return Ok(out_of_memory());
    };
    match op {
        BitOperation::Not => out.iter_mut().for_each(|b| *b = !*b),
        BitOperation::And => {
            for source in sources {
                for (o, s) in out.iter_mut().zip(source.iter()) {
                    *o &= s;
                }
                // Past a shorter source's end its bytes are zero.
                out.iter_mut().skip(source.len()).for_each(|o| *o = 0);
            }
        }
        BitOperation::Or | BitOperation::Xor => {
            for source in sources {
                for (o, s) in out.iter_mut().zip(source.iter()) {
                    if op == BitOperation::Or {
                        *o |= s;
                    } else {
                        *o ^= s;
                    }
                }
            }
        }
    }
    // A new value: the destination's TTL goes, as with SET.
    ks.put(dest, Entry::new(Bytes::from(out)));
    Ok(Reply::count(len))
}

/// BITFIELD key [GET|SET|INCRBY|OVERFLOW ...] and `BITFIELD_RO`: one reply per GET, SET and
/// INCRBY, in order, each seeing the writes before it. With only GETs the key is read in
/// place and never created; otherwise the value first grows to hold the farthest field
/// written (even if OVERFLOW FAIL then writes none, as Redis).
pub(super) fn bitfield(ks: &mut Keyspace, key: Bytes, ops: &[BitFieldOp]) -> Result {
    let Some(highest) = ops
        .iter()
        .filter(|op| op.writes())
        .map(|op| op.offset + u64::from(op.field.bits) - 1)
        .max()
    else {
        let replies = ks.get_with(&key, |e| {
            let value = e.map_or(&[][..], |e| e.value());
            ops.iter()
                .map(|op| Reply::Integer(field::get(value, op.offset, op.field)))
                .collect()
        })?;
        return Ok(Reply::Array(replies));
    };
    let current = ks.get(&key)?;
    let (old, expires_at) = current
        .as_ref()
        .map_or((&[][..], None), |e| (&e.value[..], e.expires_at));
    let (byte, _) = locate(highest);
    let Some(mut buf) = byte.checked_add(1).and_then(|len| grown(old, len)) else {
        return Ok(out_of_memory());
    };
    let mut changed = current.is_none() || buf.len() != old.len();
    let mut replies = Vec::with_capacity(ops.len());
    for op in ops {
        let reply = match op.action {
            BitFieldAction::Get => Reply::Integer(field::get(&buf, op.offset, op.field)),
            BitFieldAction::Set(v) | BitFieldAction::IncrBy(v) => {
                let incr = matches!(op.action, BitFieldAction::IncrBy(_));
                match field::update(&mut buf, op, v, incr) {
                    Some((reply, wrote)) => {
                        changed |= wrote;
                        Reply::Integer(reply)
                    }
                    None => Reply::Null,
                }
            }
        };
        replies.push(reply);
    }
    if changed {
        ks.put(
            key,
            Entry {
                value: Bytes::from(buf),
                expires_at,
            },
        );
    }
    Ok(Reply::Array(replies))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_redis_clamping() {
        use BitUnit::{Bit, Byte};
        assert_eq!(bit_span(3, 0, -1, Byte), Some((0, 23)));
        assert_eq!(bit_span(3, 1, 1, Byte), Some((8, 15)));
        assert_eq!(bit_span(3, -2, 100, Byte), Some((8, 23)));
        assert_eq!(bit_span(3, 5, 10, Byte), None);
        assert_eq!(bit_span(3, 2, 1, Byte), None);
        assert_eq!(bit_span(3, 3, -1, Bit), Some((3, 23)));
        assert_eq!(bit_span(3, -100, -20, Bit), Some((0, 4)));
        assert_eq!(bit_span(0, 0, -1, Byte), None);
        assert_eq!(bit_span(1, i64::MIN, i64::MAX, Bit), Some((0, 7)));
    }

    #[test]
    fn counts_within_bit_ranges() {
        let v = [0xff, 0x0f, 0xf0];
        assert_eq!(count_bits(&v, 0, 23), 16);
        assert_eq!(count_bits(&v, 1, 3), 3);
        assert_eq!(count_bits(&v, 4, 11), 4);
        assert_eq!(count_bits(&v, 12, 19), 8);
        assert_eq!(count_bits(&v, 23, 23), 0);
        assert_eq!(count_bits(&v, 19, 19), 1);
        assert_eq!(count_bits(&v, 20, 20), 0);
        // A range past the end counts only what is there.
        assert_eq!(count_bits(&v, 16, 100), 4);
        assert_eq!(count_bits(&v, 30, 40), 0);
    }

    #[test]
    fn finds_bits_within_ranges() {
        let ones = [0xff, 0xff];
        assert_eq!(find_bit(&ones, 0, 15, false), None);
        assert_eq!(find_bit(&ones, 3, 9, true), Some(3));
        let v = [0x00, 0x10, 0x80];
        assert_eq!(find_bit(&v, 0, 23, true), Some(11));
        assert_eq!(find_bit(&v, 12, 23, true), Some(16));
        assert_eq!(find_bit(&v, 12, 15, true), None);
        assert_eq!(find_bit(&v, 11, 11, true), Some(11));
        assert_eq!(find_bit(&v, 11, 11, false), None);
        assert_eq!(find_bit(&v, 16, 23, false), Some(17));
        assert_eq!(find_bit(&[], 0, 7, false), None);
    }
}
