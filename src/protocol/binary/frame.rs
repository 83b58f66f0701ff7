//! Frames: the 14-byte header, request bodies by opcode, and response frames.

use std::ops::Bound;

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::streaming::{le_u32, le_u64, u8 as nom_u8};

use super::body::Body;
use super::types::{BatchOp, Condition, Op, Request, Response};
use super::value::{encode_value, value_size_hint};
use super::{incomplete, opcode, put_bytes, tag, FLAG_MORE, HEADER_LEN};
use crate::protocol::{Limits, ProtocolError};

struct Header {
    len: usize,
    opcode: u8,
    flags: u8,
    id: u64,
}

/// The frame header, checked against the limit as soon as the length's four bytes are in,
/// and the opcode as soon as it is in: neither waits for the body.
fn header(
    buf: &[u8],
    limits: &Limits,
    valid: fn(u8) -> bool,
) -> Result<Option<Header>, ProtocolError> {
    if let Some((_, len)) = incomplete(le_u32::<_, ()>(buf))? {
        if len as usize > limits.max_frame_len {
            return Err(ProtocolError::FrameTooBig {
                len: u64::from(len),
                max: limits.max_frame_len,
            });
        }
    }
    if let Some(&opcode) = buf.get(4) {
        if !valid(opcode) {
            return Err(ProtocolError::UnknownOpcode { opcode });
        }
    }
    let parsed = incomplete((|input| {
        let (input, len) = le_u32(input)?;
        let (input, opcode) = nom_u8(input)?;
        let (input, flags) = nom_u8(input)?;
        let (input, id) = le_u64(input)?;
        Ok((input, (len, opcode, flags, id)))
    })(buf))?;
    Ok(parsed.map(|(_, (len, opcode, flags, id))| Header {
        len: len as usize,
        opcode,
        flags,
        id,
    }))
}

/// Splits a complete frame off `buf`; returns the header and the frozen frame.
fn frame(
    buf: &mut BytesMut,
    limits: &Limits,
    valid: fn(u8) -> bool,
) -> Result<Option<(Header, Bytes)>, ProtocolError> {
    let Some(h) = header(buf, limits, valid)? else {
        return Ok(None);
    };
    if buf.len() - HEADER_LEN < h.len {
        // No reserve for the announced body: the buffer grows as bytes arrive, so a length
        // field alone never makes us allocate.
        return Ok(None);
    }
    let frame = buf.split_to(HEADER_LEN + h.len).freeze();
    Ok(Some((h, frame)))
}

fn is_request_opcode(op: u8) -> bool {
    use opcode::{
        AUTH, BATCH, DELETE, EXPIRE, GET, GET_VERSIONED, INCR_BY, PING, RANGE, RESP, SET,
    };
    matches!(
        op,
        PING | AUTH | GET | GET_VERSIONED | SET | DELETE | INCR_BY | EXPIRE | BATCH | RANGE | RESP
    )
}

fn is_response_opcode(op: u8) -> bool {
    op == opcode::RESPONSE
}

/// Writes a frame header with a zero length and returns where the length goes.
fn begin_frame(out: &mut BytesMut, opcode: u8, flags: u8, id: u64) -> usize {
    let at = out.len();
    out.put_u32_le(0);
    out.put_u8(opcode);
    out.put_u8(flags);
    out.put_u64_le(id);
    at
}

/// Patches the body length in. A body over 4 GiB cannot be framed: its length is written
/// as `u32::MAX`, which every receiver rejects as over its frame limit.
fn end_frame(out: &mut BytesMut, at: usize) {
    let body = out.len() - at - HEADER_LEN;
    let len = u32::try_from(body).unwrap_or(u32::MAX);
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

fn put_opt_u64(out: &mut BytesMut, v: Option<u64>) {
    match v {
        None => out.put_u8(0),
        Some(v) => {
            out.put_u8(1);
            out.put_u64_le(v);
        }
    }
}

fn put_bound(out: &mut BytesMut, b: &Bound<Bytes>) {
    match b {
        Bound::Unbounded => out.put_u8(0),
        Bound::Included(k) => {
            out.put_u8(1);
            put_bytes(out, k);
        }
        Bound::Excluded(k) => {
            out.put_u8(2);
            put_bytes(out, k);
        }
    }
}

fn op_size_hint(op: &Op) -> usize {
    match op {
        Op::Get { key } | Op::GetVersioned { key } | Op::Delete { key } => 4 + key.len(),
        Op::Set {
            key,
            value,
            condition,
            ..
        } => {
            let c = match condition {
                Condition::IfValueEquals(v) => 4 + v.len(),
                _ => 8,
            };
            8 + key.len() + value.len() + 1 + c + 9
        }
        Op::IncrBy { key, .. } | Op::Expire { key, .. } => 12 + key.len(),
        Op::Batch { ops } => {
            4 + ops
                .iter()
                .map(|o| match o {
                    BatchOp::Put { key, value } => 9 + key.len() + value.len(),
                    BatchOp::Delete { key } => 5 + key.len(),
                })
                .sum::<usize>()
        }
        Op::Range { start, end, .. } => {
            let b = |b: &Bound<Bytes>| match b {
                Bound::Unbounded => 1,
                Bound::Included(k) | Bound::Excluded(k) => 5 + k.len(),
            };
            b(start) + b(end) + 10
        }
        Op::Ping => 0,
        Op::Auth { username, password } => {
            1 + username.as_ref().map_or(0, |u| 4 + u.len()) + 4 + password.len()
        }
        Op::Resp { args } => 4 + args.iter().map(|a| 4 + a.len()).sum::<usize>(),
    }
}

/// Client side: one request frame, appended to `out`.
pub fn encode_request(req: &Request, out: &mut BytesMut) {
    out.reserve(HEADER_LEN + op_size_hint(&req.op));
    let code = match &req.op {
        Op::Get { .. } => opcode::GET,
        Op::GetVersioned { .. } => opcode::GET_VERSIONED,
        Op::Set { .. } => opcode::SET,
        Op::Delete { .. } => opcode::DELETE,
        Op::IncrBy { .. } => opcode::INCR_BY,
        Op::Expire { .. } => opcode::EXPIRE,
        Op::Batch { .. } => opcode::BATCH,
        Op::Range { .. } => opcode::RANGE,
        Op::Ping => opcode::PING,
        Op::Auth { .. } => opcode::AUTH,
        Op::Resp { .. } => opcode::RESP,
    };
    let at = begin_frame(out, code, 0, req.id);
    match &req.op {
        Op::Get { key } | Op::GetVersioned { key } | Op::Delete { key } => put_bytes(out, key),
        Op::Set {
            key,
            value,
            condition,
            expiry_ms,
        } => {
            put_bytes(out, key);
            put_bytes(out, value);
            match condition {
                Condition::None => out.put_u8(0),
                Condition::IfAbsent => out.put_u8(1),
                Condition::IfPresent => out.put_u8(2),
                Condition::IfValueEquals(v) => {
                    out.put_u8(3);
                    put_bytes(out, v);
                }
                Condition::IfVersionEquals(v) => {
                    out.put_u8(4);
                    out.put_u64_le(*v);
                }
            }
            put_opt_u64(out, *expiry_ms);
        }
        Op::IncrBy { key, delta } => {
            put_bytes(out, key);
            out.put_i64_le(*delta);
        }
        Op::Expire { key, ttl_ms } => {
            put_bytes(out, key);
            out.put_u64_le(*ttl_ms);
        }
        Op::Batch { ops } => {
            out.put_u32_le(u32::try_from(ops.len()).unwrap_or(u32::MAX));
            for op in ops {
                match op {
                    BatchOp::Put { key, value } => {
                        out.put_u8(1);
                        put_bytes(out, key);
                        put_bytes(out, value);
                    }
                    BatchOp::Delete { key } => {
                        out.put_u8(2);
                        put_bytes(out, key);
                    }
                }
            }
        }
        Op::Range {
            start,
            end,
            limit,
            reverse,
        } => {
            put_bound(out, start);
            put_bound(out, end);
            put_opt_u64(out, *limit);
            out.put_u8(u8::from(*reverse));
        }
        Op::Ping => {}
        Op::Auth { username, password } => {
            match username {
                None => out.put_u8(0),
                Some(u) => {
                    out.put_u8(1);
                    put_bytes(out, u);
                }
            }
            put_bytes(out, password);
        }
        Op::Resp { args } => {
            out.put_u32_le(u32::try_from(args.len()).unwrap_or(u32::MAX));
            for a in args {
                put_bytes(out, a);
            }
        }
    }
    end_frame(out, at);
}

/// A SET request's body: key, value, condition, optional expiry.
fn set_op(r: &mut Body<'_>) -> Result<Op, ProtocolError> {
    let key = r.bytes("key")?;
    let value = r.bytes("value")?;
    let condition = match r.u8("set condition")? {
        0 => Condition::None,
        1 => Condition::IfAbsent,
        2 => Condition::IfPresent,
        3 => Condition::IfValueEquals(r.bytes("set condition value")?),
        4 => Condition::IfVersionEquals(r.u64("set condition version")?),
        _ => {
            return Err(ProtocolError::Invalid {
                what: "set condition",
            })
        }
    };
    let expiry_ms = if r.flag("set expiry flag")? {
        Some(r.u64("set expiry")?)
    } else {
        None
    };
    Ok(Op::Set {
        key,
        value,
        condition,
        expiry_ms,
    })
}

/// A BATCH request's body: a count, then that many puts and deletes.
fn batch_op(r: &mut Body<'_>) -> Result<Op, ProtocolError> {
    let n = r.count("batch count", 5)?;
    let mut ops = Vec::with_capacity(n.min(r.remaining() / 5));
    for _ in 0..n {
        ops.push(match r.u8("batch op kind")? {
            1 => BatchOp::Put {
                key: r.bytes("batch key")?,
                value: r.bytes("batch value")?,
            },
            2 => BatchOp::Delete {
                key: r.bytes("batch key")?,
            },
            _ => {
                return Err(ProtocolError::Invalid {
                    what: "batch op kind",
                })
            }
        });
    }
    Ok(Op::Batch { ops })
}

/// Server side: one request frame from the front of `buf`. `Ok(None)`: incomplete, nothing
/// consumed.
/// `Err`: reply with the error (request id 0 if it is unknown), then close the connection.
pub fn parse_request(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Request>, ProtocolError> {
    let Some((h, frame)) = frame(buf, limits, is_request_opcode)? else {
        return Ok(None);
    };
    if h.flags != 0 {
        return Err(ProtocolError::Invalid {
            what: "frame flags",
        });
    }
    let mut r = Body::new(frame, limits);
    let op = match h.opcode {
        opcode::PING => Op::Ping,
        opcode::AUTH => {
            let username = if r.flag("auth username flag")? {
                Some(r.bytes("auth username")?)
            } else {
                None
            };
            Op::Auth {
                username,
                password: r.bytes("auth password")?,
            }
        }
        opcode::GET => Op::Get {
            key: r.bytes("key")?,
        },
        opcode::GET_VERSIONED => Op::GetVersioned {
            key: r.bytes("key")?,
        },
        opcode::SET => set_op(&mut r)?,
        opcode::DELETE => Op::Delete {
            key: r.bytes("key")?,
        },
        opcode::INCR_BY => Op::IncrBy {
            key: r.bytes("key")?,
            delta: r.i64("incrby delta")?,
        },
        opcode::EXPIRE => Op::Expire {
            key: r.bytes("key")?,
            ttl_ms: r.u64("expire ttl")?,
        },
        opcode::BATCH => batch_op(&mut r)?,
        opcode::RANGE => Op::Range {
            start: r.bound("range start")?,
            end: r.bound("range end")?,
            limit: if r.flag("range limit flag")? {
                Some(r.u64("range limit")?)
            } else {
                None
            },
            reverse: r.flag("range reverse flag")?,
        },
        opcode::RESP => {
            let n = r.count("resp argument count", 4)?;
            let mut args = Vec::with_capacity(n.min(r.remaining() / 4));
            for _ in 0..n {
                args.push(r.bytes("resp argument")?);
            }
            Op::Resp { args }
        }
        opcode => return Err(ProtocolError::UnknownOpcode { opcode }),
    };
    r.finish()?;
    Ok(Some(Request { id: h.id, op }))
}

/// Server side: one response frame, appended to `out`.
pub fn encode_response(resp: &Response, out: &mut BytesMut) {
    out.reserve(HEADER_LEN + value_size_hint(&resp.body));
    let flags = if resp.more { FLAG_MORE } else { 0 };
    let at = begin_frame(out, opcode::RESPONSE, flags, resp.id);
    encode_value(&resp.body, out);
    end_frame(out, at);
}

/// Server side: a response frame whose body is one bulk string, encoded from where the
/// value lies (no `Reply` holding it), appended to `out`. The same bytes as
/// [`encode_response`] of `Reply::Bulk(value)`.
pub fn encode_bulk_response(id: u64, value: &[u8], out: &mut BytesMut) {
    out.reserve(HEADER_LEN + 5 + value.len());
    let at = begin_frame(out, opcode::RESPONSE, 0, id);
    out.put_u8(tag::BULK);
    put_bytes(out, value);
    end_frame(out, at);
}

/// Client side: one response frame from the front of `buf`. `Ok(None)`: incomplete,
/// nothing consumed.
pub fn parse_response(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Response>, ProtocolError> {
    let Some((h, frame)) = frame(buf, limits, is_response_opcode)? else {
        return Ok(None);
    };
    if h.flags & !FLAG_MORE != 0 {
        return Err(ProtocolError::Invalid {
            what: "frame flags",
        });
    }
    let mut r = Body::new(frame, limits);
    let body = r.value(0)?;
    r.finish()?;
    Ok(Some(Response {
        id: h.id,
        more: h.flags & FLAG_MORE != 0,
        body,
    }))
}
