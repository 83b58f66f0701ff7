//! RESP framing: client requests (arrays of bulk strings and inline lines) and replies.
//!
//! It owns the byte-level RESP2/RESP3 syntax on the reading side, and the request encoding
//! a client needs. Parsers are nom streaming parsers over the connection's read buffer:
//! an incomplete frame consumes nothing and asks for more bytes; a complete one is split
//! off the buffer once and its values are `Bytes` slices of it, never copies (only inline
//! arguments that needed unescaping are copied). It never interprets commands (that is
//! `command`) and never encodes replies (that is `reply`).
//!
//! Every length is checked against [`Limits`] before the parser waits for, or allocates
//! for, what the length claims. Element counts are never used to size an allocation.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use nom::bytes::streaming::{tag, take, take_until};
use nom::error::{ErrorKind, ParseError};
use smallvec::SmallVec;

use super::{Limits, ProtocolError, Reply};

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

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// Where an argument's bytes are: a span of the frame, or a copy made by unescaping.
#[derive(Debug)]
enum Arg {
    Span(usize, usize),
    Owned(Vec<u8>),
}

/// Inline arguments; most requests have few, kept on the stack.
type Args = SmallVec<[Arg; 8]>;

/// One client request from the front of `buf`: a RESP array of bulk strings, or an inline
/// command line (redis-cli quoting: double quotes with `\n \r \t \b \a \" \\ \xHH` escapes,
/// single quotes literal with `\'`; a closing quote must be followed by a space or the end).
///
/// `Ok(None)`: incomplete, nothing consumed (call again with more bytes).
/// `Ok(Some(args))`: the request's bytes have been split off `buf`; the arguments are
/// zero-copy slices of that frame, copies only for inline arguments that needed unescaping.
/// An empty inline line, `*0\r\n` or `*-1\r\n` gives `Ok(Some(vec![]))`, which the server
/// skips. `Err`: reply with the error, then close the connection.
pub fn parse_request(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    if first == b'*' {
        let mut spans = Spans::new();
        let Some(len) = finish(multibulk(buf, limits, &mut spans))? else {
            return Ok(None);
        };
        // Each argument is split straight off the buffer: one reference count increment
        // per argument, no intermediate frame handle.
        let mut out = Vec::with_capacity(spans.len());
        let mut at = 0;
        for (start, end) in spans {
            buf.advance(start - at);
            out.push(buf.split_to(end - start).freeze());
            at = end;
        }
        buf.advance(len - at);
        return Ok(Some(out));
    }
    let Some((len, args)) = finish(inline(buf, limits))? else {
        return Ok(None);
    };
    let frame = buf.split_to(len).freeze();
    let mut out = Vec::with_capacity(args.len());
    for arg in args {
        out.push(match arg {
            Arg::Span(start, end) => frame.slice(start..end),
            Arg::Owned(v) => Bytes::from(v),
        });
    }
    Ok(Some(out))
}

/// Argument spans of a RESP array request; most requests have few, kept on the stack.
type Spans = SmallVec<[(usize, usize); 8]>;

/// `*<n>\r\n` then n times `$<len>\r\n<bytes>\r\n`. Returns the frame length; the
/// argument spans (relative to `buf`) are pushed to `spans`.
fn multibulk(buf: &[u8], limits: &Limits, spans: &mut Spans) -> Result<usize, nom::Err<PErr>> {
    let (mut input, count) = match fast_len_line(&buf[1..], limits.max_inline_len) {
        Some((rest, n)) => (rest, i64::try_from(n).ok()),
        None => {
            let (rest, line) = crlf_line(
                &buf[1..],
                limits.max_inline_len,
                ProtocolError::MultibulkCountTooBig,
            )?;
            (rest, parse_strict_i64(line))
        }
    };
    let count = match count {
        Some(n) if n <= 0 => return Ok(buf.len() - input.len()),
        Some(n) if n as u64 <= limits.max_array_len as u64 => n as usize,
        _ => return fail(ProtocolError::InvalidMultibulkLength),
    };
    for _ in 0..count {
        let (rest, span) = bulk_arg(buf, input, limits)?;
        spans.push(span);
        input = rest;
    }
    Ok(buf.len() - input.len())
}

/// One `$<len>\r\n<bytes>\r\n` at `input`, a suffix of `buf`; the span is relative to `buf`.
fn bulk_arg<'a>(buf: &[u8], input: &'a [u8], limits: &Limits) -> PResult<'a, (usize, usize)> {
    match input.first() {
        None => return Err(nom::Err::Incomplete(nom::Needed::new(1))),
        Some(b'$') => {}
        Some(&got) => return fail(ProtocolError::ExpectedBulk { got }),
    }
    let (input, len) = match fast_len_line(&input[1..], limits.max_inline_len) {
        Some((rest, n)) => (rest, Some(n)),
        None => {
            let (rest, line) = crlf_line(
                &input[1..],
                limits.max_inline_len,
                ProtocolError::BulkCountTooBig,
            )?;
            (
                rest,
                parse_strict_i64(line).and_then(|n| u64::try_from(n).ok()),
            )
        }
    };
    let len = match len {
        Some(n) if n <= limits.max_bulk_len as u64 => n as usize,
        _ => return fail(ProtocolError::InvalidBulkLength),
    };
    let (input, data) = take(len)(input)?;
    let (input, ()) = crlf(input)?;
    let start = buf.len() - input.len() - 2 - data.len();
    Ok((input, (start, start + data.len())))
}

/// An inline command: a line ending in `\n` (an `\r` before it is dropped), split into
/// arguments by redis-cli's rules.
fn inline(buf: &[u8], limits: &Limits) -> Result<(usize, Args), nom::Err<PErr>> {
    let max = limits.max_inline_len;
    let window = &buf[..buf.len().min(max.saturating_add(2))];
    let line = match take_until::<_, _, PErr>(&b"\n"[..])(window) {
        Ok((_, line)) => line,
        Err(nom::Err::Incomplete(n)) => {
            let known = window.len() - usize::from(window.ends_with(b"\r"));
            return if known > max {
                fail(ProtocolError::InlineTooBig)
            } else {
                Err(nom::Err::Incomplete(n))
            };
        }
        Err(e) => return Err(e),
    };
    let frame_len = line.len() + 1;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > max {
        return fail(ProtocolError::InlineTooBig);
    }
    match split_inline(line) {
        Ok(args) => Ok((frame_len, args)),
        Err(e) => fail(e),
    }
}

/// C's `isspace`, which Redis uses between arguments and after a closing quote.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_val(b: Option<u8>) -> Option<u8> {
    match b? {
        c @ b'0'..=b'9' => Some(c - b'0'),
        c @ b'a'..=b'f' => Some(c - b'a' + 10),
        c @ b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Redis's `sdssplitargs`, byte for byte, except that a NUL byte is an ordinary byte here
/// (Redis, working on C strings, stops the line at it). Unquoted arguments stay spans of
/// the line; quoting switches the argument to an owned copy.
fn split_inline(line: &[u8]) -> Result<Args, ProtocolError> {
    let at = |j: usize| line.get(j).copied();
    let mut args = Args::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Ok(args);
        }
        let start = i;
        let mut owned: Option<Vec<u8>> = None;
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            let c = at(i);
            if in_dq {
                let Some(c) = c else {
                    return Err(ProtocolError::UnbalancedQuotes);
                };
                let v = owned.get_or_insert_with(Vec::new);
                if c == b'\\' && at(i + 1) == Some(b'x') {
                    if let (Some(h), Some(l)) = (hex_val(at(i + 2)), hex_val(at(i + 3))) {
                        v.push(h * 16 + l);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' {
                    if let Some(e) = at(i + 1) {
                        v.push(match e {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        i += 2;
                        continue;
                    }
                }
                if c == b'"' {
                    if at(i + 1).is_some_and(|n| !is_space(n)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                }
                v.push(c);
                i += 1;
            } else if in_sq {
                let Some(c) = c else {
                    return Err(ProtocolError::UnbalancedQuotes);
                };
                let v = owned.get_or_insert_with(Vec::new);
                if c == b'\\' && at(i + 1) == Some(b'\'') {
                    v.push(b'\'');
                    i += 2;
                    continue;
                }
                if c == b'\'' {
                    if at(i + 1).is_some_and(|n| !is_space(n)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                }
                v.push(c);
                i += 1;
            } else {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t') => break,
                    Some(q @ (b'"' | b'\'')) => {
                        if owned.is_none() {
                            owned = Some(line[start..i].to_vec());
                        }
                        in_dq = q == b'"';
                        in_sq = q == b'\'';
                        i += 1;
                    }
                    Some(c) => {
                        if let Some(v) = owned.as_mut() {
                            v.push(c);
                        }
                        i += 1;
                    }
                }
            }
        }
        args.push(match owned {
            Some(v) => Arg::Owned(v),
            None => Arg::Span(start, i),
        });
    }
}

/// Client side: a request as a RESP array of bulk strings, appended to `out`.
pub fn encode_request<A: AsRef<[u8]>>(args: &[A], out: &mut BytesMut) {
    let body: usize = args.iter().map(|a| a.as_ref().len() + 25).sum();
    out.reserve(23 + body);
    let mut num = itoa::Buffer::new();
    out.put_u8(b'*');
    out.put_slice(num.format(args.len()).as_bytes());
    out.put_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.put_u8(b'$');
        out.put_slice(num.format(a.len()).as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(a);
        out.put_slice(b"\r\n");
    }
}

// ---------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------

/// Client side: one reply from the front of `buf`, any RESP2 or RESP3 type. Attributes
/// (`|`) are parsed and skipped (the reply they annotate is returned); pushes (`>`) come
/// back as `Reply::Array`; blob errors (`!`) as `Reply::Error`; RESP3 streamed strings and
/// aggregates (`$?`, `*?`) are not supported (an error).
///
/// `Ok(None)`: incomplete, nothing consumed. `Ok(Some(reply))`: the reply's bytes were
/// split off `buf` and its strings are slices of them.
pub fn parse_reply(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Reply>, ProtocolError> {
    // First pass: validate and measure without building anything, so an incomplete reply
    // costs no allocation. Second pass: build from the frozen frame, slicing it.
    let measure = ReplyParser {
        limits,
        frame: None,
    };
    let Some((rest, _)) = finish(measure.value(buf, 0))? else {
        return Ok(None);
    };
    let len = buf.len() - rest.len();
    let frame = buf.split_to(len).freeze();
    let build = ReplyParser {
        limits,
        frame: Some(&frame),
    };
    match finish(build.value(&frame, 0))? {
        Some((_, Some(reply))) => Ok(Some(reply)),
        // The same bytes parsed completely a moment ago.
        _ => Err(ProtocolError::Invalid { what: "reply" }),
    }
}

/// With `frame: None` it only validates and measures (returning `None` values); with the
/// frozen frame it builds the reply from slices of it.
struct ReplyParser<'l> {
    limits: &'l Limits,
    frame: Option<&'l Bytes>,
}

impl ReplyParser<'_> {
    fn bytes(&self, s: &[u8]) -> Bytes {
        match self.frame {
            Some(f) => f.slice_ref(s),
            None => Bytes::new(),
        }
    }

    /// A `\r\n`-terminated line of a reply value (simple string, error, big number,
    /// double...), bounded by the bulk limit.
    fn text_line<'a>(&self, input: &'a [u8]) -> PResult<'a, &'a [u8]> {
        crlf_line(
            input,
            self.limits.max_bulk_len,
            ProtocolError::Invalid {
                what: "line (too long)",
            },
        )
    }

    /// A length line: an integer, `-1` for null.
    fn len_line<'a>(&self, input: &'a [u8], err: ProtocolError) -> PResult<'a, i64> {
        let (rest, line) = crlf_line(input, self.limits.max_inline_len, err.clone())?;
        match parse_strict_i64(line) {
            Some(n) if n >= -1 => Ok((rest, n)),
            _ => fail(err),
        }
    }

    fn count<'a>(&self, input: &'a [u8], depth: usize) -> PResult<'a, Option<usize>> {
        let (rest, n) = self.len_line(input, ProtocolError::InvalidMultibulkLength)?;
        if n >= 0 && n as u64 > self.limits.max_array_len as u64 {
            return fail(ProtocolError::InvalidMultibulkLength);
        }
        if n >= 0 && depth + 1 > self.limits.max_depth {
            return fail(ProtocolError::TooDeep {
                max: self.limits.max_depth,
            });
        }
        Ok((rest, usize::try_from(n).ok()))
    }

    fn blob<'a>(&self, input: &'a [u8]) -> PResult<'a, Option<&'a [u8]>> {
        let (input, n) = self.len_line(input, ProtocolError::InvalidBulkLength)?;
        let Ok(len) = usize::try_from(n) else {
            return Ok((input, None));
        };
        if len > self.limits.max_bulk_len {
            return fail(ProtocolError::InvalidBulkLength);
        }
        let (input, data) = take(len)(input)?;
        let (input, ()) = crlf(input)?;
        Ok((input, Some(data)))
    }

    fn items<'a>(
        &self,
        mut input: &'a [u8],
        n: usize,
        depth: usize,
    ) -> PResult<'a, Option<Vec<Reply>>> {
        // Grow as elements arrive: the count is a claim, the bytes are facts.
        let mut items = self.frame.map(|_| Vec::new());
        for _ in 0..n {
            let (rest, v) = self.value(input, depth)?;
            if let (Some(items), Some(v)) = (items.as_mut(), v) {
                items.push(v);
            }
            input = rest;
        }
        Ok((input, items))
    }

    fn value<'a>(&self, input: &'a [u8], depth: usize) -> PResult<'a, Option<Reply>> {
        let Some((&kind, input)) = input.split_first() else {
            return Err(nom::Err::Incomplete(nom::Needed::new(1)));
        };
        let building = self.frame.is_some();
        let some = |r: Reply| if building { Some(r) } else { None };
        match kind {
            b'+' | b'-' | b'(' => {
                let (rest, line) = self.text_line(input)?;
                if kind == b'(' {
                    let digits = line.strip_prefix(b"-").unwrap_or(line);
                    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                        return fail(ProtocolError::Invalid { what: "big number" });
                    }
                }
                let b = self.bytes(line);
                Ok((
                    rest,
                    some(match kind {
                        b'+' => Reply::Simple(b),
                        b'-' => Reply::Error(b),
                        _ => Reply::BigNumber(b),
                    }),
                ))
            }
            b':' => {
                let (rest, line) = crlf_line(
                    input,
                    self.limits.max_inline_len,
                    ProtocolError::Invalid { what: "integer" },
                )?;
                match std::str::from_utf8(line).ok().and_then(|s| s.parse().ok()) {
                    Some(n) => Ok((rest, some(Reply::Integer(n)))),
                    None => fail(ProtocolError::Invalid { what: "integer" }),
                }
            }
            b',' => {
                let (rest, line) = crlf_line(
                    input,
                    self.limits.max_inline_len,
                    ProtocolError::Invalid { what: "double" },
                )?;
                match std::str::from_utf8(line).ok().and_then(|s| s.parse().ok()) {
                    Some(d) => Ok((rest, some(Reply::Double(d)))),
                    None => fail(ProtocolError::Invalid { what: "double" }),
                }
            }
            b'#' => match tag::<_, _, PErr>(&b"t\r\n"[..])(input) {
                Ok((rest, _)) => Ok((rest, some(Reply::Boolean(true)))),
                Err(nom::Err::Incomplete(n)) => Err(nom::Err::Incomplete(n)),
                Err(_) => match tag::<_, _, PErr>(&b"f\r\n"[..])(input) {
                    Ok((rest, _)) => Ok((rest, some(Reply::Boolean(false)))),
                    Err(nom::Err::Incomplete(n)) => Err(nom::Err::Incomplete(n)),
                    Err(_) => fail(ProtocolError::Invalid { what: "boolean" }),
                },
            },
            b'_' => match tag::<_, _, PErr>(&b"\r\n"[..])(input) {
                Ok((rest, _)) => Ok((rest, some(Reply::Null))),
                Err(nom::Err::Incomplete(n)) => Err(nom::Err::Incomplete(n)),
                Err(_) => fail(ProtocolError::Invalid { what: "null" }),
            },
            b'$' | b'!' => {
                let (rest, data) = self.blob(input)?;
                let r = match (kind, data) {
                    (b'$', None) => Reply::Null,
                    (b'$', Some(d)) => Reply::Bulk(self.bytes(d)),
                    (_, Some(d)) => Reply::Error(self.bytes(d)),
                    (_, None) => return fail(ProtocolError::InvalidBulkLength),
                };
                Ok((rest, some(r)))
            }
            b'=' => {
                let (rest, data) = self.blob(input)?;
                match data {
                    Some(d) if d.len() >= 4 && d[3] == b':' => Ok((
                        rest,
                        some(Reply::Verbatim {
                            format: [d[0], d[1], d[2]],
                            text: self.bytes(&d[4..]),
                        }),
                    )),
                    _ => fail(ProtocolError::Invalid {
                        what: "verbatim string",
                    }),
                }
            }
            b'*' | b'>' | b'~' => {
                let (rest, n) = self.count(input, depth)?;
                let Some(n) = n else {
                    if kind == b'*' {
                        return Ok((rest, some(Reply::NullArray)));
                    }
                    return fail(ProtocolError::InvalidMultibulkLength);
                };
                let (rest, items) = self.items(rest, n, depth + 1)?;
                let items = items.unwrap_or_default();
                Ok((
                    rest,
                    some(if kind == b'~' {
                        Reply::Set(items)
                    } else {
                        Reply::Array(items)
                    }),
                ))
            }
            b'%' | b'|' => {
                let (mut rest, n) = self.count(input, depth)?;
                let Some(n) = n else {
                    return fail(ProtocolError::InvalidMultibulkLength);
                };
                let mut pairs = Vec::new();
                for _ in 0..n {
                    let (r, k) = self.value(rest, depth + 1)?;
                    let (r, v) = self.value(r, depth + 1)?;
                    if let (Some(k), Some(v)) = (k, v) {
                        pairs.push((k, v));
                    }
                    rest = r;
                }
                if kind == b'|' {
                    // An attribute annotates the reply that follows it: skip to that one.
                    return self.value(rest, depth);
                }
                Ok((rest, some(Reply::Map(pairs))))
            }
            got => fail(ProtocolError::InvalidReplyType { got }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RespVersion;

    fn req(input: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        parse_request(&mut buf, &Limits::default())
    }

    fn args(input: &[u8]) -> Vec<Vec<u8>> {
        match req(input) {
            Ok(Some(a)) => a.iter().map(|b| b.to_vec()).collect(),
            other => panic!("{input:?}: {other:?}"),
        }
    }

    fn v(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn err(input: &[u8]) -> String {
        match req(input) {
            Err(e) => e.to_string(),
            other => panic!("{input:?}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn multibulk_request() {
        assert_eq!(
            args(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nlu\r\n"),
            v(&["SET", "k", "v\r\nlu"])
        );
        assert_eq!(args(b"*1\r\n$0\r\n\r\n"), v(&[""]));
    }

    #[test]
    fn request_is_split_off_and_zero_copy() {
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let a = parse_request(&mut buf, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(a[0].as_ptr() as usize, base + 8);
        assert_eq!(a[1].as_ptr() as usize, base + 17);
        assert_eq!(&buf[..], b"PING\r\n");
        let b = parse_request(&mut buf, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(b, vec![Bytes::from_static(b"PING")]);
        assert!(buf.is_empty());
        assert_eq!(parse_request(&mut buf, &Limits::default()), Ok(None));
    }

    #[test]
    fn empty_requests() {
        assert_eq!(args(b"*0\r\n"), Vec::<Vec<u8>>::new());
        assert_eq!(args(b"*-1\r\n"), Vec::<Vec<u8>>::new());
        assert_eq!(args(b"\r\n"), Vec::<Vec<u8>>::new());
        assert_eq!(args(b"\n"), Vec::<Vec<u8>>::new());
        assert_eq!(args(b"   \t \r\n"), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn incomplete_consumes_nothing() {
        let whole = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
        for cut in 0..whole.len() {
            let mut buf = BytesMut::from(&whole[..cut]);
            assert_eq!(
                parse_request(&mut buf, &Limits::default()),
                Ok(None),
                "{cut}"
            );
            assert_eq!(buf.len(), cut);
        }
        for cut in 0..8 {
            let mut buf = BytesMut::from(&b"GET key\r\n"[..cut]);
            assert_eq!(parse_request(&mut buf, &Limits::default()), Ok(None));
            assert_eq!(buf.len(), cut);
        }
    }

    #[test]
    fn multibulk_errors() {
        let bulk = "ERR Protocol error: invalid bulk length";
        let mbulk = "ERR Protocol error: invalid multibulk length";
        assert_eq!(err(b"*x\r\n"), mbulk);
        assert_eq!(err(b"*\r\n"), mbulk);
        assert_eq!(err(b"*01\r\n"), mbulk);
        assert_eq!(err(b"*+1\r\n"), mbulk);
        assert_eq!(err(b"*99999999999999999999\r\n"), mbulk);
        assert_eq!(err(b"*1048577\r\n"), mbulk);
        assert_eq!(err(b"*1\r\nx"), "ERR Protocol error: expected '$', got 'x'");
        assert_eq!(
            err(b"*2\r\n$1\r\na\r\n:1\r\n"),
            "ERR Protocol error: expected '$', got ':'"
        );
        assert_eq!(err(b"*1\r\n$-1\r\n"), bulk);
        assert_eq!(err(b"*1\r\n$x\r\n"), bulk);
        assert_eq!(err(b"*1\r\n$\r\n"), bulk);
        assert_eq!(err(b"*1\r\n$536870913\r\n"), bulk);
        assert_eq!(
            err(b"*1\r\n$1\r\nab\r\n"),
            "ERR Protocol error: expected '\\r\\n' after bulk data"
        );
        assert_eq!(
            err(b"*1\r\n$1\r\na\rX"),
            "ERR Protocol error: expected '\\r\\n' after bulk data"
        );
    }

    #[test]
    fn length_lines_fast_and_general_paths_agree() {
        let bulk = Err(ProtocolError::InvalidBulkLength);
        assert_eq!(req(b"*1\r\n$9999999999999999999\r\n"), bulk);
        assert_eq!(req(b"*1\r\n$99999999999999999999\r\n"), bulk);
        assert_eq!(req(b"*1\r\n$-0\r\n"), bulk);
        assert_eq!(req(b"*1\r\n$1 \r\n"), bulk);
        assert_eq!(req(b"*1\r\n$1\rx\r\n"), bulk);
        assert_eq!(req(b"*1\r\n$1\r"), Ok(None));
        assert_eq!(
            req(b"*9999999999999999999\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(req(b"*-0\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(req(b"*-7\r\n"), Ok(Some(vec![])));
        assert_eq!(args(b"*1\r\n$10\r\n0123456789\r\n"), v(&["0123456789"]));
    }

    #[test]
    fn limits_are_configurable() {
        let limits = Limits {
            max_bulk_len: 4,
            max_array_len: 2,
            max_inline_len: 10,
            ..Limits::default()
        };
        let run = |input: &[u8]| parse_request(&mut BytesMut::from(input), &limits);
        assert_eq!(run(b"*1\r\n$5\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert!(matches!(run(b"*1\r\n$4\r\nabcd\r\n"), Ok(Some(_))));
        assert_eq!(run(b"*3\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert!(matches!(run(b"*2\r\n"), Ok(None)));
        assert_eq!(run(b"GET 12345678"), Err(ProtocolError::InlineTooBig));
        assert_eq!(
            run(b"GET 123456\r\n"),
            Ok(Some(vec![
                Bytes::from_static(b"GET"),
                Bytes::from_static(b"123456")
            ]))
        );
        assert_eq!(run(b"GET 1234567\r\n"), Err(ProtocolError::InlineTooBig));
        // exactly max bytes and a lone '\r' so far: may still be a good line.
        assert_eq!(run(b"GET 123456\r"), Ok(None));
        assert_eq!(
            run(b"*00000000001"),
            Err(ProtocolError::MultibulkCountTooBig)
        );
        assert_eq!(
            run(b"*1\r\n$00000000001"),
            Err(ProtocolError::BulkCountTooBig)
        );
    }

    #[test]
    fn inline_too_big_without_newline() {
        let mut big = vec![b'a'; 64 * 1024];
        assert_eq!(req(&big), Ok(None));
        big.push(b'a');
        assert_eq!(err(&big), "ERR Protocol error: too big inline request");
        let mut line = vec![b'a'; 64 * 1024 + 1];
        line.extend_from_slice(b"\r\n");
        assert_eq!(err(&line), "ERR Protocol error: too big inline request");
    }

    #[test]
    fn count_lines_too_big() {
        let mut m = vec![b'*'];
        m.extend(std::iter::repeat_n(b'1', 64 * 1024 + 1));
        assert_eq!(err(&m), "ERR Protocol error: too big mbulk count string");
        let mut b = b"*1\r\n$".to_vec();
        b.extend(std::iter::repeat_n(b'1', 64 * 1024 + 1));
        assert_eq!(err(&b), "ERR Protocol error: too big bulk count string");
    }

    #[test]
    fn inline_plain() {
        assert_eq!(args(b"SET a 1\r\n"), v(&["SET", "a", "1"]));
        assert_eq!(args(b"  PING   \n"), v(&["PING"]));
        assert_eq!(args(b"a\tb\r\n"), v(&["a", "b"]));
        // \v and \f separate like spaces only between arguments (C isspace), not inside.
        assert_eq!(args(b"a\x0bb\r\n"), v(&["a\x0bb"]));
        assert_eq!(args(b"\x0ba\r\n"), v(&["a"]));
        // an '\r' inside the line ends an argument
        assert_eq!(args(b"a\rb\r\n"), v(&["a", "b"]));
        // NUL is an ordinary byte here
        assert_eq!(args(b"a\0b\r\n"), v(&["a\0b"]));
    }

    #[test]
    fn inline_quotes() {
        assert_eq!(args(b"SET \"a key\" 'v'\r\n"), v(&["SET", "a key", "v"]));
        assert_eq!(
            args(b"\"\\n\\r\\t\\b\\a\\\"\\\\\\x41\\x4a\\q\"\r\n"),
            vec![b"\n\r\t\x08\x07\"\\AJq".to_vec()]
        );
        // \x without two hex digits is just 'x'
        assert_eq!(args(b"\"\\xZZ\\x4\"\r\n"), vec![b"xZZx4".to_vec()]);
        assert_eq!(args(b"'it\\'s' 'a\\nb'\r\n"), v(&["it's", "a\\nb"]));
        assert_eq!(args(b"\"\" ''\r\n"), v(&["", ""]));
        // a quote inside an unquoted argument starts a quoted section
        assert_eq!(args(b"ab\"c d\"\r\n"), v(&["abc d"]));
        assert_eq!(args(b"\"a\"\tb\r\n"), v(&["a", "b"]));
    }

    #[test]
    fn inline_unquoted_args_are_zero_copy() {
        let mut buf = BytesMut::from(&b"GET key\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let a = parse_request(&mut buf, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(a[1].as_ptr() as usize, base + 4);
    }

    #[test]
    fn inline_unbalanced_quotes() {
        let e = "ERR Protocol error: unbalanced quotes in request";
        assert_eq!(err(b"SET \"a\r\n"), e);
        assert_eq!(err(b"SET 'a\r\n"), e);
        assert_eq!(err(b"SET \"a\"b\r\n"), e);
        assert_eq!(err(b"SET 'a'b\r\n"), e);
        assert_eq!(err(b"SET \"a\\\"\r\n"), e);
        assert_eq!(err(b"SET \"a\\\r\n"), e);
    }

    #[test]
    fn encode_request_round_trips() {
        let mut out = BytesMut::new();
        encode_request(&["SET", "k", "v"], &mut out);
        assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
        encode_request::<&[u8]>(&[], &mut out);
        let a = parse_request(&mut out, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(a, vec!["SET", "k", "v"]);
        assert_eq!(
            parse_request(&mut out, &Limits::default()),
            Ok(Some(vec![]))
        );
    }

    // ------------------------------------------------------------------ replies

    fn rep(input: &[u8]) -> Result<Option<Reply>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        let r = parse_reply(&mut buf, &Limits::default());
        if let Ok(Some(_)) = r {
            assert!(buf.is_empty(), "{input:?} left {buf:?}");
        }
        r
    }

    fn one(input: &[u8]) -> Reply {
        match rep(input) {
            Ok(Some(r)) => r,
            other => panic!("{input:?}: {other:?}"),
        }
    }

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn reply_types() {
        assert_eq!(one(b"+OK\r\n"), Reply::ok());
        assert_eq!(one(b"-ERR x\r\n"), Reply::error("ERR x"));
        assert_eq!(one(b":-12\r\n"), Reply::Integer(-12));
        assert_eq!(one(b"$3\r\nabc\r\n"), Reply::Bulk(b("abc")));
        assert_eq!(one(b"$-1\r\n"), Reply::Null);
        assert_eq!(one(b"*-1\r\n"), Reply::NullArray);
        assert_eq!(one(b"_\r\n"), Reply::Null);
        assert_eq!(one(b",1.5\r\n"), Reply::Double(1.5));
        assert_eq!(one(b",-inf\r\n"), Reply::Double(f64::NEG_INFINITY));
        assert!(matches!(one(b",nan\r\n"), Reply::Double(d) if d.is_nan()));
        assert_eq!(one(b"#t\r\n"), Reply::Boolean(true));
        assert_eq!(one(b"#f\r\n"), Reply::Boolean(false));
        assert_eq!(one(b"!3\r\nE x\r\n"), Reply::error("E x"));
        assert_eq!(
            one(b"=6\r\nmkd:hi\r\n"),
            Reply::Verbatim {
                format: *b"mkd",
                text: b("hi")
            }
        );
        assert_eq!(one(b"(-123\r\n"), Reply::BigNumber(b("-123")));
        assert_eq!(
            one(b"*2\r\n:1\r\n*1\r\n+a\r\n"),
            Reply::Array(vec![
                Reply::Integer(1),
                Reply::Array(vec![Reply::Simple(b("a"))])
            ])
        );
        assert_eq!(
            one(b"%1\r\n+k\r\n:1\r\n"),
            Reply::Map(vec![(Reply::Simple(b("k")), Reply::Integer(1))])
        );
        assert_eq!(one(b"~1\r\n#t\r\n"), Reply::Set(vec![Reply::Boolean(true)]));
        assert_eq!(
            one(b">2\r\n+message\r\n+x\r\n"),
            Reply::Array(vec![Reply::Simple(b("message")), Reply::Simple(b("x"))])
        );
    }

    #[test]
    fn attributes_are_skipped() {
        assert_eq!(one(b"|1\r\n+ttl\r\n:3\r\n:42\r\n"), Reply::Integer(42));
        assert_eq!(
            one(b"*1\r\n|1\r\n+a\r\n+b\r\n$1\r\nx\r\n"),
            Reply::Array(vec![Reply::Bulk(b("x"))])
        );
    }

    #[test]
    fn reply_is_zero_copy() {
        let mut buf = BytesMut::from(&b"$3\r\nabc\r\n"[..]);
        let base = buf.as_ptr() as usize;
        match parse_reply(&mut buf, &Limits::default()) {
            Ok(Some(Reply::Bulk(data))) => assert_eq!(data.as_ptr() as usize, base + 4),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reply_incomplete_consumes_nothing() {
        let whole = b"*3\r\n$3\r\nabc\r\n%1\r\n+k\r\n#t\r\n,2.5\r\n";
        for cut in 0..whole.len() {
            let mut buf = BytesMut::from(&whole[..cut]);
            assert_eq!(parse_reply(&mut buf, &Limits::default()), Ok(None), "{cut}");
            assert_eq!(buf.len(), cut);
        }
    }

    #[test]
    fn reply_errors() {
        let e = |input: &[u8]| match rep(input) {
            Err(e) => e,
            other => panic!("{input:?}: {other:?}"),
        };
        assert_eq!(e(b"x\r\n"), ProtocolError::InvalidReplyType { got: b'x' });
        assert_eq!(e(b":1x\r\n"), ProtocolError::Invalid { what: "integer" });
        assert_eq!(e(b",abc\r\n"), ProtocolError::Invalid { what: "double" });
        assert_eq!(e(b"#x\r\n"), ProtocolError::Invalid { what: "boolean" });
        assert_eq!(e(b"_x\r\n"), ProtocolError::Invalid { what: "null" });
        assert_eq!(
            e(b"(12a\r\n"),
            ProtocolError::Invalid { what: "big number" }
        );
        assert_eq!(
            e(b"=2\r\nab\r\n"),
            ProtocolError::Invalid {
                what: "verbatim string"
            }
        );
        assert_eq!(e(b"$-2\r\n"), ProtocolError::InvalidBulkLength);
        assert_eq!(e(b"$?\r\n"), ProtocolError::InvalidBulkLength);
        assert_eq!(e(b"!-1\r\n"), ProtocolError::InvalidBulkLength);
        assert_eq!(e(b"$536870913\r\n"), ProtocolError::InvalidBulkLength);
        assert_eq!(e(b"$1\r\nab"), ProtocolError::ExpectedCrlf);
        assert_eq!(e(b"*1048577\r\n"), ProtocolError::InvalidMultibulkLength);
        assert_eq!(e(b"%-1\r\n"), ProtocolError::InvalidMultibulkLength);
        assert_eq!(e(b"~-1\r\n"), ProtocolError::InvalidMultibulkLength);
        assert_eq!(e(b"*?\r\n"), ProtocolError::InvalidMultibulkLength);
    }

    #[test]
    fn reply_nesting_depth() {
        let nested = |n: usize| {
            let mut s = "*1\r\n".repeat(n);
            s.push_str(":1\r\n");
            s
        };
        assert!(matches!(rep(nested(8).as_bytes()), Ok(Some(_))));
        assert_eq!(
            rep(nested(9).as_bytes()),
            Err(ProtocolError::TooDeep { max: 8 })
        );
        let maps = "%1\r\n+k\r\n".repeat(9) + ":1\r\n";
        assert_eq!(rep(maps.as_bytes()), Err(ProtocolError::TooDeep { max: 8 }));
    }

    #[test]
    fn big_counts_do_not_allocate_up_front() {
        // A million elements claimed, three present: incomplete, not an allocation.
        assert_eq!(rep(b"*1000000\r\n:1\r\n:2\r\n:3\r\n"), Ok(None));
        assert_eq!(req(b"*1000000\r\n$1\r\na\r\n"), Ok(None));
    }

    #[test]
    fn reply_encode_parse_both_versions() {
        let r = Reply::Array(vec![
            Reply::Map(vec![(Reply::Bulk(b("k")), Reply::Double(2.5))]),
            Reply::Boolean(true),
            Reply::Null,
        ]);
        let mut out = BytesMut::new();
        r.encode(RespVersion::Resp3, &mut out);
        assert_eq!(
            parse_reply(&mut out, &Limits::default()),
            Ok(Some(r.clone()))
        );
        r.encode(RespVersion::Resp2, &mut out);
        assert_eq!(
            parse_reply(&mut out, &Limits::default()),
            Ok(Some(Reply::Array(vec![
                Reply::Array(vec![Reply::Bulk(b("k")), Reply::Bulk(b("2.5"))]),
                Reply::Integer(1),
                Reply::Null,
            ])))
        );
    }
}
