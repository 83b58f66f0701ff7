//! A connection speaking Cairn's native binary protocol (docs/protocol.md).
//!
//! After the handshake, every request frame becomes the same `Command` a RESP request would
//! and goes through the same dispatcher; replies go back as response frames carrying the
//! request's id. A range is streamed: chunks of pairs with the MORE flag, then a final frame,
//! read from one snapshot page by page, so a scan of any size needs bounded memory.

use std::ops::Bound;

use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;

use super::clients::{KillWatch, Registration};
use super::commands::scan::live_entries;
use super::connection::{flush, read_more, End, FLUSH_AT};
use super::dispatch;
use super::keyspace::Keyspace;
use super::session::Session;
use super::shared::{Shared, Stats};
use crate::protocol::binary::{self, Condition, HandshakeReply, Op, Response};
use crate::protocol::command::{BatchOp, Command, ExpireAt, Expiry, Set, SetCondition};
use crate::protocol::{Reply, RespVersion};

/// Pairs per streamed range chunk.
const RANGE_CHUNK: usize = 256;

/// The `Command` a native request means; `Err` is the error reply for a bad `Resp` op.
fn command_of(op: Op) -> Result<Command, Reply> {
    Ok(match op {
        Op::Get { key } => Command::Get { key },
        Op::GetVersioned { key } => Command::GetVersioned { key },
        Op::Set {
            key,
            value,
            condition,
            expiry_ms,
        } => Command::Set(Set {
            key,
            value,
            condition: match condition {
                Condition::None => None,
                Condition::IfAbsent => Some(SetCondition::Nx),
                Condition::IfPresent => Some(SetCondition::Xx),
                Condition::IfValueEquals(v) => Some(SetCondition::IfEq(v)),
                Condition::IfVersionEquals(v) => Some(SetCondition::IfVersion(v)),
            },
            get: false,
            expiry: expiry_ms.map(Expiry::Millis),
        }),
        Op::Delete { key } => Command::Del { keys: vec![key] },
        Op::IncrBy { key, delta } => Command::IncrBy { key, delta },
        Op::Expire { key, ttl_ms } => Command::Expire {
            key,
            when: ExpireAt::Millis(i64::try_from(ttl_ms).unwrap_or(i64::MAX)),
            condition: None,
        },
        Op::Batch { ops } => Command::Batch {
            ops: ops
                .into_iter()
                .map(|op| match op {
                    binary::BatchOp::Put { key, value } => BatchOp::Put { key, value },
                    binary::BatchOp::Delete { key } => BatchOp::Delete { key },
                })
                .collect(),
        },
        Op::Range {
            start,
            end,
            limit,
            reverse,
        } => Command::Range {
            start,
            end,
            limit: limit.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            reverse,
            keys_only: false,
        },
        Op::Ping => Command::Ping { message: None },
        Op::Auth { username, password } => Command::Auth { username, password },
        Op::Resp { args } => Command::parse(args).map_err(|e| Reply::error(e.to_string()))?,
    })
}

/// Serves a native connection whose first bytes (the handshake) are in `input`.
pub(super) async fn serve(
    shared: &Shared,
    stream: &mut TcpStream,
    mut input: BytesMut,
    registration: &Registration,
    kill: &mut KillWatch<'_>,
) -> End {
    let info = &registration.info;
    info.details.lock().protocol = 0;
    let mut session = Session::new(info.clone(), shared.config.read().requirepass.is_none());
    // Native replies use RESP3's richer shapes (maps, doubles, booleans).
    session.resp = RespVersion::Resp3;
    let mut output = BytesMut::new();
    let handshake = loop {
        match binary::parse_handshake(&mut input, &shared.limits) {
            Ok(Some(handshake)) => break handshake,
            Ok(None) => match read_more(shared, stream, &mut input, kill).await {
                Ok(true) => {}
                Ok(false) => return End::Normal,
                Err(end) => return end,
            },
            Err(error) => {
                binary::encode_handshake_reply(
                    &HandshakeReply::Rejected {
                        message: Bytes::from(error.to_string()),
                    },
                    &mut output,
                );
                let _ = flush(stream, &mut output, &mut session).await;
                return End::Normal;
            }
        }
    };
    let mut reject = None;
    if handshake.version < 1 {
        reject = Some("NOPROTO unsupported protocol version".to_string());
    } else if let Some(credentials) = handshake.credentials {
        let reply = dispatch::execute_command(
            shared,
            &mut session,
            Command::Auth {
                username: credentials.username,
                password: credentials.password,
            },
        );
        if let Reply::Error(message) = reply {
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
    binary::encode_handshake_reply(&reply, &mut output);
    if let Err(end) = flush(stream, &mut output, &mut session).await {
        return end;
    }
    if !accepted {
        return End::Normal;
    }

    loop {
        let mut processed = 0;
        loop {
            match binary::parse_request(&mut input, &shared.limits) {
                Ok(Some(request)) => {
                    processed += 1;
                    let id = request.id;
                    match command_of(request.op) {
                        Ok(Command::Range {
                            start,
                            end,
                            limit,
                            reverse,
                            ..
                        }) if session.authenticated => {
                            let range = (start, end, limit, reverse);
                            if let Err(end) =
                                stream_range(shared, stream, &mut output, &mut session, id, range)
                                    .await
                            {
                                return end;
                            }
                        }
                        Ok(command) => {
                            let body = dispatch::execute_command(shared, &mut session, command);
                            binary::encode_response(
                                &Response {
                                    id,
                                    more: false,
                                    body,
                                },
                                &mut output,
                            );
                        }
                        Err(body) => {
                            binary::encode_response(
                                &Response {
                                    id,
                                    more: false,
                                    body,
                                },
                                &mut output,
                            );
                        }
                    }
                    if session.closing {
                        break;
                    }
                    if output.len() >= FLUSH_AT {
                        if let Err(end) = flush(stream, &mut output, &mut session).await {
                            return end;
                        }
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    let body = Reply::from(error);
                    binary::encode_response(
                        &Response {
                            id: 0,
                            more: false,
                            body,
                        },
                        &mut output,
                    );
                    session.closing = true;
                    break;
                }
            }
        }
        Stats::add(&shared.stats.commands_processed, processed);
        info.touch();
        if let Err(end) = flush(stream, &mut output, &mut session).await {
            return end;
        }
        if session.closing {
            return End::Normal;
        }
        match read_more(shared, stream, &mut input, kill).await {
            Ok(true) => {}
            Ok(false) => return End::Normal,
            Err(end) => return end,
        }
    }
}

/// Streams a range as chunks of at most [`RANGE_CHUNK`] pairs (maps in key order), flushing
/// as the output grows; the final frame (MORE clear) may be empty.
async fn stream_range(
    shared: &Shared,
    stream: &mut TcpStream,
    output: &mut BytesMut,
    session: &mut Session,
    id: u64,
    (start, end, limit, reverse): (Bound<Bytes>, Bound<Bytes>, Option<usize>, bool),
) -> Result<(), End> {
    let now = Keyspace::new(shared).now();
    let mut entries =
        live_entries(&shared.db, (start, end), reverse, now).take(limit.unwrap_or(usize::MAX));
    let mut chunk = Vec::with_capacity(RANGE_CHUNK);
    loop {
        let next = entries.next();
        let finished = next.is_none();
        match next {
            Some(Ok((key, entry))) => chunk.push((Reply::Bulk(key), Reply::Bulk(entry.value))),
            Some(Err(error)) => {
                let body = Reply::error(error.to_string());
                binary::encode_response(
                    &Response {
                        id,
                        more: false,
                        body,
                    },
                    output,
                );
                return Ok(());
            }
            None => {}
        }
        if finished || chunk.len() == RANGE_CHUNK {
            let body = Reply::Map(std::mem::take(&mut chunk));
            binary::encode_response(
                &Response {
                    id,
                    more: !finished,
                    body,
                },
                output,
            );
            if finished {
                return Ok(());
            }
            if output.len() >= FLUSH_AT {
                flush(stream, output, session).await?;
            }
        }
    }
}
