//! BITFIELD's integers: reading and writing a field of 1 to 64 bits at any bit offset,
//! signed (two's complement) or unsigned, and what SET and INCRBY leave in it under
//! OVERFLOW WRAP, SAT and FAIL. Ported from Redis's `getUnsignedBitfield`,
//! `checkUnsignedBitfieldOverflow` and `checkSignedBitfieldOverflow`, including their
//! quirks (an unsigned SET of a negative value overflows upwards, so SAT stores the
//! maximum), because clients see the numbers.

use crate::protocol::command::{BitFieldOp, BitFieldType, Overflow};

/// The unsigned field of `bits` bits at bit `offset`, the most significant bit first;
/// bits past the end of `value` read as zero.
fn get_unsigned(value: &[u8], offset: u64, bits: u8) -> u64 {
    (0..u64::from(bits)).fold(0, |acc, i| {
        let at = offset.saturating_add(i);
        let byte = usize::try_from(at >> 3)
            .ok()
            .and_then(|b| value.get(b))
            .copied()
            .unwrap_or(0);
        (acc << 1) | u64::from((byte >> (7 - (at & 7))) & 1)
    })
}

/// Stores the low `bits` bits of `v` at bit `offset`. The caller grew `buf` to hold the
/// field; a bit past its end would be dropped, never a panic.
fn set_unsigned(buf: &mut [u8], offset: u64, bits: u8, v: u64) {
    for i in 0..u64::from(bits) {
        let at = offset.saturating_add(i);
        let bit = (v >> (u64::from(bits) - 1 - i)) & 1;
        let mask = 0x80u8 >> (at & 7);
        if let Some(byte) = usize::try_from(at >> 3).ok().and_then(|b| buf.get_mut(b)) {
            if bit == 1 {
                *byte |= mask;
            } else {
                *byte &= !mask;
            }
        }
    }
}

/// The low `bits` bits of `v` as a signed number of that width: the bits above them
/// become copies of its sign bit.
fn sign_extend(v: u64, bits: u8) -> i64 {
    if bits >= 64 {
        return v.cast_signed();
    }
    let high = u64::MAX << bits;
    if v & (1 << (bits - 1)) != 0 {
        (v | high).cast_signed()
    } else {
        (v & !high).cast_signed()
    }
}

/// The field's value as BITFIELD GET replies it (an unsigned field is at most 63 bits,
/// so it fits).
pub(super) fn get(value: &[u8], offset: u64, field: BitFieldType) -> i64 {
    let raw = get_unsigned(value, offset, field.bits);
    if field.signed {
        sign_extend(raw, field.bits)
    } else {
        raw.cast_signed()
    }
}

/// What an unsigned field of `bits` bits holding `value` holds after adding `incr` (a SET
/// passes the new value and 0), or `None` when it overflows under FAIL.
fn unsigned_result(value: u64, incr: i64, bits: u8, overflow: Overflow) -> Option<u64> {
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    };
    // As Redis computes them, in int64_t: exact whenever `value <= max`, which is
    // checked first.
    let max_incr = max.wrapping_sub(value).cast_signed();
    let min_incr = value.wrapping_neg().cast_signed();
    let sum = value.wrapping_add(incr.cast_unsigned());
    let limit = if value > max || (incr > 0 && incr > max_incr) {
        max
    } else if incr < 0 && incr < min_incr {
        0
    } else {
        return Some(sum);
    };
    match overflow {
        Overflow::Wrap => Some(sum & max),
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
    }
}

/// What a signed field of `bits` bits holding `value` holds after adding `incr` (a SET
/// passes the new value and 0), or `None` when it overflows under FAIL.
fn signed_result(value: i64, incr: i64, bits: u8, overflow: Overflow) -> Option<i64> {
    let max = if bits >= 64 {
        i64::MAX
    } else {
        (1 << (bits - 1)) - 1
    };
    let min = -max - 1;
    // Redis computes these with wrapping; each is used only where it is exact.
    let max_incr = max.wrapping_sub(value);
    let min_incr = min.wrapping_sub(value);
    let wide = bits >= 64;
    let limit =
        if value > max || (!wide && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
        {
            max
        } else if value < min
            || (!wide && incr < min_incr)
            || (value < 0 && incr < 0 && incr < min_incr)
        {
            min
        } else {
            return Some(value.wrapping_add(incr));
        };
    match overflow {
        // The sum modulo 2^bits, read back as a signed number of that width.
        Overflow::Wrap => {
            let sum = value.cast_unsigned().wrapping_add(incr.cast_unsigned());
            Some(if wide {
                sum.cast_signed()
            } else {
                sign_extend(sum, bits)
            })
        }
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
    }
}

/// Runs a SET (`incr` false: store `v`, reply the old value) or an INCRBY (`incr` true:
/// add `v`, reply the new value) on `buf`: the reply and whether the field changed, or
/// `None` (nil, nothing written) when it overflows under FAIL.
pub(super) fn update(buf: &mut [u8], op: &BitFieldOp, v: i64, incr: bool) -> Option<(i64, bool)> {
    let BitFieldType { signed, bits } = op.field;
    let raw = get_unsigned(buf, op.offset, bits);
    let (new, reply) = if signed {
        let old = sign_extend(raw, bits);
        let new = if incr {
            signed_result(old, v, bits, op.overflow)?
        } else {
            signed_result(v, 0, bits, op.overflow)?
        };
        (new.cast_unsigned(), if incr { new } else { old })
    } else {
        let new = if incr {
            unsigned_result(raw, v, bits, op.overflow)?
        } else {
            unsigned_result(v.cast_unsigned(), 0, bits, op.overflow)?
        };
        (new, if incr { new } else { raw }.cast_signed())
    };
    set_unsigned(buf, op.offset, bits, new);
    let changed = get_unsigned(buf, op.offset, bits) != raw;
    Some((reply, changed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Overflow::{Fail, Sat, Wrap};

    #[test]
    fn fields_read_most_significant_bit_first() {
        let v = [0b1010_0000, 0xff];
        assert_eq!(get_unsigned(&v, 0, 3), 0b101);
        assert_eq!(get_unsigned(&v, 6, 4), 0b0011);
        // Past the end: zeros.
        assert_eq!(get_unsigned(&v, 12, 8), 0b1111_0000);
        assert_eq!(get_unsigned(&[], 0, 63), 0);
        let signed = |offset, bits| get(&v, offset, BitFieldType { signed: true, bits });
        assert_eq!(signed(0, 3), -3);
        assert_eq!(signed(8, 8), -1);
        assert_eq!(signed(1, 2), 1);
        let mut buf = [0u8; 2];
        // Redis's own example: u5 23 at offset 7 is 00000001|01110000.
        set_unsigned(&mut buf, 7, 5, 23);
        assert_eq!(buf, [0b0000_0001, 0b0111_0000]);
    }

    #[test]
    fn unsigned_wrap_sat_fail() {
        assert_eq!(unsigned_result(250, 10, 8, Wrap), Some(4));
        assert_eq!(unsigned_result(250, 10, 8, Sat), Some(255));
        assert_eq!(unsigned_result(250, 10, 8, Fail), None);
        assert_eq!(unsigned_result(5, -6, 8, Wrap), Some(255));
        assert_eq!(unsigned_result(5, -6, 8, Sat), Some(0));
        assert_eq!(unsigned_result(5, -6, 8, Fail), None);
        assert_eq!(unsigned_result(5, -5, 8, Fail), Some(0));
        assert_eq!(unsigned_result(0, 255, 8, Fail), Some(255));
        // SET of a negative value: as u64 it is huge, so it overflows upwards.
        assert_eq!(
            unsigned_result((-1i64).cast_unsigned(), 0, 8, Sat),
            Some(255)
        );
        assert_eq!(
            unsigned_result((-1i64).cast_unsigned(), 0, 8, Wrap),
            Some(255)
        );
        assert_eq!(unsigned_result(300, 0, 8, Wrap), Some(44));
        // u63 at its limits.
        let max = u64::MAX >> 1;
        assert_eq!(unsigned_result(max, 1, 63, Wrap), Some(0));
        assert_eq!(unsigned_result(max, 1, 63, Sat), Some(max));
        assert_eq!(unsigned_result(0, i64::MIN, 63, Sat), Some(0));
        assert_eq!(unsigned_result(1, i64::MAX, 63, Fail), None);
        assert_eq!(unsigned_result(0, i64::MAX, 63, Fail), Some(max));
    }

    #[test]
    fn signed_wrap_sat_fail() {
        assert_eq!(signed_result(120, 10, 8, Wrap), Some(-126));
        assert_eq!(signed_result(120, 10, 8, Sat), Some(127));
        assert_eq!(signed_result(120, 10, 8, Fail), None);
        assert_eq!(signed_result(-120, -10, 8, Wrap), Some(126));
        assert_eq!(signed_result(-120, -10, 8, Sat), Some(-128));
        assert_eq!(signed_result(-128, 255, 8, Fail), Some(127));
        assert_eq!(signed_result(300, 0, 8, Wrap), Some(44));
        assert_eq!(signed_result(200, 0, 8, Wrap), Some(-56));
        // The sum's bits above the width are dropped, not kept.
        assert_eq!(signed_result(0, i64::MIN, 42, Wrap), Some(0));
        assert_eq!(signed_result(0, i64::MIN, 42, Sat), Some(-(1 << 41)));
        assert_eq!(signed_result(-1, 0, 1, Fail), Some(-1));
        assert_eq!(signed_result(1, 0, 1, Sat), Some(0));
        // i64: the sum itself would overflow.
        assert_eq!(signed_result(i64::MAX, 1, 64, Wrap), Some(i64::MIN));
        assert_eq!(signed_result(i64::MAX, 1, 64, Sat), Some(i64::MAX));
        assert_eq!(signed_result(i64::MIN, -1, 64, Sat), Some(i64::MIN));
        assert_eq!(signed_result(i64::MIN, -1, 64, Fail), None);
        assert_eq!(signed_result(-1, i64::MIN, 64, Fail), None);
        assert_eq!(signed_result(-1, i64::MAX, 64, Fail), Some(i64::MAX - 1));
        assert_eq!(signed_result(i64::MIN, i64::MAX, 64, Fail), Some(-1));
    }
}
