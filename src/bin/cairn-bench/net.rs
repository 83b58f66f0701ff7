//! The network driver: one tokio task per connection, each keeping up to `--pipeline`
//! requests in flight over the native protocol or RESP.
//!
//! It speaks the wire formats through `cairn::protocol` (handshake, reply parsers, RESP
//! request encoder) and `wire` (native request frames written in place, small replies read
//! in place), and never uses the client library: a benchmark must not measure a client's
//! overheads. Per request it allocates nothing: keys are formatted into one reused
//! buffer, requests encoded into one write buffer, replies parsed in bulk from one read
//! buffer, and in-flight requests live in a fixed slot table.
//!
//! With `--cluster`, the seed's `CLUSTER SLOTS` is read once before the run (parsed by
//! `cairn::client::SlotMap`, the only piece of the client library used, and never per
//! request), and each benchmark connection is one link per primary: every request goes to
//! the link of its key's slot owner, and the `--pipeline` budget is shared by the links.
//! Redirects are not followed: a `MOVED` or `ASK` counts as an error, with a hint.

use std::collections::VecDeque;
use std::future::Future as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Buf, BytesMut};
use cairn::client::{SlotMap, TlsOptions};
use cairn::protocol::binary::{self, Credentials, Handshake, HandshakeReply, Op, Request};
use cairn::protocol::slot::key_slot;
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
    /// `--cluster`: the slot table read from `addr`; each connection then has a link to
    /// every node in it.
    pub cluster: Option<Arc<SlotMap>>,
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
    let addrs = match &plan.cluster {
        Some(map) => map.nodes().to_vec(),
        None => vec![plan.addr.clone()],
    };
    let mut links = Vec::with_capacity(addrs.len());
    for addr in addrs {
        match connect(&plan, &addr).await {
            Ok(stream) => links.push(Link::new(addr, stream)),
            Err(e) => {
                stats.conn_errors += 1;
                stats.note_error(format!("{e:#}"));
                return stats;
            }
        }
    }
    let seed = plan.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut conn = Conn::new(&plan, &shared, links, seed);
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

/// Reads the slot table from `plan.addr` (`CLUSTER SLOTS`, in the plan's protocol), for
/// `--cluster`.
pub async fn cluster_slots(plan: &Plan) -> Result<SlotMap> {
    let addr = &plan.addr;
    let mut stream = connect(plan, addr).await?;
    let limits = Limits::default();
    let mut out = BytesMut::new();
    let args = [b"CLUSTER".as_slice(), b"SLOTS"];
    if plan.resp {
        resp::encode_request(&args, &mut out);
    } else {
        let args = args.iter().map(|a| bytes::Bytes::from_static(a)).collect();
        binary::encode_request(
            &Request {
                id: 1,
                op: Op::Resp { args },
            },
            &mut out,
        );
    }
    stream.write_all(&out).await?;
    stream.flush().await?;
    let mut input = BytesMut::with_capacity(4096);
    let reply = loop {
        let parsed = if plan.resp {
            resp::parse_reply(&mut input, &limits)?
        } else {
            binary::parse_response(&mut input, &limits)?.map(|r| r.body)
        };
        if let Some(reply) = parsed {
            break reply;
        }
        if stream.read_buf(&mut input).await? == 0 {
            bail!("{addr}: connection closed before answering CLUSTER SLOTS");
        }
    };
    if let Reply::Error(e) = &reply {
        bail!(
            "{addr}: CLUSTER SLOTS: {} (--cluster needs a node in cluster mode)",
            String::from_utf8_lossy(e)
        );
    }
    let map = SlotMap::from_reply(&reply).with_context(|| format!("{addr}: CLUSTER SLOTS"))?;
    if map.nodes().is_empty() {
        bail!("{addr}: CLUSTER SLOTS lists no node (is a cluster map installed?)");
    }
    Ok(map)
}

/// Connects to `addr`, sets `TCP_NODELAY`, runs the TLS handshake with `--tls`, and
/// completes the protocol's opening (native handshake or RESP `AUTH`).
async fn connect(plan: &Plan, addr: &str) -> Result<Box<dyn Stream>> {
    let tcp = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect to {addr}"))?;
    tcp.set_nodelay(true)?;
    let mut stream: Box<dyn Stream> = match &plan.tls {
        None => Box::new(tcp),
        Some(tls) => {
            let name = cairn::tls::server_name(&tls.options, addr)?;
            let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
            let stream = connector
                .connect(name, tcp)
                .await
                .with_context(|| format!("TLS handshake with {addr}"))?;
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
                bail!("{addr}: connection closed during AUTH");
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
                bail!("{addr}: data after the handshake")
            }
            Some(HandshakeReply::Rejected { message }) => {
                bail!("handshake rejected: {}", String::from_utf8_lossy(&message))
            }
            None => {}
        }
        if stream.read_buf(&mut input).await? == 0 {
            bail!(
                "{addr}: connection closed during the native handshake (not a Cairn server? try --resp)"
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
    /// The link its request went on (its key's node).
    link: u16,
}

/// One connection of a benchmark connection: to its server, or with `--cluster` to one of
/// the nodes.
struct Link {
    addr: String,
    stream: Box<dyn Stream>,
    out: BytesMut,
    input: BytesMut,
    /// RESP answers in order: the slots in the order their requests were sent.
    order: VecDeque<u32>,
    /// Requests sent on it and not answered yet.
    in_flight: usize,
    /// The last read gave it bytes to parse.
    fresh: bool,
}

impl Link {
    fn new(addr: String, stream: Box<dyn Stream>) -> Link {
        Link {
            addr,
            stream,
            out: BytesMut::with_capacity(64 * 1024),
            input: BytesMut::with_capacity(64 * 1024),
            order: VecDeque::new(),
            in_flight: 0,
            fresh: false,
        }
    }
}

struct Conn<'a> {
    plan: &'a Plan,
    shared: &'a Shared,
    links: Vec<Link>,
    rng: SmallRng,
    limits: Limits,
    key: Vec<u8>,
    num: itoa::Buffer,
    slots: Vec<Slot>,
    free: Vec<u32>,
    in_flight: usize,
}

impl<'a> Conn<'a> {
    fn new(plan: &'a Plan, shared: &'a Shared, mut links: Vec<Link>, seed: u64) -> Conn<'a> {
        let depth = plan.pipeline.max(1);
        for link in &mut links {
            link.order.reserve(depth);
        }
        let idle = Slot {
            busy: false,
            kind: OpKind::Get,
            stage: 0,
            key: 0,
            start: shared.measure_start,
            measured: false,
            bytes: 0,
            link: 0,
        };
        Conn {
            plan,
            shared,
            links,
            rng: SmallRng::seed_from_u64(seed),
            limits: Limits::default(),
            key: Vec::with_capacity(plan.format.len()),
            num: itoa::Buffer::new(),
            slots: vec![idle; depth],
            free: (0..depth as u32).rev().collect(),
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
            for link in &mut self.links {
                if !link.out.is_empty() {
                    link.stream.write_all(&link.out).await?;
                    // A TLS stream encrypts into a buffer of its own: flush sends it.
                    link.stream.flush().await?;
                    link.out.clear();
                }
            }
            loop {
                self.read().await?;
                let now = Instant::now();
                let mut any = false;
                for link in 0..self.links.len() {
                    if self.links[link].fresh {
                        any |= self.parse_all(link, now, stats)?;
                    }
                }
                if any {
                    break;
                }
            }
        }
    }

    /// Reads more bytes on the links waiting for answers: the only one, or every one that
    /// has some (at least one), so the answers of all nodes are handled, and their requests
    /// refilled, in one turn. Marks them in `fresh`.
    async fn read(&mut self) -> Result<()> {
        for link in &mut self.links {
            link.fresh = false;
            if link.input.capacity() - link.input.len() < 16 * 1024 {
                link.input.reserve(64 * 1024);
            }
        }
        if let [link] = self.links.as_mut_slice() {
            if link.stream.read_buf(&mut link.input).await? == 0 {
                bail!("{}: connection closed by the server", link.addr);
            }
            link.fresh = true;
            return Ok(());
        }
        let links = &mut self.links;
        std::future::poll_fn(|cx| {
            let mut any = false;
            for link in links.iter_mut().filter(|l| l.in_flight > 0) {
                // `read_buf` is cancel safe: dropped while pending, it has read nothing,
                // and the stream keeps this task's waker.
                let read = std::pin::pin!(link.stream.read_buf(&mut link.input));
                match read.poll(cx) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(anyhow!(
                            "{}: connection closed by the server",
                            link.addr
                        )))
                    }
                    Poll::Ready(Ok(_)) => {
                        link.fresh = true;
                        any = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                    Poll::Pending => {}
                }
            }
            if any {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        })
        .await
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
            link: 0,
        };
        self.in_flight += 1;
        self.send(slot);
    }

    /// Encodes the request for a slot's current stage, on the link of its key's node.
    fn send(&mut self, slot: u32) {
        let s = self.slots[slot as usize];
        self.plan.format.write(s.key, &mut self.key);
        let id = u64::from(slot);
        let link = match &self.plan.cluster {
            // A slot no node serves goes to the first node, whose error is counted.
            Some(map) => map.owner(key_slot(&self.key)).unwrap_or(0),
            None => 0,
        };
        self.slots[slot as usize].link = link as u16;
        let link = &mut self.links[link];
        link.in_flight += 1;
        let out = &mut link.out;
        let write = matches!(s.kind, OpKind::Set) || (s.kind == OpKind::Rmw && s.stage == 1);
        if write {
            let value = self.plan.values.next(&mut self.rng);
            self.slots[slot as usize].bytes += (self.key.len() + value.len()) as u64;
            if self.plan.resp {
                resp::encode_request(&[b"SET".as_slice(), &self.key, value], out);
            } else {
                encode_set(out, id, &self.key, value);
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
                    out,
                );
            } else {
                encode_range(out, id, &self.key, self.plan.scan_length);
            }
        } else if self.plan.resp {
            resp::encode_request(&[b"GET".as_slice(), &self.key], out);
        } else {
            encode_get(out, id, &self.key);
        }
        if self.plan.resp {
            link.order.push_back(slot);
        }
    }

    /// Handles every complete reply in the read buffer; `true` if there was at least one.
    ///
    /// The common small replies (status, integer, bulk, null, error) are read in place by
    /// [`fast`], without building a `Reply`; anything else (scan chunks, aggregates, and
    /// anything the fast reader does not vouch for) goes through `cairn::protocol`'s parsers,
    /// which also produce the errors for malformed input.
    fn parse_all(&mut self, link: usize, now: Instant, stats: &mut RunStats) -> Result<bool> {
        let mut any = false;
        let mut done = 0;
        let mut pos = 0;
        loop {
            let input = &mut self.links[link].input;
            let (slot, more, summary) = match fast(&input[pos..], self.plan.resp) {
                Fast::Incomplete => break,
                Fast::Done { len, id, summary } => {
                    pos += len;
                    (self.slot_for(link, id)?, false, summary)
                }
                Fast::Slow => {
                    input.advance(pos);
                    pos = 0;
                    let (id, more, reply) = if self.plan.resp {
                        match resp::parse_reply(input, &self.limits)? {
                            Some(reply) => (0, false, reply),
                            None => break,
                        }
                    } else {
                        match binary::parse_response(input, &self.limits)? {
                            Some(r) => (r.id, r.more, r.body),
                            None => break,
                        }
                    };
                    (self.slot_for(link, id)?, more, Summary::of(&reply))
                }
            };
            any = true;
            if self.complete(slot, more, summary, now, stats) {
                done += 1;
            }
        }
        self.links[link].input.advance(pos);
        if done > 0 {
            self.shared.done.fetch_add(done, Ordering::Relaxed);
        }
        Ok(any)
    }

    /// The slot a reply on `link` belongs to: the link's oldest request for RESP (answers
    /// come in order), the request id for the native protocol.
    fn slot_for(&mut self, link: usize, id: u64) -> Result<u32> {
        if self.plan.resp {
            let link = &mut self.links[link];
            return link
                .order
                .pop_front()
                .ok_or_else(|| anyhow!("{}: a reply nobody asked for", link.addr));
        }
        let addr = &self.links[link].addr;
        u32::try_from(id)
            .ok()
            .filter(|&s| {
                self.slots
                    .get(s as usize)
                    .is_some_and(|s| s.busy && usize::from(s.link) == link)
            })
            .ok_or_else(|| anyhow!("{addr}: a response for unknown request {id}"))
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
        let link = &mut self.links[usize::from(s.link)];
        if !more {
            link.in_flight -= 1;
        }
        let (bytes, null) = match summary {
            Summary::Error(msg) => {
                if s.measured {
                    stats.op(s.kind).errors += 1;
                    let hint = redirect_hint(&msg, self.plan.cluster.is_some());
                    stats.note_error(format!("{} {}: {msg}{hint}", s.kind.name(), link.addr));
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

/// What to add to a redirect error: the bench does not follow redirects.
fn redirect_hint(message: &str, cluster: bool) -> &'static str {
    let code = message.split(' ').next().unwrap_or_default();
    match (code, cluster) {
        ("MOVED" | "ASK", true) => {
            " (the cluster's map changed since cairn-bench read CLUSTER SLOTS; redirects are not followed)"
        }
        ("MOVED" | "ASK" | "CLUSTERDOWN", false) => " (the server is in cluster mode: use --cluster)",
        _ => "",
    }
}
