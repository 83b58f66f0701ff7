//! The client side's reply parser: every RESP2 and RESP3 type. The server never reads
//! replies; it only encodes them (`reply`).

use bytes::{Bytes, BytesMut};
use nom::bytes::streaming::{tag, take};

use super::{crlf, crlf_line, fail, finish, parse_strict_i64, PErr, PResult};
use crate::protocol::{Limits, ProtocolError, Reply};

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

    /// A length line: `None` for `-1` (null), else a length of at most `max`; anything
    /// else is `err`.
    fn len_line<'a>(
        &self,
        input: &'a [u8],
        max: usize,
        err: ProtocolError,
    ) -> PResult<'a, Option<usize>> {
        let (rest, line) = crlf_line(input, self.limits.max_inline_len, err.clone())?;
        match parse_strict_i64(line) {
            Some(-1) => Ok((rest, None)),
            Some(n) => match usize::try_from(n) {
                Ok(n) if n <= max => Ok((rest, Some(n))),
                _ => fail(err),
            },
            None => fail(err),
        }
    }

    /// An aggregate's element count, `None` for `-1`.
    fn count<'a>(&self, input: &'a [u8], depth: usize) -> PResult<'a, Option<usize>> {
        let (rest, n) = self.len_line(
            input,
            self.limits.max_array_len,
            ProtocolError::InvalidMultibulkLength,
        )?;
        if n.is_some() && depth + 1 > self.limits.max_depth {
            return fail(ProtocolError::TooDeep {
                max: self.limits.max_depth,
            });
        }
        Ok((rest, n))
    }

    /// A length-prefixed string's bytes, `None` for `-1`.
    fn blob<'a>(&self, input: &'a [u8]) -> PResult<'a, Option<&'a [u8]>> {
        let (input, len) = self.len_line(
            input,
            self.limits.max_bulk_len,
            ProtocolError::InvalidBulkLength,
        )?;
        let Some(len) = len else {
            return Ok((input, None));
        };
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

    /// `r` when building, nothing when only measuring.
    fn some(&self, r: Reply) -> Option<Reply> {
        self.frame.map(|_| r)
    }

    fn value<'a>(&self, input: &'a [u8], depth: usize) -> PResult<'a, Option<Reply>> {
        let Some((&kind, input)) = input.split_first() else {
            return Err(nom::Err::Incomplete(nom::Needed::new(1)));
        };
        let some = |r: Reply| self.some(r);
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
            b'*' | b'>' | b'~' | b'%' | b'|' => self.aggregate(kind, input, depth),
            got => fail(ProtocolError::InvalidReplyType { got }),
        }
    }

    /// An array, push or set (`*`, `>`, `~`), a map (`%`), or an attribute (`|`), which is
    /// skipped for the value after it.
    fn aggregate<'a>(&self, kind: u8, input: &'a [u8], depth: usize) -> PResult<'a, Option<Reply>> {
        let (mut rest, n) = self.count(input, depth)?;
        let Some(n) = n else {
            if kind == b'*' {
                return Ok((rest, self.some(Reply::NullArray)));
            }
            return fail(ProtocolError::InvalidMultibulkLength);
        };
        if kind != b'%' && kind != b'|' {
            let (rest, items) = self.items(rest, n, depth + 1)?;
            let items = items.unwrap_or_default();
            let reply = match kind {
                b'~' => Reply::Set(items),
                b'>' => Reply::Push(items),
                _ => Reply::Array(items),
            };
            return Ok((rest, self.some(reply)));
        }
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
        Ok((rest, self.some(Reply::Map(pairs))))
    }
}
