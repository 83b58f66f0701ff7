//! The network driver: one tokio task per connection, each keeping up to `--pipeline`
//! requests in flight over the native protocol or RESP.
//!
//! It speaks the wire formats through `cairn::protocol` (handshake, reply parsers, RESP
//! request encoder) and never uses the client library: a benchmark must not measure a
//! client's overheads. Per request it allocates nothing: keys are formatted into one reused
//! buffer, requests encoded into one write buffer, replies parsed in bulk from one read
//! buffer, and in-flight requests live in a fixed slot table.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Buf, BufMut, BytesMut};
use cairn::protocol::binary::{self, opcode, Credentials, Handshake, HandshakeReply};
use cairn::protocol::{resp, Limits, Reply};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::stats::RunStats;
use crate::workload::{KeyChooser, KeyFormat, Mix, OpKind, ValuePool};

/// When a run ends.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After this many measured operations.
    Requests(u64),
    /// After this long measured (not counting warm-up).
    Duration(Duration),
}

/// Everything a network run needs; shared by its connections.
#[derive(Debug, Clone)]
pub struct Plan {
    pub addr: String,
    pub resp: bool,
    pub auth: Option<String>,
    pub clients: usize,
    pub pipeline: usize,
    pub stop: Stop,
    pub warmup: Duration,
    pub mix: Mix,
    pub keys: KeyChooser,
    pub format: KeyFormat,
    pub values: ValuePool,
    pub scan_length: u64,
    pub seed: u64,
}

/// State shared by the connections of one run, and read by the progress display.
#[derive(Debug)]
pub struct Shared {
    pub measure_start: Instant,
    deadline: Option<Instant>,
    budget: Option<u64>,
    issued: AtomicU64,
    /// Measured operations completed so far (for the progress display).
    pub done: AtomicU64,
    /// Set when every connection has finished.
    pub finished: AtomicBool,
}

impl Shared {
    pub fn new(plan: &Plan) -> Shared {
        let measure_start = Instant::now() + plan.warmup;
        let (deadline, budget) = match plan.stop {
            Stop::Requests(n) => (None, Some(n)),
            Stop::Duration(d) => (Some(measure_start + d), None),
        };
        Shared {
            measure_start,
            deadline,
            budget,
            issued: AtomicU64::new(0),
            done: AtomicU64::new(0),
            finished: AtomicBool::new(false),
        }
    }

    /// May a connection issue one more operation at `now`?
    fn may_issue(&self, now: Instant) -> bool {
        if let Some(d) = self.deadline {
            return now < d;
        }
        match self.budget {
            Some(n) if now >= self.measure_start => self.issued.fetch_add(1, Ordering::Relaxed) < n,
            _ => true,
        }
    }
}

/// Runs the plan's connections to the end and merges their measurements.
pub async fn run(plan: Arc<Plan>, shared: Arc<Shared>) -> RunStats {
    let mut tasks = Vec::with_capacity(plan.clients);
    for i in 0..plan.clients {
        let (plan, shared) = (plan.clone(), shared.clone());
        tasks.push(tokio::spawn(connection(plan, shared, i)));
    }
    let mut total = RunStats::default();
    for t in tasks {
        match t.await {
            Ok(s) => total.merge(&s),
            Err(e) => {
                total.conn_errors += 1;
                total.note_error(format!("connection task failed: {e}"));
            }
        }
    }
    total.elapsed = Instant::now().saturating_duration_since(shared.measure_start);
    shared.finished.store(true, Ordering::Relaxed);
    total
}

async fn connection(plan: Arc<Plan>, shared: Arc<Shared>, index: usize) -> RunStats {
    let mut stats = RunStats::default();
    let stream = match connect(&plan).await {
        Ok(s) => s,
        Err(e) => {
            stats.conn_errors += 1;
            stats.note_error(format!("{e:#}"));
            return stats;
        }
    };
    let seed = plan.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut conn = Conn::new(&plan, &shared, stream, seed);
    if let Err(e) = conn.drive(&mut stats).await {
        stats.conn_errors += 1;
        stats.note_error(format!("{e:#}"));
        // Requests without a reply are failed requests, never silently dropped.
        for slot in conn.slots.iter().filter(|s| s.busy && s.measured) {
            stats.op(slot.kind).errors += 1;
        }
    }
    stats
}

/// Connects, sets TCP_NODELAY, and completes the protocol's opening (native handshake or
/// RESP `AUTH`).
async fn connect(plan: &Plan) -> Result<TcpStream> {
    let mut stream = TcpStream::connect(&plan.addr)
        .await
        .with_context(|| format!("connect to {}", plan.addr))?;
    stream.set_nodelay(true)?;
    let limits = Limits::default();
    let mut out = BytesMut::new();
    let mut input = BytesMut::with_capacity(4096);
    if plan.resp {
        let Some(pass) = &plan.auth else {
            return Ok(stream);
        };
        resp::encode_request(&[b"AUTH".as_slice(), pass.as_bytes()], &mut out);
        stream.write_all(&out).await?;
        loop {
            if let Some(reply) = resp::parse_reply(&mut input, &limits)? {
                if let Reply::Error(e) = reply {
                    bail!("AUTH: {}", String::from_utf8_lossy(&e));
                }
                return Ok(stream);
            }
            if stream.read_buf(&mut input).await? == 0 {
                bail!("{}: connection closed during AUTH", plan.addr);
            }
        }
    }
    let hs = Handshake {
        version: binary::VERSION,
        credentials: plan.auth.as_ref().map(|p| Credentials {
            username: None,
            password: p.clone().into_bytes().into(),
        }),
    };
    binary::encode_handshake(&hs, &mut out);
    stream.write_all(&out).await?;
    loop {
        match binary::parse_handshake_reply(&mut input, &limits)? {
            Some(HandshakeReply::Accepted { .. }) if input.is_empty() => return Ok(stream),
            Some(HandshakeReply::Accepted { .. }) => {
                bail!("{}: data after the handshake", plan.addr)
            }
            Some(HandshakeReply::Rejected { message }) => {
                bail!("handshake rejected: {}", String::from_utf8_lossy(&message))
            }
            None => {}
        }
        if stream.read_buf(&mut input).await? == 0 {
            bail!(
                "{}: connection closed during the native handshake (not a Cairn server? try --resp)",
                plan.addr
            );
        }
    }
}

/// One request in flight.
#[derive(Debug, Clone, Copy)]
struct Slot {
    busy: bool,
    kind: OpKind,
    /// RMW: 0 while the read is out, 1 while the write is.
    stage: u8,
    key: u64,
    start: Instant,
    measured: bool,
    bytes: u64,
}

struct Conn<'a> {
    plan: &'a Plan,
    shared: &'a Shared,
    stream: TcpStream,
    rng: SmallRng,
    limits: Limits,
    out: BytesMut,
    input: BytesMut,
    key: Vec<u8>,
    num: itoa::Buffer,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// RESP answers in order: the slots in the order their requests were sent.
    order: VecDeque<u32>,
    in_flight: usize,
}

impl<'a> Conn<'a> {
    fn new(plan: &'a Plan, shared: &'a Shared, stream: TcpStream, seed: u64) -> Conn<'a> {
        let depth = plan.pipeline.max(1);
        let idle = Slot {
            busy: false,
            kind: OpKind::Get,
            stage: 0,
            key: 0,
            start: shared.measure_start,
            measured: false,
            bytes: 0,
        };
        Conn {
            plan,
            shared,
            stream,
            rng: SmallRng::seed_from_u64(seed),
            limits: Limits::default(),
            out: BytesMut::with_capacity(64 * 1024),
            input: BytesMut::with_capacity(64 * 1024),
            key: Vec::with_capacity(plan.format.len()),
            num: itoa::Buffer::new(),
            slots: vec![idle; depth],
            free: (0..depth as u32).rev().collect(),
            order: VecDeque::with_capacity(depth),
            in_flight: 0,
        }
    }

    async fn drive(&mut self, stats: &mut RunStats) -> Result<()> {
        let mut issuing = true;
        loop {
            let now = Instant::now();
            while issuing && self.in_flight < self.plan.pipeline {
                if !self.shared.may_issue(now) {
                    issuing = false;
                    break;
                }
                self.issue(now, stats);
            }
            if self.in_flight == 0 {
                return Ok(());
            }
            if !self.out.is_empty() {
                self.stream.write_all(&self.out).await?;
                self.out.clear();
            }
            loop {
                if self.input.capacity() - self.input.len() < 16 * 1024 {
                    self.input.reserve(64 * 1024);
                }
                if self.stream.read_buf(&mut self.input).await? == 0 {
                    bail!("{}: connection closed by the server", self.plan.addr);
                }
                if self.parse_all(Instant::now(), stats)? {
                    break;
                }
            }
        }
    }

    /// Starts one new operation.
    fn issue(&mut self, now: Instant, stats: &mut RunStats) {
        let kind = self.plan.mix.pick(&mut self.rng);
        let key = self.plan.keys.next(&mut self.rng);
        let Some(slot) = self.free.pop() else {
            return;
        };
        let measured = now >= self.shared.measure_start;
        if measured {
            stats.op(kind).sent += 1;
        }
        self.slots[slot as usize] = Slot {
            busy: true,
            kind,
            stage: 0,
            key,
            start: now,
            measured,
            bytes: 0,
        };
        self.in_flight += 1;
        self.send(slot);
    }

    /// Encodes the request for a slot's current stage.
    fn send(&mut self, slot: u32) {
        let s = self.slots[slot as usize];
        self.plan.format.write(s.key, &mut self.key);
        let id = u64::from(slot);
        let write = matches!(s.kind, OpKind::Set) || (s.kind == OpKind::Rmw && s.stage == 1);
        if write {
            let value = self.plan.values.next(&mut self.rng);
            self.slots[slot as usize].bytes += (self.key.len() + value.len()) as u64;
            if self.plan.resp {
                resp::encode_request(&[b"SET".as_slice(), &self.key, value], &mut self.out);
            } else {
                encode_set(&mut self.out, id, &self.key, value);
            }
        } else if s.kind == OpKind::Scan {
            if self.plan.resp {
                let limit = self.num.format(self.plan.scan_length);
                resp::encode_request(
                    &[
                        b"RANGE".as_slice(),
                        &self.key,
                        b"+",
                        b"LIMIT",
                        limit.as_bytes(),
                    ],
                    &mut self.out,
                );
            } else {
                encode_range(&mut self.out, id, &self.key, self.plan.scan_length);
            }
        } else if self.plan.resp {
            resp::encode_request(&[b"GET".as_slice(), &self.key], &mut self.out);
        } else {
            encode_get(&mut self.out, id, &self.key);
        }
        if self.plan.resp {
            self.order.push_back(slot);
        }
    }

    /// Handles every complete reply in the read buffer; `true` if there was at least one.
    ///
    /// The common small replies (status, integer, bulk, null, error) are read in place by
    /// [`fast`], without building a `Reply`; anything else (scan chunks, aggregates, and
    /// anything the fast reader does not vouch for) goes through `cairn::protocol`'s parsers,
    /// which also produce the errors for malformed input.
    fn parse_all(&mut self, now: Instant, stats: &mut RunStats) -> Result<bool> {
        let mut any = false;
        let mut done = 0;
        let mut pos = 0;
        loop {
            let (slot, more, summary) = match fast(&self.input[pos..], self.plan.resp) {
                Fast::Incomplete => break,
                Fast::Done { len, id, summary } => {
                    pos += len;
                    (self.slot_for(id)?, false, summary)
                }
                Fast::Slow => {
                    self.input.advance(pos);
                    pos = 0;
                    let (id, more, reply) = if self.plan.resp {
                        match resp::parse_reply(&mut self.input, &self.limits)? {
                            Some(reply) => (0, false, reply),
                            None => break,
                        }
                    } else {
                        match binary::parse_response(&mut self.input, &self.limits)? {
                            Some(r) => (r.id, r.more, r.body),
                            None => break,
                        }
                    };
                    (self.slot_for(id)?, more, Summary::of(&reply))
                }
            };
            any = true;
            if self.complete(slot, more, summary, now, stats) {
                done += 1;
            }
        }
        self.input.advance(pos);
        if done > 0 {
            self.shared.done.fetch_add(done, Ordering::Relaxed);
        }
        Ok(any)
    }

    /// The slot a reply belongs to: the oldest request for RESP (answers come in order),
    /// the request id for the native protocol.
    fn slot_for(&mut self, id: u64) -> Result<u32> {
        if self.plan.resp {
            return self
                .order
                .pop_front()
                .ok_or_else(|| anyhow!("{}: a reply nobody asked for", self.plan.addr));
        }
        u32::try_from(id)
            .ok()
            .filter(|&s| self.slots.get(s as usize).is_some_and(|s| s.busy))
            .ok_or_else(|| anyhow!("{}: a response for unknown request {id}", self.plan.addr))
    }

    /// Applies one reply (or one chunk of a streamed range) to its slot; `true` when it
    /// completed a measured operation.
    fn complete(
        &mut self,
        slot: u32,
        more: bool,
        summary: Summary,
        now: Instant,
        stats: &mut RunStats,
    ) -> bool {
        let s = &mut self.slots[slot as usize];
        let (bytes, null) = match summary {
            Summary::Error(msg) => {
                if s.measured {
                    stats.op(s.kind).errors += 1;
                    stats.note_error(format!("{} {}: {msg}", s.kind.name(), self.plan.addr));
                }
                // A failed chunk ends its stream (the server sends errors with MORE clear).
                self.release(slot);
                return false;
            }
            Summary::Ok { bytes, null } => (bytes, null),
        };
        s.bytes += bytes;
        if more {
            return false;
        }
        if s.kind == OpKind::Rmw && s.stage == 0 {
            s.stage = 1;
            self.send(slot);
            return false;
        }
        let s = *s;
        self.release(slot);
        if !s.measured {
            return false;
        }
        let op = stats.op(s.kind);
        if s.kind == OpKind::Get && null {
            op.misses += 1;
        }
        let latency = now.saturating_duration_since(s.start);
        let at = now.saturating_duration_since(self.shared.measure_start);
        op.record_ok(latency.as_nanos() as u64, s.bytes, at);
        true
    }

    fn release(&mut self, slot: u32) {
        self.slots[slot as usize].busy = false;
        self.free.push(slot);
        self.in_flight -= 1;
    }
}

/// What the driver keeps of a reply.
#[derive(Debug, Clone, PartialEq)]
enum Summary {
    /// Payload bytes (bulk strings), and whether it was a null ("no such key").
    Ok { bytes: u64, null: bool },
    /// An error reply's text.
    Error(String),
}

impl Summary {
    fn of(reply: &Reply) -> Summary {
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
enum Fast {
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
fn fast(buf: &[u8], resp: bool) -> Fast {
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
        Reply::Array(items) | Reply::Set(items) => items.iter().map(payload_bytes).sum(),
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

fn encode_get(out: &mut BytesMut, id: u64, key: &[u8]) {
    header(out, 4 + key.len(), opcode::GET, id);
    put_bytes(out, key);
}

fn encode_set(out: &mut BytesMut, id: u64, key: &[u8], value: &[u8]) {
    header(out, 4 + key.len() + 4 + value.len() + 2, opcode::SET, id);
    put_bytes(out, key);
    put_bytes(out, value);
    out.put_u8(0); // no condition
    out.put_u8(0); // no expiry
}

fn encode_range(out: &mut BytesMut, id: u64, start: &[u8], limit: u64) {
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
