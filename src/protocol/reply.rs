//! `Reply`: the meaning of an answer, whichever protocol carries it, and its RESP encoding.
//!
//! It owns the RESP2/RESP3 wire form of every reply type, including how RESP3-only types
//! are downgraded for RESP2 connections. It never parses requests and never touches sockets;
//! the native binary encoding of the same values lives in `binary`.

use bytes::{BufMut, Bytes, BytesMut};

use super::ProtocolError;

/// The RESP version a connection speaks: every connection starts in RESP2, `HELLO 3`
/// switches it to RESP3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RespVersion {
    /// RESP2: the default.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// One answer. The same value is encoded as RESP2, RESP3 or native binary.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Simple string, `+OK`. Must not contain `\r` or `\n` (they are sent as spaces).
    Simple(Bytes),
    /// Error, full text including the code word: `ERR syntax error`, `WRONGTYPE ...`.
    /// Sent as `-<text>`; `\r` and `\n` in the text are sent as spaces.
    Error(Bytes),
    /// Integer, `:42`.
    Integer(i64),
    /// Bulk string, `$3\r\nabc`.
    Bulk(Bytes),
    /// Null bulk string: RESP2 `$-1`, RESP3 `_`.
    Null,
    /// Null array: RESP2 `*-1`, RESP3 `_`.
    NullArray,
    /// Array, `*n`.
    Array(Vec<Reply>),
    /// Map: RESP3 `%n` with n pairs; RESP2 a flat array of 2n elements.
    Map(Vec<(Reply, Reply)>),
    /// Set: RESP3 `~n`; RESP2 an array.
    Set(Vec<Reply>),
    /// Push, data the server sends without a request (a pub/sub message, a
    /// subscription's confirmation): RESP3 `>n`; RESP2 an array.
    Push(Vec<Reply>),
    /// Double: RESP3 `,1.5` (`inf`, `-inf`, `nan` as Redis writes them); RESP2 a bulk string
    /// of the same text.
    Double(f64),
    /// Boolean: RESP3 `#t` / `#f`; RESP2 integer 1 / 0.
    Boolean(bool),
    /// Verbatim string: RESP3 `=<len>\r\ntxt:<text>`; RESP2 a bulk string of the text only.
    Verbatim {
        /// The three-byte format, `txt` or `mkd`.
        format: [u8; 3],
        /// The text, without the format prefix.
        text: Bytes,
    },
    /// Big number: RESP3 `(<digits>`; RESP2 a bulk string of the digits.
    BigNumber(Bytes),
}

impl Reply {
    /// `+OK`, without allocating.
    pub fn ok() -> Reply {
        Reply::Simple(Bytes::from_static(b"OK"))
    }

    /// An error reply; `msg` is the full text including the code word
    /// (`"ERR syntax error"`), without the leading `-`.
    pub fn error(msg: impl Into<Bytes>) -> Reply {
        Reply::Error(msg.into())
    }

    /// An integer reply of an unsigned count, length, id or time: RESP integers are signed,
    /// and one past `i64::MAX` (which no count reaches) is sent as `i64::MAX`.
    pub fn count(n: impl TryInto<i64>) -> Reply {
        Reply::Integer(n.try_into().unwrap_or(i64::MAX))
    }

    /// Append this reply's RESP encoding for `version` to `out`, reserving room once.
    pub fn encode(&self, version: RespVersion, out: &mut BytesMut) {
        out.reserve(self.encoded_len_hint());
        self.encode_into(version, out);
    }

    /// Appends the encoding of a bulk string (the same in RESP2 and RESP3) to `out`: a
    /// `Reply::Bulk` of bytes the caller only borrows, such as a value read in place.
    pub fn encode_bulk(data: &[u8], out: &mut BytesMut) {
        out.reserve(HEAD + data.len() + 2);
        bulk(out, b'$', data);
    }

    /// An upper bound of the encoded size (exact except for doubles), so `encode` reserves
    /// once.
    fn encoded_len_hint(&self) -> usize {
        match self {
            Reply::Simple(b) | Reply::Error(b) => 3 + b.len(),
            Reply::Integer(_) | Reply::Null | Reply::NullArray | Reply::Boolean(_) => HEAD,
            Reply::Bulk(b) | Reply::BigNumber(b) => HEAD + b.len() + 2,
            Reply::Verbatim { text, .. } => HEAD + 4 + text.len() + 2,
            Reply::Double(_) => HEAD + 2 + DOUBLE_MAX,
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
                HEAD + items.iter().map(Reply::encoded_len_hint).sum::<usize>()
            }
            Reply::Map(pairs) => {
                HEAD + pairs
                    .iter()
                    .map(|(k, v)| k.encoded_len_hint() + v.encoded_len_hint())
                    .sum::<usize>()
            }
        }
    }

    fn encode_into(&self, version: RespVersion, out: &mut BytesMut) {
        let resp3 = version == RespVersion::Resp3;
        match self {
            Reply::Simple(s) => line(out, b'+', s),
            Reply::Error(s) => line(out, b'-', s),
            Reply::Integer(n) => int_line(out, b':', *n),
            Reply::Bulk(b) => bulk(out, b'$', b),
            Reply::Null | Reply::NullArray if resp3 => out.put_slice(b"_\r\n"),
            Reply::Null => out.put_slice(b"$-1\r\n"),
            Reply::NullArray => out.put_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                len_line(out, b'*', items.len());
                for item in items {
                    item.encode_into(version, out);
                }
            }
            Reply::Set(items) | Reply::Push(items) => {
                let kind = match self {
                    _ if !resp3 => b'*',
                    Reply::Set(_) => b'~',
                    _ => b'>',
                };
                len_line(out, kind, items.len());
                for item in items {
                    item.encode_into(version, out);
                }
            }
            Reply::Map(pairs) => {
                if resp3 {
                    len_line(out, b'%', pairs.len());
                } else {
                    len_line(out, b'*', pairs.len() * 2);
                }
                for (k, v) in pairs {
                    k.encode_into(version, out);
                    v.encode_into(version, out);
                }
            }
            Reply::Double(d) => {
                let mut buf = DoubleBuf::new();
                let text = buf.format(*d);
                if resp3 {
                    out.put_u8(b',');
                    out.put_slice(text);
                    out.put_slice(b"\r\n");
                } else {
                    bulk(out, b'$', text);
                }
            }
            Reply::Boolean(b) if resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Reply::Boolean(b) => out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
            Reply::Verbatim { format, text } => {
                if resp3 {
                    len_line(out, b'=', text.len() + 4);
                    out.put_slice(format);
                    out.put_u8(b':');
                    out.put_slice(text);
                    out.put_slice(b"\r\n");
                } else {
                    bulk(out, b'$', text);
                }
            }
            Reply::BigNumber(digits) if resp3 => line(out, b'(', digits),
            Reply::BigNumber(digits) => bulk(out, b'$', digits),
        }
    }
}

/// The longest header line: a type byte, up to 20 digits, CRLF.
const HEAD: usize = 1 + 20 + 2;

impl From<ProtocolError> for Reply {
    fn from(e: ProtocolError) -> Reply {
        Reply::Error(Bytes::from(e.to_string()))
    }
}

/// A one-line value (`+`, `-`, `(`). A CR or LF inside would split the stream, so they are
/// replaced by spaces, as Redis does for error texts.
fn line(out: &mut BytesMut, kind: u8, text: &[u8]) {
    out.put_u8(kind);
    if memchr::memchr2(b'\r', b'\n', text).is_none() {
        out.put_slice(text);
    } else {
        for &b in text {
            out.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
    }
    out.put_slice(b"\r\n");
}

fn int_line(out: &mut BytesMut, kind: u8, n: i64) {
    let mut buf = itoa::Buffer::new();
    out.put_u8(kind);
    out.put_slice(buf.format(n).as_bytes());
    out.put_slice(b"\r\n");
}

fn len_line(out: &mut BytesMut, kind: u8, n: usize) {
    let mut buf = itoa::Buffer::new();
    out.put_u8(kind);
    out.put_slice(buf.format(n).as_bytes());
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, kind: u8, data: &[u8]) {
    len_line(out, kind, data.len());
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// Longest text `DoubleBuf::format` produces (e.g. `-1.2345678901234567e-308`).
const DOUBLE_MAX: usize = 32;

/// Formats a double the way Redis 7.0's `addReplyDouble` does, in RESP2 and RESP3 alike,
/// without allocating: `inf`, `-inf`, `nan`, otherwise C's `%.17g` (`1`, `0.10000000000000001`,
/// `1.0000000000000001e+300`), which always parses back to the same value.
pub(crate) struct DoubleBuf {
    buf: [u8; 48],
    len: usize,
}

impl DoubleBuf {
    pub(crate) fn new() -> Self {
        DoubleBuf {
            buf: [0; 48],
            len: 0,
        }
    }

    pub(crate) fn format(&mut self, d: f64) -> &[u8] {
        use std::fmt::Write;
        self.len = 0;
        if d.is_nan() {
            return b"nan";
        }
        if d.is_infinite() {
            return if d > 0.0 { b"inf" } else { b"-inf" };
        }
        // %.17g: 17 significant digits, the exponent X of the rounded value picks the
        // style (fixed when -4 <= X < 17), trailing zeros dropped. Rust's formatting is
        // correctly rounded, as glibc's is. Writing into the fixed buffer cannot fail
        // for these bounded forms; if it ever did, the text would be truncated.
        let _ = write!(self, "{d:.16e}");
        let text = &self.buf[..self.len];
        let e = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
        let exponent: i32 = std::str::from_utf8(&text[e + 1..])
            .ok()
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        if (-4..17).contains(&exponent) {
            self.len = 0;
            let decimals = usize::try_from(16 - exponent).unwrap_or(0);
            let _ = write!(self, "{d:.decimals$}");
            self.trim_zeros(self.len);
        } else {
            let mut digits = [0u8; 24];
            let mantissa = e.min(digits.len());
            digits[..mantissa].copy_from_slice(&self.buf[..mantissa]);
            self.len = mantissa;
            self.trim_zeros(mantissa);
            let sign = if exponent < 0 { '-' } else { '+' };
            let _ = write!(self, "e{sign}{:02}", exponent.unsigned_abs());
        }
        &self.buf[..self.len]
    }

    /// Drops the trailing zeros of the fraction in `buf[..end]` (and a bare point).
    fn trim_zeros(&mut self, end: usize) {
        let text = &self.buf[..end];
        if !text.contains(&b'.') {
            self.len = end;
            return;
        }
        let mut len = end;
        while len > 0 && self.buf[len - 1] == b'0' {
            len -= 1;
        }
        if len > 0 && self.buf[len - 1] == b'.' {
            len -= 1;
        }
        self.len = len;
    }
}

impl std::fmt::Write for DoubleBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: &Reply, v: RespVersion) -> Vec<u8> {
        let mut out = BytesMut::new();
        r.encode(v, &mut out);
        out.to_vec()
    }

    fn both(r: &Reply, resp2: &[u8], resp3: &[u8]) {
        assert_eq!(enc(r, RespVersion::Resp2), resp2, "RESP2 of {r:?}");
        assert_eq!(enc(r, RespVersion::Resp3), resp3, "RESP3 of {r:?}");
    }

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn simple_error_integer_bulk() {
        both(&Reply::ok(), b"+OK\r\n", b"+OK\r\n");
        both(
            &Reply::error("ERR syntax error"),
            b"-ERR syntax error\r\n",
            b"-ERR syntax error\r\n",
        );
        both(&Reply::Integer(0), b":0\r\n", b":0\r\n");
        both(
            &Reply::Integer(i64::MIN),
            b":-9223372036854775808\r\n",
            b":-9223372036854775808\r\n",
        );
        both(&Reply::Bulk(b("")), b"$0\r\n\r\n", b"$0\r\n\r\n");
        both(
            &Reply::Bulk(b("a\r\nb")),
            b"$4\r\na\r\nb\r\n",
            b"$4\r\na\r\nb\r\n",
        );
    }

    #[test]
    fn ok_does_not_allocate() {
        // from_static: every call points at the same static bytes.
        match (Reply::ok(), Reply::ok()) {
            (Reply::Simple(a), Reply::Simple(b)) => {
                assert_eq!(&a[..], b"OK");
                assert_eq!(a.as_ptr(), b.as_ptr());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn newlines_in_line_values_become_spaces() {
        both(
            &Reply::error("ERR unknown command 'a\r\nb'"),
            b"-ERR unknown command 'a  b'\r\n",
            b"-ERR unknown command 'a  b'\r\n",
        );
        both(&Reply::Simple(b("x\ny")), b"+x y\r\n", b"+x y\r\n");
    }

    #[test]
    fn nulls() {
        both(&Reply::Null, b"$-1\r\n", b"_\r\n");
        both(&Reply::NullArray, b"*-1\r\n", b"_\r\n");
    }

    #[test]
    fn aggregates() {
        both(&Reply::Array(vec![]), b"*0\r\n", b"*0\r\n");
        both(
            &Reply::Push(vec![Reply::Bulk(b("message")), Reply::Null]),
            b"*2\r\n$7\r\nmessage\r\n$-1\r\n",
            b">2\r\n$7\r\nmessage\r\n_\r\n",
        );
        both(
            &Reply::Array(vec![Reply::Integer(1), Reply::Bulk(b("x")), Reply::Null]),
            b"*3\r\n:1\r\n$1\r\nx\r\n$-1\r\n",
            b"*3\r\n:1\r\n$1\r\nx\r\n_\r\n",
        );
        both(
            &Reply::Map(vec![(Reply::Bulk(b("proto")), Reply::Integer(3))]),
            b"*2\r\n$5\r\nproto\r\n:3\r\n",
            b"%1\r\n$5\r\nproto\r\n:3\r\n",
        );
        both(
            &Reply::Set(vec![Reply::Bulk(b("a"))]),
            b"*1\r\n$1\r\na\r\n",
            b"~1\r\n$1\r\na\r\n",
        );
    }

    #[test]
    fn doubles() {
        both(&Reply::Double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n");
        both(&Reply::Double(3.0), b"$1\r\n3\r\n", b",3\r\n");
        both(&Reply::Double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n");
        both(
            &Reply::Double(f64::NEG_INFINITY),
            b"$4\r\n-inf\r\n",
            b",-inf\r\n",
        );
        both(&Reply::Double(f64::NAN), b"$3\r\nnan\r\n", b",nan\r\n");
        both(
            &Reply::Double(1e300),
            b"$23\r\n1.0000000000000001e+300\r\n",
            b",1.0000000000000001e+300\r\n",
        );
        both(
            &Reply::Double(-2.5e-7),
            b"$23\r\n-2.4999999999999999e-07\r\n",
            b",-2.4999999999999999e-07\r\n",
        );
        both(
            &Reply::Double(0.1),
            b"$19\r\n0.10000000000000001\r\n",
            b",0.10000000000000001\r\n",
        );
        for (d, text) in [
            (0.0, "0"),
            (-0.0, "-0"),
            (100.0, "100"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (123.456, "123.456"),
        ] {
            assert_eq!(DoubleBuf::new().format(d), text.as_bytes(), "{d}");
        }
        // The longest forms fit the buffer and parse back exactly.
        for d in [
            f64::MIN,
            f64::MAX,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE / 3.0,
            1.0 / 3.0,
            -123_456_789.123_456_78,
            99_999_999_999_999_990.0,
            0.000_012_345_678_901_234_567,
        ] {
            let mut buf = DoubleBuf::new();
            let text = std::str::from_utf8(buf.format(d)).unwrap().to_string();
            assert!(text.len() <= DOUBLE_MAX, "{text}");
            assert_eq!(
                text.parse::<f64>().unwrap().to_bits(),
                d.to_bits(),
                "{text}"
            );
        }
    }

    #[test]
    fn booleans_verbatim_bignumber() {
        both(&Reply::Boolean(true), b":1\r\n", b"#t\r\n");
        both(&Reply::Boolean(false), b":0\r\n", b"#f\r\n");
        both(
            &Reply::Verbatim {
                format: *b"txt",
                text: b("hi"),
            },
            b"$2\r\nhi\r\n",
            b"=6\r\ntxt:hi\r\n",
        );
        both(
            &Reply::BigNumber(b("123456789012345678901234567890")),
            b"$30\r\n123456789012345678901234567890\r\n",
            b"(123456789012345678901234567890\r\n",
        );
    }

    #[test]
    fn protocol_error_becomes_error_reply() {
        let r = Reply::from(ProtocolError::InvalidBulkLength);
        both(
            &r,
            b"-ERR Protocol error: invalid bulk length\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        );
    }

    #[test]
    fn encode_appends() {
        let mut out = BytesMut::from(&b"x"[..]);
        Reply::Integer(7).encode(RespVersion::Resp2, &mut out);
        assert_eq!(&out[..], b"x:7\r\n");
    }
}
