//! RESP framing: client requests (arrays of bulk strings and inline lines) and replies.
//!
//! It owns the byte-level RESP2/RESP3 syntax on the reading side, the request encoding a
//! client needs, and the inline splitter ([`split_args`]) that a shell shares with the
//! server. Parsers are nom streaming parsers over the connection's read buffer: an
//! incomplete frame consumes nothing and asks for more bytes; a complete one is split off
//! the buffer once and its values are `Bytes` slices of it, never copies (only inline
//! arguments that needed unescaping are copied). It never interprets commands (that is
//! `command`) and never encodes replies (that is `reply`).
//!
//! Every length is checked against [`Limits`](crate::protocol::Limits) before the parser
//! waits for, or allocates for, what the length claims. Element counts are never used to
//! size an allocation.

use nom::bytes::streaming::{tag, take_until};
use nom::error::{ErrorKind, ParseError};

use super::ProtocolError;

mod reply_parser;
mod request;

pub use reply_parser::parse_reply;
pub use request::{encode_request, parse_request, split_args};

/// nom's error type for these parsers: always a `ProtocolError`, raised as `Failure`
/// because no RESP parser backtracks.
#[derive(Debug)]
struct PErr(ProtocolError);

impl<I> ParseError<I> for PErr {
    fn from_error_kind(_input: I, _kind: ErrorKind) -> Self {
        // Only reached through a nom primitive failing to match (a `tag`), which every call
        // site maps to its own error; this is the fallback.
        PErr(ProtocolError::Invalid { what: "syntax" })
    }

    fn append(_input: I, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

type PResult<'a, T> = nom::IResult<&'a [u8], T, PErr>;

fn fail<T>(e: ProtocolError) -> Result<T, nom::Err<PErr>> {
    Err(nom::Err::Failure(PErr(e)))
}

/// Maps a top-level nom result to the public shape: incomplete is `Ok(None)`.
fn finish<T>(r: Result<T, nom::Err<PErr>>) -> Result<Option<T>, ProtocolError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(nom::Err::Incomplete(_)) => Ok(None),
        Err(nom::Err::Error(PErr(e)) | nom::Err::Failure(PErr(e))) => Err(e),
    }
}

/// A line ending in `\r\n` (not included), at most `max` bytes long. Only the first
/// `max + 2` bytes are searched, so a peer that never sends a line end costs a bounded scan
/// and gets `too_long` as soon as the line is known to be over the limit, whatever the
/// read boundaries were.
fn crlf_line(input: &[u8], max: usize, too_long: ProtocolError) -> PResult<'_, &[u8]> {
    let window = &input[..input.len().min(max.saturating_add(2))];
    match take_until::<_, _, PErr>(&b"\r\n"[..])(window) {
        Ok((_, line)) if line.len() > max => fail(too_long),
        Ok((_, line)) => Ok((&input[line.len() + 2..], line)),
        Err(nom::Err::Incomplete(n)) => {
            // The line is at least this long; a trailing '\r' may be the start of its end.
            let known = window.len() - usize::from(window.ends_with(b"\r"));
            if known > max {
                fail(too_long)
            } else {
                Err(nom::Err::Incomplete(n))
            }
        }
        Err(e) => Err(e),
    }
}

/// Redis's `string2ll`: optional '-', digits, no '+', no leading zeros, no overflow.
fn parse_strict_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if neg { -v } else { v })
}

/// The common case of a length line, without a separate search for its end: 1 to 19
/// digits without a leading zero, then `\r\n`, within `max` bytes. Anything else (a sign,
/// an incomplete or malformed line) returns `None` and goes through `crlf_line` and
/// `parse_strict_i64`, which decide the exact outcome.
#[inline]
fn fast_len_line(input: &[u8], max: usize) -> Option<(&[u8], u64)> {
    let mut v: u64 = 0;
    let mut i = 0;
    while i < 19 {
        match input.get(i) {
            Some(&d) if d.is_ascii_digit() => v = v * 10 + u64::from(d - b'0'),
            _ => break,
        }
        i += 1;
    }
    if i == 0 || i > max || (input[0] == b'0' && i > 1) {
        return None;
    }
    match input.get(i..i + 2) {
        Some(b"\r\n") => Some((&input[i + 2..], v)),
        _ => None,
    }
}

/// The `\r\n` after a bulk payload.
fn crlf(input: &[u8]) -> PResult<'_, ()> {
    match tag::<_, _, PErr>(&b"\r\n"[..])(input) {
        Ok((rest, _)) => Ok((rest, ())),
        Err(nom::Err::Incomplete(n)) => Err(nom::Err::Incomplete(n)),
        Err(_) => fail(ProtocolError::ExpectedCrlf),
    }
}

#[cfg(test)]
mod tests;
