//! One client connection: read bytes, parse every complete request, dispatch each in order,
//! encode the replies into one buffer, and write it with one call.
//!
//! The first byte tells the protocols apart: the native protocol's magic byte, which no RESP
//! request can start with, hands the connection to `native`; anything else is RESP.
//! Replies to writes leave only once the writes are durable (the session's write ticket), and
//! the output buffer is flushed whenever it passes [`FLUSH_AT`], so a client that pipelines
//! without reading cannot make the server buffer without bound.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::clients::{KillWatch, Registration};
use super::keyspace::ExecError;
use super::round::Round;
use super::session::Session;
use super::shared::{Shared, Stats};
use super::value::Entry;
use super::{dispatch, idle, native};
use crate::protocol::{binary, resp, Limits, Reply};

/// Output past this size is written before more requests are processed.
pub const FLUSH_AT: usize = 64 * 1024;
/// Initial size of the read buffer.
const READ_CHUNK: usize = 16 * 1024;

/// Why a connection ends; only for the log.
#[derive(Debug)]
pub(super) enum End {
    /// The peer closed, or asked to (QUIT), or was killed, or the server is stopping.
    Normal,
    /// The socket failed, or a durability wait failed (the engine is poisoned: the replies
    /// cannot be sent as acknowledgements).
    Failed(String),
}

/// Serves one accepted connection until it ends.
pub async fn serve(shared: Arc<Shared>, mut stream: TcpStream, registration: Registration) {
    let info = registration.info.clone();
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut kill = info.kill.watch();
    let end = match read_more(&shared, &mut stream, &mut input, &mut kill).await {
        Ok(true) if input.first() == Some(&binary::MAGIC) => {
            native::serve(&shared, &mut stream, input, &registration, &mut kill).await
        }
        Ok(true) => serve_resp(&shared, &mut stream, input, &registration, &mut kill).await,
        Ok(false) => End::Normal,
        Err(end) => end,
    };
    if let End::Failed(reason) = end {
        tracing::debug!(client = info.id, %reason, "connection closed");
    }
}

/// Reads more bytes into `input`. Ok(false) at end of stream, on a kill or on idle timeout.
pub(super) async fn read_more(
    shared: &Shared,
    stream: &mut TcpStream,
    input: &mut BytesMut,
    kill: &mut KillWatch<'_>,
) -> Result<bool, End> {
    if kill.is_thrown() {
        return Ok(false);
    }
    if input.capacity() - input.len() < 1024 {
        input.reserve(READ_CHUNK);
    }
    let idle = shared.config.read().timeout;
    let read = async {
        if idle == 0 {
            stream.read_buf(input).await
        } else {
            match tokio::time::timeout(Duration::from_secs(idle), stream.read_buf(input)).await {
                Ok(read) => read,
                Err(_) => Ok(0),
            }
        }
    };
    tokio::select! {
        // The read first: when bytes are already waiting, the kill switch is not polled
        // (the flag above caught a kill thrown before this read).
        biased;
        read = read => match read {
            Ok(0) => Ok(false),
            Ok(_) => Ok(true),
            Err(e) => Err(End::Failed(e.to_string())),
        },
        _ = kill.thrown() => Ok(false),
    }
}

/// Limits for clients that have not authenticated yet (Redis's defence against memory abuse
/// before AUTH): arrays of at most 10 elements, bulks of at most 16 KiB.
fn unauthenticated_limits(limits: &Limits) -> Limits {
    Limits {
        max_array_len: 10,
        max_bulk_len: 16 * 1024,
        ..*limits
    }
}

async fn serve_resp(
    shared: &Shared,
    stream: &mut TcpStream,
    mut input: BytesMut,
    registration: &Registration,
    kill: &mut KillWatch<'_>,
) -> End {
    let info = &registration.info;
    let needs_auth = shared.config.read().requirepass.is_some();
    let mut session = Session::new(info.clone(), !needs_auth);
    let strict_limits = unauthenticated_limits(&shared.limits);
    let mut output = BytesMut::with_capacity(READ_CHUNK);
    let mut staging = Vec::new();
    loop {
        let more = match run_round(
            shared,
            &mut session,
            &strict_limits,
            &mut input,
            &mut output,
            &mut staging,
        ) {
            Ok(more) => more,
            Err(end) => return end,
        };
        info.touch();
        if let Err(end) = flush(stream, &mut output, &mut session).await {
            return end;
        }
        if session.closing {
            return End::Normal;
        }
        if more {
            // The output filled up before the input was used up: answer what was read.
            continue;
        }
        match read_more(shared, stream, &mut input, kill).await {
            Ok(true) => {}
            Ok(false) => return End::Normal,
            Err(end) => return end,
        }
    }
}

/// Runs every complete request in `input` (or until the output passes [`FLUSH_AT`]) as one
/// round, encoding the replies into `output`, and commits the round's writes. Ok(true) when
/// complete requests remain. Synchronous on purpose: the round's key locks must not be held
/// across an `.await`.
fn run_round(
    shared: &Shared,
    session: &mut Session,
    strict_limits: &Limits,
    input: &mut BytesMut,
    output: &mut BytesMut,
    staging: &mut Vec<(Bytes, Option<Entry>)>,
) -> Result<bool, End> {
    let mut round = Round::with_buffer(shared, std::mem::take(staging));
    let mut processed = 0;
    let mut more = false;
    loop {
        let limits = if session.authenticated {
            &shared.limits
        } else {
            strict_limits
        };
        match resp::parse_request(input, limits) {
            Ok(Some(args)) if args.is_empty() => continue,
            Ok(Some(args)) => {
                processed += 1;
                dispatch::execute(shared, session, &mut round, args, output);
                if let Some(error) = round.take_failure() {
                    // What the round encoded is dropped with the connection.
                    return Err(unacknowledged(error));
                }
                if session.closing {
                    break;
                }
                if output.len() >= FLUSH_AT {
                    more = true;
                    break;
                }
                if round.is_full() {
                    round.commit(session).map_err(unacknowledged)?;
                }
            }
            Ok(None) => break,
            Err(error) => {
                // The stream cannot be resynchronised: answer, then close.
                Reply::from(error).encode(session.resp, output);
                session.closing = true;
                break;
            }
        }
    }
    Stats::add(&shared.stats.commands_processed, processed);
    round.commit(session).map_err(unacknowledged)?;
    *staging = round.into_buffer();
    Ok(more)
}

/// A round's writes could not be committed: its replies are dropped with the connection,
/// since some of them acknowledge those writes.
fn unacknowledged(error: ExecError) -> End {
    tracing::error!(%error, "write failed; closing connection without acknowledging");
    End::Failed(error.to_string())
}

/// Waits until the session's writes are durable, then writes out every encoded reply.
///
/// Unless it had to wait for an fsync, it yields once before writing, so that the worker
/// first runs every other connection that became readable in the same wake-up and the
/// replies then leave in one burst (the fsync's wake-up already gathers those waiting for
/// it, and another turn would only delay them). Writing each reply as soon as it is ready
/// wakes the client between every two sends: under redis-benchmark at pipeline 16 that
/// wake-up (the kernel's `sock_def_readable`) took 31% of the worker, against 6% for Redis,
/// which writes all its replies before it sleeps.
pub(super) async fn flush(
    stream: &mut TcpStream,
    output: &mut BytesMut,
    session: &mut Session,
) -> Result<(), End> {
    let ticket = session.pending_write.take();
    let waits = ticket.as_ref().is_some_and(|t| !t.is_complete());
    if let Some(ticket) = ticket {
        // The syncer wakes this worker now, not a client: it sleeps without lingering.
        let _disk_wait = waits.then(idle::DiskWait::begin);
        if let Err(error) = ticket.await {
            // Never acknowledge a write that is not durable: drop the replies and the connection.
            tracing::error!(%error, "write failed; closing connection without acknowledging");
            return Err(End::Failed(error.to_string()));
        }
    }
    if !output.is_empty() {
        if !waits {
            let_others_run_first().await;
        }
        stream
            .write_all(output)
            .await
            .map_err(|e| End::Failed(e.to_string()))?;
        output.clear();
    }
    Ok(())
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
    .await
}
