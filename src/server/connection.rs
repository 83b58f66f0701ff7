//! One client connection: it owns the stream, the input and output buffers, the session and
//! the round's staging buffer, and runs the loop both protocols share: read bytes, parse
//! every complete request, dispatch each in order through one [`Round`], encode the
//! replies into one buffer, and write it with one call.
//!
//! The first byte tells the protocols apart: the native protocol's magic byte, which no RESP
//! request can start with, means a native handshake (`native.rs`) and native frames;
//! anything else is RESP. After that the two differ only in how a request is parsed and a
//! reply framed. Replies to writes leave only once the writes are durable (the session's
//! write ticket), and the output is flushed whenever it passes [`FLUSH_AT`], so a client that
//! pipelines without reading cannot make the server buffer without bound: no more requests
//! are read until the replies are out, and a client that never reads them is disconnected at
//! its `client-output-buffer-limit`.

use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::blocking::{self, Blocked};
use super::clients::{KillWatch, Registration};
use super::config::OutputLimit;
use super::keyspace::{ExecError, Write};
use super::native::{self, RangeStream};
use super::pubsub::Mailbox;
use super::replication::feed;
use super::replies::{Framing, Replies};
use super::round::Round;
use super::session::{Handoff, Session};
use super::shared::{Shared, Stats};
use super::{dispatch, idle};
use crate::protocol::command::Request;
use crate::protocol::{binary, resp, Limits, ProtocolError, Reply};

/// Output past this size is written before more requests are processed.
pub(crate) const FLUSH_AT: usize = 64 * 1024;
/// Initial size of the read buffer.
const READ_CHUNK: usize = 16 * 1024;
/// The first byte of a TLS record carrying a handshake (a `ClientHello`).
const TLS_HANDSHAKE: u8 = 0x16;

/// How often a write blocked on a client that does not read looks at its output limit again.
const LIMIT_RECHECK: Duration = Duration::from_millis(250);

/// The connection's TCP socket, beneath any TLS: what the kernel still holds of its output.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SocketQueue(pub(crate) RawFd);

impl SocketQueue {
    /// The bytes written to the socket that the peer has not taken yet.
    fn unsent_bytes(self) -> usize {
        #[cfg(target_os = "linux")]
        {
            let mut queued: libc::c_int = 0;
            // SAFETY: TIOCOUTQ (SIOCOUTQ on a socket) writes one int through the pointer,
            // which points at `queued`; the descriptor is the connection's own socket, open
            // for as long as the connection is.
            if unsafe { libc::ioctl(self.0, libc::TIOCOUTQ, &raw mut queued) } == 0 {
                return usize::try_from(queued).unwrap_or(0);
            }
        }
        0
    }
}

/// Why a connection ends; only for the log.
#[derive(Debug)]
pub(crate) enum End {
    /// The peer closed, or asked to (QUIT), or was killed, or the server is stopping.
    Normal,
    /// The socket failed, or a durability wait failed (the engine is poisoned: the replies
    /// cannot be sent as acknowledgements).
    Failed(String),
}

/// Serves one accepted connection until it ends.
pub(crate) async fn serve<S>(
    shared: Arc<Shared>,
    stream: S,
    socket: SocketQueue,
    registration: Registration,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let info = registration.info.clone();
    let mut connection = Connection::new(&shared, stream, socket, &registration);
    let end = connection.run().await;
    // Unsubscribed before the socket closes: a client that sees the close finds none of
    // its subscriptions left (a PUBLISH then reaches no one).
    connection.session.pubsub = None;
    drop(connection);
    if let End::Failed(reason) = end {
        tracing::debug!(client = info.id, %reason, "connection closed");
    }
}

/// What a round stopped for, besides the input running out.
enum Pause {
    /// The output filled up before the input was used up: answer what was read, then go on.
    OutputFull,
    /// A native range, streamed in chunks once the round's replies are out.
    Stream(RangeStream),
    /// A blocking pop found nothing: wait for it once the replies before it are out.
    Blocked(Blocked),
}

/// A client connection and everything it owns.
pub(crate) struct Connection<'a, S> {
    pub(super) shared: &'a Arc<Shared>,
    pub(super) stream: S,
    socket: SocketQueue,
    pub(super) input: BytesMut,
    pub(super) output: BytesMut,
    pub(super) session: Session,
    pub(super) framing: Framing,
    /// Where a round stages its writes; handed from round to round so it keeps its capacity.
    staging: Vec<Write>,
    /// The ids of a round's requests since its last commit; kept from round to round.
    uncommitted_ids: Vec<u64>,
    pub(super) kill: KillWatch<'a>,
    /// Since when the output this client has not taken has been past its soft
    /// `client-output-buffer-limit`; kept from one write to the next.
    over_soft_since: Option<Instant>,
    /// Limits for clients that have not authenticated yet (Redis's defence against memory
    /// abuse before AUTH): arrays of at most 10 elements, bulks of at most 16 KiB.
    unauthenticated: Limits,
}

impl<'a, S: AsyncRead + AsyncWrite + Unpin> Connection<'a, S> {
    fn new(
        shared: &'a Arc<Shared>,
        stream: S,
        socket: SocketQueue,
        registration: &'a Registration,
    ) -> Self {
        let needs_auth = shared.config.read().requirepass.is_some();
        Connection {
            shared,
            stream,
            socket,
            input: BytesMut::with_capacity(READ_CHUNK),
            // Allocated by the first reply: an idle connection holds no output buffer.
            output: BytesMut::new(),
            session: Session::new(registration.info.clone(), !needs_auth),
            framing: Framing::Resp,
            staging: Vec::new(),
            uncommitted_ids: Vec::new(),
            kill: registration.info.kill.watch(),
            over_soft_since: None,
            unauthenticated: Limits {
                max_array_len: 10,
                max_bulk_len: 16 * 1024,
                ..shared.limits
            },
        }
    }

    async fn run(&mut self) -> End {
        match self.read_more().await {
            Ok(true) => {}
            Ok(false) => return End::Normal,
            Err(end) => return end,
        }
        if self.input.first() == Some(&TLS_HANDSHAKE) {
            // Neither protocol starts so: a TLS client on a plaintext port.
            let peer = self.session.info.addr;
            tracing::warn!(%peer, "a TLS handshake on a plaintext port; closed");
            return End::Normal;
        }
        if self.input.first() == Some(&binary::MAGIC) {
            self.framing = Framing::Native;
            match native::handshake(self).await {
                Ok(true) => {}
                Ok(false) => return End::Normal,
                Err(end) => return end,
            }
        }
        loop {
            let pause = match self.run_round() {
                Ok(pause) => pause,
                Err(end) => return end,
            };
            self.session.info.touch();
            if let Err(end) = self.flush().await {
                return end;
            }
            if self.session.closing {
                return End::Normal;
            }
            if let Some(handoff) = self.session.handoff.take() {
                match handoff {
                    Handoff::Sync(request) => return feed::serve(self, request).await,
                    Handoff::Wait {
                        replicas,
                        offset,
                        deadline,
                    } => {
                        let acked = self.wait_for_acks(replicas, offset, deadline).await;
                        Replies::new(&mut self.output, self.framing, 0, &self.shared.stats).reply(
                            self.session.resp,
                            Reply::Integer(i64::try_from(acked).unwrap_or(i64::MAX)),
                        );
                        if let Err(end) = self.flush().await {
                            return end;
                        }
                        // Requests pipelined after the WAIT are still in the input.
                        continue;
                    }
                }
            }
            match pause {
                Some(Pause::OutputFull) => continue,
                Some(Pause::Stream(range)) => {
                    if let Err(end) = native::stream_range(self, range).await {
                        return end;
                    }
                    continue;
                }
                Some(Pause::Blocked(blocked)) => {
                    if let Err(end) = blocking::wait(self, blocked).await {
                        return end;
                    }
                    if self.session.closing {
                        // Unblocked by force: its error out, nothing more read or run.
                        return self.flush().await.err().unwrap_or(End::Normal);
                    }
                    continue;
                }
                None => {}
            }
            match self.read_more().await {
                Ok(true) => {}
                Ok(false) => return End::Normal,
                Err(end) => return end,
            }
        }
    }

    /// WAIT: until `replicas` replicas have acknowledged `offset`, the deadline passes or
    /// the client is killed; returns how many had.
    async fn wait_for_acks(
        &mut self,
        replicas: u64,
        offset: u64,
        deadline: Option<Instant>,
    ) -> usize {
        let repl = &self.shared.replication;
        loop {
            let acked = repl.acked.notified();
            let count = repl.acked_at_least(offset);
            if count as u64 >= replicas {
                return count;
            }
            tokio::select! {
                () = acked => {}
                () = sleep_until(deadline) => return repl.acked_at_least(offset),
                () = self.kill.thrown() => return count,
            }
        }
    }

    /// Reads more bytes into the input. Ok(false) at end of stream, on a kill or on idle
    /// timeout.
    pub(super) async fn read_more(&mut self) -> Result<bool, End> {
        if self.kill.is_thrown() {
            return Ok(false);
        }
        if self.input.capacity() - self.input.len() < 1024 {
            self.input.reserve(READ_CHUNK);
        }
        // A subscriber is never idle: it waits for messages (as in Redis).
        let idle = match self.session.pubsub {
            Some(_) => 0,
            None => self.shared.config.read().timeout,
        };
        loop {
            let mailbox = self.session.pubsub.as_ref().map(|s| s.mailbox().clone());
            let read = async {
                if idle == 0 {
                    self.stream.read_buf(&mut self.input).await
                } else {
                    let timeout = Duration::from_secs(idle);
                    match tokio::time::timeout(timeout, self.stream.read_buf(&mut self.input)).await
                    {
                        Ok(read) => read,
                        Err(_) => Ok(0),
                    }
                }
            };
            // A read that has not completed has taken nothing: dropping it for a message
            // loses no input.
            tokio::select! {
                // The read first: when bytes are already waiting, the kill switch is not
                // polled (the flag above caught a kill thrown before this read).
                biased;
                read = read => return match read {
                    Ok(0) => Ok(false),
                    Ok(n) => {
                        self.shared.stats.read_from_client(n);
                        Ok(true)
                    }
                    Err(e) => Err(End::Failed(e.to_string())),
                },
                () = self.kill.thrown() => return Ok(false),
                () = messages_ready(mailbox.as_deref()) => {}
            }
            self.encode_messages();
            self.write_output().await?;
        }
    }

    /// Encodes the messages published to this subscriber since the last look, after the
    /// replies already in the output.
    fn encode_messages(&mut self) {
        if let Some(subscriptions) = &self.session.pubsub {
            let mut out = Replies::new(&mut self.output, self.framing, 0, &self.shared.stats);
            subscriptions.mailbox().send_to(&mut out, self.session.resp);
        }
    }

    /// The next complete request in the input, with its native id (0 under RESP).
    #[inline]
    fn next_request(&mut self) -> Result<Option<(u64, Request)>, ProtocolError> {
        match self.framing {
            Framing::Resp => {
                let limits = if self.session.authenticated {
                    &self.shared.limits
                } else {
                    &self.unauthenticated
                };
                Ok(resp::parse_request(&mut self.input, limits)?
                    .map(|args| (0, Request::Args(args))))
            }
            Framing::Native => Ok(binary::parse_request(&mut self.input, &self.shared.limits)?
                .map(|request| (request.id, Request::from(request.op)))),
        }
    }

    /// Runs every complete request in the input as one round (or until the output passes
    /// [`FLUSH_AT`], or a native range is to be streamed), encoding the replies into the
    /// output, and commits the round's writes. Synchronous on purpose: the round's key locks
    /// must not be held across an `.await`.
    fn run_round(&mut self) -> Result<Option<Pause>, End> {
        let shared = self.shared;
        let mut round = Round::with_buffer(shared, std::mem::take(&mut self.staging));
        let mut processed = 0;
        let mut pause = None;
        // The requests whose replies the next commit acknowledges: they start at this
        // output length (see `refuse_uncommitted`).
        let mut uncommitted = Uncommitted {
            output_len: 0,
            ids: std::mem::take(&mut self.uncommitted_ids),
        };
        uncommitted.ids.clear();
        loop {
            let before = (self.output.len(), round.commits());
            match self.next_request() {
                // Redis ignores an empty RESP request (`*0`, a blank line); a native frame
                // always gets its answer.
                Ok(Some((_, Request::Args(args))))
                    if args.is_empty() && self.framing == Framing::Resp => {}
                Ok(Some((id, request))) => {
                    processed += 1;
                    uncommitted.ids.push(id);
                    let mut out = Replies::new(&mut self.output, self.framing, id, &shared.stats);
                    match dispatch::parse(&mut self.session, request) {
                        Ok(command) => {
                            let range = match self.framing {
                                Framing::Resp => None,
                                Framing::Native => RangeStream::of(&self.session, id, &command),
                            };
                            if let Some(range) = range {
                                // A streamed range is a command too: an ASKING before it
                                // was for it, not for the next one.
                                self.session.cluster.asking = false;
                                pause = Some(Pause::Stream(range));
                                break;
                            }
                            // The blocking hook: a blocking pop that finds nothing leaves
                            // `session.blocked`; its reply (a null) is dropped, the round
                            // ends here, and `run` waits in `blocking::wait`, which retries
                            // it. Requests after it wait in the input, as in Redis.
                            let retry = blocking::may_block(&mut self.session, &command);
                            dispatch::execute(
                                shared,
                                &mut self.session,
                                &mut round,
                                command,
                                &mut out,
                            );
                            if let Some(command) = retry {
                                if let Some(on) = self.session.blocked.take() {
                                    self.output.truncate(before.0);
                                    pause = Some(Pause::Blocked(Blocked { id, command, on }));
                                    break;
                                }
                            }
                        }
                        Err(reply) => out.reply(self.session.resp, reply),
                    }
                    if let Some(error) = round.take_failure() {
                        self.refuse_uncommitted(&uncommitted, &error)?;
                        break;
                    }
                    if round.commits() != before.1 {
                        // This request committed what came before it (its own writes may
                        // be in that commit or the next: it counts as uncommitted).
                        uncommitted.output_len = before.0;
                        uncommitted.ids.clear();
                        uncommitted.ids.push(id);
                    }
                    if self.session.closing || self.session.handoff.is_some() {
                        break;
                    }
                    if self.output.len() >= FLUSH_AT {
                        pause = Some(Pause::OutputFull);
                        break;
                    }
                    if round.is_full() {
                        if let Err(error) = round.commit(&mut self.session) {
                            self.refuse_uncommitted(&uncommitted, &error)?;
                            break;
                        }
                        uncommitted.output_len = self.output.len();
                        uncommitted.ids.clear();
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    // The stream cannot be resynchronised: answer, then close.
                    Replies::new(&mut self.output, self.framing, 0, &shared.stats)
                        .reply(self.session.resp, Reply::from(error));
                    self.session.closing = true;
                    break;
                }
            }
        }
        Stats::add(&shared.stats.commands_processed, processed);
        if let Err(error) = round.commit(&mut self.session) {
            self.refuse_uncommitted(&uncommitted, &error)?;
        }
        self.staging = round.into_buffer();
        self.uncommitted_ids = uncommitted.ids;
        Ok(pause)
    }

    /// A commit of the round failed. If the engine refused the writes outright (a full
    /// disk, or no writes after a failed fsync), every request since the last commit is
    /// answered with the error instead of the reply it had: some of those replies
    /// acknowledged the refused writes, and reads among them may have seen them. Any
    /// other failure drops the replies with the connection.
    fn refuse_uncommitted(
        &mut self,
        uncommitted: &Uncommitted,
        error: &ExecError,
    ) -> Result<(), End> {
        if !error.refused_writes() {
            return Err(unacknowledged(error));
        }
        tracing::debug!(client = self.session.info.id, %error, "writes refused");
        self.output.truncate(uncommitted.output_len);
        for &id in &uncommitted.ids {
            Replies::new(&mut self.output, self.framing, id, &self.shared.stats)
                .reply(self.session.resp, Reply::error(error.to_string()));
        }
        Ok(())
    }

    /// Waits until the session's writes are durable, then writes out every encoded reply.
    ///
    /// Unless it had to wait for an fsync, it yields once before writing, so that the worker
    /// first runs every other connection that became readable in the same wake-up and the
    /// replies then leave in one burst (the fsync's wake-up already gathers those waiting for
    /// it, and another turn would only delay them). Writing each reply as soon as it is ready
    /// wakes the client between every two sends, and under redis-benchmark at pipeline 16
    /// that wake-up (the kernel's `sock_def_readable`) was a large share of the worker, where
    /// Redis writes all its replies before it sleeps (docs/benchmarks.md).
    pub(super) async fn flush(&mut self) -> Result<(), End> {
        let ticket = self.session.pending_write.take();
        let waits = ticket.as_ref().is_some_and(|t| !t.is_complete());
        if let Some(ticket) = ticket {
            // The syncer wakes this worker now, not a client: it sleeps without lingering.
            let _disk_wait = waits.then(idle::DiskWait::begin);
            if let Err(error) = ticket.await {
                // Never acknowledge a write that is not durable: drop the replies and the
                // connection.
                tracing::error!(%error, "write failed; closing connection without acknowledging");
                return Err(End::Failed(error.to_string()));
            }
        }
        self.encode_messages();
        if !self.output.is_empty() {
            if !waits {
                let_others_run_first().await;
            }
            self.write_output().await?;
        }
        Ok(())
    }

    /// Writes out the encoded replies. A client that does not read them is disconnected
    /// at its `client-output-buffer-limit`, and a kill ends the wait.
    ///
    /// A client's output is what it has not taken yet: the unsent replies here and the
    /// bytes queued in the kernel's send buffer. A connection holds one round's replies at
    /// most (it reads no more requests until they are out), so where Redis buffers a stuck
    /// client's every reply until the limit, Cairn holds a round and a socket buffer, and
    /// a limit above that is never reached.
    async fn write_output(&mut self) -> Result<(), End> {
        let limits = self.shared.config.read().client_output_buffer_limit;
        let limit = match self.session.pubsub {
            Some(_) => limits.pubsub,
            None => limits.normal,
        };
        self.write_limited(limit, || 0).await
    }

    /// Writes out `output`, disconnecting the client once what it has not taken is past
    /// `limit`: the unsent bytes, the socket's queue and `held_elsewhere()`, what is kept
    /// for it outside the connection (a replica link's backlog). A kill ends the wait.
    pub(super) async fn write_limited(
        &mut self,
        limit: OutputLimit,
        held_elsewhere: impl Fn() -> u64,
    ) -> Result<(), End> {
        let mut written = 0;
        loop {
            let unsent = self.output.len() - written;
            let wake = if limit.is_set() {
                // The kernel's queue costs a system call: asked only when there is a limit.
                let output = (unsent + self.socket.unsent_bytes()) as u64 + held_elsewhere();
                if limit.is_over(output, &mut self.over_soft_since, Instant::now()) {
                    return Err(self.over_output_limit(output));
                }
                // The queues grow while a write waits: look again now and then.
                Some(Instant::now() + LIMIT_RECHECK)
            } else {
                self.over_soft_since = None;
                None
            };
            let io = async {
                if unsent == 0 {
                    // A TLS stream encrypts into a buffer of its own: flush sends it.
                    self.stream.flush().await.map(|()| None)
                } else {
                    self.stream.write(&self.output[written..]).await.map(Some)
                }
            };
            // A write that has not completed has taken nothing: dropping it loses no bytes.
            let outcome = tokio::select! {
                biased;
                io = io => Some(io),
                () = sleep_until(wake) => None,
                () = self.kill.thrown() => return Err(End::Normal),
            };
            match outcome {
                Some(Ok(Some(0))) => return Err(End::Failed("peer closed while we wrote".into())),
                Some(Ok(Some(n))) => {
                    self.shared.stats.wrote_to_client(n);
                    written += n;
                }
                Some(Ok(None)) => break,
                Some(Err(e)) => return Err(End::Failed(e.to_string())),
                None => {}
            }
        }
        self.output.clear();
        Ok(())
    }

    /// Disconnects a client past its output buffer limit, as Redis does: the replies are
    /// dropped, a warning names the client.
    fn over_output_limit(&self, pending: u64) -> End {
        self.shared
            .stats
            .output_limit_reached(&self.session.info, pending);
        End::Failed("output buffer limit reached".into())
    }
}

/// Completes when messages may wait in `mailbox`; never without one.
async fn messages_ready(mailbox: Option<&Mailbox>) {
    match mailbox {
        Some(mailbox) => mailbox.ready().await,
        None => std::future::pending().await,
    }
}

/// Completes at `deadline`; never without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The requests of a round since its last commit.
struct Uncommitted {
    /// Where their replies start in the output.
    output_len: usize,
    /// Their native request ids (0 under RESP), in order.
    ids: Vec<u64>,
}

/// A round's writes could not be committed: its replies are dropped with the connection,
/// since some of them acknowledge those writes.
fn unacknowledged(error: &ExecError) -> End {
    tracing::error!(%error, "write failed; closing connection without acknowledging");
    End::Failed(error.to_string())
}

/// Lets every other task already queued on this worker run before the caller goes on.
///
/// Not `tokio::task::yield_now`: that defers the wake-up until the runtime has polled the
/// I/O driver again, one more `epoll_wait` per wake-up for nothing (every connection that
/// became readable is already queued). Waking itself puts the task at the back of the
/// worker's queue directly.
async fn let_others_run_first() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}
