//! Differential test of replies: the same requests to a cairn-server and a redis-server,
//! the replies compared byte for byte, in RESP2 and RESP3.
//!
//! The Redis is a scratch `redis-server` (.ci/run installs it; under CI a missing one fails
//! the test, elsewhere the test says so and passes), or `CAIRN_REDIS_DIFF`.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::BytesMut;
use cairn::protocol::resp::{encode_request, parse_reply};
use cairn::protocol::Limits;
use common::scratch_redis::ScratchRedis;
use common::TestServer;

/// A connection that sends one request and returns its reply's exact bytes.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    fn connect(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_request(args, &mut out);
        self.stream.write_all(&out).expect("send");
        loop {
            let mut probe = self.buf.clone();
            if let Ok(Some(_)) = parse_reply(&mut probe, &Limits::default()) {
                let len = self.buf.len() - probe.len();
                return self.buf.split_to(len).to_vec();
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).expect("read");
            assert!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// xorshift64*: deterministic, no dependency.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }

    /// A string over a small alphabet, so that long common subsequences are common.
    fn text(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| b"abcd"[self.below(4)]).collect()
    }
}

#[test]
fn lcs_replies_agree_with_redis() {
    let Some(redis) = ScratchRedis::start("LCS differential test against Redis") else {
        return;
    };
    let server = TestServer::start(&[]);
    let ours_addr = server.addr.to_string();
    let mut failures = Vec::new();
    for protocol in [b"2", b"3"] {
        let (mut ours, mut theirs) = (Raw::connect(&ours_addr), Raw::connect(&redis.addr));
        for side in [&mut ours, &mut theirs] {
            side.call(&[b"HELLO", protocol]);
        }
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        let options: &[&[&[u8]]] = &[
            &[],
            &[b"LEN"],
            &[b"IDX"],
            &[b"IDX", b"WITHMATCHLEN"],
            &[b"IDX", b"MINMATCHLEN", b"2"],
            &[b"IDX", b"MINMATCHLEN", b"3", b"WITHMATCHLEN"],
            &[b"WITHMATCHLEN", b"IDX", b"MINMATCHLEN", b"-1"],
            &[b"LEN", b"IDX"],
            &[b"MINMATCHLEN", b"x"],
            &[b"MINMATCHLEN"],
            &[b"FOO"],
        ];
        for case in 0..300 {
            let (a, b) = (random.text(24), random.text(24));
            for side in [&mut ours, &mut theirs] {
                side.call(&[b"MSET", b"a", &a, b"b", &b]);
            }
            // Now and then one of the keys is missing: it counts as the empty string.
            let second: &[u8] = if case % 17 == 0 { b"missing" } else { b"b" };
            let option = options[case % options.len()];
            let mut args: Vec<&[u8]> = vec![b"LCS", b"a", second];
            args.extend_from_slice(option);
            let (mine, want) = (ours.call(&args), theirs.call(&args));
            if mine != want {
                failures.push(format!(
                    "RESP{} LCS {:?} {:?} {:?}: cairn {:?}, redis {:?}",
                    protocol[0] as char,
                    String::from_utf8_lossy(&a),
                    String::from_utf8_lossy(&b),
                    option
                        .iter()
                        .map(|o| String::from_utf8_lossy(o))
                        .collect::<Vec<_>>(),
                    String::from_utf8_lossy(&mine),
                    String::from_utf8_lossy(&want)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements, the first:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
