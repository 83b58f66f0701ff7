//! A bounds-checked cursor over one complete frame body, and value decoding. It reads only
//! inside the frame it was given (which `frame` has already measured) and never encodes.

use std::ops::Bound;

use bytes::Bytes;

use super::{tag, HEADER_LEN};
use crate::protocol::{Limits, ProtocolError, Reply};

/// A cursor over one complete frame body; every read is bounds-checked and fails with
/// `Truncated`, and byte strings are slices of the frame.
pub(super) struct Body<'l> {
    frame: Bytes,
    pos: usize,
    limits: &'l Limits,
}

impl<'l> Body<'l> {
    pub(super) fn new(frame: Bytes, limits: &'l Limits) -> Self {
        Body {
            frame,
            pos: HEADER_LEN,
            limits,
        }
    }

    pub(super) fn remaining(&self) -> usize {
        self.frame.len() - self.pos
    }

    pub(super) fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], ProtocolError> {
        if self.remaining() < n {
            return Err(ProtocolError::Truncated { what });
        }
        let s = &self.frame[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, ProtocolError> {
        Ok(self.take(1, what)?[0])
    }

    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, ProtocolError> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_le_bytes(b))
    }

    pub(super) fn u64(&mut self, what: &'static str) -> Result<u64, ProtocolError> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(b))
    }

    /// A signed integer, as `put_i64_le` wrote it: the same eight bytes, two's complement.
    pub(super) fn i64(&mut self, what: &'static str) -> Result<i64, ProtocolError> {
        Ok(self.u64(what)?.cast_signed())
    }

    /// A presence or boolean byte: 0 or 1.
    pub(super) fn flag(&mut self, what: &'static str) -> Result<bool, ProtocolError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ProtocolError::Invalid { what }),
        }
    }

    pub(super) fn bytes(&mut self, what: &'static str) -> Result<Bytes, ProtocolError> {
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
    pub(super) fn count(
        &mut self,
        what: &'static str,
        min_elem: usize,
    ) -> Result<usize, ProtocolError> {
        let n = self.u32(what)? as usize;
        if n > self.limits.max_array_len {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        if n.saturating_mul(min_elem) > self.remaining() {
            return Err(ProtocolError::Truncated { what });
        }
        Ok(n)
    }

    pub(super) fn bound(&mut self, what: &'static str) -> Result<Bound<Bytes>, ProtocolError> {
        match self.u8(what)? {
            0 => Ok(Bound::Unbounded),
            1 => Ok(Bound::Included(self.bytes(what)?)),
            2 => Ok(Bound::Excluded(self.bytes(what)?)),
            _ => Err(ProtocolError::Invalid { what }),
        }
    }

    pub(super) fn finish(&self) -> Result<(), ProtocolError> {
        if self.remaining() != 0 {
            return Err(ProtocolError::Invalid {
                what: "frame body (trailing bytes)",
            });
        }
        Ok(())
    }

    pub(super) fn aggregate_depth(&self, depth: usize) -> Result<usize, ProtocolError> {
        if depth + 1 > self.limits.max_depth {
            return Err(ProtocolError::TooDeep {
                max: self.limits.max_depth,
            });
        }
        Ok(depth + 1)
    }

    pub(super) fn value(&mut self, depth: usize) -> Result<Reply, ProtocolError> {
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
            tag::INTEGER => Reply::Integer(self.i64("integer")?),
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
