//! INCRBYFLOAT's numbers: C `long double`, parsed, added and printed as Redis does.
//!
//! Redis computes INCRBYFLOAT in `long double` (80-bit extended on x86-64, 128-bit quad
//! on 64-bit Arm Linux) and prints the sum with `%.17Lf`, trailing zeros trimmed; so
//! `9223372036854775807 + 1` is `9223372036854775808` (an `f64` printed
//! `9223372036854776000`) and `1e17 + 0.1` is `100000000000000000.1015625` (an `f64` loses
//! the fraction). Rust has no long double, so this module calls a small C shim
//! (`csrc/long_double.c`, built by `build.rs`) that runs the same C library routines Redis
//! uses (`strtold`, `snprintf`), with Redis 7.0's `string2ld` and `ld2string` checks
//! mirrored line by line; answers then match on every platform Redis runs on. Only byte
//! strings and integers cross the boundary, never a long double.
//!
//! It owns the parsing and the arithmetic, nothing else: no keys, no expiry, no replies.

use bytes::Bytes;

use super::CommandError;

/// Redis's `MAX_LONG_DOUBLE_CHARS`: text this long or longer is not a number, and the
/// sum is printed into a buffer of this size.
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

// The C shim's return codes that are told apart here (csrc/long_double.c has them all).
const OK: i32 = 0;
const NAN_OR_INF: i32 = 3;

extern "C" {
    fn cairn_ld_valid(s: *const u8, len: usize) -> i32;
    fn cairn_ld_incr(
        old: *const u8,
        old_len: usize,
        delta: *const u8,
        delta_len: usize,
        out: *mut u8,
        out_cap: usize,
        out_len: *mut usize,
    ) -> i32;
}

/// An INCRBYFLOAT increment: text that Redis's `string2ld` accepts (a decimal, exponent or
/// hexadecimal float, or `inf`; not NaN, not led or followed by anything, not overflowing
/// or underflowing to zero). It is kept as text because its value, a C long double, has
/// no Rust type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongDouble(Bytes);

impl LongDouble {
    /// `text` if it is a long double by Redis's rules, else `None`.
    pub fn parse(text: Bytes) -> Option<LongDouble> {
        is_long_double(&text).then_some(LongDouble(text))
    }

    /// The text as sent.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Whether `text` is a long double by Redis's `string2ld`.
fn is_long_double(text: &[u8]) -> bool {
    // SAFETY: the pointer and length describe one live, initialised slice, which the C
    // side only reads (it copies at most MAX_LONG_DOUBLE_CHARS - 1 bytes of it).
    let valid = unsafe { cairn_ld_valid(text.as_ptr(), text.len()) };
    valid == 1
}

/// INCRBYFLOAT's sum: the stored value `old` (`None` for an absent key, counted as 0) plus
/// `delta`, printed as Redis prints it (`%.17Lf`, trailing zeros and `.` trimmed, `-0` as
/// `0`).
///
/// Errors as Redis's, in its order: [`CommandError::NotFloat`] when `old` is not a long
/// double, [`CommandError::NanOrInfinity`] when the sum is NaN or infinite.
pub fn incr(old: Option<&[u8]>, delta: &LongDouble) -> Result<Bytes, CommandError> {
    let mut out = [0u8; MAX_LONG_DOUBLE_CHARS];
    let mut len = 0usize;
    let (old_ptr, old_len) = old.map_or((std::ptr::null(), 0), |o| (o.as_ptr(), o.len()));
    // SAFETY: `old` (when not null) and `delta` are live slices of the lengths given, only
    // read; `out` is a live buffer of `out.len()` bytes, which the C side writes at most
    // that many of, and `len` a live usize it writes the printed length to (at most
    // `out.len() - 1`).
    let code = unsafe {
        cairn_ld_incr(
            old_ptr,
            old_len,
            delta.0.as_ptr(),
            delta.0.len(),
            out.as_mut_ptr(),
            out.len(),
            &raw mut len,
        )
    };
    match code {
        OK => Ok(Bytes::copy_from_slice(&out[..len.min(out.len())])),
        NAN_OR_INF => Err(CommandError::NanOrInfinity),
        // BAD_OLD; also BAD_DELTA, which cannot happen (a LongDouble was checked when
        // made), and a bad buffer, which cannot either: Redis's word for a number it
        // cannot read.
        _ => Err(CommandError::NotFloat),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld(text: &str) -> LongDouble {
        LongDouble::parse(Bytes::copy_from_slice(text.as_bytes()))
            .unwrap_or_else(|| panic!("{text:?} should be a long double"))
    }

    fn sum(old: &str, delta: &str) -> Result<String, CommandError> {
        incr(Some(old.as_bytes()), &ld(delta)).map(|b| String::from_utf8(b.to_vec()).unwrap())
    }

    fn valid(text: &[u8]) -> bool {
        LongDouble::parse(Bytes::copy_from_slice(text)).is_some()
    }

    #[test]
    fn sums_print_as_redis_prints_them() {
        assert_eq!(
            sum("9223372036854775807", "1").unwrap(),
            "9223372036854775808"
        );
        assert_eq!(sum("10.5", "0.1").unwrap(), "10.6");
        assert_eq!(sum("5.0e3", "2.0e2").unwrap(), "5200");
        assert_eq!(sum("3.0", "0").unwrap(), "3");
        assert_eq!(sum("1e17", "0.1").unwrap(), "100000000000000000.1015625");
        assert_eq!(sum("0x10", "0x1p3").unwrap(), "24");
        // Too small for 17 places, negative or not: "0", never "-0".
        assert_eq!(sum("0", "-1e-20").unwrap(), "0");
        assert_eq!(sum("-0", "-0").unwrap(), "0");
        assert_eq!(sum("1", "-3.5").unwrap(), "-2.5");
        // long double's range is far wider than f64's.
        assert!(sum("1.7976931348623157e308", "1.7976931348623157e308")
            .unwrap()
            .starts_with("35953862697246313"));
    }

    #[test]
    fn an_absent_key_counts_as_zero() {
        assert_eq!(incr(None, &ld("2.5")).unwrap(), Bytes::from_static(b"2.5"));
        assert_eq!(incr(None, &ld("-0")).unwrap(), Bytes::from_static(b"0"));
    }

    #[test]
    fn infinite_increments_parse_but_cannot_be_added() {
        assert!(valid(b"inf"));
        assert!(valid(b"-INFINITY"));
        assert_eq!(sum("1", "inf"), Err(CommandError::NanOrInfinity));
        assert_eq!(incr(None, &ld("-inf")), Err(CommandError::NanOrInfinity));
        assert_eq!(
            sum("1.1e4932", "1.1e4932"),
            Err(CommandError::NanOrInfinity)
        );
    }

    #[test]
    fn text_is_a_long_double_by_string2lds_rules() {
        for good in [
            &b"1.5"[..],
            b"-5e3",
            b".5",
            b"5.",
            b"+5",
            b"0x10",
            b"0x1p3",
            b"1e-4940",
        ] {
            assert!(valid(good), "{:?}", String::from_utf8_lossy(good));
        }
        // Leading zeros, so the length alone decides: 5,119 bytes are read, 5,120 are not.
        let padded_one = |len: usize| {
            let mut text = vec![b'0'; len - 1];
            text.push(b'1');
            text
        };
        let long = padded_one(MAX_LONG_DOUBLE_CHARS);
        assert!(valid(&padded_one(MAX_LONG_DOUBLE_CHARS - 1)));
        for bad in [
            &b"nan"[..],
            b"-nan",
            b" 1",
            b"\t1",
            b"1 ",
            b"",
            b"abc",
            b"1\x002",
            b"1e5000",
            b"-1e5000",
            b"1e-5000",
            &long,
        ] {
            assert!(!valid(bad), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_stored_value_that_is_no_number_is_refused_before_the_sum() {
        for old in ["abc", " 1", "1 ", "", "1e5000", "nan"] {
            assert_eq!(sum(old, "1"), Err(CommandError::NotFloat), "{old:?}");
            assert_eq!(sum(old, "inf"), Err(CommandError::NotFloat), "{old:?}");
        }
    }
}
