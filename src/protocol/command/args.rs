//! The arguments a parser sees, and Redis's number rules (`string2ll` and friends).
//!
//! A parser gets the arguments after the name (and the subcommand) that are not keys: the
//! row's key positions took those out. Redis is stricter than Rust's `str::parse`: no `+`,
//! no leading zeros, no spaces. These helpers reproduce its rules byte for byte and never
//! allocate.

use bytes::Bytes;

use super::CommandError;

/// The arguments of a request that are not its name, subcommand or keys, in order.
#[derive(Debug)]
pub(crate) struct Args {
    rest: std::vec::IntoIter<Bytes>,
    argc: usize,
}

impl Args {
    /// `rest` of a request of `argc` arguments in all.
    pub(crate) fn new(rest: std::vec::IntoIter<Bytes>, argc: usize) -> Args {
        Args { rest, argc }
    }

    /// How many arguments the whole request has, name and keys included (Redis's `argc`).
    pub(crate) fn argc(&self) -> usize {
        self.argc
    }

    /// The arguments not taken yet.
    pub(crate) fn as_slice(&self) -> &[Bytes] {
        self.rest.as_slice()
    }
}

impl Iterator for Args {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        self.rest.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.rest.size_hint()
    }
}

impl ExactSizeIterator for Args {}

/// Takes the next argument; the arity check made sure it is there, but a missing one
/// is a syntax error rather than a panic.
#[inline]
pub(crate) fn next(args: &mut Args) -> Result<Bytes, CommandError> {
    args.next().ok_or(CommandError::Syntax)
}

/// Case-insensitive comparison of an argument with an upper-case ASCII keyword.
#[inline]
pub(crate) fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// Redis's `string2ll`: optional `-`, no `+`, no leading zeros (`0` alone is fine, `-0`
/// is not), at most 20 characters, within `i64`.
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        // v is at most 2^63: as i64 it is i64::MIN, its own negation.
        Some(v.cast_signed().wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// [`parse_i64`] or Redis's "value is not an integer or out of range".
#[inline]
pub(crate) fn int(s: &[u8]) -> Result<i64, CommandError> {
    parse_i64(s).ok_or(CommandError::NotInteger)
}

/// A SCAN cursor as Redis 7.0's `parseScanCursorOrReply` reads it, with C's `strtoul`:
/// no leading white space, an optional `+` or `-` (which negates modulo 2^64, so `-1`
/// is the largest cursor), decimal digits (leading zeros allowed) within `u64`; the
/// empty string is cursor 0.
pub(crate) fn parse_u64_cursor(s: &[u8]) -> Option<u64> {
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        // strtoul consumed nothing: accepted only when there was nothing to consume.
        return if s.is_empty() { Some(0) } else { None };
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(if negative { v.wrapping_neg() } else { v })
}

/// Parses an IFDEQ/IFDNE digest: 1 to 16 hexadecimal digits, either case, as DIGEST
/// prints an XXH3-64 value.
pub(crate) fn parse_digest(s: &[u8]) -> Result<u64, CommandError> {
    if s.is_empty() || s.len() > 16 {
        return Err(CommandError::InvalidDigest);
    }
    let mut v: u64 = 0;
    for &b in s {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return Err(CommandError::InvalidDigest),
        };
        v = (v << 4) | u64::from(d);
    }
    Ok(v)
}

/// The value DIGEST prints for `value`: XXH3-64, 16 lower-case hex digits. Shared so
/// the server's DIGEST and the IFDEQ parser can never disagree.
pub fn digest(value: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(value)
}

/// Formats a digest as DIGEST replies it: 16 lower-case hexadecimal digits.
pub fn digest_hex(digest: u64) -> String {
    format!("{digest:016x}")
}

/// Whether every byte is printable ASCII without space (`!`..=`~`), Redis's rule for
/// client names and library attributes.
pub(crate) fn is_printable_token(s: &[u8]) -> bool {
    s.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-9223372036854775809"), None);
        assert_eq!(parse_i64(b"99999999999999999999"), None);
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1a",
            b"0x1",
            b"1.0",
        ] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cursor_rules() {
        assert_eq!(parse_u64_cursor(b"0"), Some(0));
        assert_eq!(parse_u64_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64_cursor(b"007"), Some(7));
        assert_eq!(parse_u64_cursor(b"+7"), Some(7));
        assert_eq!(parse_u64_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_u64_cursor(b"-18446744073709551615"), Some(1));
        assert_eq!(parse_u64_cursor(b""), Some(0));
        assert_eq!(parse_u64_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_u64_cursor(b"-18446744073709551616"), None);
        assert_eq!(parse_u64_cursor(b"abc"), None);
        assert_eq!(parse_u64_cursor(b"-"), None);
        assert_eq!(parse_u64_cursor(b"+"), None);
        assert_eq!(parse_u64_cursor(b" 1"), None);
        assert_eq!(parse_u64_cursor(b"1 "), None);
    }

    #[test]
    fn digest_rules() {
        assert_eq!(parse_digest(b"ff"), Ok(255));
        assert_eq!(parse_digest(b"FFFFFFFFFFFFFFFF"), Ok(u64::MAX));
        assert_eq!(parse_digest(b"DeadBeef"), Ok(0xdead_beef));
        assert!(parse_digest(b"").is_err());
        assert!(parse_digest(b"12345678901234567").is_err());
        assert!(parse_digest(b"xyz").is_err());
        let d = digest(b"hello");
        assert_eq!(parse_digest(digest_hex(d).as_bytes()), Ok(d));
        assert_eq!(digest_hex(1), "0000000000000001");
    }
}
