//! Client requests: RESP arrays of bulk strings and inline command lines, the inline
//! splitter that cairn-cli shares ([`split_args`]), and the client's request encoder. It
//! only splits a request into arguments: what they mean is `command`'s.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use nom::bytes::streaming::{take, take_until};
use smallvec::SmallVec;

use super::{crlf, crlf_line, fail, fast_len_line, finish, parse_strict_i64, PErr, PResult};
use crate::protocol::{Limits, ProtocolError};

/// Where an argument's bytes are: a span of the frame, or a copy made by unescaping.
#[derive(Debug)]
enum Arg {
    Span(usize, usize),
    Owned(Vec<u8>),
}

impl Arg {
    /// The argument's bytes: a slice of `line` (what it was split from), or its own copy.
    fn into_bytes(self, line: &Bytes) -> Bytes {
        match self {
            Arg::Span(start, end) => line.slice(start..end),
            Arg::Owned(v) => Bytes::from(v),
        }
    }
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
        out.push(arg.into_bytes(&frame));
    }
    Ok(Some(out))
}

/// A command line split into arguments by the rules of an inline request (see
/// [`parse_request`]), for a shell that reads lines as `redis-cli` does. The line needs no
/// terminator: `\r` and `\n` separate arguments wherever they stand. Unquoted arguments are
/// slices of one copy of `line`. `Err` is [`ProtocolError::UnbalancedQuotes`].
pub fn split_args(line: &[u8]) -> Result<Vec<Bytes>, ProtocolError> {
    let args = split_inline(line)?;
    let line = Bytes::copy_from_slice(line);
    Ok(args.into_iter().map(|a| a.into_bytes(&line)).collect())
}

/// Argument spans of a RESP array request; most requests have few, kept on the stack.
type Spans = SmallVec<[(usize, usize); 8]>;

/// `*<n>\r\n` then n times `$<len>\r\n<bytes>\r\n`. Returns the frame length; the
/// argument spans (relative to `buf`) are pushed to `spans`.
fn multibulk(buf: &[u8], limits: &Limits, spans: &mut Spans) -> Result<usize, nom::Err<PErr>> {
    let (mut input, count) = match fast_len_line(&buf[1..], limits.max_inline_len) {
        Some((rest, n)) => (rest, i64::try_from(n).ok()),
        None => len_line(
            &buf[1..],
            limits.max_inline_len,
            ProtocolError::MultibulkCountTooBig,
        )?,
    };
    let count = match count {
        Some(n) if n <= 0 => return Ok(buf.len() - input.len()),
        Some(n) => usize::try_from(n).ok(),
        None => None,
    };
    let Some(count) = count.filter(|&n| n <= limits.max_array_len) else {
        return fail(ProtocolError::InvalidMultibulkLength);
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
        Some((rest, n)) => (rest, usize::try_from(n).ok()),
        None => len_line(
            &input[1..],
            limits.max_inline_len,
            ProtocolError::BulkCountTooBig,
        )?,
    };
    let Some(len) = len.filter(|&n| n <= limits.max_bulk_len) else {
        return fail(ProtocolError::InvalidBulkLength);
    };
    let (input, data) = take(len)(input)?;
    let (input, ()) = crlf(input)?;
    let start = buf.len() - input.len() - 2 - data.len();
    Ok((input, (start, start + data.len())))
}

/// A count or length line that `fast_len_line` did not take: the strict parse, which
/// decides every other case; `None` if it is not a number, or not one a `T` can hold.
fn len_line<T: TryFrom<i64>>(
    input: &[u8],
    max: usize,
    too_long: ProtocolError,
) -> PResult<'_, Option<T>> {
    let (rest, line) = crlf_line(input, max, too_long)?;
    Ok((
        rest,
        parse_strict_i64(line).and_then(|n| T::try_from(n).ok()),
    ))
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
