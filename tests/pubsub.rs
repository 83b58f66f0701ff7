//! Pub/sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and PUBSUB, checked
//! four ways. A differential script sends the same steps to a cairn-server and a scratch
//! redis-server on raw connections, in RESP2 and RESP3, and compares every frame byte for
//! byte (pushes included, the RESP2 subscribed-context restriction, PING in that context,
//! RESET, binary-safe names, a 1 MiB message). The `redis` crate's sync `PubSub` and a
//! `redis-cli subscribe` child process receive messages. CLIENT LIST shows a subscriber's
//! `flags=P sub= psub=`, and CLIENT KILL TYPE pubsub closes subscribers only. A subscriber
//! that stops reading is disconnected by the `pubsub` class of `client-output-buffer-limit`
//! (a 1 MiB limit set with CONFIG SET, and the 32 MiB default), counted in `INFO stats`,
//! while the publisher is not slowed.
//!
//! Every body takes the server's address, so each runs against Cairn and, in a twin test,
//! against a scratch Redis: the expectations are Redis 7.0's. The Redis is a scratch
//! `redis-server` (.ci/run installs it; under CI a missing one fails the test, elsewhere the
//! test says so and passes), or `CAIRN_REDIS_DIFF` (then run the tests one at a time, `--test-threads 1`: CLIENT KILL TYPE
//! pubsub, CONFIG SET and the channel counts assume no other test shares the server). Every
//! read has a timeout. `PUBSUB_TRANSCRIPT=1` prints the reference server's transcript of the
//! differential script.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use cairn::protocol::resp::{encode_request, parse_reply};
use cairn::protocol::Limits;
use common::scratch_redis::ScratchRedis;
use common::{tool_available, TestServer};

// ---------------------------------------------------------------------------------------
// Raw RESP frames
// ---------------------------------------------------------------------------------------

/// The length of the first complete RESP2 or RESP3 frame in `buf` (pushes included), or
/// `None` while it is incomplete: as far as the protocol's reply parser reads.
fn frame_len(buf: &[u8]) -> Option<usize> {
    let mut rest = BytesMut::from(buf);
    match parse_reply(&mut rest, &Limits::default()) {
        Ok(Some(_)) => Some(buf.len() - rest.len()),
        Ok(None) => None,
        Err(e) => panic!("not a RESP frame ({e}): {}", show(buf)),
    }
}

/// The header line (with its CRLF) and the element frames of an aggregate frame.
fn elements(frame: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let head_end = frame.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    let mut rest = &frame[head_end..];
    let mut out = Vec::new();
    while !rest.is_empty() {
        let n = frame_len(rest).expect("a complete element");
        out.push(&rest[..n]);
        rest = &rest[n..];
    }
    (&frame[..head_end], out)
}

/// A RESP request's bytes.
fn encode(args: &[&[u8]]) -> BytesMut {
    let mut out = BytesMut::new();
    encode_request(args, &mut out);
    out
}

/// Bytes for a message: printable, cut short when long.
fn show(bytes: &[u8]) -> String {
    let text = format!("{:?}", String::from_utf8_lossy(bytes));
    if text.len() > 300 {
        format!("{}... ({} bytes)", &text[..300], bytes.len())
    } else {
        text
    }
}

/// A raw connection: send requests, read whole frames (replies and pushes) one at a time.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, args: &[&[u8]]) {
        self.stream.write_all(&encode(args)).expect("send");
    }

    /// The next frame; `Err` says why there is none (a read timed out, the server closed).
    fn frame(&mut self) -> Result<Vec<u8>, String> {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return Ok(self.buf.drain(..n).collect());
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err("<the server closed the connection>".into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(format!(
                        "<no frame within the read timeout; {} bytes pending: {}>",
                        self.buf.len(),
                        show(&self.buf)
                    ))
                }
                Err(e) => return Err(format!("<read error: {e}>")),
            }
        }
    }

    /// Sends one request and returns the next frame, which must come.
    fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(args);
        self.frame().unwrap_or_else(|e| panic!("{e}"))
    }
}

// ---------------------------------------------------------------------------------------
// 1. The differential script
// ---------------------------------------------------------------------------------------

/// How the frames one connection received in a step are compared.
#[derive(Clone, Copy)]
enum Order {
    /// Byte for byte, in order.
    Exact,
    /// As a set: the order is unspecified (pattern deliveries to one client).
    FramesAsSet,
    /// Each frame an array whose elements are a set (PUBSUB CHANNELS).
    ElementsAsSet,
    /// Unsubscribe confirmations for "all": the channels in any order, the counts in order.
    ChannelsAsSet,
}

/// `n` frames read from connection `conn`, compared as `order` says.
struct Expect(usize, usize, Order);

/// One server's connections and what they received, normalized for comparison.
struct Side {
    conns: Vec<Raw>,
    transcript: Vec<(String, Vec<Vec<u8>>)>,
    /// Frames that failed to come. A missing frame costs a read timeout and the script goes
    /// on (the next steps are still in step); after the third, or a closed connection, the
    /// side is `broken` and the remaining steps are skipped.
    missing: usize,
    broken: bool,
}

impl Side {
    fn new(addr: &str, conns: usize, resp3: bool) -> Side {
        let mut side = Side {
            conns: (0..conns).map(|_| Raw::connect(addr)).collect(),
            transcript: Vec::new(),
            missing: 0,
            broken: false,
        };
        if resp3 {
            // HELLO's own reply differs between the servers (server, version, id): not
            // compared.
            for conn in &mut side.conns {
                conn.call(&[b"HELLO", b"3"]);
            }
        }
        side
    }

    /// Sends `args` on connection `conn`, then reads the frames `reads` lists.
    fn step(&mut self, conn: usize, args: &[&[u8]], reads: &[Expect]) {
        let label = format!(
            "conn {conn}: {}",
            args.iter().map(|a| show(a)).collect::<Vec<_>>().join(" ")
        );
        if self.broken {
            self.transcript.push((label, vec![b"<skipped>".to_vec()]));
            return;
        }
        self.conns[conn].send(args);
        let mut got = Vec::new();
        for Expect(from, n, order) in reads {
            let mut frames = Vec::new();
            for _ in 0..*n {
                match self.conns[*from].frame() {
                    Ok(frame) => frames.push(frame),
                    Err(why) => {
                        self.missing += 1;
                        self.broken = self.missing >= 3 || why.contains("closed");
                        frames.push(why.into_bytes());
                        break;
                    }
                }
            }
            got.push(format!("<conn {from}>").into_bytes());
            got.extend(normalize(frames, *order));
            if self.broken {
                break;
            }
        }
        self.transcript.push((label, got));
    }
}

fn normalize(mut frames: Vec<Vec<u8>>, order: Order) -> Vec<Vec<u8>> {
    match order {
        Order::Exact => frames,
        Order::FramesAsSet => {
            frames.sort();
            frames
        }
        Order::ElementsAsSet => frames
            .into_iter()
            .map(|frame| {
                if frame_len(&frame) != Some(frame.len()) || !frame.starts_with(b"*") {
                    return frame;
                }
                let (head, mut items) = elements(&frame);
                items.sort();
                let mut out = head.to_vec();
                out.extend(items.concat());
                out
            })
            .collect(),
        Order::ChannelsAsSet => {
            let mut channels = Vec::new();
            let mut out: Vec<Vec<u8>> = frames
                .into_iter()
                .map(|frame| {
                    if frame_len(&frame) != Some(frame.len()) || frame[0] == b'-' {
                        return frame;
                    }
                    let (head, items) = elements(&frame);
                    if items.len() != 3 {
                        return frame;
                    }
                    channels.push(items[1].to_vec());
                    [head, items[0], b"<channel>", items[2]].concat()
                })
                .collect();
            channels.sort();
            out.push([b"channels: ".to_vec(), channels.concat()].concat());
            out
        }
    }
}

/// Connections of the script.
const SUB: usize = 0;
const PUB: usize = 1;
const PSUB: usize = 2;

/// The script: a subscriber (SUB), a publisher (PUB), a pattern subscriber (PSUB).
#[allow(clippy::too_many_lines)]
fn script(side: &mut Side, resp3: bool) {
    use Order::{ChannelsAsSet, ElementsAsSet, Exact, FramesAsSet};
    let one = |conn| [Expect(conn, 1, Exact)];

    // No subscriptions yet: UNSUBSCRIBE and PUNSUBSCRIBE answer one frame with a null
    // channel and a count of 0 (RESP2 `$-1`, RESP3 `_`), and do not enter the context.
    side.step(SUB, &[b"UNSUBSCRIBE"], &one(SUB));
    side.step(SUB, &[b"PUNSUBSCRIBE"], &one(SUB));
    side.step(SUB, &[b"GET", b"k"], &one(SUB));
    // Arity errors.
    side.step(SUB, &[b"SUBSCRIBE"], &one(SUB));
    side.step(SUB, &[b"PSUBSCRIBE"], &one(SUB));

    // One confirmation per channel; the count is of channels and patterns together.
    side.step(SUB, &[b"SUBSCRIBE", b"a", b"b"], &[Expect(SUB, 2, Exact)]);
    side.step(SUB, &[b"SUBSCRIBE", b"a"], &one(SUB)); // again: the count stays 2
    side.step(SUB, &[b"PSUBSCRIBE", b"news.*"], &one(SUB));
    side.step(SUB, &[b"PSUBSCRIBE", b"news.*"], &one(SUB)); // again: stays 3
    side.step(SUB, &[b"SUBSCRIBE", b"news.1"], &one(SUB));
    side.step(
        PSUB,
        &[b"PSUBSCRIBE", b"n*", b"news.*"],
        &[Expect(PSUB, 2, Exact)],
    );

    // PUBLISH answers the number of deliveries; the channel's `message` comes before a
    // pattern's `pmessage`; one client's pattern deliveries come in an unspecified order.
    side.step(
        PUB,
        &[b"PUBLISH", b"a", b"hello"],
        &[Expect(PUB, 1, Exact), Expect(SUB, 1, Exact)],
    );
    side.step(
        PUB,
        &[b"PUBLISH", b"news.1", b"x"],
        &[
            Expect(PUB, 1, Exact),
            Expect(SUB, 2, Exact),
            Expect(PSUB, 2, FramesAsSet),
        ],
    );
    side.step(
        PUB,
        &[b"PUBLISH", b"news.2", b"y"],
        &[
            Expect(PUB, 1, Exact),
            Expect(SUB, 1, Exact),
            Expect(PSUB, 2, FramesAsSet),
        ],
    );
    side.step(PUB, &[b"PUBLISH", b"zilch", b"z"], &one(PUB)); // nobody: 0
    side.step(PUB, &[b"PUBLISH", b"a"], &one(PUB)); // arity

    // The subscribed context. RESP2: only (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET; the error
    // names the command in lower case (a subcommand as `client|id`); PING answers
    // `*2 pong <arg or "">`. RESP3: everything works, PING is +PONG.
    side.step(SUB, &[b"GET", b"k"], &one(SUB));
    side.step(SUB, &[b"ECHO", b"e"], &one(SUB));
    if !resp3 {
        // In RESP3 CLIENT ID answers the connection's id, which differs between servers.
        side.step(SUB, &[b"CLIENT", b"ID"], &one(SUB));
    }
    side.step(SUB, &[b"PING"], &one(SUB));
    side.step(SUB, &[b"PING", b"x"], &one(SUB));
    side.step(SUB, &[b"PING", b"x", b"y"], &one(SUB)); // arity
    side.step(SUB, &[b"SUBSCRIBE"], &one(SUB)); // arity, in the context
                                                // PUBLISH on a subscribed connection: RESP2 refuses it; RESP3 delivers to the
                                                // publisher itself, and Redis 7.0 writes the `message` push *before* PUBLISH's `:1`.
    side.step(
        SUB,
        &[b"PUBLISH", b"a", b"me"],
        &[Expect(SUB, if resp3 { 2 } else { 1 }, Exact)],
    );
    // Unsubscribing from a channel not subscribed confirms it with the unchanged count.
    side.step(SUB, &[b"UNSUBSCRIBE", b"zz"], &one(SUB));
    side.step(SUB, &[b"PUNSUBSCRIBE", b"zz*"], &one(SUB));

    // PUBSUB: CHANNELS lists channels with subscribers (not patterns), in no set order;
    // NUMSUB counts channel subscribers only, in the order asked; NUMPAT counts distinct
    // patterns (news.* twice, n* once: 2).
    side.step(
        PUB,
        &[b"PUBSUB", b"CHANNELS"],
        &[Expect(PUB, 1, ElementsAsSet)],
    );
    side.step(
        PUB,
        &[b"PUBSUB", b"CHANNELS", b"*"],
        &[Expect(PUB, 1, ElementsAsSet)],
    );
    side.step(PUB, &[b"PUBSUB", b"CHANNELS", b"news*"], &one(PUB));
    side.step(PUB, &[b"PUBSUB", b"CHANNELS", b"zz*"], &one(PUB));
    side.step(
        PUB,
        &[b"PUBSUB", b"NUMSUB", b"a", b"b", b"zz", b"news.*"],
        &one(PUB),
    );
    side.step(PUB, &[b"PUBSUB", b"NUMSUB"], &one(PUB));
    side.step(PUB, &[b"PUBSUB", b"NUMPAT"], &one(PUB));
    // PUBSUB HELP is not compared: Redis's lists SHARDCHANNELS and SHARDNUMSUB (sharded
    // pub/sub), which Cairn does not have.
    side.step(PUB, &[b"pubsub", b"numsub", b"A"], &one(PUB)); // channels are case-sensitive
                                                              // Errors: an unknown subcommand; CHANNELS with two arguments (Redis 7.0: "unknown
                                                              // subcommand or wrong number of arguments for 'CHANNELS'"); NUMPAT with one (an arity
                                                              // error naming `pubsub|numpat`); no subcommand.
    side.step(PUB, &[b"PUBSUB", b"FOO"], &one(PUB));
    side.step(PUB, &[b"PUBSUB", b"CHANNELS", b"a", b"b"], &one(PUB));
    side.step(PUB, &[b"PUBSUB", b"NUMPAT", b"x"], &one(PUB));
    side.step(PUB, &[b"PUBSUB"], &one(PUB));

    // Binary-safe channel names and messages.
    let channel: &[u8] = b"bin\x00\r\nary\xff";
    side.step(SUB, &[b"SUBSCRIBE", channel], &one(SUB));
    side.step(
        PUB,
        &[b"PUBLISH", channel, b"\x00\r\n\r\n$3\r\n"],
        &[Expect(PUB, 1, Exact), Expect(SUB, 1, Exact)],
    );
    side.step(PSUB, &[b"PSUBSCRIBE", b"bin\x00*"], &one(PSUB));
    side.step(
        PUB,
        &[b"PUBLISH", channel, b""],
        &[
            Expect(PUB, 1, Exact),
            Expect(SUB, 1, Exact),
            Expect(PSUB, 1, Exact),
        ],
    );
    // A 1 MiB message.
    let big: Vec<u8> = (0..1024 * 1024)
        .map(|i| b"0123456789abcdef\r\n"[i % 18])
        .collect();
    side.step(
        PUB,
        &[b"PUBLISH", b"a", &big],
        &[Expect(PUB, 1, Exact), Expect(SUB, 1, Exact)],
    );

    // Unsubscribing: one channel; then all the rest, one frame per channel (their order is
    // unspecified, the counts go down in order); then the patterns; then nothing is left and
    // UNSUBSCRIBE answers the null channel with 0.
    side.step(SUB, &[b"UNSUBSCRIBE", b"a"], &one(SUB));
    side.step(SUB, &[b"UNSUBSCRIBE"], &[Expect(SUB, 3, ChannelsAsSet)]);
    side.step(SUB, &[b"PING"], &one(SUB)); // still in the context: a pattern is left
    side.step(SUB, &[b"PUNSUBSCRIBE"], &one(SUB));
    side.step(SUB, &[b"UNSUBSCRIBE"], &one(SUB));
    side.step(SUB, &[b"PUNSUBSCRIBE"], &one(SUB));
    side.step(SUB, &[b"GET", b"k"], &one(SUB)); // out of the context
    side.step(SUB, &[b"PING"], &one(SUB));
    side.step(PUB, &[b"PUBLISH", b"a", b"gone"], &one(PUB));
    side.step(PUB, &[b"PUBSUB", b"NUMSUB", b"a", b"b"], &one(PUB));
    // PSUB: several patterns in one PUNSUBSCRIBE, one frame each, in the order given.
    side.step(
        PSUB,
        &[b"PUNSUBSCRIBE", b"news.*", b"n*"],
        &[Expect(PSUB, 2, Exact)],
    );
    side.step(PUB, &[b"PUBSUB", b"NUMPAT"], &one(PUB));

    // RESET while subscribed: +RESET, the subscriptions are gone, and the protocol is
    // RESP2 again (a RESP3 connection's next replies are RESP2's).
    side.step(SUB, &[b"SUBSCRIBE", b"r"], &one(SUB));
    side.step(SUB, &[b"PSUBSCRIBE", b"r*"], &one(SUB));
    side.step(SUB, &[b"RESET"], &one(SUB));
    side.step(PUB, &[b"PUBLISH", b"r", b"z"], &one(PUB));
    side.step(SUB, &[b"GET", b"k"], &one(SUB));
    side.step(SUB, &[b"PING"], &one(SUB));
    side.step(SUB, &[b"SUBSCRIBE", b"r"], &one(SUB));
    side.step(SUB, &[b"RESET"], &one(SUB));
    side.step(PSUB, &[b"RESET"], &one(PSUB));
    side.step(PUB, &[b"PUBSUB", b"NUMPAT"], &one(PUB));

    // Nothing else was pending on any connection: each one's next frame is its PING's.
    for conn in [SUB, PUB, PSUB] {
        side.step(conn, &[b"PING", b"end"], &one(conn));
    }
}

/// Runs the script against `ours` and `theirs` in RESP2 and RESP3 and compares.
fn script_agrees(ours: &str, theirs: &str) {
    let mut failures = Vec::new();
    let (mut steps, mut skipped) = (0, 0);
    for resp3 in [false, true] {
        let mut mine = Side::new(ours, 3, resp3);
        let mut want = Side::new(theirs, 3, resp3);
        script(&mut mine, resp3);
        script(&mut want, resp3);
        assert_eq!(want.missing, 0, "the reference server fell out of step");
        // The script knows how many frames each step brings: if it miscounted, the final
        // PINGs' replies would be some earlier frames.
        for (label, frames) in want.transcript.iter().rev().take(3) {
            assert!(
                frames.last().is_some_and(|f| f.ends_with(b"end\r\n")),
                "the script is out of step with the reference server at {label}: {:?}",
                frames.iter().map(|f| show(f)).collect::<Vec<_>>()
            );
        }
        if std::env::var_os("PUBSUB_TRANSCRIPT").is_some() {
            // The reference server's transcript, for reading.
            for (label, frames) in &want.transcript {
                let frames: Vec<String> = frames.iter().map(|f| show(f)).collect();
                println!(
                    "RESP{} {label}\n    {}",
                    if resp3 { 3 } else { 2 },
                    frames.join(" ")
                );
            }
        }
        for ((label, got), (_, expected)) in mine.transcript.iter().zip(&want.transcript) {
            steps += 1;
            if got == &[b"<skipped>".to_vec()] {
                skipped += 1;
            } else if got != expected {
                failures.push(format!(
                    "RESP{} {label}\n    got:  {}\n    want: {}",
                    if resp3 { 3 } else { 2 },
                    got.iter().map(|f| show(f)).collect::<Vec<_>>().join(" "),
                    expected
                        .iter()
                        .map(|f| show(f))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {steps} steps disagree, {skipped} more were skipped once the server under test \
         fell out of step:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn pubsub_replies_agree_with_redis() {
    let Some(redis) = ScratchRedis::start("pub/sub differential test against Redis") else {
        return;
    };
    let server = TestServer::start(&[]);
    script_agrees(&server.addr.to_string(), &redis.addr);
}

/// The script against two Redis servers: it is deterministic where it compares bytes (the
/// unordered parts are normalized), so a disagreement with Cairn is Cairn's.
#[test]
fn pubsub_script_is_deterministic_on_redis() {
    let Some(one) = ScratchRedis::start("pub/sub script against Redis") else {
        return;
    };
    let Some(two) = ScratchRedis::start("pub/sub script against Redis") else {
        return;
    };
    script_agrees(&one.addr, &two.addr);
}

/// A few of the script's frames, exactly as Redis 7.0 writes them, so that the expectations
/// are visible here and not only in a transcript.
fn known_frames(addr: &str) {
    for resp3 in [false, true] {
        let mut sub = Raw::connect(addr);
        let mut publisher = Raw::connect(addr);
        if resp3 {
            sub.call(&[b"HELLO", b"3"]);
        }
        let (agg, null): (&[u8], &[u8]) = if resp3 { (b">", b"_") } else { (b"*", b"$-1") };
        let with = |rest: &str| [agg, rest.as_bytes()].concat();
        assert_eq!(
            sub.call(&[b"UNSUBSCRIBE"]),
            [
                with("3\r\n$11\r\nunsubscribe\r\n"),
                null.to_vec(),
                b"\r\n:0\r\n".to_vec()
            ]
            .concat()
        );
        sub.send(&[b"SUBSCRIBE", b"a", b"b"]);
        assert_eq!(
            sub.frame().unwrap(),
            with("3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n")
        );
        assert_eq!(
            sub.frame().unwrap(),
            with("3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n")
        );
        assert_eq!(
            sub.call(&[b"PSUBSCRIBE", b"a*"]),
            with("3\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:3\r\n")
        );
        assert_eq!(publisher.call(&[b"PUBLISH", b"a", b"hi"]), b":2\r\n");
        assert_eq!(
            sub.frame().unwrap(),
            with("3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n")
        );
        assert_eq!(
            sub.frame().unwrap(),
            with("4\r\n$8\r\npmessage\r\n$2\r\na*\r\n$1\r\na\r\n$2\r\nhi\r\n")
        );
        if resp3 {
            assert_eq!(sub.call(&[b"GET", b"k"]), b"_\r\n");
            assert_eq!(sub.call(&[b"PING"]), b"+PONG\r\n");
        } else {
            assert_eq!(
                sub.call(&[b"GET", b"k"]),
                b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / \
                  QUIT / RESET are allowed in this context\r\n"
            );
            assert_eq!(sub.call(&[b"PING"]), b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
            assert_eq!(
                sub.call(&[b"PING", b"x"]),
                b"*2\r\n$4\r\npong\r\n$1\r\nx\r\n"
            );
        }
        assert_eq!(sub.call(&[b"RESET"]), b"+RESET\r\n");
        assert_eq!(publisher.call(&[b"PUBLISH", b"a", b"hi"]), b":0\r\n");
    }
}

#[test]
fn known_frames_cairn() {
    let server = TestServer::start(&[]);
    known_frames(&server.addr.to_string());
}

#[test]
fn known_frames_redis() {
    if let Some(redis) = ScratchRedis::start("pub/sub frames against Redis") {
        known_frames(&redis.addr);
    }
}

// ---------------------------------------------------------------------------------------
// 2. The redis crate's sync PubSub
// ---------------------------------------------------------------------------------------

/// Waits until the PUBSUB query `query` (NUMSUB of one channel, or NUMPAT) counts `want`:
/// the crate sends UNSUBSCRIBE (and a dropped `PubSub`'s) without waiting for its
/// confirmation, so a PUBLISH right after it may still reach the subscriber.
fn until(con: &mut redis::Connection, query: &[&[u8]], want: i64) {
    let start = Instant::now();
    loop {
        let reply: redis::Value = redis::cmd(std::str::from_utf8(query[0]).unwrap())
            .arg(&query[1..])
            .query(con)
            .expect("PUBSUB");
        let count = match reply {
            redis::Value::Int(n) => n,
            redis::Value::Array(items) => match items.get(1) {
                Some(redis::Value::Int(n)) => *n,
                _ => 0,
            },
            _ => panic!("unexpected PUBSUB reply {reply:?}"),
        };
        if count == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{query:?} stayed at {count}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn redis_crate(addr: &str, resp3: bool) {
    let url = if resp3 {
        format!("redis://{addr}/?protocol=resp3")
    } else {
        format!("redis://{addr}/")
    };
    let client = redis::Client::open(url).expect("client");
    let mut publisher = client.get_connection().expect("connect");
    let mut subscriber = client.get_connection().expect("connect");
    let publish = |con: &mut redis::Connection, channel: &[u8], payload: &[u8]| -> i64 {
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query(con)
            .expect("PUBLISH")
    };

    let mut pubsub = subscriber.as_pubsub();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    pubsub.subscribe("ch").expect("SUBSCRIBE");
    pubsub.subscribe(&["ch2", "both.1"]).expect("SUBSCRIBE");
    pubsub.psubscribe("p*").expect("PSUBSCRIBE");
    pubsub.psubscribe("both.*").expect("PSUBSCRIBE");

    assert_eq!(publish(&mut publisher, b"ch", b"hello"), 1);
    let msg = pubsub.get_message().expect("a message");
    assert_eq!(msg.get_channel_name(), "ch");
    assert_eq!(msg.get_payload::<String>().unwrap(), "hello");
    assert!(!msg.from_pattern());

    assert_eq!(publish(&mut publisher, b"pa", b"x"), 1);
    let msg = pubsub.get_message().expect("a pattern message");
    assert!(msg.from_pattern());
    assert_eq!(msg.get_pattern::<String>().unwrap(), "p*");
    assert_eq!(msg.get_channel_name(), "pa");
    assert_eq!(msg.get_payload_bytes(), b"x");

    // A channel and a pattern both match: two deliveries, the channel's first.
    assert_eq!(publish(&mut publisher, b"both.1", b"y"), 2);
    let first = pubsub.get_message().expect("message");
    let second = pubsub.get_message().expect("pmessage");
    assert!(!first.from_pattern());
    assert_eq!(first.get_channel_name(), "both.1");
    assert!(second.from_pattern());
    assert_eq!(second.get_pattern::<String>().unwrap(), "both.*");
    assert_eq!(second.get_channel_name(), "both.1");

    // Binary payloads and channel names.
    let payload: &[u8] = b"\x00\xff\r\n*1\r\n";
    assert_eq!(publish(&mut publisher, b"ch2", payload), 1);
    let msg = pubsub.get_message().expect("binary message");
    assert_eq!(msg.get_payload_bytes(), payload);
    assert_eq!(msg.get_channel::<Vec<u8>>().unwrap(), b"ch2");
    assert_eq!(publish(&mut publisher, b"p\x00\xfe", b"z"), 1);
    let msg = pubsub.get_message().expect("binary channel");
    assert_eq!(msg.get_channel::<Vec<u8>>().unwrap(), b"p\x00\xfe");

    // PUBLISH counts receivers: a second subscriber on ch.
    let mut other = client.get_connection().expect("connect");
    let mut other_pubsub = other.as_pubsub();
    other_pubsub
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    other_pubsub.subscribe("ch").expect("SUBSCRIBE");
    assert_eq!(publish(&mut publisher, b"ch", b"two"), 2);
    assert_eq!(pubsub.get_message().unwrap().get_payload_bytes(), b"two");
    assert_eq!(
        other_pubsub.get_message().unwrap().get_payload_bytes(),
        b"two"
    );
    drop(other_pubsub); // unsubscribes from everything
    until(&mut publisher, &[b"PUBSUB", b"NUMSUB", b"ch"], 1);
    assert_eq!(publish(&mut publisher, b"ch", b"one"), 1);
    assert_eq!(pubsub.get_message().unwrap().get_payload_bytes(), b"one");

    // Nothing more is pending: get_message times out.
    pubsub
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let err = pubsub.get_message().expect_err("no message is pending");
    assert!(err.is_timeout(), "{err:?}");
    pubsub
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");

    // Unsubscribing.
    pubsub.unsubscribe("ch").expect("UNSUBSCRIBE");
    until(&mut publisher, &[b"PUBSUB", b"NUMSUB", b"ch"], 0);
    assert_eq!(publish(&mut publisher, b"ch", b"gone"), 0);
    pubsub.punsubscribe("p*").expect("PUNSUBSCRIBE");
    until(&mut publisher, &[b"PUBSUB", b"NUMPAT"], 1);
    assert_eq!(publish(&mut publisher, b"pa", b"gone"), 0);
    assert_eq!(publish(&mut publisher, b"ch2", b"still"), 1);
    assert_eq!(pubsub.get_message().unwrap().get_payload_bytes(), b"still");
    drop(pubsub);
    until(&mut publisher, &[b"PUBSUB", b"NUMSUB", b"ch2"], 0);
    // After the PubSub is dropped the connection is an ordinary one again.
    assert_eq!(publish(&mut publisher, b"ch2", b"gone"), 0);
    let pong: String = redis::cmd("PING").query(&mut subscriber).expect("PING");
    assert_eq!(pong, "PONG");
    let numpat: i64 = redis::cmd("PUBSUB")
        .arg("NUMPAT")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(numpat, 0);
}

#[test]
fn redis_crate_pubsub_cairn() {
    let server = TestServer::start(&[]);
    redis_crate(&server.addr.to_string(), false);
    redis_crate(&server.addr.to_string(), true);
}

#[test]
fn redis_crate_pubsub_redis() {
    if let Some(redis) = ScratchRedis::start("redis crate pub/sub against Redis") {
        redis_crate(&redis.addr, false);
        redis_crate(&redis.addr, true);
    }
}

// ---------------------------------------------------------------------------------------
// 3. redis-cli subscribe
// ---------------------------------------------------------------------------------------

/// A child process killed (and reaped) when dropped, a failed assertion included.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_cli_subscribe(addr: &str) {
    if !tool_available("redis-cli", "the redis-cli subscribe test") {
        return;
    }
    let (host, port) = addr.rsplit_once(':').unwrap();
    let child = Command::new("redis-cli")
        .args(["-h", host, "-p", port, "subscribe", "ch", "other"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn redis-cli");
    let mut child = Child(child);
    // Its stdout is not a tty, so it prints each element of each frame on a line of its own.
    let stdout = child.0.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.expect("a line")).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let wait_for = |want: &[&str], seen: &mut Vec<String>| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !seen.windows(want.len()).any(|w| w == want) {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(e) => panic!("redis-cli did not print {want:?} ({e}); it printed {seen:?}"),
            }
        }
    };
    wait_for(
        &["subscribe", "ch", "1", "subscribe", "other", "2"],
        &mut seen,
    );

    let mut publisher = Raw::connect(addr);
    assert_eq!(
        publisher.call(&[b"PUBLISH", b"ch", b"hello world"]),
        b":1\r\n"
    );
    wait_for(&["message", "ch", "hello world"], &mut seen);
    assert_eq!(publisher.call(&[b"PUBLISH", b"other", b"2nd"]), b":1\r\n");
    wait_for(&["message", "other", "2nd"], &mut seen);
    let numsub = publisher.call(&[b"PUBSUB", b"NUMSUB", b"ch"]);
    assert_eq!(numsub, b"*2\r\n$2\r\nch\r\n:1\r\n");

    drop(child); // killed and reaped
                 // Its connection closes with it; the server notices soon.
    let deadline = Instant::now() + Duration::from_secs(5);
    while publisher.call(&[b"PUBLISH", b"ch", b"x"]) != b":0\r\n" {
        assert!(
            Instant::now() < deadline,
            "redis-cli's subscription outlived it"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn redis_cli_subscribe_cairn() {
    let server = TestServer::start(&[]);
    redis_cli_subscribe(&server.addr.to_string());
}

#[test]
fn redis_cli_subscribe_redis() {
    if let Some(redis) = ScratchRedis::start("redis-cli subscribe against Redis") {
        redis_cli_subscribe(&redis.addr);
    }
}

// ---------------------------------------------------------------------------------------
// 4. CLIENT LIST and CLIENT KILL TYPE pubsub
// ---------------------------------------------------------------------------------------

/// The text of a bulk string reply.
fn bulk_text(frame: &[u8]) -> String {
    assert!(
        frame.starts_with(b"$"),
        "not a bulk string: {}",
        show(frame)
    );
    let (_, body) = frame.split_at(frame.windows(2).position(|w| w == b"\r\n").unwrap() + 2);
    String::from_utf8(body[..body.len() - 2].to_vec()).unwrap()
}

/// The integer of an integer reply.
fn integer(frame: &[u8]) -> i64 {
    assert!(frame.starts_with(b":"), "not an integer: {}", show(frame));
    std::str::from_utf8(&frame[1..frame.len() - 2])
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits (at most 5 s) for the server to close `conn`: EOF or a reset, after whatever was
/// still buffered. Returns the bytes drained.
fn wait_closed(conn: &mut Raw, what: &str) -> usize {
    conn.stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut drained = 0;
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        match conn.stream.read(&mut chunk) {
            Ok(0) => return drained,
            Ok(n) => drained += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return drained,
            Err(e) => panic!("{what}: read error {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "{what} was not closed within 5 s"
        );
    }
}

fn client_list_and_kill(addr: &str) {
    let mut normal = Raw::connect(addr);
    let mut sub = Raw::connect(addr);
    let mut psub = Raw::connect(addr);
    let id = integer(&sub.call(&[b"CLIENT", b"ID"]));
    let pid = integer(&psub.call(&[b"CLIENT", b"ID"]));
    let normal_id = integer(&normal.call(&[b"CLIENT", b"ID"]));
    sub.send(&[b"SUBSCRIBE", b"a", b"b"]);
    sub.frame().unwrap();
    sub.frame().unwrap();
    sub.call(&[b"PSUBSCRIBE", b"p*"]);
    // A RESP3 pattern subscriber, which may still run other commands.
    psub.call(&[b"HELLO", b"3"]);
    psub.call(&[b"PSUBSCRIBE", b"q*"]);

    let list = bulk_text(&normal.call(&[b"CLIENT", b"LIST"]));
    let line = |id: i64| -> String {
        list.lines()
            .find(|l| l.starts_with(&format!("id={id} ")))
            .unwrap_or_else(|| panic!("no line for client {id} in {list:?}"))
            .to_string()
    };
    let fields = |line: &str| -> Vec<String> { line.split(' ').map(str::to_string).collect() };
    let sub_line = fields(&line(id));
    for want in ["flags=P", "sub=2", "psub=1"] {
        assert!(
            sub_line.iter().any(|f| f == want),
            "{want} not in {sub_line:?}"
        );
    }
    let psub_line = fields(&line(pid));
    for want in ["flags=P", "sub=0", "psub=1", "resp=3"] {
        assert!(
            psub_line.iter().any(|f| f == want),
            "{want} not in {psub_line:?}"
        );
    }
    let normal_line = fields(&line(normal_id));
    for want in ["flags=N", "sub=0", "psub=0"] {
        assert!(
            normal_line.iter().any(|f| f == want),
            "{want} not in {normal_line:?}"
        );
    }
    // CLIENT LIST TYPE pubsub lists the subscribers only.
    let pubsub_list = bulk_text(&normal.call(&[b"CLIENT", b"LIST", b"TYPE", b"pubsub"]));
    let mut ids: Vec<&str> = pubsub_list
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    ids.sort_unstable();
    let mut want = vec![format!("id={id}"), format!("id={pid}")];
    want.sort();
    assert_eq!(ids, want, "{pubsub_list:?}");
    // A subscriber's CLIENT INFO in RESP3 says the same about itself.
    let info = psub.call(&[b"CLIENT", b"INFO"]);
    let info = String::from_utf8_lossy(&info);
    assert!(
        info.contains(" flags=P ") && info.contains(" psub=1 "),
        "{info}"
    );

    // CLIENT KILL TYPE pubsub: the count of subscribers killed, and they are closed.
    assert_eq!(
        normal.call(&[b"CLIENT", b"KILL", b"TYPE", b"pubsub"]),
        b":2\r\n"
    );
    wait_closed(&mut sub, "the channel subscriber");
    wait_closed(&mut psub, "the pattern subscriber");
    // Normal clients are untouched; the subscriptions are gone.
    assert_eq!(normal.call(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(normal.call(&[b"PUBLISH", b"a", b"x"]), b":0\r\n");
    assert_eq!(normal.call(&[b"PUBLISH", b"qq", b"x"]), b":0\r\n");
    assert_eq!(normal.call(&[b"PUBSUB", b"NUMPAT"]), b":0\r\n");
    assert_eq!(
        normal.call(&[b"CLIENT", b"LIST", b"TYPE", b"pubsub"]),
        b"$0\r\n\r\n"
    );
    assert_eq!(
        normal.call(&[b"CLIENT", b"KILL", b"TYPE", b"pubsub"]),
        b":0\r\n"
    );
    // A client that unsubscribed from everything is no longer of type pubsub.
    let mut was = Raw::connect(addr);
    was.call(&[b"SUBSCRIBE", b"a"]);
    was.call(&[b"UNSUBSCRIBE"]);
    assert_eq!(
        normal.call(&[b"CLIENT", b"KILL", b"TYPE", b"pubsub"]),
        b":0\r\n"
    );
    assert_eq!(was.call(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn client_list_and_kill_cairn() {
    let server = TestServer::start(&[]);
    client_list_and_kill(&server.addr.to_string());
}

#[test]
fn client_list_and_kill_redis() {
    if let Some(redis) = ScratchRedis::start("CLIENT LIST/KILL of subscribers against Redis") {
        client_list_and_kill(&redis.addr);
    }
}

// ---------------------------------------------------------------------------------------
// 5. A subscriber that does not read
// ---------------------------------------------------------------------------------------

/// `client_output_buffer_limit_disconnections` from INFO stats; `None` where the server
/// has no such field (Redis 7.0 has none: later Redis versions added it; Cairn has it).
fn obl_disconnections(conn: &mut Raw) -> Option<i64> {
    let info = bulk_text(&conn.call(&[b"INFO", b"stats"]));
    info.lines()
        .find_map(|l| l.strip_prefix("client_output_buffer_limit_disconnections:"))
        .map(|n| n.trim().parse().unwrap())
}

/// The counter before a flood: required of Cairn (`stat_required`), optional for Redis 7.0.
fn disconnections_before(conn: &mut Raw, stat_required: bool) -> Option<i64> {
    let before = obl_disconnections(conn);
    assert!(
        before.is_some() || !stat_required,
        "INFO stats has no client_output_buffer_limit_disconnections"
    );
    before
}

/// Publishes `message`s to `flood` until the non-reading subscriber is dropped (PUBLISH
/// answers 0 and INFO counts a disconnection), at most `max` times, within 20 s. Returns
/// the messages published while it was still subscribed.
fn flood(publisher: &mut Raw, message: &[u8], max: usize, before: Option<i64>) -> usize {
    let started = Instant::now();
    let mut delivered = 0;
    let mut slowest = Duration::ZERO;
    let mut dropped = false;
    for _ in 0..max {
        let t = Instant::now();
        let reply = publisher.call(&[b"PUBLISH", b"flood", message]);
        slowest = slowest.max(t.elapsed());
        match integer(&reply) {
            1 => delivered += 1,
            0 => {
                dropped = true;
                break;
            }
            n => panic!("PUBLISH answered {n}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the subscriber was not dropped after {delivered} messages in 20 s"
        );
    }
    let elapsed = started.elapsed();
    let bytes = delivered * message.len();
    println!(
        "published {delivered} messages of {} KiB ({:.1} MiB) in {elapsed:?}: {:.0} MiB/s; \
         slowest PUBLISH {slowest:?}",
        message.len() / 1024,
        bytes as f64 / 1_048_576.0,
        bytes as f64 / 1_048_576.0 / elapsed.as_secs_f64()
    );
    assert!(
        dropped,
        "{delivered} messages ({bytes} bytes) reached the subscriber: it was never dropped"
    );
    // The disconnection is counted (a server may close the client just after PUBLISH
    // answers, so give the counter a moment).
    if let Some(before) = before {
        let deadline = Instant::now() + Duration::from_secs(5);
        while obl_disconnections(publisher) == Some(before) {
            assert!(
                Instant::now() < deadline,
                "INFO stats did not count the disconnection"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(obl_disconnections(publisher), Some(before + 1));
    }
    // The publisher was never made to wait for the subscriber.
    assert!(
        slowest < Duration::from_secs(1),
        "a PUBLISH took {slowest:?}: the publisher was slowed by the subscriber"
    );
    delivered
}

/// A subscriber to `flood` that will not read again.
fn silent_subscriber(addr: &str) -> Raw {
    let mut sub = Raw::connect(addr);
    assert_eq!(
        sub.call(&[b"SUBSCRIBE", b"flood"]),
        b"*3\r\n$9\r\nsubscribe\r\n$5\r\nflood\r\n:1\r\n"
    );
    sub
}

fn slow_subscriber_configured_limit(addr: &str, stat_required: bool) {
    let mut publisher = Raw::connect(addr);
    assert_eq!(
        publisher.call(&[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            b"pubsub 1mb 256kb 1"
        ]),
        b"+OK\r\n"
    );
    let before = disconnections_before(&mut publisher, stat_required);
    let mut sub = silent_subscriber(addr);
    // 400 x 64 KiB = 25 MiB, far more than the 1 MiB limit and the sockets' buffers.
    let message = vec![b'm'; 64 * 1024];
    let started = Instant::now();
    let delivered = flood(&mut publisher, &message, 400, before);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the subscriber was dropped only after {:?}",
        started.elapsed()
    );
    let drained = wait_closed(&mut sub, "the slow subscriber");
    println!(
        "the subscriber was closed; {drained} bytes were still in the sockets ({} published)",
        delivered * message.len()
    );
    assert!(
        drained < delivered * (message.len() + 64),
        "more drained than published"
    );
    assert_eq!(publisher.call(&[b"PUBLISH", b"flood", b"x"]), b":0\r\n");
    assert_eq!(
        publisher.call(&[b"PUBSUB", b"NUMSUB", b"flood"]),
        b"*2\r\n$5\r\nflood\r\n:0\r\n"
    );
    // Other clients are untouched.
    assert_eq!(publisher.call(&[b"PING"]), b"+PONG\r\n");
    // The default again (for a server shared through CAIRN_REDIS_DIFF).
    assert_eq!(
        publisher.call(&[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            b"pubsub 32mb 8mb 60"
        ]),
        b"+OK\r\n"
    );
}

/// Under the defaults (`pubsub 32mb 8mb 60`) a subscriber is dropped once 32 MiB are
/// queued for it, not before: at least 32 MiB were published to it, fewer than 48 MiB.
fn slow_subscriber_default_limit(addr: &str, stat_required: bool) {
    let mut publisher = Raw::connect(addr);
    let config = publisher.call(&[b"CONFIG", b"GET", b"client-output-buffer-limit"]);
    assert!(
        String::from_utf8_lossy(&config).contains("pubsub 33554432 8388608 60"),
        "{}",
        show(&config)
    );
    let before = disconnections_before(&mut publisher, stat_required);
    let _sub = silent_subscriber(addr);
    let message = vec![b'd'; 64 * 1024];
    let delivered = flood(&mut publisher, &message, 48 * 16, before);
    let bytes = delivered * message.len();
    assert!(
        bytes >= 32 << 20,
        "dropped after {bytes} bytes, below the 32 MiB hard limit"
    );
    assert_eq!(publisher.call(&[b"PUBLISH", b"flood", b"x"]), b":0\r\n");
}

#[test]
fn slow_subscriber_is_disconnected_cairn() {
    let server = TestServer::start(&[]);
    slow_subscriber_configured_limit(&server.addr.to_string(), true);
}

#[test]
fn slow_subscriber_default_limit_cairn() {
    let server = TestServer::start(&[]);
    slow_subscriber_default_limit(&server.addr.to_string(), true);
}

#[test]
fn slow_subscriber_is_disconnected_redis() {
    if let Some(redis) = ScratchRedis::start("slow subscriber against Redis") {
        slow_subscriber_configured_limit(&redis.addr, false);
    }
}

#[test]
fn slow_subscriber_default_limit_redis() {
    if let Some(redis) = ScratchRedis::start("slow subscriber (defaults) against Redis") {
        slow_subscriber_default_limit(&redis.addr, false);
    }
}
