//! One native-protocol connection: the handshake, then a writer task and a reader task.
//!
//! It owns request ids, the table of requests in flight and the two tasks that move frames.
//! Callers register a request (a oneshot for one answer, an mpsc for a streamed range) and
//! queue it (or two requests as one queue item, written back to back with nothing between
//! them: the cluster client's `ASKING` and the request it is for); the writer drains the
//! queue into one buffer per wake-up (many frames, one syscall); the reader parses
//! responses and routes each to its request by id, in whatever order they come. When either side fails, every request in flight gets
//! `Error::ConnectionLost` and the connection refuses new ones; reconnecting is the
//! client's business, never this module's.
//!
//! The tasks are generic over `AsyncRead`/`AsyncWrite` halves, so a TLS stream (the
//! client's [`Tls`] wraps the TCP stream in [`Connection::open`]) runs the same tasks.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use super::error::{Error, Result};
use crate::protocol::binary::{self, Credentials, Handshake, HandshakeReply, Op, Request};
use crate::protocol::{Limits, Reply};

/// Frames gathered into one write at most (bytes); more wait for the next write.
const WRITE_BATCH_BYTES: usize = 1 << 20;
/// Requests taken off the queue per wake-up of the writer.
const WRITE_BATCH_REQUESTS: usize = 512;
/// A write buffer grown past this by a large value is given back after the write.
const KEEP_BUFFER_BYTES: usize = 4 << 20;
/// Bytes read per read call, at least.
const READ_CHUNK: usize = 64 * 1024;

/// One chunk of a streamed answer.
#[derive(Debug)]
pub(crate) struct Chunk {
    /// The chunk's value (a `Map` of pairs for a range, or an error).
    pub body: Reply,
    /// More chunks follow.
    pub more: bool,
}

/// Where a request's answer goes.
pub(crate) enum Pending {
    /// A single response.
    One(oneshot::Sender<Result<Reply>>),
    /// A stream of chunks (a range).
    Stream(mpsc::UnboundedSender<Result<Chunk>>),
}

impl Pending {
    fn fail(self, error: Error) {
        match self {
            Pending::One(tx) => {
                let _ = tx.send(Err(error));
            }
            Pending::Stream(tx) => {
                let _ = tx.send(Err(error));
            }
        }
    }
}

#[derive(Default)]
struct State {
    /// `Some(reason)` once the connection is dead; nothing new is accepted then.
    closed: Option<String>,
    pending: HashMap<u64, Pending>,
}

/// What the caller handle, the reader and the writer share.
struct Shared {
    state: Mutex<State>,
    /// Mirrors `state.closed.is_some()` for the lock-free check on every request.
    closed: AtomicBool,
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Shared {
    /// Marks the connection dead, fails every request in flight and stops both tasks.
    fn fail(&self, reason: &str) {
        let drained: Vec<Pending> = {
            let mut state = self.state.lock();
            if state.closed.is_some() {
                return;
            }
            state.closed = Some(reason.to_owned());
            self.closed.store(true, Ordering::Release);
            state.pending.drain().map(|(_, p)| p).collect()
        };
        for p in drained {
            p.fail(Error::lost(reason));
        }
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
    }

    fn deliver(&self, id: u64, more: bool, body: Reply) {
        let mut state = self.state.lock();
        // An unknown id is a request given up on (timed out, stream dropped): discarded.
        if more {
            if let Some(Pending::Stream(tx)) = state.pending.get(&id) {
                if tx.send(Ok(Chunk { body, more })).is_err() {
                    state.pending.remove(&id);
                }
            }
            return;
        }
        match state.pending.remove(&id) {
            Some(Pending::One(tx)) => {
                drop(state);
                let _ = tx.send(Ok(body));
            }
            Some(Pending::Stream(tx)) => {
                drop(state);
                let _ = tx.send(Ok(Chunk { body, more }));
            }
            None => {}
        }
    }
}

/// One item of the writer's queue: a request, or two written back to back.
enum Outgoing {
    One(Request),
    /// No request of another caller can come between these two: the server's session sees
    /// the second right after the first (`ASKING` applies to the next command only).
    Pair(Box<[Request; 2]>),
}

/// A live connection. Dropping the last handle closes the socket.
pub(crate) struct Connection {
    queue: mpsc::UnboundedSender<Outgoing>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
}

/// How to open a connection.
pub(crate) struct Dial<'a> {
    pub addr: &'a str,
    pub tls: Option<&'a Tls>,
    pub credentials: Option<Credentials>,
    pub connect_timeout: Duration,
    pub limits: Limits,
}

impl Connection {
    /// Resolves `addr`, connects over TCP (then TLS, if asked) and exchanges the
    /// handshake, all within the connect timeout.
    pub(crate) async fn open(dial: Dial<'_>) -> Result<Connection> {
        let connect_error = |source: io::Error| Error::Connect {
            addr: dial.addr.to_string(),
            source,
        };
        let opening = async {
            let stream = connect_tcp(dial.addr).await.map_err(connect_error)?;
            stream.set_nodelay(true).map_err(connect_error)?;
            match dial.tls {
                None => {
                    let (reader, writer) = stream.into_split();
                    Connection::over(reader, writer, dial.credentials, dial.limits).await
                }
                Some(tls) => {
                    let stream = tls.connector.connect(tls.name.clone(), stream).await;
                    let (reader, writer) = tokio::io::split(stream.map_err(connect_error)?);
                    Connection::over(reader, writer, dial.credentials, dial.limits).await
                }
            }
            .map_err(|e| match e {
                HandshakeError::Io(source) => connect_error(source),
                HandshakeError::Other(e) => e,
            })
        };
        match tokio::time::timeout(dial.connect_timeout, opening).await {
            Ok(result) => result,
            Err(_) => Err(connect_error(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection within {:?}", dial.connect_timeout),
            ))),
        }
    }

    /// Exchanges the native handshake over a connected stream, then starts the tasks.
    async fn over<R, W>(
        mut reader: R,
        mut writer: W,
        credentials: Option<Credentials>,
        limits: Limits,
    ) -> Result<Connection, HandshakeError>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let leftover = handshake(&mut reader, &mut writer, credentials, &limits).await?;
        Ok(Connection::start(reader, writer, leftover, limits))
    }

    /// Spawns the reader and writer tasks over an established, handshaken stream.
    pub(crate) fn start<R, W>(reader: R, writer: W, leftover: BytesMut, limits: Limits) -> Self
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            closed: AtomicBool::new(false),
            tasks: Mutex::new(Vec::with_capacity(2)),
        });
        let (queue, requests) = mpsc::unbounded_channel();
        let w = tokio::spawn(write_loop(writer, requests, shared.clone()));
        let r = tokio::spawn(read_loop(reader, leftover, limits, shared.clone()));
        {
            let mut tasks = shared.tasks.lock();
            tasks.push(w.abort_handle());
            tasks.push(r.abort_handle());
        }
        // A task may have failed before its handle was stored: stop the other one too.
        if shared.state.lock().closed.is_some() {
            for task in shared.tasks.lock().drain(..) {
                task.abort();
            }
        }
        Connection {
            queue,
            shared,
            next_id: AtomicU64::new(1),
        }
    }

    /// Whether new requests can still be sent.
    pub(crate) fn is_open(&self) -> bool {
        !self.shared.closed.load(Ordering::Acquire)
    }

    /// Registers `op`'s answer channel and queues it. `Err` gives both back when the
    /// connection is already closed: nothing was sent, so the caller may try elsewhere.
    // The large `Err` is the rare path (a connection that just died); boxing it would cost
    // an allocation on no path that matters.
    #[allow(clippy::result_large_err)]
    pub(crate) fn send(&self, op: Op, pending: Pending) -> Result<u64, (Op, Pending)> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut state = self.shared.state.lock();
            if state.closed.is_some() {
                return Err((op, pending));
            }
            state.pending.insert(id, pending);
        }
        if let Err(mpsc::error::SendError(Outgoing::One(request))) =
            self.queue.send(Outgoing::One(Request { id, op }))
        {
            // The writer is gone, so `fail` ran or is running; if it has not drained our
            // entry yet, take it back: nothing was sent.
            if let Some(pending) = self.shared.state.lock().pending.remove(&id) {
                return Err((request.op, pending));
            }
        }
        Ok(id)
    }

    /// Like [`Connection::send`] for two requests written back to back, with no other
    /// caller's request between them. `Err` gives the second one back when nothing was
    /// sent (the first is dropped: it is the caller's own, rebuilt on a retry).
    #[allow(clippy::result_large_err)]
    pub(crate) fn send_pair(
        &self,
        (first, first_pending): (Op, Pending),
        (second, second_pending): (Op, Pending),
    ) -> Result<[u64; 2], (Op, Pending)> {
        let ids = [
            self.next_id.fetch_add(1, Ordering::Relaxed),
            self.next_id.fetch_add(1, Ordering::Relaxed),
        ];
        {
            let mut state = self.shared.state.lock();
            if state.closed.is_some() {
                return Err((second, second_pending));
            }
            state.pending.insert(ids[0], first_pending);
            state.pending.insert(ids[1], second_pending);
        }
        let pair = Box::new([
            Request {
                id: ids[0],
                op: first,
            },
            Request {
                id: ids[1],
                op: second,
            },
        ]);
        if let Err(mpsc::error::SendError(Outgoing::Pair(pair))) =
            self.queue.send(Outgoing::Pair(pair))
        {
            let mut state = self.shared.state.lock();
            state.pending.remove(&ids[0]);
            if let Some(pending) = state.pending.remove(&ids[1]) {
                let [_, second] = *pair;
                return Err((second.op, pending));
            }
        }
        Ok(ids)
    }

    /// Gives up on a request (timed out, stream dropped): its answer will be discarded.
    pub(crate) fn forget(&self, id: u64) {
        self.shared.state.lock().pending.remove(&id);
    }

    /// Why the connection closed, if it did.
    pub(crate) fn closed_reason(&self) -> Option<String> {
        self.shared.state.lock().closed.clone()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shared.fail("connection closed by the client");
    }
}

async fn connect_tcp(addr: &str) -> io::Result<TcpStream> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        match TcpStream::connect(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "the address resolved to nothing")
    }))
}

/// A client's TLS: the connector built from its `TlsOptions`, and the server name to check.
pub(crate) struct Tls {
    connector: tokio_rustls::TlsConnector,
    name: rustls_pki_types::ServerName<'static>,
}

impl Tls {
    /// Reads `options`' files and settles the name to check for `addr`.
    pub(crate) fn new(options: &crate::tls::TlsOptions, addr: &str) -> Result<Tls> {
        Ok(Tls {
            connector: tokio_rustls::TlsConnector::from(crate::tls::client_config(options)?),
            name: crate::tls::server_name(options, addr)?,
        })
    }
}

enum HandshakeError {
    Io(io::Error),
    Other(Error),
}

impl From<io::Error> for HandshakeError {
    fn from(e: io::Error) -> Self {
        HandshakeError::Io(e)
    }
}

/// Sends the handshake and waits for its answer; returns bytes read past it.
async fn handshake<R, W>(
    reader: &mut R,
    writer: &mut W,
    credentials: Option<Credentials>,
    limits: &Limits,
) -> Result<BytesMut, HandshakeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut out = BytesMut::new();
    binary::encode_handshake(
        &Handshake {
            version: binary::VERSION,
            credentials,
        },
        &mut out,
    );
    writer.write_all(&out).await?;
    writer.flush().await?;
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    loop {
        // A TLS alert or handshake record: this port wants TLS.
        if matches!(input.first(), Some(0x15 | 0x16)) {
            return Err(HandshakeError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                "the server answered in TLS: this is its TLS port (connect with TLS options)",
            )));
        }
        match binary::parse_handshake_reply(&mut input, limits) {
            Ok(Some(HandshakeReply::Accepted { .. })) => return Ok(input),
            Ok(Some(HandshakeReply::Rejected { message })) => {
                return Err(HandshakeError::Other(Error::Server {
                    message: String::from_utf8_lossy(&message).into_owned(),
                }))
            }
            Ok(None) => {}
            Err(e) => return Err(HandshakeError::Other(e.into())),
        }
        if reader.read_buf(&mut input).await? == 0 {
            return Err(HandshakeError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection during the handshake \
                 (is it a Cairn server?)",
            )));
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut requests: mpsc::UnboundedReceiver<Outgoing>,
    shared: Arc<Shared>,
) {
    let mut out = BytesMut::with_capacity(READ_CHUNK);
    let mut batch = Vec::with_capacity(WRITE_BATCH_REQUESTS);
    loop {
        if requests.recv_many(&mut batch, WRITE_BATCH_REQUESTS).await == 0 {
            // Every handle is gone: the client closed the connection.
            return;
        }
        for item in batch.drain(..) {
            match item {
                Outgoing::One(request) => binary::encode_request(&request, &mut out),
                Outgoing::Pair(pair) => {
                    for request in pair.iter() {
                        binary::encode_request(request, &mut out);
                    }
                }
            }
            if out.len() >= WRITE_BATCH_BYTES {
                if let Err(e) = writer.write_all(&out).await {
                    shared.fail(&format!("write failed: {e}"));
                    return;
                }
                out.clear();
            }
        }
        if !out.is_empty() {
            // A TLS stream encrypts into a buffer of its own: flush sends it.
            let written = async {
                writer.write_all(&out).await?;
                writer.flush().await
            };
            if let Err(e) = written.await {
                shared.fail(&format!("write failed: {e}"));
                return;
            }
            out.clear();
        }
        if out.capacity() > KEEP_BUFFER_BYTES {
            out = BytesMut::with_capacity(READ_CHUNK);
        }
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    mut reader: R,
    mut input: BytesMut,
    limits: Limits,
    shared: Arc<Shared>,
) {
    loop {
        loop {
            match binary::parse_response(&mut input, &limits) {
                Ok(Some(response)) => {
                    if response.id == 0 {
                        // Id 0 is the server's answer to a frame it could not read; it
                        // closes the connection after it.
                        let reason = match &response.body {
                            Reply::Error(m) => String::from_utf8_lossy(m).into_owned(),
                            other => format!("unexpected response with id 0: {other:?}"),
                        };
                        shared.fail(&format!("the server closed the connection: {reason}"));
                        return;
                    }
                    shared.deliver(response.id, response.more, response.body);
                }
                Ok(None) => break,
                Err(e) => {
                    shared.fail(&format!("protocol violation: {e}"));
                    return;
                }
            }
        }
        input.reserve(READ_CHUNK);
        match reader.read_buf(&mut input).await {
            Ok(0) => {
                shared.fail("the server closed the connection");
                return;
            }
            Ok(_) => {}
            Err(e) => {
                shared.fail(&format!("read failed: {e}"));
                return;
            }
        }
    }
}
