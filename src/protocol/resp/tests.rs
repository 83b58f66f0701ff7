//! Unit tests of RESP framing: requests, inline quoting, replies, every error path.

use bytes::{Bytes, BytesMut};

use super::*;
use crate::protocol::RespVersion;
use crate::protocol::{Limits, ProtocolError, Reply};

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

/// `split_args` as strings, `None` for an error.
fn split(line: &str) -> Option<Vec<String>> {
    let args = split_args(line.as_bytes()).ok()?;
    Some(
        args.iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

#[test]
fn split_args_quoting() {
    // The cases of cairn-cli's own splitter, which this one replaced.
    assert_eq!(
        split("  set k  v "),
        Some(vec!["set".into(), "k".into(), "v".into()])
    );
    assert_eq!(
        split(r#"set "a b" 'c d'"#),
        Some(vec!["set".into(), "a b".into(), "c d".into()])
    );
    assert_eq!(
        split(r#""\x41\n\"" 'it\'s'"#),
        Some(vec!["A\n\"".into(), "it's".into()])
    );
    assert_eq!(
        split_args(br#""\xff""#).ok(),
        Some(vec![Bytes::from_static(b"\xff")])
    );
    assert_eq!(split(r#""unterminated"#), None);
    assert_eq!(split(r#""a"b"#), None);
    assert_eq!(split(""), Some(vec![]));
    assert_eq!(split(r#""""#), Some(vec![String::new()]));
}

#[test]
fn split_args_agrees_with_inline_requests() {
    // Vertical tab is C's isspace: it separates after a closing quote and before an
    // argument (Redis agrees), but not inside an unquoted one.
    assert_eq!(
        split("\x0bECHO \"a\"\x0bb"),
        Some(vec!["ECHO".into(), "a".into(), "b".into()])
    );
    assert_eq!(split("a\x0bb"), Some(vec!["a\x0bb".into()]));
    // NUL is an ordinary byte; a line end, as read from a script, is a separator.
    assert_eq!(split("a\0b\r\n"), Some(vec!["a\0b".into()]));
    for line in [
        &b"SET \"a b\"\x0b'c'"[..],
        b"\x0bab\"c d\" \"\\x41\"",
        b"a\rb\tc",
    ] {
        let mut framed = line.to_vec();
        framed.extend_from_slice(b"\r\n");
        assert_eq!(
            split_args(line),
            Ok(args(&framed).into_iter().map(Bytes::from).collect())
        );
    }
    assert_eq!(split_args(b"'a"), Err(ProtocolError::UnbalancedQuotes));
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
        Reply::Push(vec![Reply::Simple(b("message")), Reply::Simple(b("x"))])
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
