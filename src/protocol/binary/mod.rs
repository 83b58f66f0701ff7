//! The native binary protocol: handshake, length-prefixed frames, requests and responses.
//!
//! It owns the byte layout specified in docs/protocol.md and nothing else: it never turns
//! an [`Op`] into a `Command` (the server does that) and never touches sockets. Frames carry
//! a request id, so one connection has many requests in flight and responses come back in
//! any order. Every length is checked before allocating or waiting for what it claims: the
//! frame length against `Limits::max_frame_len` as soon as its four bytes are in, element
//! counts against the bytes actually present. Bodies decode zero-copy (slices of the frame).

use bytes::{BufMut, BytesMut};

use super::ProtocolError;

mod body;
mod frame;
mod handshake;
mod types;
mod value;

pub use frame::{
    encode_bulk_response, encode_request, encode_response, parse_request, parse_response,
};
pub use handshake::{
    encode_handshake, encode_handshake_reply, parse_handshake, parse_handshake_reply, Credentials,
    Handshake, HandshakeReply,
};
pub use types::{BatchOp, Condition, Op, Request, Response};
pub use value::encode_value;

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

/// A length-prefixed byte string. Over 4 GiB it cannot be represented (see `end_frame`).
fn put_bytes(out: &mut BytesMut, b: &[u8]) {
    out.put_u32_le(u32::try_from(b.len()).unwrap_or(u32::MAX));
    out.put_slice(b);
}

#[cfg(test)]
mod tests;
