//! The network driver: one tokio task per connection, each keeping up to `--pipeline`
//! requests in flight over the native protocol or RESP.
//!
//! It speaks the wire formats through `cairn::protocol` (handshake, reply parsers, RESP
//! request encoder) and `wire` (native request frames written in place, small replies read
//! in place), and never uses the client library: a benchmark must not measure a client's
//! overheads. Per request it allocates nothing: keys are formatted into one reused
//! buffer, requests encoded into one write buffer, replies parsed in bulk from one read
//! buffer, and in-flight requests live in a fixed slot table.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Buf, BytesMut};
use cairn::client::TlsOptions;
use cairn::protocol::binary::{self, Credentials, Handshake, HandshakeReply};
use cairn::protocol::{resp, Limits, Reply};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::stats::RunStats;
use crate::wire::{encode_get, encode_range, encode_set, fast, Fast, Summary};
use crate::workload::{KeyChooser, KeyFormat, Mix, OpKind, ValuePool};

/// When a run ends.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After this many measured operations.
    Requests(u64),
    /// After this long measured (not counting warm-up).
    Duration(Duration),
}

/// `--tls`: the options, and the client configuration read from their files once.
#[derive(Clone)]
pub struct Tls {
    pub options: TlsOptions,
    pub config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.options.fmt(f)
    }
}

/// What a connection reads and writes: a TCP stream, or TLS over one.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}

/// Everything a network run needs; shared by its connections.
#[derive(Debug, Clone)]
pub struct Plan {
    pub addr: String,
    pub resp: bool,
    pub tls: Option<Tls>,
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

/// Connects, sets `TCP_NODELAY`, runs the TLS handshake with `--tls`, and completes the
/// protocol's opening (native handshake or RESP `AUTH`).
async fn connect(plan: &Plan) -> Result<Box<dyn Stream>> {
    let tcp = TcpStream::connect(&plan.addr)
        .await
        .with_context(|| format!("connect to {}", plan.addr))?;
    tcp.set_nodelay(true)?;
    let mut stream: Box<dyn Stream> = match &plan.tls {
        None => Box::new(tcp),
        Some(tls) => {
            let name = cairn::tls::server_name(&tls.options, &plan.addr)?;
            let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
            let stream = connector
                .connect(name, tcp)
                .await
                .with_context(|| format!("TLS handshake with {}", plan.addr))?;
            Box::new(stream)
        }
    };
    let limits = Limits::default();
    let mut out = BytesMut::new();
    let mut input = BytesMut::with_capacity(4096);
    if plan.resp {
        let Some(pass) = &plan.auth else {
            return Ok(stream);
        };
        resp::encode_request(&[b"AUTH".as_slice(), pass.as_bytes()], &mut out);
        stream.write_all(&out).await?;
        stream.flush().await?;
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
    stream.flush().await?;
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
    stream: Box<dyn Stream>,
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
    fn new(plan: &'a Plan, shared: &'a Shared, stream: Box<dyn Stream>, seed: u64) -> Conn<'a> {
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
                // A TLS stream encrypts into a buffer of its own: flush sends it.
                self.stream.flush().await?;
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
