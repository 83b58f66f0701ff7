//! The typed binary encoding of a `Reply` (tag byte, little-endian payload).

use bytes::{BufMut, BytesMut};

use super::{put_bytes, tag};
use crate::protocol::Reply;

pub(super) fn value_size_hint(v: &Reply) -> usize {
    match v {
        Reply::Simple(b) | Reply::Bulk(b) | Reply::BigNumber(b) => 5 + b.len(),
        Reply::Error(b) => 6 + b.len(),
        Reply::Verbatim { text, .. } => 8 + text.len(),
        Reply::Integer(_) | Reply::Double(_) => 9,
        Reply::Null | Reply::NullArray => 1,
        Reply::Boolean(_) => 2,
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
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
        // The native protocol has no pushes (it has no pub/sub): an array, if one is sent.
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
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
