//! Unit tests of the native protocol: every op and value, every error path.

use std::ops::Bound;

use bytes::{BufMut, Bytes, BytesMut};

use super::*;
use crate::protocol::{Limits, ProtocolError, Reply};

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn roundtrip_request(req: &Request) {
    let mut out = BytesMut::new();
    encode_request(req, &mut out);
    let whole = out.clone();
    assert_eq!(
        parse_request(&mut out, &Limits::default()),
        Ok(Some(req.clone()))
    );
    assert!(out.is_empty());
    for cut in 0..whole.len() {
        let mut part = BytesMut::from(&whole[..cut]);
        assert_eq!(
            parse_request(&mut part, &Limits::default()),
            Ok(None),
            "{req:?} cut {cut}"
        );
        assert_eq!(part.len(), cut);
    }
}

fn roundtrip_response(resp: &Response) {
    let mut out = BytesMut::new();
    encode_response(resp, &mut out);
    let whole = out.clone();
    assert_eq!(
        parse_response(&mut out, &Limits::default()),
        Ok(Some(resp.clone()))
    );
    assert!(out.is_empty());
    for cut in 0..whole.len() {
        let mut part = BytesMut::from(&whole[..cut]);
        assert_eq!(parse_response(&mut part, &Limits::default()), Ok(None));
    }
}

fn all_ops() -> Vec<Op> {
    vec![
        Op::Ping,
        Op::Get { key: b("k") },
        Op::GetVersioned { key: b("") },
        Op::Set {
            key: b("k"),
            value: b("v"),
            condition: Condition::None,
            expiry_ms: None,
        },
        Op::Set {
            key: b("k"),
            value: b("v"),
            condition: Condition::IfAbsent,
            expiry_ms: Some(1500),
        },
        Op::Set {
            key: b("k"),
            value: b(""),
            condition: Condition::IfPresent,
            expiry_ms: None,
        },
        Op::Set {
            key: b("k"),
            value: b("new"),
            condition: Condition::IfValueEquals(b("old")),
            expiry_ms: Some(0),
        },
        Op::Set {
            key: b("k"),
            value: b("v"),
            condition: Condition::IfVersionEquals(u64::MAX),
            expiry_ms: None,
        },
        Op::Delete { key: b("k") },
        Op::IncrBy {
            key: b("n"),
            delta: -5,
        },
        Op::Expire {
            key: b("k"),
            ttl_ms: 10,
        },
        Op::Batch { ops: vec![] },
        Op::Batch {
            ops: vec![
                BatchOp::Put {
                    key: b("a"),
                    value: b("1"),
                },
                BatchOp::Delete { key: b("b") },
            ],
        },
        Op::Range {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
            limit: None,
            reverse: false,
        },
        Op::Range {
            start: Bound::Included(b("a")),
            end: Bound::Excluded(b("z")),
            limit: Some(100),
            reverse: true,
        },
        Op::Auth {
            username: None,
            password: b("pw"),
        },
        Op::Auth {
            username: Some(b("alice")),
            password: b("pw"),
        },
        Op::Resp {
            args: vec![b("HSET"), b("h"), b("f"), b("v")],
        },
        Op::Resp { args: vec![] },
    ]
}

#[test]
fn every_op_round_trips_and_waits_when_cut() {
    for (i, op) in all_ops().into_iter().enumerate() {
        roundtrip_request(&Request {
            id: i as u64 * 0x0101_0101_0101,
            op,
        });
    }
}

#[test]
fn every_value_round_trips() {
    let values = vec![
        Reply::ok(),
        Reply::error("ERR syntax error"),
        Reply::error("NOCODE"),
        Reply::error(""),
        Reply::Integer(i64::MIN),
        Reply::Bulk(b("bulk\r\n")),
        Reply::Null,
        Reply::NullArray,
        Reply::Array(vec![Reply::Integer(1), Reply::Array(vec![])]),
        Reply::Map(vec![(Reply::Bulk(b("k")), Reply::Bulk(b("v")))]),
        Reply::Set(vec![Reply::Boolean(false)]),
        Reply::Double(-0.5),
        Reply::Double(f64::INFINITY),
        Reply::Boolean(true),
        Reply::Verbatim {
            format: *b"txt",
            text: b("hello"),
        },
        Reply::BigNumber(b("-1234567890123456789012")),
    ];
    for (i, body) in values.into_iter().enumerate() {
        roundtrip_response(&Response {
            id: i as u64,
            more: i % 2 == 0,
            body,
        });
    }
}

#[test]
fn exact_bytes_of_a_get() {
    let mut out = BytesMut::new();
    encode_request(
        &Request {
            id: 7,
            op: Op::Get { key: b("ab") },
        },
        &mut out,
    );
    assert_eq!(
        &out[..],
        &[6, 0, 0, 0, 0x10, 0, 7, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, b'a', b'b']
    );
    let mut out = BytesMut::new();
    encode_response(
        &Response {
            id: 7,
            more: true,
            body: Reply::error("ERR x"),
        },
        &mut out,
    );
    assert_eq!(
        &out[..],
        &[
            11, 0, 0, 0, 0x80, 1, 7, 0, 0, 0, 0, 0, 0, 0, 2, 3, 5, 0, 0, 0, b'E', b'R', b'R', b' ',
            b'x'
        ]
    );
}

#[test]
fn body_is_zero_copy() {
    let mut out = BytesMut::new();
    encode_request(
        &Request {
            id: 1,
            op: Op::Get { key: b("key") },
        },
        &mut out,
    );
    let base = out.as_ptr() as usize;
    match parse_request(&mut out, &Limits::default()) {
        Ok(Some(Request {
            op: Op::Get { key },
            ..
        })) => assert_eq!(key.as_ptr() as usize, base + HEADER_LEN + 4),
        other => panic!("{other:?}"),
    }
}

#[test]
fn frame_over_limit_is_refused_from_the_length_alone() {
    let limits = Limits {
        max_frame_len: 100,
        ..Limits::default()
    };
    let mut buf = BytesMut::from(&101u32.to_le_bytes()[..]);
    assert_eq!(
        parse_request(&mut buf, &limits),
        Err(ProtocolError::FrameTooBig { len: 101, max: 100 })
    );
    let mut buf = BytesMut::from(&u32::MAX.to_le_bytes()[..]);
    assert_eq!(
        parse_response(&mut buf, &Limits::default()),
        Err(ProtocolError::FrameTooBig {
            len: u64::from(u32::MAX),
            max: 512 * 1024 * 1024
        })
    );
    let mut buf = BytesMut::from(&100u32.to_le_bytes()[..]);
    assert_eq!(parse_request(&mut buf, &limits), Ok(None));
}

#[test]
fn unknown_opcode_is_refused_from_the_header() {
    let mut buf = BytesMut::from(&[5, 0, 0, 0, 0x7f][..]);
    assert_eq!(
        parse_request(&mut buf, &Limits::default()),
        Err(ProtocolError::UnknownOpcode { opcode: 0x7f })
    );
    // a response opcode is not a request, and the reverse
    let mut buf = BytesMut::from(&[0, 0, 0, 0, 0x80][..]);
    assert_eq!(
        parse_request(&mut buf, &Limits::default()),
        Err(ProtocolError::UnknownOpcode { opcode: 0x80 })
    );
    let mut buf = BytesMut::from(&[0, 0, 0, 0, 0x10][..]);
    assert_eq!(
        parse_response(&mut buf, &Limits::default()),
        Err(ProtocolError::UnknownOpcode { opcode: 0x10 })
    );
}

/// A frame with the given opcode, flags and body.
fn raw(opcode: u8, flags: u8, body: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    out.put_u32_le(u32::try_from(body.len()).expect("a test body under 4 GiB"));
    out.put_u8(opcode);
    out.put_u8(flags);
    out.put_u64_le(9);
    out.put_slice(body);
    out
}

fn req_err(opcode: u8, body: &[u8]) -> ProtocolError {
    match parse_request(&mut raw(opcode, 0, body), &Limits::default()) {
        Err(e) => e,
        other => panic!("{other:?}"),
    }
}

fn resp_err(body: &[u8]) -> ProtocolError {
    match parse_response(&mut raw(opcode::RESPONSE, 0, body), &Limits::default()) {
        Err(e) => e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_bodies() {
    use ProtocolError::Truncated;
    assert_eq!(req_err(opcode::GET, &[]), Truncated { what: "key" });
    assert_eq!(
        req_err(opcode::GET, &[5, 0, 0, 0, b'a']),
        Truncated { what: "key" }
    );
    assert_eq!(
        req_err(opcode::SET, &[1, 0, 0, 0, b'k', 1, 0, 0, 0, b'v']),
        Truncated {
            what: "set condition"
        }
    );
    assert_eq!(
        req_err(opcode::SET, &[1, 0, 0, 0, b'k', 1, 0, 0, 0, b'v', 4, 1]),
        Truncated {
            what: "set condition version"
        }
    );
    assert_eq!(
        req_err(opcode::INCR_BY, &[1, 0, 0, 0, b'k', 1, 2]),
        Truncated {
            what: "incrby delta"
        }
    );
    assert_eq!(
        req_err(opcode::BATCH, &[2, 0, 0, 0, 2, 0, 0, 0, 0]),
        Truncated {
            what: "batch count"
        }
    );
    assert_eq!(
        req_err(opcode::RESP, &[0xff, 0xff, 0x0f, 0, 0]),
        Truncated {
            what: "resp argument count"
        }
    );
    assert_eq!(resp_err(&[]), Truncated { what: "value tag" });
    assert_eq!(
        resp_err(&[tag::ARRAY, 3, 0, 0, 0, tag::NULL]),
        Truncated {
            what: "array count"
        }
    );
    assert_eq!(
        resp_err(&[tag::ARRAY, 2, 0, 0, 0, tag::NULL, tag::INTEGER, 1]),
        Truncated { what: "integer" }
    );
    assert_eq!(
        resp_err(&[tag::VERBATIM, b't', b'x']),
        Truncated {
            what: "verbatim format"
        }
    );
}

#[test]
fn malformed_bodies() {
    use ProtocolError::Invalid;
    assert_eq!(
        req_err(opcode::PING, &[0]),
        Invalid {
            what: "frame body (trailing bytes)"
        }
    );
    assert_eq!(
        req_err(opcode::SET, &[0, 0, 0, 0, 0, 0, 0, 0, 9]),
        Invalid {
            what: "set condition"
        }
    );
    assert_eq!(
        req_err(opcode::SET, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
        Invalid {
            what: "set expiry flag"
        }
    );
    assert_eq!(
        req_err(opcode::BATCH, &[1, 0, 0, 0, 3, 0, 0, 0, 0]),
        Invalid {
            what: "batch op kind"
        }
    );
    assert_eq!(
        req_err(opcode::RANGE, &[3]),
        Invalid {
            what: "range start"
        }
    );
    assert_eq!(
        req_err(opcode::AUTH, &[7]),
        Invalid {
            what: "auth username flag"
        }
    );
    assert_eq!(resp_err(&[0x55]), Invalid { what: "value tag" });
    assert_eq!(resp_err(&[tag::BOOLEAN, 2]), Invalid { what: "boolean" });
    assert_eq!(
        resp_err(&[tag::ERROR, 9, 3, 0, 0, 0, b'E', b'R', b'R']),
        Invalid {
            what: "error code length"
        }
    );
    assert_eq!(
        resp_err(&[tag::ERROR, 1, 3, 0, 0, 0, b'E', b'R', b'R']),
        Invalid {
            what: "error code length"
        }
    );
    assert_eq!(
        parse_request(&mut raw(opcode::PING, 1, &[]), &Limits::default()),
        Err(Invalid {
            what: "frame flags"
        })
    );
    assert_eq!(
        parse_response(
            &mut raw(opcode::RESPONSE, 2, &[tag::NULL]),
            &Limits::default()
        ),
        Err(Invalid {
            what: "frame flags"
        })
    );
}

#[test]
fn counts_and_lengths_over_limits() {
    let limits = Limits {
        max_array_len: 2,
        max_bulk_len: 3,
        max_depth: 2,
        ..Limits::default()
    };
    let run = |opcode: u8, body: &[u8]| {
        if opcode == opcode::RESPONSE {
            parse_response(&mut raw(opcode, 0, body), &limits).map(|_| ())
        } else {
            parse_request(&mut raw(opcode, 0, body), &limits).map(|_| ())
        }
    };
    assert_eq!(
        run(opcode::GET, &[4, 0, 0, 0, 1, 2, 3, 4]),
        Err(ProtocolError::InvalidBulkLength)
    );
    assert_eq!(
        run(opcode::RESP, &[3, 0, 0, 0]),
        Err(ProtocolError::InvalidMultibulkLength)
    );
    assert_eq!(
        run(opcode::RESPONSE, &[tag::SET, 3, 0, 0, 0]),
        Err(ProtocolError::InvalidMultibulkLength)
    );
    assert_eq!(
        run(
            opcode::RESPONSE,
            &[tag::ARRAY, 1, 0, 0, 0, tag::ARRAY, 1, 0, 0, 0, tag::NULL]
        ),
        Ok(())
    );
    assert_eq!(
        run(
            opcode::RESPONSE,
            &[
                tag::ARRAY,
                1,
                0,
                0,
                0,
                tag::MAP,
                1,
                0,
                0,
                0,
                tag::ARRAY,
                0,
                0,
                0,
                0,
                tag::NULL
            ]
        ),
        Err(ProtocolError::TooDeep { max: 2 })
    );
}

#[test]
fn pipelined_frames_parse_in_order() {
    let mut out = BytesMut::new();
    for id in 0..10 {
        encode_request(
            &Request {
                id,
                op: Op::Get { key: b("k") },
            },
            &mut out,
        );
    }
    for id in 0..10 {
        let r = parse_request(&mut out, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(r.id, id);
    }
    assert_eq!(parse_request(&mut out, &Limits::default()), Ok(None));
}

#[test]
fn handshake_round_trips() {
    let cases = [
        Handshake {
            version: 1,
            credentials: None,
        },
        Handshake {
            version: 2,
            credentials: Some(Credentials {
                username: None,
                password: b("secret"),
            }),
        },
        Handshake {
            version: 1,
            credentials: Some(Credentials {
                username: Some(b("alice")),
                password: b(""),
            }),
        },
    ];
    for hs in cases {
        let mut out = BytesMut::new();
        encode_handshake(&hs, &mut out);
        out.put_slice(b"next");
        let whole = out.clone();
        assert_eq!(
            parse_handshake(&mut out, &Limits::default()),
            Ok(Some(hs.clone()))
        );
        assert_eq!(&out[..], b"next");
        for cut in 0..whole.len() - 4 {
            let mut part = BytesMut::from(&whole[..cut]);
            assert_eq!(parse_handshake(&mut part, &Limits::default()), Ok(None));
        }
    }
    let mut out = BytesMut::new();
    encode_handshake(
        &Handshake {
            version: 1,
            credentials: Some(Credentials {
                username: Some(b("u")),
                password: b("p"),
            }),
        },
        &mut out,
    );
    assert_eq!(&out[..], &[0xCA, 1, 3, 1, 0, b'u', 1, 0, b'p']);
}

#[test]
fn handshake_errors() {
    let run = |bytes: &[u8]| parse_handshake(&mut BytesMut::from(bytes), &Limits::default());
    assert_eq!(
        run(b"*1\r\n"),
        Err(ProtocolError::Invalid {
            what: "handshake magic byte"
        })
    );
    assert_eq!(
        run(&[MAGIC, 1, 4]),
        Err(ProtocolError::Invalid {
            what: "handshake flags"
        })
    );
    assert_eq!(
        run(&[MAGIC, 1, 2, 0, 0]),
        Err(ProtocolError::Invalid {
            what: "handshake flags"
        })
    );
    let reply =
        |bytes: &[u8]| parse_handshake_reply(&mut BytesMut::from(bytes), &Limits::default());
    assert_eq!(
        reply(&[0, 0]),
        Err(ProtocolError::Invalid {
            what: "handshake magic byte"
        })
    );
    assert_eq!(
        reply(&[MAGIC, 2]),
        Err(ProtocolError::Invalid {
            what: "handshake status"
        })
    );
}

#[test]
fn handshake_reply_round_trips() {
    for r in [
        HandshakeReply::Accepted {
            version: 1,
            server: b("cairn 0.1.0"),
        },
        HandshakeReply::Rejected {
            message: b("NOPROTO unsupported protocol version"),
        },
    ] {
        let mut out = BytesMut::new();
        encode_handshake_reply(&r, &mut out);
        let whole = out.clone();
        assert_eq!(
            parse_handshake_reply(&mut out, &Limits::default()),
            Ok(Some(r))
        );
        assert!(out.is_empty());
        for cut in 0..whole.len() {
            let mut part = BytesMut::from(&whole[..cut]);
            assert_eq!(
                parse_handshake_reply(&mut part, &Limits::default()),
                Ok(None)
            );
        }
    }
}

#[test]
fn magic_is_no_resp_start() {
    assert!(!MAGIC.is_ascii());
}
