//! The native binary protocol against a real server: handshake, every opcode, versions,
//! streamed ranges, errors, and authentication.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::ops::Bound;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cairn::protocol::binary::{
    self, BatchOp, Condition, Credentials, Handshake, HandshakeReply, Op, Request, Response,
};
use cairn::protocol::{Limits, Reply};
use common::TestServer;

/// A minimal synchronous native-protocol client for tests.
struct Native {
    stream: TcpStream,
    input: BytesMut,
    next_id: u64,
}

impl Native {
    fn connect(server: &TestServer, credentials: Option<Credentials>) -> Result<Native, String> {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut out = BytesMut::new();
        binary::encode_handshake(
            &Handshake {
                version: binary::VERSION,
                credentials,
            },
            &mut out,
        );
        stream.write_all(&out).unwrap();
        let mut native = Native {
            stream,
            input: BytesMut::new(),
            next_id: 1,
        };
        loop {
            if let Some(reply) =
                binary::parse_handshake_reply(&mut native.input, &Limits::default()).unwrap()
            {
                return match reply {
                    HandshakeReply::Accepted { .. } => Ok(native),
                    HandshakeReply::Rejected { message } => {
                        Err(String::from_utf8_lossy(&message).into_owned())
                    }
                };
            }
            native.fill();
        }
    }

    fn fill(&mut self) {
        let mut buf = vec![0u8; 65536];
        let n = self.stream.read(&mut buf).expect("read");
        assert!(n > 0, "server closed the connection");
        self.input.extend_from_slice(&buf[..n]);
    }

    fn send(&mut self, op: Op) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut out = BytesMut::new();
        binary::encode_request(&Request { id, op }, &mut out);
        self.stream.write_all(&out).unwrap();
        id
    }

    fn receive(&mut self) -> Response {
        loop {
            if let Some(response) =
                binary::parse_response(&mut self.input, &Limits::default()).unwrap()
            {
                return response;
            }
            self.fill();
        }
    }

    fn call(&mut self, op: Op) -> Reply {
        let id = self.send(op);
        let response = self.receive();
        assert_eq!(response.id, id);
        assert!(!response.more);
        response.body
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

// One walk through every opcode on one connection; the steps build on each other's keys.
#[allow(clippy::too_many_lines)]
#[test]
fn every_opcode() {
    let server = TestServer::start(&["--fsync", "always"]);
    let mut c = Native::connect(&server, None).unwrap();
    assert_eq!(c.call(Op::Ping), Reply::Simple(b("PONG")));
    let set = |key: &str, value: &str, condition: Condition| Op::Set {
        key: b(key),
        value: b(value),
        condition,
        expiry_ms: None,
    };
    assert_eq!(c.call(set("k", "v1", Condition::None)), Reply::ok());
    assert_eq!(c.call(Op::Get { key: b("k") }), Reply::Bulk(b("v1")));
    assert_eq!(c.call(Op::Get { key: b("nope") }), Reply::Null);
    assert_eq!(c.call(set("k", "x", Condition::IfAbsent)), Reply::Null);
    assert_eq!(c.call(set("new", "x", Condition::IfPresent)), Reply::Null);
    assert_eq!(
        c.call(set("k", "v2", Condition::IfValueEquals(b("v1")))),
        Reply::ok()
    );
    // Versions: compare-and-set succeeds once per version.
    let reply = c.call(Op::GetVersioned { key: b("k") });
    let Reply::Array(pair) = reply else {
        panic!("no versioned reply: {reply:?}")
    };
    assert_eq!(pair[0], Reply::Bulk(b("v2")));
    let Reply::Integer(version) = pair[1] else {
        panic!("no version")
    };
    assert_eq!(
        c.call(set(
            "k",
            "v3",
            Condition::IfVersionEquals(u64::try_from(version).unwrap())
        )),
        Reply::ok()
    );
    assert_eq!(
        c.call(set(
            "k",
            "v4",
            Condition::IfVersionEquals(u64::try_from(version).unwrap())
        )),
        Reply::Null
    );
    assert_eq!(c.call(Op::Get { key: b("k") }), Reply::Bulk(b("v3")));
    // Counters, expiry, delete.
    assert_eq!(
        c.call(Op::IncrBy {
            key: b("n"),
            delta: 5
        }),
        Reply::Integer(5)
    );
    assert_eq!(
        c.call(Op::IncrBy {
            key: b("n"),
            delta: -7
        }),
        Reply::Integer(-2)
    );
    assert_eq!(
        c.call(Op::Expire {
            key: b("n"),
            ttl_ms: 60_000
        }),
        Reply::Integer(1)
    );
    assert_eq!(
        c.call(Op::Expire {
            key: b("missing"),
            ttl_ms: 60_000
        }),
        Reply::Integer(0)
    );
    assert_eq!(
        c.call(Op::Set {
            key: b("short"),
            value: b("v"),
            condition: Condition::None,
            expiry_ms: Some(50)
        }),
        Reply::ok()
    );
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(c.call(Op::Get { key: b("short") }), Reply::Null);
    assert_eq!(c.call(Op::Delete { key: b("k") }), Reply::Integer(1));
    assert_eq!(c.call(Op::Delete { key: b("k") }), Reply::Integer(0));
    // Batch: atomic puts and deletes.
    let ops = vec![
        BatchOp::Put {
            key: b("b1"),
            value: b("1"),
        },
        BatchOp::Put {
            key: b("b2"),
            value: b("2"),
        },
        BatchOp::Delete { key: b("n") },
    ];
    assert!(!matches!(c.call(Op::Batch { ops }), Reply::Error(_)));
    assert_eq!(c.call(Op::Get { key: b("b2") }), Reply::Bulk(b("2")));
    assert_eq!(c.call(Op::Get { key: b("n") }), Reply::Null);
    // Any Redis command by its arguments, and its errors.
    assert_eq!(
        c.call(Op::Resp {
            args: vec![b("APPEND"), b("b1"), b("23")]
        }),
        Reply::Integer(3)
    );
    assert!(
        matches!(c.call(Op::Resp { args: vec![b("NOPE")] }), Reply::Error(e) if e.starts_with(b"ERR unknown command"))
    );
    assert!(matches!(
        c.call(Op::IncrBy {
            key: b("b1"),
            delta: 1
        }),
        Reply::Integer(124)
    ));
}

#[test]
fn ranges_stream_in_chunks_and_requests_pipeline() {
    let server = TestServer::start(&["--fsync", "never"]);
    let mut c = Native::connect(&server, None).unwrap();
    // 1,000 sets in flight at once.
    let ids: Vec<u64> = (0..1000)
        .map(|i| {
            c.send(Op::Set {
                key: b(&format!("r{i:04}")),
                value: b(&i.to_string()),
                condition: Condition::None,
                expiry_ms: None,
            })
        })
        .collect();
    for id in ids {
        let response = c.receive();
        assert_eq!((response.id, response.body), (id, Reply::ok()));
    }
    let id = c.send(Op::Range {
        start: Bound::Included(b("r0100")),
        end: Bound::Excluded(b("r0900")),
        limit: None,
        reverse: false,
    });
    let mut keys = Vec::new();
    let mut chunks = 0;
    loop {
        let response = c.receive();
        assert_eq!(response.id, id);
        chunks += 1;
        let Reply::Map(pairs) = response.body else {
            panic!("range chunk is not a map")
        };
        keys.extend(pairs.into_iter().map(|(k, _)| k));
        if !response.more {
            break;
        }
    }
    assert!(chunks > 1, "800 pairs should come in several chunks");
    assert_eq!(keys.len(), 800);
    assert_eq!(keys.first(), Some(&Reply::Bulk(b("r0100"))));
    assert_eq!(keys.last(), Some(&Reply::Bulk(b("r0899"))));
    let id = c.send(Op::Range {
        start: Bound::Unbounded,
        end: Bound::Unbounded,
        limit: Some(3),
        reverse: true,
    });
    let response = c.receive();
    assert_eq!((response.id, response.more), (id, false));
    let Reply::Map(pairs) = response.body else {
        panic!()
    };
    let keys: Vec<_> = pairs.into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            Reply::Bulk(b("r0999")),
            Reply::Bulk(b("r0998")),
            Reply::Bulk(b("r0997"))
        ]
    );
}

#[test]
fn authentication_in_handshake_or_by_request() {
    let server = TestServer::start(&["--requirepass", "pw"]);
    let wrong = Credentials {
        username: None,
        password: b("nope"),
    };
    let Err(message) = Native::connect(&server, Some(wrong)) else {
        panic!("a wrong password was accepted")
    };
    assert!(message.starts_with("WRONGPASS"), "{message}");
    let mut c = Native::connect(&server, None).unwrap();
    assert!(matches!(c.call(Op::Get { key: b("a") }), Reply::Error(e) if e.starts_with(b"NOAUTH")));
    assert_eq!(
        c.call(Op::Auth {
            username: None,
            password: b("pw")
        }),
        Reply::ok()
    );
    assert_eq!(c.call(Op::Get { key: b("a") }), Reply::Null);
    let good = Credentials {
        username: Some(b("default")),
        password: b("pw"),
    };
    let mut c = Native::connect(&server, Some(good)).unwrap();
    assert_eq!(c.call(Op::Ping), Reply::Simple(b("PONG")));
}

#[test]
fn an_oversized_frame_is_refused_without_allocating_it() {
    let server = TestServer::start(&[]);
    let mut c = Native::connect(&server, None).unwrap();
    // A header announcing a 4 GiB - 1 frame, and nothing after it.
    let mut header = vec![0xFF, 0xFF, 0xFF, 0xFF, binary::opcode::GET, 0];
    header.extend_from_slice(&7u64.to_le_bytes());
    c.stream.write_all(&header).unwrap();
    let response = c.receive();
    assert!(matches!(response.body, Reply::Error(_)), "{response:?}");
    // Then the server closes the connection.
    let mut buf = [0u8; 16];
    assert_eq!(c.stream.read(&mut buf).unwrap_or(0), 0);
}
