//! The bytes of the benchmark's requests and the quick reading of replies: native
//! request frames encoded straight into the write buffer (the same bytes as the protocol's
//! encoder, checked by the tests), and a reader that recognises small well-formed replies in
//! place, leaving everything else to the protocol's parsers.

use bytes::{BufMut, BytesMut};
use cairn::protocol::binary::{self, opcode};
use cairn::protocol::Reply;

/// What the driver keeps of a reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Summary {
    /// Payload bytes (bulk strings), and whether it was a null ("no such key").
    Ok { bytes: u64, null: bool },
    /// An error reply's text.
    Error(String),
}

impl Summary {
    pub(crate) fn of(reply: &Reply) -> Summary {
        match reply {
            Reply::Error(msg) => Summary::Error(String::from_utf8_lossy(msg).into_owned()),
            r => Summary::Ok {
                bytes: payload_bytes(r),
                null: matches!(r, Reply::Null | Reply::NullArray),
            },
        }
    }
}

/// The result of the fast reader.
#[derive(Debug, PartialEq)]
pub(crate) enum Fast {
    /// More bytes are needed.
    Incomplete,
    /// One reply of `len` bytes (`id`: the native request id).
    Done {
        len: usize,
        id: u64,
        summary: Summary,
    },
    /// Not a reply this reader handles: use the protocol parser.
    Slow,
}

/// Reads one small reply in place, or says it cannot. It only vouches for well-formed
/// replies of the simple kinds; everything else, malformed input included, is `Slow`, so
/// the protocol's parsers decide.
pub(crate) fn fast(buf: &[u8], resp: bool) -> Fast {
    if resp {
        fast_resp(buf)
    } else {
        fast_native(buf)
    }
}

/// The longest RESP line the fast reader waits for; longer ones go to the real parser.
const FAST_LINE: usize = 4096;

fn fast_resp(buf: &[u8]) -> Fast {
    let Some(&first) = buf.first() else {
        return Fast::Incomplete;
    };
    if !matches!(first, b'+' | b'-' | b':' | b'$' | b'_') {
        return Fast::Slow;
    }
    let Some(nl) = memchr::memchr(b'\n', &buf[..buf.len().min(FAST_LINE)]) else {
        return if buf.len() >= FAST_LINE {
            Fast::Slow
        } else {
            Fast::Incomplete
        };
    };
    if nl == 0 || buf[nl - 1] != b'\r' {
        return Fast::Slow;
    }
    let line = &buf[1..nl - 1];
    let ok = |len, bytes, null| Fast::Done {
        len,
        id: 0,
        summary: Summary::Ok { bytes, null },
    };
    match first {
        b'+' | b':' => ok(nl + 1, 0, false),
        b'_' if line.is_empty() => ok(nl + 1, 0, true),
        b'-' => match std::str::from_utf8(line) {
            Ok(text) => Fast::Done {
                len: nl + 1,
                id: 0,
                summary: Summary::Error(text.to_string()),
            },
            Err(_) => Fast::Slow,
        },
        b'$' if line == b"-1" => ok(nl + 1, 0, true),
        b'$' => {
            let n = match std::str::from_utf8(line)
                .ok()
                .and_then(|t| t.parse::<usize>().ok())
            {
                Some(n) if n <= 64 << 20 && !line.starts_with(b"+") => n,
                _ => return Fast::Slow,
            };
            let end = nl + 1 + n + 2;
            if buf.len() < end {
                return Fast::Incomplete;
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Fast::Slow;
            }
            ok(end, n as u64, false)
        }
        _ => Fast::Slow,
    }
}

fn fast_native(buf: &[u8]) -> Fast {
    use binary::tag;
    if buf.len() < binary::HEADER_LEN {
        return Fast::Incomplete;
    }
    let le32 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let body = le32(buf);
    // Response frames with no flags (a whole answer); big ones go to the real parser.
    if buf[4] != opcode::RESPONSE || buf[5] != 0 || body > 64 << 20 || body == 0 {
        return Fast::Slow;
    }
    let len = binary::HEADER_LEN + body;
    if buf.len() < len {
        return Fast::Incomplete;
    }
    let mut id = [0; 8];
    id.copy_from_slice(&buf[6..14]);
    let id = u64::from_le_bytes(id);
    let b = &buf[binary::HEADER_LEN..len];
    let ok = |bytes, null| Fast::Done {
        len,
        id,
        summary: Summary::Ok { bytes, null },
    };
    match b[0] {
        tag::NULL if body == 1 => ok(0, true),
        tag::INTEGER if body == 9 => ok(0, false),
        tag::SIMPLE if body >= 5 && le32(&b[1..]) == body - 5 => ok(0, false),
        tag::BULK if body >= 5 && le32(&b[1..]) == body - 5 => ok((body - 5) as u64, false),
        tag::ERROR if body >= 6 && le32(&b[2..]) == body - 6 => {
            match std::str::from_utf8(&b[6..]) {
                Ok(text) if usize::from(b[1]) <= text.len() => Fast::Done {
                    len,
                    id,
                    summary: Summary::Error(text.to_string()),
                },
                _ => Fast::Slow,
            }
        }
        _ => Fast::Slow,
    }
}

/// Bytes of strings in a reply: the value of a GET, keys and values of a scan chunk.
fn payload_bytes(r: &Reply) -> u64 {
    match r {
        Reply::Bulk(b) => b.len() as u64,
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            items.iter().map(payload_bytes).sum()
        }
        Reply::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| payload_bytes(k) + payload_bytes(v))
            .sum(),
        _ => 0,
    }
}

// Native request frames written straight from slices. The layout is binary.rs's
// (docs/protocol.md); `encode_request` needs owned `Bytes`, which would cost an allocation
// per request. The tests check these against `binary::encode_request` byte for byte.

fn header(out: &mut BytesMut, body: usize, code: u8, id: u64) {
    out.put_u32_le(body as u32);
    out.put_u8(code);
    out.put_u8(0);
    out.put_u64_le(id);
}

fn put_bytes(out: &mut BytesMut, b: &[u8]) {
    out.put_u32_le(b.len() as u32);
    out.put_slice(b);
}

pub(crate) fn encode_get(out: &mut BytesMut, id: u64, key: &[u8]) {
    header(out, 4 + key.len(), opcode::GET, id);
    put_bytes(out, key);
}

pub(crate) fn encode_set(out: &mut BytesMut, id: u64, key: &[u8], value: &[u8]) {
    header(out, 4 + key.len() + 4 + value.len() + 2, opcode::SET, id);
    put_bytes(out, key);
    put_bytes(out, value);
    out.put_u8(0); // no condition
    out.put_u8(0); // no expiry
}

pub(crate) fn encode_range(out: &mut BytesMut, id: u64, start: &[u8], limit: u64) {
    header(out, 1 + 4 + start.len() + 1 + 9 + 1, opcode::RANGE, id);
    out.put_u8(1); // start included
    put_bytes(out, start);
    out.put_u8(0); // end unbounded
    out.put_u8(1); // limit present
    out.put_u64_le(limit);
    out.put_u8(0); // forward
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use cairn::protocol::binary::{Condition, Op, Request};
    use cairn::protocol::{resp, Limits};
    use std::ops::Bound;

    fn reference(id: u64, op: Op) -> BytesMut {
        let mut out = BytesMut::new();
        binary::encode_request(&Request { id, op }, &mut out);
        out
    }

    #[test]
    fn frames_match_the_codec() {
        let mut out = BytesMut::new();
        encode_get(&mut out, 3, b"key:1");
        assert_eq!(
            out,
            reference(
                3,
                Op::Get {
                    key: Bytes::from_static(b"key:1")
                }
            )
        );
        out.clear();
        encode_set(&mut out, 9, b"k", b"value");
        assert_eq!(
            out,
            reference(
                9,
                Op::Set {
                    key: Bytes::from_static(b"k"),
                    value: Bytes::from_static(b"value"),
                    condition: Condition::None,
                    expiry_ms: None
                }
            )
        );
        out.clear();
        encode_range(&mut out, 1 << 40, b"key:5", 100);
        assert_eq!(
            out,
            reference(
                1 << 40,
                Op::Range {
                    start: Bound::Included(Bytes::from_static(b"key:5")),
                    end: Bound::Unbounded,
                    limit: Some(100),
                    reverse: false
                }
            )
        );
    }

    /// The fast reader agrees with the protocol's parsers on every reply it accepts, and
    /// leaves everything else to them.
    #[test]
    fn fast_reader_agrees_with_the_parsers() {
        use cairn::protocol::binary::Response;
        use cairn::protocol::RespVersion;
        let replies = [
            Reply::ok(),
            Reply::Integer(-42),
            Reply::Bulk(Bytes::from_static(b"value\r\nwith crlf")),
            Reply::Bulk(Bytes::new()),
            Reply::Null,
            Reply::error("ERR wrong number of arguments for 'get' command"),
            Reply::Array(vec![Reply::Bulk(Bytes::from_static(b"k"))]),
            Reply::Map(vec![(
                Reply::Bulk(Bytes::from_static(b"k")),
                Reply::Bulk(Bytes::from_static(b"vv")),
            )]),
        ];
        for reply in &replies {
            for version in [RespVersion::Resp2, RespVersion::Resp3] {
                let mut wire = BytesMut::new();
                reply.encode(version, &mut wire);
                let expect = Summary::of(
                    &resp::parse_reply(&mut wire.clone(), &Limits::default())
                        .expect("parse")
                        .expect("complete"),
                );
                match fast_resp(&wire) {
                    Fast::Done { len, summary, .. } => {
                        assert_eq!(len, wire.len(), "{reply:?}");
                        assert_eq!(summary, expect, "{reply:?}");
                    }
                    Fast::Slow => assert!(matches!(reply, Reply::Array(_) | Reply::Map(_))),
                    Fast::Incomplete => panic!("{reply:?} is complete"),
                }
                for cut in 0..wire.len() {
                    assert_ne!(
                        std::mem::discriminant(&fast_resp(&wire[..cut])),
                        std::mem::discriminant(&Fast::Done {
                            len: 0,
                            id: 0,
                            summary: Summary::Ok {
                                bytes: 0,
                                null: false
                            }
                        }),
                        "{reply:?} cut at {cut}"
                    );
                }
            }
            let mut wire = BytesMut::new();
            binary::encode_response(
                &Response {
                    id: 77,
                    more: false,
                    body: reply.clone(),
                },
                &mut wire,
            );
            let parsed = binary::parse_response(&mut wire.clone(), &Limits::default())
                .expect("parse")
                .expect("complete");
            match fast_native(&wire) {
                Fast::Done { len, id, summary } => {
                    assert_eq!((len, id), (wire.len(), 77));
                    assert_eq!(summary, Summary::of(&parsed.body), "{reply:?}");
                }
                Fast::Slow => assert!(matches!(reply, Reply::Array(_) | Reply::Map(_))),
                Fast::Incomplete => panic!("{reply:?} is complete"),
            }
            for cut in 0..wire.len() {
                assert_eq!(fast_native(&wire[..cut]), Fast::Incomplete);
            }
        }
        // malformed input is left to the real parser
        assert_eq!(fast_resp(b"$3\r\nabcXY"), Fast::Slow);
        assert_eq!(fast_resp(b"+OK\n"), Fast::Slow);
        assert_eq!(fast_resp(b"*1\r\n"), Fast::Slow);
    }
}
