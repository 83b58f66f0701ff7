//! Property tests for the wire codecs: round trips of every `Reply` (RESP3, the RESP2
//! downgrade, native binary), every binary request and response, and parsing that does not
//! depend on where the bytes were split.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::ops::Bound;

use bytes::{Bytes, BytesMut};
use cairn::protocol::binary::{self, BatchOp, Condition, Op, Request, Response};
use cairn::protocol::resp::{encode_request, parse_reply, parse_request};
use cairn::protocol::{Limits, ProtocolError, Reply, RespVersion};
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

/// Text for one-line values: no CR or LF (the encoder would replace them).
fn line_text() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..12,
    )
    .prop_map(Bytes::from)
}

fn double(nan: bool) -> BoxedStrategy<f64> {
    let base = prop_oneof![
        any::<f64>().prop_filter("finite", |d| d.is_finite()),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64),
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 64.0),
    ];
    if nan {
        prop_oneof![9 => base, 1 => Just(f64::NAN)].boxed()
    } else {
        base.boxed()
    }
}

fn big_number() -> impl Strategy<Value = Bytes> {
    (any::<bool>(), "[0-9]{1,40}")
        .prop_map(|(neg, d)| Bytes::from(if neg { format!("-{d}") } else { d }))
}

/// Every reply type, nested up to 4 levels; `nan` allows NaN doubles.
fn reply(nan: bool) -> impl Strategy<Value = Reply> {
    let leaf = prop_oneof![
        line_text().prop_map(Reply::Simple),
        line_text().prop_map(Reply::Error),
        any::<i64>().prop_map(Reply::Integer),
        bytes(24).prop_map(Reply::Bulk),
        Just(Reply::Null),
        Just(Reply::NullArray),
        double(nan).prop_map(Reply::Double),
        any::<bool>().prop_map(Reply::Boolean),
        (any::<[u8; 3]>(), bytes(16)).prop_map(|(format, text)| Reply::Verbatim { format, text }),
        big_number().prop_map(Reply::BigNumber),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Reply::Array),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Reply::Set),
            proptest::collection::vec((inner.clone(), inner), 0..4).prop_map(Reply::Map),
        ]
    })
}

/// What a RESP3 round trip gives: both nulls are `_`.
fn resp3_view(r: &Reply) -> Reply {
    match r {
        Reply::NullArray => Reply::Null,
        Reply::Array(v) => Reply::Array(v.iter().map(resp3_view).collect()),
        Reply::Set(v) => Reply::Set(v.iter().map(resp3_view).collect()),
        Reply::Map(v) => Reply::Map(
            v.iter()
                .map(|(k, v)| (resp3_view(k), resp3_view(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The documented text of a double.
fn double_text(d: f64) -> String {
    // Redis 7.0 replies doubles as C's `%.17g` (`inf`, `-inf`, `nan` aside): the C
    // library itself is the oracle.
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.into();
    }
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is 64 bytes, `%.17g` of a finite double needs at most 25, and
    // snprintf writes at most `buf.len()` bytes including the terminating NUL.
    let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17g".as_ptr(), d) };
    String::from_utf8_lossy(&buf[..usize::try_from(n).unwrap()]).into_owned()
}

/// The documented RESP2 downgrade.
fn resp2_view(r: &Reply) -> Reply {
    match r {
        Reply::Array(v) | Reply::Set(v) => Reply::Array(v.iter().map(resp2_view).collect()),
        Reply::Map(v) => Reply::Array(
            v.iter()
                .flat_map(|(k, v)| [resp2_view(k), resp2_view(v)])
                .collect(),
        ),
        Reply::Double(d) => Reply::Bulk(Bytes::from(double_text(*d))),
        Reply::Boolean(b) => Reply::Integer(i64::from(*b)),
        Reply::Verbatim { text, .. } => Reply::Bulk(text.clone()),
        Reply::BigNumber(b) => Reply::Bulk(b.clone()),
        other => other.clone(),
    }
}

fn key() -> impl Strategy<Value = Bytes> {
    bytes(12)
}

fn bound() -> impl Strategy<Value = Bound<Bytes>> {
    prop_oneof![
        Just(Bound::Unbounded),
        key().prop_map(Bound::Included),
        key().prop_map(Bound::Excluded),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let condition = prop_oneof![
        Just(Condition::None),
        Just(Condition::IfAbsent),
        Just(Condition::IfPresent),
        bytes(8).prop_map(Condition::IfValueEquals),
        any::<u64>().prop_map(Condition::IfVersionEquals),
    ];
    let batch_op = prop_oneof![
        (key(), bytes(16)).prop_map(|(key, value)| BatchOp::Put { key, value }),
        key().prop_map(|key| BatchOp::Delete { key }),
    ];
    prop_oneof![
        key().prop_map(|key| Op::Get { key }),
        key().prop_map(|key| Op::GetVersioned { key }),
        (
            key(),
            bytes(32),
            condition,
            proptest::option::of(any::<u64>())
        )
            .prop_map(|(key, value, condition, expiry_ms)| Op::Set {
                key,
                value,
                condition,
                expiry_ms
            }),
        key().prop_map(|key| Op::Delete { key }),
        (key(), any::<i64>()).prop_map(|(key, delta)| Op::IncrBy { key, delta }),
        (key(), any::<u64>()).prop_map(|(key, ttl_ms)| Op::Expire { key, ttl_ms }),
        proptest::collection::vec(batch_op, 0..6).prop_map(|ops| Op::Batch { ops }),
        (
            bound(),
            bound(),
            proptest::option::of(any::<u64>()),
            any::<bool>()
        )
            .prop_map(|(start, end, limit, reverse)| Op::Range {
                start,
                end,
                limit,
                reverse
            }),
        Just(Op::Ping),
        (proptest::option::of(bytes(8)), bytes(8))
            .prop_map(|(username, password)| Op::Auth { username, password }),
        proptest::collection::vec(bytes(10), 0..6).prop_map(|args| Op::Resp { args }),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    (any::<u64>(), op()).prop_map(|(id, op)| Request { id, op })
}

fn response(nan: bool) -> impl Strategy<Value = Response> {
    (any::<u64>(), any::<bool>(), reply(nan)).prop_map(|(id, more, body)| Response {
        id,
        more,
        body,
    })
}

/// A client request as bytes: a RESP array, or an inline line whose arguments are quoted
/// with `\xHH` escapes (so any bytes survive).
fn wire_request() -> impl Strategy<Value = (Vec<Bytes>, Vec<u8>)> {
    (proptest::collection::vec(bytes(10), 1..5), any::<bool>()).prop_map(|(args, inline)| {
        let mut out = BytesMut::new();
        if inline {
            let mut line = Vec::new();
            for a in &args {
                line.push(b'"');
                for b in a {
                    line.extend_from_slice(format!("\\x{b:02x}").as_bytes());
                }
                line.extend_from_slice(b"\" ");
            }
            line.extend_from_slice(b"\r\n");
            out.extend_from_slice(&line);
        } else {
            encode_request(&args, &mut out);
        }
        (args, out.to_vec())
    })
}

type Drained<T> = (Vec<T>, Option<ProtocolError>);

/// Feed `data` into a growing buffer at the given cut points, parsing all that is complete
/// after each piece.
fn feed<T>(
    data: &[u8],
    cuts: &[usize],
    mut parse: impl FnMut(&mut BytesMut) -> Result<Option<T>, ProtocolError>,
) -> Drained<T> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        buf.extend_from_slice(&data[fed..cut]);
        fed = cut;
        loop {
            match parse(&mut buf) {
                Ok(Some(v)) => out.push(v),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

/// Whole, cut at every single point, and byte by byte: all the same.
fn check_splits<T: std::fmt::Debug + PartialEq>(
    data: &[u8],
    mut parse: impl FnMut(&mut BytesMut) -> Result<Option<T>, ProtocolError>,
) -> Drained<T> {
    let whole = feed(data, &[], &mut parse);
    for cut in 0..=data.len() {
        let split = feed(data, &[cut], &mut parse);
        assert_eq!(split, whole, "cut at {cut}");
    }
    let cuts: Vec<usize> = (1..data.len()).collect();
    assert_eq!(feed(data, &cuts, &mut parse), whole, "byte by byte");
    whole
}

proptest! {
    #[test]
    fn reply_resp3_round_trip(r in reply(false)) {
        let mut out = BytesMut::new();
        r.encode(RespVersion::Resp3, &mut out);
        prop_assert_eq!(parse_reply(&mut out, &Limits::default()), Ok(Some(resp3_view(&r))));
        prop_assert!(out.is_empty());
    }

    #[test]
    fn reply_resp2_downgrade(r in reply(false)) {
        let mut out = BytesMut::new();
        r.encode(RespVersion::Resp2, &mut out);
        prop_assert_eq!(parse_reply(&mut out, &Limits::default()), Ok(Some(resp2_view(&r))));
        prop_assert!(out.is_empty());
    }

    #[test]
    fn binary_request_round_trip(req in request()) {
        let mut out = BytesMut::new();
        binary::encode_request(&req, &mut out);
        prop_assert_eq!(binary::parse_request(&mut out, &Limits::default()), Ok(Some(req)));
        prop_assert!(out.is_empty());
    }

    #[test]
    fn binary_response_round_trip(resp in response(true)) {
        let mut out = BytesMut::new();
        binary::encode_response(&resp, &mut out);
        let parsed = binary::parse_response(&mut out, &Limits::default());
        // Debug text: a NaN double survives bit for bit and prints the same.
        prop_assert_eq!(format!("{parsed:?}"), format!("{:?}", Ok::<_, ProtocolError>(Some(resp))));
        prop_assert!(out.is_empty());
    }

    #[test]
    fn request_pipeline_parses_in_order_whatever_the_splits(
        reqs in proptest::collection::vec(wire_request(), 1..6)
    ) {
        let data: Vec<u8> = reqs.iter().flat_map(|(_, w)| w.clone()).collect();
        let limits = Limits::default();
        let (parsed, err) = check_splits(&data, |b| parse_request(b, &limits));
        prop_assert_eq!(err, None);
        let expected: Vec<Vec<Bytes>> = reqs.into_iter().map(|(a, _)| a).collect();
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn long_pipelines_parse_in_order(
        reqs in proptest::collection::vec(wire_request(), 1..200)
    ) {
        let data: Vec<u8> = reqs.iter().flat_map(|(_, w)| w.clone()).collect();
        let mut buf = BytesMut::from(&data[..]);
        for (args, _) in reqs {
            prop_assert_eq!(parse_request(&mut buf, &Limits::default()), Ok(Some(args)));
        }
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_bytes_parse_the_same_whatever_the_splits(
        data in proptest::collection::vec(
            prop_oneof![Just(b'*'), Just(b'$'), Just(b'\r'), Just(b'\n'), Just(b'1'),
                        Just(b'"'), Just(b'\''), Just(b'\\'), Just(b' '), any::<u8>()],
            0..48)
    ) {
        let limits = Limits { max_inline_len: 16, max_bulk_len: 8, max_array_len: 4, ..Limits::default() };
        check_splits(&data, |b| parse_request(b, &limits));
        check_splits(&data, |b| parse_reply(b, &limits));
    }

    #[test]
    fn replies_parse_the_same_whatever_the_splits(
        replies in proptest::collection::vec(reply(false), 1..4),
        resp3 in any::<bool>(),
    ) {
        let version = if resp3 { RespVersion::Resp3 } else { RespVersion::Resp2 };
        let mut out = BytesMut::new();
        for r in &replies {
            r.encode(version, &mut out);
        }
        let limits = Limits::default();
        let (parsed, err) = check_splits(&out, |b| parse_reply(b, &limits));
        prop_assert_eq!(err, None);
        let expected: Vec<Reply> = replies
            .iter()
            .map(|r| if resp3 { resp3_view(r) } else { resp2_view(r) })
            .collect();
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn binary_frames_parse_the_same_whatever_the_splits(
        reqs in proptest::collection::vec(request(), 1..4),
        resps in proptest::collection::vec(response(false), 1..4),
    ) {
        let limits = Limits::default();
        let mut out = BytesMut::new();
        for r in &reqs {
            binary::encode_request(r, &mut out);
        }
        let (parsed, err) = check_splits(&out, |b| binary::parse_request(b, &limits));
        prop_assert_eq!(err, None);
        prop_assert_eq!(parsed, reqs);
        let mut out = BytesMut::new();
        for r in &resps {
            binary::encode_response(r, &mut out);
        }
        let (parsed, err) = check_splits(&out, |b| binary::parse_response(b, &limits));
        prop_assert_eq!(err, None);
        prop_assert_eq!(parsed, resps);
    }
}
