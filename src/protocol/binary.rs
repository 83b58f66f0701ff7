//! The native binary protocol: handshake, length-prefixed frames, requests and responses.
//!
//! It owns the byte layout specified in docs/protocol.md and nothing else: it never turns
//! an [`Op`] into a `Command` (the server does that) and never touches sockets. Frames carry
//! a request id, so one connection has many requests in flight and responses come back in
//! any order. Every length is checked before allocating or waiting for what it claims: the
//! frame length against `Limits::max_frame_len` as soon as its four bytes are in, element
//! counts against the bytes actually present. Bodies decode zero-copy (slices of the frame).

use std::ops::Bound;

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::streaming::{le_u16, le_u32, le_u64, u8 as nom_u8};

use super::{Limits, ProtocolError, Reply};

/// The first byte of a native connection. No RESP request begins with it: those begin with
/// `*` or printable text.
pub const MAGIC: u8 = 0xCA;
/// The newest protocol version this code speaks.
pub const VERSION: u8 = 1;
/// Bytes in a frame header: length u32, opcode u8, flags u8, request id u64.
pub const HEADER_LEN: usize = 14;

/// Frame opcodes (docs/protocol.md, "Opcodes").
pub mod opcode {
    /// Ping: empty body.
    pub const PING: u8 = 0x01;
    /// Authenticate.
    pub const AUTH: u8 = 0x02;
    /// Read a key.
    pub const GET: u8 = 0x10;
    /// Read a key with its version.
    pub const GET_VERSIONED: u8 = 0x11;
    /// Write a key, optionally conditional and expiring.
    pub const SET: u8 = 0x12;
    /// Delete a key.
    pub const DELETE: u8 = 0x13;
    /// Add to a counter.
    pub const INCR_BY: u8 = 0x14;
    /// Set a key's time to live.
    pub const EXPIRE: u8 = 0x15;
    /// Atomic batch of puts and deletes.
    pub const BATCH: u8 = 0x16;
    /// Ordered range scan, answered in chunks.
    pub const RANGE: u8 = 0x17;
    /// Any Redis command by its argument list.
    pub const RESP: u8 = 0x20;
    /// Server to client: a response.
    pub const RESPONSE: u8 = 0x80;
}

/// Response frame flag: more chunks of this request's stream follow.
pub const FLAG_MORE: u8 = 0x01;

/// Handshake flag: credentials follow.
const HS_CREDENTIALS: u8 = 0x01;
/// Handshake flag: the credentials include a username.
const HS_USERNAME: u8 = 0x02;

// ---------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------

/// Username and password sent in the handshake or with [`Op::Auth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The ACL user; `None` means the default user (`requirepass`).
    pub username: Option<Bytes>,
    /// The password.
    pub password: Bytes,
}

/// The client's opening message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The newest protocol version the client speaks.
    pub version: u8,
    /// Credentials to authenticate with before the first request, if any.
    pub credentials: Option<Credentials>,
}

/// The server's answer to a [`Handshake`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeReply {
    /// Frames may follow, in the given version.
    Accepted {
        /// The version both sides will speak (at most the client's).
        version: u8,
        /// The server's name and version, e.g. `cairn 0.1.0`.
        server: Bytes,
    },
    /// The connection will be closed.
    Rejected {
        /// Error text with its code word, e.g. `NOPROTO unsupported protocol version`.
        message: Bytes,
    },
}

/// When a [`Op::Set`] may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Always.
    None,
    /// Only if the key does not exist (Redis NX).
    IfAbsent,
    /// Only if the key exists (Redis XX).
    IfPresent,
    /// Only if the current value equals this one (Redis 8.4 IFEQ).
    IfValueEquals(Bytes),
    /// Only if the key's current version equals this one (from [`Op::GetVersioned`]).
    IfVersionEquals(u64),
}

/// One write in an [`Op::Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    /// Write a value.
    Put {
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
    },
    /// Delete a key.
    Delete {
        /// The key.
        key: Bytes,
    },
}

/// What a request asks. The server converts it to its `Command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Read a key: `Bulk` or `Null`.
    Get {
        /// The key.
        key: Bytes,
    },
    /// Read a key and its version: `Array[Bulk value, Integer version]` or `Null`.
    GetVersioned {
        /// The key.
        key: Bytes,
    },
    /// Write a key: `Simple OK`, or `Null` when the condition failed.
    Set {
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
        /// When to write.
        condition: Condition,
        /// Time to live in milliseconds from now; `None` keeps no expiry.
        expiry_ms: Option<u64>,
    },
    /// Delete a key: `Integer` 1 if it existed, else 0.
    Delete {
        /// The key.
        key: Bytes,
    },
    /// Add to an integer value: `Integer`, the new value.
    IncrBy {
        /// The key.
        key: Bytes,
        /// The amount to add (may be negative).
        delta: i64,
    },
    /// Set a time to live: `Integer` 1 if the key exists, else 0.
    Expire {
        /// The key.
        key: Bytes,
        /// Milliseconds from now.
        ttl_ms: u64,
    },
    /// Puts and deletes applied atomically: `Simple OK`.
    Batch {
        /// The writes, applied in order.
        ops: Vec<BatchOp>,
    },
    /// Ordered scan, answered as a stream of `Map` chunks (docs/protocol.md).
    Range {
        /// Lower bound.
        start: Bound<Bytes>,
        /// Upper bound.
        end: Bound<Bytes>,
        /// At most this many pairs in all.
        limit: Option<u64>,
        /// Descending order.
        reverse: bool,
    },
    /// `Simple PONG`.
    Ping,
    /// Authenticate: `Simple OK` or an error.
    Auth {
        /// The ACL user; `None` for the default user.
        username: Option<Bytes>,
        /// The password.
        password: Bytes,
    },
    /// Any Redis command by its argument list; answered as Redis would (RESP3 shapes).
    Resp {
        /// Command name and arguments.
        args: Vec<Bytes>,
    },
}

/// A request frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Chosen by the client; the response carries it back.
    pub id: u64,
    /// What is asked.
    pub op: Op,
}

/// A response frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The request's id.
    pub id: u64,
    /// A chunk of a streamed range: more frames for this id follow. The last has `false`.
    pub more: bool,
    /// The answer (errors are `Reply::Error`).
    pub body: Reply,
}

// ---------------------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------------------

type NomResult<'a, T> = nom::IResult<&'a [u8], T, ()>;

/// Streaming nom parsers with `()` errors: the only failure of these primitives is
/// "incomplete", which is all the handshake and header readers need from them.
fn incomplete<T>(r: Result<T, nom::Err<()>>) -> Result<Option<T>, ProtocolError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(nom::Err::Incomplete(_)) => Ok(None),
        Err(_) => Err(ProtocolError::Invalid { what: "frame" }),
    }
}

fn short_bytes(input: &[u8]) -> NomResult<'_, &[u8]> {
    let (input, len) = le_u16(input)?;
    nom::bytes::streaming::take(len)(input)
}

fn put_short_bytes(out: &mut BytesMut, b: &[u8]) {
    // Credentials and handshake texts are at most 64 KiB by format; longer ones are cut.
    let b = &b[..b.len().min(usize::from(u16::MAX))];
    out.put_u16_le(b.len() as u16);
    out.put_slice(b);
}

/// Client side: the handshake, appended to `out`. Credentials longer than 65,535 bytes
/// are cut to that length.
pub fn encode_handshake(hs: &Handshake, out: &mut BytesMut) {
    out.put_u8(MAGIC);
    out.put_u8(hs.version);
    match &hs.credentials {
        None => out.put_u8(0),
        Some(c) => {
            let user = if c.username.is_some() { HS_USERNAME } else { 0 };
            out.put_u8(HS_CREDENTIALS | user);
            if let Some(u) = &c.username {
                put_short_bytes(out, u);
            }
            put_short_bytes(out, &c.password);
        }
    }
}

/// Version, flags, and the lengths of the username and password if present.
type HandshakeFields = (u8, u8, Option<usize>, Option<usize>);

fn handshake_fields(input: &[u8]) -> NomResult<'_, HandshakeFields> {
    let (input, _) = nom_u8(input)?;
    let (input, version) = nom_u8(input)?;
    let (mut input, flags) = nom_u8(input)?;
    let (mut user, mut pass) = (None, None);
    if flags & HS_CREDENTIALS != 0 {
        if flags & HS_USERNAME != 0 {
            let (rest, u) = short_bytes(input)?;
            user = Some(u.len());
            input = rest;
        }
        let (rest, p) = short_bytes(input)?;
        pass = Some(p.len());
        input = rest;
    }
    Ok((input, (version, flags, user, pass)))
}

/// Server side: the client's handshake from the front of `buf`. `Ok(None)`: incomplete,
/// nothing consumed. A first byte other than [`MAGIC`] or unknown flag bits are errors.
/// The version is returned as sent: the server decides whether it can speak it.
pub fn parse_handshake(
    buf: &mut BytesMut,
    _limits: &Limits,
) -> Result<Option<Handshake>, ProtocolError> {
    if let Some(&b) = buf.first() {
        if b != MAGIC {
            return Err(ProtocolError::Invalid {
                what: "handshake magic byte",
            });
        }
    }
    // The flags are checked as soon as they are in, not after the credentials.
    if let Some(&flags) = buf.get(2) {
        if flags & !(HS_CREDENTIALS | HS_USERNAME) != 0
            || (flags & HS_USERNAME != 0 && flags & HS_CREDENTIALS == 0)
        {
            return Err(ProtocolError::Invalid {
                what: "handshake flags",
            });
        }
    }
    let Some((rest, (version, _flags, user, pass))) = incomplete(handshake_fields(buf))? else {
        return Ok(None);
    };
    let len = buf.len() - rest.len();
    let frame = buf.split_to(len).freeze();
    // Layout after the 3 fixed bytes: [u16 len, username] u16 len, password.
    let mut at = 3;
    let mut take = |n: usize| {
        let b = frame.slice(at + 2..at + 2 + n);
        at += 2 + n;
        b
    };
    let username = user.map(&mut take);
    let credentials = pass.map(|p| Credentials {
        username,
        password: take(p),
    });
    Ok(Some(Handshake {
        version,
        credentials,
    }))
}

/// Server side: the answer to a handshake, appended to `out`. Texts longer than 65,535
/// bytes are cut to that length.
pub fn encode_handshake_reply(reply: &HandshakeReply, out: &mut BytesMut) {
    out.put_u8(MAGIC);
    match reply {
        HandshakeReply::Accepted { version, server } => {
            out.put_u8(0);
            out.put_u8(*version);
            put_short_bytes(out, server);
        }
        HandshakeReply::Rejected { message } => {
            out.put_u8(1);
            put_short_bytes(out, message);
        }
    }
}

/// Magic, status, version and text length of a handshake reply; an unknown magic or
/// status stops the parse there (the caller reports it).
fn handshake_reply_fields(input: &[u8]) -> NomResult<'_, (u8, u8, u8, usize)> {
    let (input, magic) = nom_u8(input)?;
    let (input, status) = nom_u8(input)?;
    if magic != MAGIC || status > 1 {
        return Ok((input, (magic, status, 0, 0)));
    }
    let (input, version) = if status == 0 {
        nom_u8(input)?
    } else {
        (input, 0)
    };
    let (input, text) = short_bytes(input)?;
    Ok((input, (magic, status, version, text.len())))
}

/// Client side: the server's answer to the handshake from the front of `buf`.
pub fn parse_handshake_reply(
    buf: &mut BytesMut,
    _limits: &Limits,
) -> Result<Option<HandshakeReply>, ProtocolError> {
    let parsed = incomplete(handshake_reply_fields(buf))?;
    let Some((rest, (magic, status, version, text_len))) = parsed else {
        return Ok(None);
    };
    if magic != MAGIC {
        return Err(ProtocolError::Invalid {
            what: "handshake magic byte",
        });
    }
    if status > 1 {
        return Err(ProtocolError::Invalid {
            what: "handshake status",
        });
    }
    let len = buf.len() - rest.len();
    let frame = buf.split_to(len).freeze();
    let text = frame.slice(len - text_len..);
    Ok(Some(if status == 0 {
        HandshakeReply::Accepted {
            version,
            server: text,
        }
    } else {
        HandshakeReply::Rejected { message: text }
    }))
}

// ---------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------

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
    use opcode::*;
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

/// A length-prefixed byte string. Over 4 GiB it cannot be represented (see `end_frame`).
fn put_bytes(out: &mut BytesMut, b: &[u8]) {
    out.put_u32_le(u32::try_from(b.len()).unwrap_or(u32::MAX));
    out.put_slice(b);
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
        opcode::SET => {
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
            Op::Set {
                key,
                value,
                condition,
                expiry_ms,
            }
        }
        opcode::DELETE => Op::Delete {
            key: r.bytes("key")?,
        },
        opcode::INCR_BY => Op::IncrBy {
            key: r.bytes("key")?,
            delta: r.u64("incrby delta")? as i64,
        },
        opcode::EXPIRE => Op::Expire {
            key: r.bytes("key")?,
            ttl_ms: r.u64("expire ttl")?,
        },
        opcode::BATCH => {
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
            Op::Batch { ops }
        }
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

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

/// Value type tags (docs/protocol.md, "Values").
pub mod tag {
    /// Simple string: u32 len, bytes.
    pub const SIMPLE: u8 = 0x01;
    /// Error: u8 code length, u32 len, bytes (the code word is the text's first bytes).
    pub const ERROR: u8 = 0x02;
    /// Integer: i64.
    pub const INTEGER: u8 = 0x03;
    /// Bulk string: u32 len, bytes.
    pub const BULK: u8 = 0x04;
    /// Null.
    pub const NULL: u8 = 0x05;
    /// Null array.
    pub const NULL_ARRAY: u8 = 0x06;
    /// Array: u32 count, values.
    pub const ARRAY: u8 = 0x07;
    /// Map: u32 pair count, key and value per pair.
    pub const MAP: u8 = 0x08;
    /// Set: u32 count, values.
    pub const SET: u8 = 0x09;
    /// Double: f64 bits, little-endian.
    pub const DOUBLE: u8 = 0x0A;
    /// Boolean: u8 0 or 1.
    pub const BOOLEAN: u8 = 0x0B;
    /// Verbatim string: 3 format bytes, u32 len, text.
    pub const VERBATIM: u8 = 0x0C;
    /// Big number: u32 len, ASCII digits.
    pub const BIG_NUMBER: u8 = 0x0D;
}

fn value_size_hint(v: &Reply) -> usize {
    match v {
        Reply::Simple(b) | Reply::Bulk(b) | Reply::BigNumber(b) => 5 + b.len(),
        Reply::Error(b) => 6 + b.len(),
        Reply::Verbatim { text, .. } => 8 + text.len(),
        Reply::Integer(_) | Reply::Double(_) => 9,
        Reply::Null | Reply::NullArray => 1,
        Reply::Boolean(_) => 2,
        Reply::Array(items) | Reply::Set(items) => {
            5 + items.iter().map(value_size_hint).sum::<usize>()
        }
        Reply::Map(pairs) => {
            5 + pairs
                .iter()
                .map(|(k, v)| value_size_hint(k) + value_size_hint(v))
                .sum::<usize>()
        }
    }
}

/// The length of an error text's code word (`ERR`, `WRONGTYPE`): the bytes before the first
/// space, if that is 1 to 255 bytes long; else 0 (no code).
fn error_code_len(text: &[u8]) -> u8 {
    let end = memchr::memchr(b' ', text).unwrap_or(text.len());
    u8::try_from(end).unwrap_or(0)
}

fn put_count(out: &mut BytesMut, n: usize) {
    out.put_u32_le(u32::try_from(n).unwrap_or(u32::MAX));
}

/// The binary typed encoding of a value (docs/protocol.md, "Values").
pub fn encode_value(v: &Reply, out: &mut BytesMut) {
    match v {
        Reply::Simple(b) => {
            out.put_u8(tag::SIMPLE);
            put_bytes(out, b);
        }
        Reply::Error(b) => {
            out.put_u8(tag::ERROR);
            out.put_u8(error_code_len(b));
            put_bytes(out, b);
        }
        Reply::Integer(n) => {
            out.put_u8(tag::INTEGER);
            out.put_i64_le(*n);
        }
        Reply::Bulk(b) => {
            out.put_u8(tag::BULK);
            put_bytes(out, b);
        }
        Reply::Null => out.put_u8(tag::NULL),
        Reply::NullArray => out.put_u8(tag::NULL_ARRAY),
        Reply::Array(items) | Reply::Set(items) => {
            out.put_u8(if matches!(v, Reply::Set(_)) {
                tag::SET
            } else {
                tag::ARRAY
            });
            put_count(out, items.len());
            for item in items {
                encode_value(item, out);
            }
        }
        Reply::Map(pairs) => {
            out.put_u8(tag::MAP);
            put_count(out, pairs.len());
            for (k, v) in pairs {
                encode_value(k, out);
                encode_value(v, out);
            }
        }
        Reply::Double(d) => {
            out.put_u8(tag::DOUBLE);
            out.put_u64_le(d.to_bits());
        }
        Reply::Boolean(b) => {
            out.put_u8(tag::BOOLEAN);
            out.put_u8(u8::from(*b));
        }
        Reply::Verbatim { format, text } => {
            out.put_u8(tag::VERBATIM);
            out.put_slice(format);
            put_bytes(out, text);
        }
        Reply::BigNumber(b) => {
            out.put_u8(tag::BIG_NUMBER);
            put_bytes(out, b);
        }
    }
}

/// A cursor over one complete frame body; every read is bounds-checked and fails with
/// `Truncated`, and byte strings are slices of the frame.
struct Body<'l> {
    frame: Bytes,
    pos: usize,
    limits: &'l Limits,
}

impl<'l> Body<'l> {
    fn new(frame: Bytes, limits: &'l Limits) -> Self {
        Body {
            frame,
            pos: HEADER_LEN,
            limits,
        }
    }

    fn remaining(&self) -> usize {
        self.frame.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], ProtocolError> {
        if self.remaining() < n {
            return Err(ProtocolError::Truncated { what });
        }
        let s = &self.frame[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, ProtocolError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, ProtocolError> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, ProtocolError> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(b))
    }

    /// A presence or boolean byte: 0 or 1.
    fn flag(&mut self, what: &'static str) -> Result<bool, ProtocolError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ProtocolError::Invalid { what }),
        }
    }

    fn bytes(&mut self, what: &'static str) -> Result<Bytes, ProtocolError> {
        let len = self.u32(what)? as usize;
        if len > self.limits.max_bulk_len {
            return Err(ProtocolError::InvalidBulkLength);
        }
        if self.remaining() < len {
            return Err(ProtocolError::Truncated { what });
        }
        let b = self.frame.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(b)
    }

    /// An element count: checked against the array limit and against the bytes left,
    /// given the smallest encoding of one element.
    fn count(&mut self, what: &'static str, min_elem: usize) -> Result<usize, ProtocolError> {
        let n = self.u32(what)? as usize;
        if n > self.limits.max_array_len {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        if n.saturating_mul(min_elem) > self.remaining() {
            return Err(ProtocolError::Truncated { what });
        }
        Ok(n)
    }

    fn bound(&mut self, what: &'static str) -> Result<Bound<Bytes>, ProtocolError> {
        match self.u8(what)? {
            0 => Ok(Bound::Unbounded),
            1 => Ok(Bound::Included(self.bytes(what)?)),
            2 => Ok(Bound::Excluded(self.bytes(what)?)),
            _ => Err(ProtocolError::Invalid { what }),
        }
    }

    fn finish(&self) -> Result<(), ProtocolError> {
        if self.remaining() != 0 {
            return Err(ProtocolError::Invalid {
                what: "frame body (trailing bytes)",
            });
        }
        Ok(())
    }

    fn aggregate_depth(&self, depth: usize) -> Result<usize, ProtocolError> {
        if depth + 1 > self.limits.max_depth {
            return Err(ProtocolError::TooDeep {
                max: self.limits.max_depth,
            });
        }
        Ok(depth + 1)
    }

    fn value(&mut self, depth: usize) -> Result<Reply, ProtocolError> {
        Ok(match self.u8("value tag")? {
            tag::SIMPLE => Reply::Simple(self.bytes("simple string")?),
            tag::ERROR => {
                let code = usize::from(self.u8("error code length")?);
                let text = self.bytes("error")?;
                if code > text.len() || (code < text.len() && code > 0 && text[code] != b' ') {
                    return Err(ProtocolError::Invalid {
                        what: "error code length",
                    });
                }
                Reply::Error(text)
            }
            tag::INTEGER => Reply::Integer(self.u64("integer")? as i64),
            tag::BULK => Reply::Bulk(self.bytes("bulk string")?),
            tag::NULL => Reply::Null,
            tag::NULL_ARRAY => Reply::NullArray,
            t @ (tag::ARRAY | tag::SET) => {
                let depth = self.aggregate_depth(depth)?;
                let n = self.count("array count", 1)?;
                let mut items = Vec::with_capacity(n.min(self.remaining()));
                for _ in 0..n {
                    items.push(self.value(depth)?);
                }
                if t == tag::SET {
                    Reply::Set(items)
                } else {
                    Reply::Array(items)
                }
            }
            tag::MAP => {
                let depth = self.aggregate_depth(depth)?;
                let n = self.count("map count", 2)?;
                let mut pairs = Vec::with_capacity(n.min(self.remaining() / 2));
                for _ in 0..n {
                    let k = self.value(depth)?;
                    let v = self.value(depth)?;
                    pairs.push((k, v));
                }
                Reply::Map(pairs)
            }
            tag::DOUBLE => Reply::Double(f64::from_bits(self.u64("double")?)),
            tag::BOOLEAN => Reply::Boolean(self.flag("boolean")?),
            tag::VERBATIM => {
                let f = self.take(3, "verbatim format")?;
                let format = [f[0], f[1], f[2]];
                Reply::Verbatim {
                    format,
                    text: self.bytes("verbatim string")?,
                }
            }
            tag::BIG_NUMBER => Reply::BigNumber(self.bytes("big number")?),
            _ => return Err(ProtocolError::Invalid { what: "value tag" }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    fn roundtrip_request(req: Request) {
        let mut out = BytesMut::new();
        encode_request(&req, &mut out);
        let whole = out.clone();
        assert_eq!(
            parse_request(&mut out, &Limits::default()),
            Ok(Some(req.clone()))
        );
        assert!(out.is_empty());
        for cut in 0..whole.len() {
            let mut part = BytesMut::from(&whole[..cut]);
            assert_eq!(
                parse_request(&mut part, &Limits::default()),
                Ok(None),
                "{req:?} cut {cut}"
            );
            assert_eq!(part.len(), cut);
        }
    }

    fn roundtrip_response(resp: Response) {
        let mut out = BytesMut::new();
        encode_response(&resp, &mut out);
        let whole = out.clone();
        assert_eq!(
            parse_response(&mut out, &Limits::default()),
            Ok(Some(resp.clone()))
        );
        assert!(out.is_empty());
        for cut in 0..whole.len() {
            let mut part = BytesMut::from(&whole[..cut]);
            assert_eq!(parse_response(&mut part, &Limits::default()), Ok(None));
        }
    }

    fn all_ops() -> Vec<Op> {
        vec![
            Op::Ping,
            Op::Get { key: b("k") },
            Op::GetVersioned { key: b("") },
            Op::Set {
                key: b("k"),
                value: b("v"),
                condition: Condition::None,
                expiry_ms: None,
            },
            Op::Set {
                key: b("k"),
                value: b("v"),
                condition: Condition::IfAbsent,
                expiry_ms: Some(1500),
            },
            Op::Set {
                key: b("k"),
                value: b(""),
                condition: Condition::IfPresent,
                expiry_ms: None,
            },
            Op::Set {
                key: b("k"),
                value: b("new"),
                condition: Condition::IfValueEquals(b("old")),
                expiry_ms: Some(0),
            },
            Op::Set {
                key: b("k"),
                value: b("v"),
                condition: Condition::IfVersionEquals(u64::MAX),
                expiry_ms: None,
            },
            Op::Delete { key: b("k") },
            Op::IncrBy {
                key: b("n"),
                delta: -5,
            },
            Op::Expire {
                key: b("k"),
                ttl_ms: 10,
            },
            Op::Batch { ops: vec![] },
            Op::Batch {
                ops: vec![
                    BatchOp::Put {
                        key: b("a"),
                        value: b("1"),
                    },
                    BatchOp::Delete { key: b("b") },
                ],
            },
            Op::Range {
                start: Bound::Unbounded,
                end: Bound::Unbounded,
                limit: None,
                reverse: false,
            },
            Op::Range {
                start: Bound::Included(b("a")),
                end: Bound::Excluded(b("z")),
                limit: Some(100),
                reverse: true,
            },
            Op::Auth {
                username: None,
                password: b("pw"),
            },
            Op::Auth {
                username: Some(b("alice")),
                password: b("pw"),
            },
            Op::Resp {
                args: vec![b("HSET"), b("h"), b("f"), b("v")],
            },
            Op::Resp { args: vec![] },
        ]
    }

    #[test]
    fn every_op_round_trips_and_waits_when_cut() {
        for (i, op) in all_ops().into_iter().enumerate() {
            roundtrip_request(Request {
                id: i as u64 * 0x0101_0101_0101,
                op,
            });
        }
    }

    #[test]
    fn every_value_round_trips() {
        let values = vec![
            Reply::ok(),
            Reply::error("ERR syntax error"),
            Reply::error("NOCODE"),
            Reply::error(""),
            Reply::Integer(i64::MIN),
            Reply::Bulk(b("bulk\r\n")),
            Reply::Null,
            Reply::NullArray,
            Reply::Array(vec![Reply::Integer(1), Reply::Array(vec![])]),
            Reply::Map(vec![(Reply::Bulk(b("k")), Reply::Bulk(b("v")))]),
            Reply::Set(vec![Reply::Boolean(false)]),
            Reply::Double(-0.5),
            Reply::Double(f64::INFINITY),
            Reply::Boolean(true),
            Reply::Verbatim {
                format: *b"txt",
                text: b("hello"),
            },
            Reply::BigNumber(b("-1234567890123456789012")),
        ];
        for (i, body) in values.into_iter().enumerate() {
            roundtrip_response(Response {
                id: i as u64,
                more: i % 2 == 0,
                body,
            });
        }
    }

    #[test]
    fn exact_bytes_of_a_get() {
        let mut out = BytesMut::new();
        encode_request(
            &Request {
                id: 7,
                op: Op::Get { key: b("ab") },
            },
            &mut out,
        );
        assert_eq!(
            &out[..],
            &[6, 0, 0, 0, 0x10, 0, 7, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, b'a', b'b']
        );
        let mut out = BytesMut::new();
        encode_response(
            &Response {
                id: 7,
                more: true,
                body: Reply::error("ERR x"),
            },
            &mut out,
        );
        assert_eq!(
            &out[..],
            &[
                11, 0, 0, 0, 0x80, 1, 7, 0, 0, 0, 0, 0, 0, 0, 2, 3, 5, 0, 0, 0, b'E', b'R', b'R',
                b' ', b'x'
            ]
        );
    }

    #[test]
    fn body_is_zero_copy() {
        let mut out = BytesMut::new();
        encode_request(
            &Request {
                id: 1,
                op: Op::Get { key: b("key") },
            },
            &mut out,
        );
        let base = out.as_ptr() as usize;
        match parse_request(&mut out, &Limits::default()) {
            Ok(Some(Request {
                op: Op::Get { key },
                ..
            })) => assert_eq!(key.as_ptr() as usize, base + HEADER_LEN + 4),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn frame_over_limit_is_refused_from_the_length_alone() {
        let limits = Limits {
            max_frame_len: 100,
            ..Limits::default()
        };
        let mut buf = BytesMut::from(&101u32.to_le_bytes()[..]);
        assert_eq!(
            parse_request(&mut buf, &limits),
            Err(ProtocolError::FrameTooBig { len: 101, max: 100 })
        );
        let mut buf = BytesMut::from(&u32::MAX.to_le_bytes()[..]);
        assert_eq!(
            parse_response(&mut buf, &Limits::default()),
            Err(ProtocolError::FrameTooBig {
                len: u64::from(u32::MAX),
                max: 512 * 1024 * 1024
            })
        );
        let mut buf = BytesMut::from(&100u32.to_le_bytes()[..]);
        assert_eq!(parse_request(&mut buf, &limits), Ok(None));
    }

    #[test]
    fn unknown_opcode_is_refused_from_the_header() {
        let mut buf = BytesMut::from(&[5, 0, 0, 0, 0x7f][..]);
        assert_eq!(
            parse_request(&mut buf, &Limits::default()),
            Err(ProtocolError::UnknownOpcode { opcode: 0x7f })
        );
        // a response opcode is not a request, and the reverse
        let mut buf = BytesMut::from(&[0, 0, 0, 0, 0x80][..]);
        assert_eq!(
            parse_request(&mut buf, &Limits::default()),
            Err(ProtocolError::UnknownOpcode { opcode: 0x80 })
        );
        let mut buf = BytesMut::from(&[0, 0, 0, 0, 0x10][..]);
        assert_eq!(
            parse_response(&mut buf, &Limits::default()),
            Err(ProtocolError::UnknownOpcode { opcode: 0x10 })
        );
    }

    /// A frame with the given opcode, flags and body.
    fn raw(opcode: u8, flags: u8, body: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        out.put_u32_le(body.len() as u32);
        out.put_u8(opcode);
        out.put_u8(flags);
        out.put_u64_le(9);
        out.put_slice(body);
        out
    }

    fn req_err(opcode: u8, body: &[u8]) -> ProtocolError {
        match parse_request(&mut raw(opcode, 0, body), &Limits::default()) {
            Err(e) => e,
            other => panic!("{other:?}"),
        }
    }

    fn resp_err(body: &[u8]) -> ProtocolError {
        match parse_response(&mut raw(opcode::RESPONSE, 0, body), &Limits::default()) {
            Err(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_bodies() {
        use ProtocolError::Truncated;
        assert_eq!(req_err(opcode::GET, &[]), Truncated { what: "key" });
        assert_eq!(
            req_err(opcode::GET, &[5, 0, 0, 0, b'a']),
            Truncated { what: "key" }
        );
        assert_eq!(
            req_err(opcode::SET, &[1, 0, 0, 0, b'k', 1, 0, 0, 0, b'v']),
            Truncated {
                what: "set condition"
            }
        );
        assert_eq!(
            req_err(opcode::SET, &[1, 0, 0, 0, b'k', 1, 0, 0, 0, b'v', 4, 1]),
            Truncated {
                what: "set condition version"
            }
        );
        assert_eq!(
            req_err(opcode::INCR_BY, &[1, 0, 0, 0, b'k', 1, 2]),
            Truncated {
                what: "incrby delta"
            }
        );
        assert_eq!(
            req_err(opcode::BATCH, &[2, 0, 0, 0, 2, 0, 0, 0, 0]),
            Truncated {
                what: "batch count"
            }
        );
        assert_eq!(
            req_err(opcode::RESP, &[0xff, 0xff, 0x0f, 0, 0]),
            Truncated {
                what: "resp argument count"
            }
        );
        assert_eq!(resp_err(&[]), Truncated { what: "value tag" });
        assert_eq!(
            resp_err(&[tag::ARRAY, 3, 0, 0, 0, tag::NULL]),
            Truncated {
                what: "array count"
            }
        );
        assert_eq!(
            resp_err(&[tag::ARRAY, 2, 0, 0, 0, tag::NULL, tag::INTEGER, 1]),
            Truncated { what: "integer" }
        );
        assert_eq!(
            resp_err(&[tag::VERBATIM, b't', b'x']),
            Truncated {
                what: "verbatim format"
            }
        );
    }

    #[test]
    fn malformed_bodies() {
        use ProtocolError::Invalid;
        assert_eq!(
            req_err(opcode::PING, &[0]),
            Invalid {
                what: "frame body (trailing bytes)"
            }
        );
        assert_eq!(
            req_err(opcode::SET, &[0, 0, 0, 0, 0, 0, 0, 0, 9]),
            Invalid {
                what: "set condition"
            }
        );
        assert_eq!(
            req_err(opcode::SET, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
            Invalid {
                what: "set expiry flag"
            }
        );
        assert_eq!(
            req_err(opcode::BATCH, &[1, 0, 0, 0, 3, 0, 0, 0, 0]),
            Invalid {
                what: "batch op kind"
            }
        );
        assert_eq!(
            req_err(opcode::RANGE, &[3]),
            Invalid {
                what: "range start"
            }
        );
        assert_eq!(
            req_err(opcode::AUTH, &[7]),
            Invalid {
                what: "auth username flag"
            }
        );
        assert_eq!(resp_err(&[0x55]), Invalid { what: "value tag" });
        assert_eq!(resp_err(&[tag::BOOLEAN, 2]), Invalid { what: "boolean" });
        assert_eq!(
            resp_err(&[tag::ERROR, 9, 3, 0, 0, 0, b'E', b'R', b'R']),
            Invalid {
                what: "error code length"
            }
        );
        assert_eq!(
            resp_err(&[tag::ERROR, 1, 3, 0, 0, 0, b'E', b'R', b'R']),
            Invalid {
                what: "error code length"
            }
        );
        assert_eq!(
            parse_request(&mut raw(opcode::PING, 1, &[]), &Limits::default()),
            Err(Invalid {
                what: "frame flags"
            })
        );
        assert_eq!(
            parse_response(
                &mut raw(opcode::RESPONSE, 2, &[tag::NULL]),
                &Limits::default()
            ),
            Err(Invalid {
                what: "frame flags"
            })
        );
    }

    #[test]
    fn counts_and_lengths_over_limits() {
        let limits = Limits {
            max_array_len: 2,
            max_bulk_len: 3,
            max_depth: 2,
            ..Limits::default()
        };
        let run = |opcode: u8, body: &[u8]| {
            if opcode == opcode::RESPONSE {
                parse_response(&mut raw(opcode, 0, body), &limits).map(|_| ())
            } else {
                parse_request(&mut raw(opcode, 0, body), &limits).map(|_| ())
            }
        };
        assert_eq!(
            run(opcode::GET, &[4, 0, 0, 0, 1, 2, 3, 4]),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            run(opcode::RESP, &[3, 0, 0, 0]),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            run(opcode::RESPONSE, &[tag::SET, 3, 0, 0, 0]),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            run(
                opcode::RESPONSE,
                &[tag::ARRAY, 1, 0, 0, 0, tag::ARRAY, 1, 0, 0, 0, tag::NULL]
            ),
            Ok(())
        );
        assert_eq!(
            run(
                opcode::RESPONSE,
                &[
                    tag::ARRAY,
                    1,
                    0,
                    0,
                    0,
                    tag::MAP,
                    1,
                    0,
                    0,
                    0,
                    tag::ARRAY,
                    0,
                    0,
                    0,
                    0,
                    tag::NULL
                ]
            ),
            Err(ProtocolError::TooDeep { max: 2 })
        );
    }

    #[test]
    fn pipelined_frames_parse_in_order() {
        let mut out = BytesMut::new();
        for id in 0..10 {
            encode_request(
                &Request {
                    id,
                    op: Op::Get { key: b("k") },
                },
                &mut out,
            );
        }
        for id in 0..10 {
            let r = parse_request(&mut out, &Limits::default())
                .unwrap()
                .unwrap();
            assert_eq!(r.id, id);
        }
        assert_eq!(parse_request(&mut out, &Limits::default()), Ok(None));
    }

    #[test]
    fn handshake_round_trips() {
        let cases = [
            Handshake {
                version: 1,
                credentials: None,
            },
            Handshake {
                version: 2,
                credentials: Some(Credentials {
                    username: None,
                    password: b("secret"),
                }),
            },
            Handshake {
                version: 1,
                credentials: Some(Credentials {
                    username: Some(b("alice")),
                    password: b(""),
                }),
            },
        ];
        for hs in cases {
            let mut out = BytesMut::new();
            encode_handshake(&hs, &mut out);
            out.put_slice(b"next");
            let whole = out.clone();
            assert_eq!(
                parse_handshake(&mut out, &Limits::default()),
                Ok(Some(hs.clone()))
            );
            assert_eq!(&out[..], b"next");
            for cut in 0..whole.len() - 4 {
                let mut part = BytesMut::from(&whole[..cut]);
                assert_eq!(parse_handshake(&mut part, &Limits::default()), Ok(None));
            }
        }
        let mut out = BytesMut::new();
        encode_handshake(
            &Handshake {
                version: 1,
                credentials: Some(Credentials {
                    username: Some(b("u")),
                    password: b("p"),
                }),
            },
            &mut out,
        );
        assert_eq!(&out[..], &[0xCA, 1, 3, 1, 0, b'u', 1, 0, b'p']);
    }

    #[test]
    fn handshake_errors() {
        let run = |bytes: &[u8]| parse_handshake(&mut BytesMut::from(bytes), &Limits::default());
        assert_eq!(
            run(b"*1\r\n"),
            Err(ProtocolError::Invalid {
                what: "handshake magic byte"
            })
        );
        assert_eq!(
            run(&[MAGIC, 1, 4]),
            Err(ProtocolError::Invalid {
                what: "handshake flags"
            })
        );
        assert_eq!(
            run(&[MAGIC, 1, 2, 0, 0]),
            Err(ProtocolError::Invalid {
                what: "handshake flags"
            })
        );
        let reply =
            |bytes: &[u8]| parse_handshake_reply(&mut BytesMut::from(bytes), &Limits::default());
        assert_eq!(
            reply(&[0, 0]),
            Err(ProtocolError::Invalid {
                what: "handshake magic byte"
            })
        );
        assert_eq!(
            reply(&[MAGIC, 2]),
            Err(ProtocolError::Invalid {
                what: "handshake status"
            })
        );
    }

    #[test]
    fn handshake_reply_round_trips() {
        for r in [
            HandshakeReply::Accepted {
                version: 1,
                server: b("cairn 0.1.0"),
            },
            HandshakeReply::Rejected {
                message: b("NOPROTO unsupported protocol version"),
            },
        ] {
            let mut out = BytesMut::new();
            encode_handshake_reply(&r, &mut out);
            let whole = out.clone();
            assert_eq!(
                parse_handshake_reply(&mut out, &Limits::default()),
                Ok(Some(r))
            );
            assert!(out.is_empty());
            for cut in 0..whole.len() {
                let mut part = BytesMut::from(&whole[..cut]);
                assert_eq!(
                    parse_handshake_reply(&mut part, &Limits::default()),
                    Ok(None)
                );
            }
        }
    }

    #[test]
    fn magic_is_no_resp_start() {
        assert!(!MAGIC.is_ascii());
    }
}
