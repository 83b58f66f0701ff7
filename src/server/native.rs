//! What a connection speaking Cairn's native binary protocol (docs/protocol.md) does beyond
//! the loop it shares with RESP: the handshake, and ranges streamed in chunks.
//!
//! Every request frame is the same `Command` a RESP request of that meaning parses to
//! (`protocol::command::Request::from`) and runs through the same dispatch and rounds;
//! replies go back as response frames carrying the request's id. A range is streamed:
//! chunks of pairs with the MORE flag, then a final frame, read from one snapshot page by
//! page, so a scan of any size needs bounded memory.

use std::ops::Bound;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use super::commands::scan::live_entries;
use super::connection::{Connection, End, FLUSH_AT};
use super::dispatch;
use super::keyspace::Keyspace;
use super::session::Session;
use crate::protocol::binary::{self, HandshakeReply, Response};
use crate::protocol::command::{Command, CommandSpec, Family, ScanCommand};
use crate::protocol::{Reply, RespVersion};

/// Pairs per streamed range chunk.
const RANGE_CHUNK: usize = 256;

/// Runs the handshake whose first bytes are in the connection's input. Ok(false) when it
/// was refused (its reply sent) or the peer left.
pub(super) async fn handshake<S>(conn: &mut Connection<'_, S>) -> Result<bool, End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    conn.session.info.details.lock().protocol = 0;
    // Native replies use RESP3's richer shapes (maps, doubles, booleans).
    conn.session.resp = RespVersion::Resp3;
    let handshake = loop {
        match binary::parse_handshake(&mut conn.input, &conn.shared.limits) {
            Ok(Some(handshake)) => break handshake,
            Ok(None) => {
                if !conn.read_more().await? {
                    return Ok(false);
                }
            }
            Err(error) => {
                let message = Bytes::from(error.to_string());
                binary::encode_handshake_reply(
                    &HandshakeReply::Rejected { message },
                    &mut conn.output,
                );
                let _ = conn.flush().await;
                return Ok(false);
            }
        }
    };
    let mut reject = None;
    if handshake.version < 1 {
        reject = Some("NOPROTO unsupported protocol version".to_string());
    } else if let Some(credentials) = handshake.credentials {
        let auth = Command::auth(credentials.username, credentials.password);
        if let Reply::Error(message) =
            dispatch::execute_command(conn.shared, &mut conn.session, auth)
        {
            reject = Some(String::from_utf8_lossy(&message).into_owned());
        }
    }
    let reply = match reject {
        Some(message) => HandshakeReply::Rejected {
            message: Bytes::from(message),
        },
        None => HandshakeReply::Accepted {
            version: handshake.version.min(binary::VERSION),
            server: Bytes::from(format!("cairn {}", env!("CARGO_PKG_VERSION"))),
        },
    };
    let accepted = matches!(reply, HandshakeReply::Accepted { .. });
    binary::encode_handshake_reply(&reply, &mut conn.output);
    conn.flush().await?;
    Ok(accepted)
}

/// A native RANGE request to stream: its id and bounds.
pub(super) struct RangeStream {
    spec: &'static CommandSpec,
    id: u64,
    range: (Bound<Bytes>, Bound<Bytes>),
    limit: Option<usize>,
    reverse: bool,
}

impl RangeStream {
    /// The range `command`, on a native connection, asks for, if it is one to stream now:
    /// a RANGE (typed, or by name through the `Resp` op) from an authenticated session
    /// outside MULTI (otherwise it runs as any command: NOAUTH, or queued).
    pub(super) fn of(session: &Session, id: u64, command: &Command) -> Option<RangeStream> {
        let Family::Scan(ScanCommand::Range(range)) = command.family() else {
            return None;
        };
        if range.keys_only {
            return None;
        }
        let now = session.authenticated && session.multi.is_none();
        now.then(|| RangeStream {
            spec: command.spec(),
            id,
            range: (range.start.clone(), range.end.clone()),
            limit: range.limit,
            reverse: range.reverse,
        })
    }
}

/// Streams a range as chunks of at most [`RANGE_CHUNK`] pairs (maps in key order), flushing
/// as the output grows; the final frame (MORE clear) may be empty.
pub(super) async fn stream_range<S>(
    conn: &mut Connection<'_, S>,
    stream: RangeStream,
) -> Result<(), End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    conn.session.ran(stream.spec);
    let now = Keyspace::new(conn.shared).now();
    let id = stream.id;
    let mut entries = live_entries(conn.shared, stream.range, stream.reverse, now)
        .take(stream.limit.unwrap_or(usize::MAX));
    let mut chunk = Vec::with_capacity(RANGE_CHUNK);
    loop {
        let next = entries.next();
        let finished = next.is_none();
        match next {
            Some(Ok((key, entry))) => chunk.push((Reply::Bulk(key), Reply::Bulk(entry.value))),
            Some(Err(error)) => {
                let message = error.to_string();
                conn.shared.stats.errors.record(message.as_bytes());
                let body = Reply::error(message);
                binary::encode_response(
                    &Response {
                        id,
                        more: false,
                        body,
                    },
                    &mut conn.output,
                );
                return Ok(());
            }
            None => {}
        }
        if finished || chunk.len() == RANGE_CHUNK {
            let body = Reply::Map(std::mem::take(&mut chunk));
            let more = !finished;
            binary::encode_response(&Response { id, more, body }, &mut conn.output);
            if finished {
                return Ok(());
            }
            if conn.output.len() >= FLUSH_AT {
                conn.flush().await?;
            }
        }
    }
}
