//! The primary's side of one replica: after `PSYNC` (or `SYNC`) the connection stops
//! taking commands and carries the write stream. First `+CONTINUE <replid>` when the
//! backlog holds what the replica lacks, otherwise `+FULLRESYNC <replid> <seq>` and a
//! checkpoint taken for it (see `snapshot`); then every batch after, each as a RESP
//! command `CAIRN.BATCH <payload>` (the engine's own encoding, never interpreted), a
//! `PING` every ten seconds, and `REPLCONF GETACK *` when a WAIT wants acknowledgements.
//! What the replica sends back is read for `REPLCONF ACK <offset>`.
//!
//! A replica that falls out of the backlog is disconnected; it comes back for a full sync.
//! So is one that holds more of the stream untaken than its `client-output-buffer-limit
//! replica` allows: the unsent stream, the socket's queue and the backlog's batches it
//! has not reached; it comes back where it stopped, if the backlog still holds that.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{snapshot, Fed, Replication};
use crate::protocol::{resp, Limits};
use crate::server::connection::{Connection, End};
use crate::server::shared::Shared;

/// How often a replica is pinged when there is nothing else to send (Redis's
/// `repl-ping-replica-period`).
const PING_EVERY: Duration = Duration::from_secs(10);
/// Batches written per turn of the loop, about.
const TURN_BYTES: usize = 1 << 20;

/// What a replica asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    /// The history it has (`None`: `?`).
    pub replid: Option<String>,
    /// The next sequence number it wants (-1: none).
    pub offset: i64,
    /// PSYNC (answered with a status line first) rather than SYNC.
    pub psync: bool,
    /// The port and address it announced with REPLCONF.
    pub port: u16,
    /// Its announced address, if not its peer address.
    pub ip: Option<String>,
}

/// The frame of one batch in the stream.
pub(crate) fn encode_batch(out: &mut BytesMut, payload: &[u8]) {
    let mut n = itoa::Buffer::new();
    out.put_slice(b"*2\r\n$11\r\nCAIRN.BATCH\r\n$");
    out.put_slice(n.format(payload.len()).as_bytes());
    out.put_slice(b"\r\n");
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}

/// The last sequence number of a batch payload starting at `first`.
pub(crate) fn last_seq(first: u64, payload: &[u8]) -> u64 {
    let count = payload
        .get(8..12)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(1, u32::from_le_bytes);
    first + u64::from(count.max(1)) - 1
}

/// Serves a replica on `conn` until it goes.
pub(crate) async fn serve<S>(conn: &mut Connection<'_, S>, request: SyncRequest) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let shared = conn.shared.clone();
    let repl = &shared.replication;
    let id = conn.session.info.id;
    let state = repl.state();
    let partial = request
        .replid
        .as_deref()
        .is_some_and(|r| request.psync && repl.can_continue(r, request.offset));
    let from = if partial {
        Replication::count(&repl.sync_partial_ok);
        let line = format!("+CONTINUE {}\r\n", state.replid);
        if let Err(e) = conn.stream.write_all(line.as_bytes()).await {
            return End::Failed(e.to_string());
        }
        // `can_continue` checked it is at least 1.
        request.offset.unsigned_abs() - 1
    } else {
        if request.replid.is_some() {
            Replication::count(&repl.sync_partial_err);
        }
        Replication::count(&repl.sync_full);
        match full_sync(conn, &shared, &state.replid, request.psync).await {
            Ok(seq) => seq,
            Err(end) => return end,
        }
    };
    let ip = request
        .ip
        .clone()
        .unwrap_or_else(|| conn.session.info.addr.ip().to_string());
    conn.session.info.replica.store(true, Ordering::Relaxed);
    repl.add_replica(
        id,
        Fed {
            ip,
            port: request.port,
            online: true,
            ack: from,
            last_ack: Instant::now(),
        },
    );
    tracing::info!(replica = id, from, partial, "replica online");
    let end = stream(conn, &shared, from).await;
    repl.remove_replica(id);
    tracing::info!(replica = id, "replica gone");
    end
}

/// Takes a checkpoint and sends it; returns the sequence number it holds.
async fn full_sync<S>(
    conn: &mut Connection<'_, S>,
    shared: &Arc<Shared>,
    replid: &str,
    psync: bool,
) -> Result<u64, End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let failed = |e: &dyn std::fmt::Display| End::Failed(format!("full sync: {e}"));
    let dir = shared
        .config
        .read()
        .dir
        .join(format!("sync-{}.checkpoint", conn.session.info.id));
    let _ = std::fs::remove_dir_all(&dir);
    let db = shared.db.handle().map_err(|e| failed(&e))?;
    let at = dir.clone();
    let seq = tokio::task::spawn_blocking(move || db.checkpoint(&at))
        .await
        .map_err(|e| failed(&e))?
        .map_err(|e| failed(&e))?;
    let sent = async {
        let (files, total) = snapshot::listing(&dir)?;
        let status = if psync {
            format!("+FULLRESYNC {replid} {seq}\r\n")
        } else {
            String::new()
        };
        let head = format!("{status}${total}\r\n");
        conn.stream.write_all(head.as_bytes()).await?;
        snapshot::send(&dir, &files, &mut conn.stream).await?;
        conn.stream.flush().await
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    sent.map_err(|e| failed(&e))?;
    Ok(seq)
}

/// The write stream, from the batch after `from` on.
async fn stream<S>(conn: &mut Connection<'_, S>, shared: &Arc<Shared>, mut from: u64) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let repl = &shared.replication;
    let id = conn.session.info.id;
    let mut grown = repl.backlog.watch();
    let mut getack = repl.getack.subscribe();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let limits = Limits::default();
    // The stream's payload bytes written out, counted as the backlog counts them.
    let mut sent = repl.backlog.bytes_through(from);
    loop {
        loop {
            let batches = match repl.backlog.after(from, TURN_BYTES) {
                Ok(batches) => batches,
                Err(gone) => {
                    tracing::warn!(replica = id, from, %gone, "replica fell out of the backlog; disconnecting it");
                    return End::Normal;
                }
            };
            if batches.is_empty() {
                break;
            }
            for (first, payload) in &batches {
                encode_batch(&mut conn.output, payload);
                from = last_seq(*first, payload);
                sent += payload.len() as u64;
            }
            if let Err(end) = send(conn, sent).await {
                return end;
            }
        }
        let kill = &mut conn.kill;
        let read = conn.stream.read_buf(&mut conn.input);
        tokio::select! {
            biased;
            () = kill.thrown() => return End::Normal,
            read = read => match read {
                Ok(0) => return End::Normal,
                Ok(_) => {
                    if let Err(end) = acks(&mut conn.input, &limits, repl, id) {
                        return end;
                    }
                }
                Err(e) => return End::Failed(e.to_string()),
            },
            changed = grown.changed() => if changed.is_err() { return End::Normal },
            changed = getack.changed() => {
                if changed.is_err() { return End::Normal }
                resp::encode_request(&[&b"REPLCONF"[..], b"GETACK", b"*"], &mut conn.output);
                if let Err(end) = send(conn, sent).await { return end; }
            }
            _ = ping.tick() => {
                resp::encode_request(&[Bytes::from_static(b"PING")], &mut conn.output);
                if let Err(end) = send(conn, sent).await { return end; }
            }
        }
    }
}

/// Writes out `conn.output` (the stream up to `sent` payload bytes) within the replica
/// output limit, read live for CONFIG SET. What the replica has not taken includes the
/// backlog's bytes after `sent`, as Redis counts the replication buffer a replica has not
/// reached; a replica the backlog left behind lacks even more, so the limit ends it too.
async fn send<S>(conn: &mut Connection<'_, S>, sent: u64) -> Result<(), End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let shared = conn.shared;
    let limit = shared.config.read().client_output_buffer_limit.replica;
    let backlog = &shared.replication.backlog;
    conn.write_limited(limit, || backlog.bytes_committed().saturating_sub(sent))
        .await
}

/// Takes the replica's `REPLCONF ACK <offset>` frames out of `input`.
fn acks(input: &mut BytesMut, limits: &Limits, repl: &Replication, id: u64) -> Result<(), End> {
    loop {
        match resp::parse_request(input, limits) {
            Ok(Some(args)) => {
                if let [cmd, sub, offset, ..] = &args[..] {
                    if cmd.eq_ignore_ascii_case(b"replconf") && sub.eq_ignore_ascii_case(b"ack") {
                        if let Some(n) = std::str::from_utf8(offset)
                            .ok()
                            .and_then(|s| s.parse::<u64>().ok())
                        {
                            repl.with_replica(id, |fed| {
                                fed.ack = fed.ack.max(n);
                                fed.last_ack = Instant::now();
                            });
                            repl.acked.notify_waiters();
                        }
                    }
                }
            }
            Ok(None) => return Ok(()),
            Err(e) => return Err(End::Failed(format!("replica sent garbage: {e}"))),
        }
    }
}
