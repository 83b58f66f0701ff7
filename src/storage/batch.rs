//! `WriteBatch`: a group of puts and deletes applied atomically.
//!
//! The batch is kept in its WAL payload encoding from the start, so committing it costs
//! no re-encoding; the memtable keeps slices of that buffer for overwrites and copies keys
//! new to it into its arena (see `memtable`). This module owns the payload format
//! (docs/storage-format.md) and must never touch files.

use bytes::{BufMut, Bytes, BytesMut};

/// Bytes before the first op: first sequence number (u64 LE) and op count (u32 LE).
pub(crate) const PAYLOAD_HEADER: usize = 12;
/// Op kind byte of a put.
pub(crate) const OP_PUT: u8 = 1;
/// Op kind byte of a delete.
pub(crate) const OP_DELETE: u8 = 2;
/// The largest encoded batch (and so WAL record payload) accepted: 1 GiB.
pub const MAX_BATCH_BYTES: usize = 1 << 30;

/// An ordered list of puts and deletes that [`Db::write`](crate::storage::Db::write)
/// applies atomically: after a crash either all of it is there or none of it.
/// Later operations on the same key win.
#[derive(Debug, Clone)]
pub struct WriteBatch {
    rep: BytesMut,
    count: u32,
    // Ops beyond u32::MAX, or a key or value longer than that, cannot be encoded;
    // remembered so submit can refuse the batch.
    overflow: bool,
}

impl Default for WriteBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty batch with room for about `bytes` of keys and values.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut rep = BytesMut::with_capacity(PAYLOAD_HEADER + bytes);
        rep.put_bytes(0, PAYLOAD_HEADER);
        WriteBatch {
            rep,
            count: 0,
            overflow: false,
        }
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        self.put_parts(key, &[value]);
    }

    /// Sets `key` to the concatenation of `parts`, written straight into the batch (a
    /// caller with a header and a body needs no buffer of its own to join them).
    pub fn put_parts(&mut self, key: &[u8], parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        self.rep.reserve(9 + key.len() + len);
        self.rep.put_u8(OP_PUT);
        self.put_len(key.len());
        self.rep.put_slice(key);
        self.put_len(len);
        for part in parts {
            self.rep.put_slice(part);
        }
        self.bump();
    }

    /// Removes `key` (a no-op if it is absent).
    pub fn delete(&mut self, key: &[u8]) {
        self.rep.reserve(5 + key.len());
        self.rep.put_u8(OP_DELETE);
        self.put_len(key.len());
        self.rep.put_slice(key);
        self.bump();
    }

    /// Appends a key or value length. One past `u32::MAX` cannot be encoded: remembered,
    /// as too many ops are, so that submit refuses the batch.
    fn put_len(&mut self, len: usize) {
        let encoded = u32::try_from(len).unwrap_or_else(|_| {
            self.overflow = true;
            u32::MAX
        });
        self.rep.put_u32_le(encoded);
    }

    fn bump(&mut self) {
        match self.count.checked_add(1) {
            Some(c) => self.count = c,
            None => self.overflow = true,
        }
    }

    /// Number of operations in the batch.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True if the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Removes every operation, keeping the allocation.
    pub fn clear(&mut self) {
        self.rep.truncate(PAYLOAD_HEADER);
        self.count = 0;
        self.overflow = false;
    }

    /// Whether any operation of the batch puts or deletes `key`: a replica asks it of its
    /// primary's batches to learn when one rewrote a record the server keeps in memory too.
    pub fn touches(&self, key: &[u8]) -> bool {
        // The count in the header is stamped only at commit: walk this batch's own count.
        let mut ops = Ops {
            payload: &self.rep,
            pos: PAYLOAD_HEADER,
            left: self.count,
        };
        ops.any(|op| op.key == key)
    }

    /// Size of the batch once encoded as a WAL payload.
    pub fn encoded_len(&self) -> usize {
        self.rep.len()
    }

    /// True if it cannot be encoded: too many ops or over the size limit.
    pub(crate) fn too_large(&self) -> bool {
        self.overflow || self.rep.len() > MAX_BATCH_BYTES
    }

    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// The batch a [`CommitTap`](crate::storage::CommitTap) was given (a primary's
    /// batch, received by a replica), and the first sequence number it was committed at;
    /// checked op by op, since it came over a network. Its ops are applied at the same
    /// sequence numbers with [`Db::write_at`](crate::storage::Db::write_at).
    pub fn from_payload(payload: &[u8]) -> Result<(u64, WriteBatch), crate::storage::Error> {
        if payload.len() > MAX_BATCH_BYTES {
            return Err(crate::storage::Error::BadBatch("batch over the size limit"));
        }
        let (first_seq, count) =
            validate_payload(payload).map_err(crate::storage::Error::BadBatch)?;
        let batch = WriteBatch {
            rep: BytesMut::from(payload),
            count,
            overflow: false,
        };
        Ok((first_seq, batch))
    }

    /// Stamps the first sequence number and count and returns the finished payload.
    pub(crate) fn into_payload(mut self, first_seq: u64) -> Bytes {
        self.rep[0..8].copy_from_slice(&first_seq.to_le_bytes());
        self.rep[8..12].copy_from_slice(&self.count.to_le_bytes());
        // Sizes chosen so that count, length and bytes fill an allocator size class
        // (128, 160, 192, 224, 256 bytes).
        match self.rep.len() {
            0..=104 => SmallPayload::<104>::bytes(&self.rep),
            105..=136 => SmallPayload::<136>::bytes(&self.rep),
            137..=168 => SmallPayload::<168>::bytes(&self.rep),
            169..=200 => SmallPayload::<200>::bytes(&self.rep),
            201..=232 => SmallPayload::<232>::bytes(&self.rep),
            _ => self.rep.freeze(),
        }
    }
}

/// A small payload in one allocation with its reference count.
///
/// The memtable keeps slices of a batch's payload, so the payload's `Bytes` is shared, and
/// a shared `Bytes` made from a buffer allocates its reference count apart from the data.
/// A small batch (one SET) then cost two allocations, and every read of a value missed
/// the cache twice: once on the count, once on the bytes. Here the count sits right
/// before them.
struct SmallPayload<const N: usize> {
    len: usize,
    bytes: [u8; N],
}

impl<const N: usize> SmallPayload<N> {
    /// `data` (at most `N` bytes) as a `Bytes` over a `SmallPayload`.
    fn bytes(data: &[u8]) -> Bytes {
        let mut payload = SmallPayload {
            len: data.len(),
            bytes: [0; N],
        };
        payload.bytes[..data.len()].copy_from_slice(data);
        Bytes::from_owner(payload)
    }
}

impl<const N: usize> AsRef<[u8]> for SmallPayload<N> {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// One decoded operation, borrowed from the payload: the memtable decides which parts it
/// keeps, and how (a copy, or a `Bytes::slice_ref` of the payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Op<'a> {
    pub key: &'a [u8],
    /// `None` for a delete.
    pub value: Option<&'a [u8]>,
}

/// Checks that `payload` is a well-formed batch payload and returns its first
/// sequence number and op count. Used on everything read back from disk.
pub(crate) fn validate_payload(payload: &[u8]) -> Result<(u64, u32), &'static str> {
    if payload.len() < PAYLOAD_HEADER {
        return Err("batch payload shorter than its 12-byte header");
    }
    let first = u64::from_le_bytes(array8(&payload[0..8]));
    let count = u32::from_le_bytes(array4(&payload[8..12]));
    if first == 0 {
        return Err("batch has sequence number 0");
    }
    if count == 0 {
        return Err("batch has no ops");
    }
    if first.checked_add(u64::from(count)).is_none() {
        return Err("batch sequence numbers overflow");
    }
    let mut pos = PAYLOAD_HEADER;
    for _ in 0..count {
        let kind = *payload.get(pos).ok_or("op kind past end of payload")?;
        pos += 1;
        pos = skip_field(payload, pos).ok_or("key length past end of payload")?;
        match kind {
            OP_PUT => pos = skip_field(payload, pos).ok_or("value length past end of payload")?,
            OP_DELETE => {}
            _ => return Err("unknown op kind"),
        }
    }
    if pos != payload.len() {
        return Err("trailing bytes after the last op");
    }
    Ok((first, count))
}

fn skip_field(payload: &[u8], pos: usize) -> Option<usize> {
    let len_bytes = payload.get(pos..pos.checked_add(4)?)?;
    let len = u32::from_le_bytes(array4(len_bytes)) as usize;
    let end = (pos + 4).checked_add(len)?;
    if end > payload.len() {
        return None;
    }
    Some(end)
}

pub(crate) fn array4(s: &[u8]) -> [u8; 4] {
    let mut a = [0u8; 4];
    a.copy_from_slice(&s[..4]);
    a
}

pub(crate) fn array8(s: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(&s[..8]);
    a
}

/// Iterates the ops of a payload. It assumes a payload that was built by `WriteBatch`
/// or passed `validate_payload`; on malformed input it stops early instead of panicking.
pub(crate) struct Ops<'a> {
    payload: &'a [u8],
    pos: usize,
    left: u32,
}

impl<'a> Ops<'a> {
    pub(crate) fn new(payload: &'a [u8]) -> Self {
        let left = if payload.len() >= PAYLOAD_HEADER {
            u32::from_le_bytes(array4(&payload[8..12]))
        } else {
            0
        };
        Ops {
            payload,
            pos: PAYLOAD_HEADER,
            left,
        }
    }

    fn field(&mut self) -> Option<&'a [u8]> {
        let end = skip_field(self.payload, self.pos)?;
        let field = &self.payload[self.pos + 4..end];
        self.pos = end;
        Some(field)
    }
}

impl<'a> Iterator for Ops<'a> {
    type Item = Op<'a>;

    fn next(&mut self) -> Option<Op<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let kind = *self.payload.get(self.pos)?;
        self.pos += 1;
        let key = self.field();
        let op = match (kind, key) {
            (OP_PUT, Some(key)) => self.field().map(|v| Op {
                key,
                value: Some(v),
            }),
            (OP_DELETE, Some(key)) => Some(Op { key, value: None }),
            _ => None,
        };
        if op.is_none() {
            self.left = 0;
        }
        op
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode() {
        let mut b = WriteBatch::new();
        b.put(b"k1", b"v1");
        b.delete(b"k2");
        b.put(b"", b"");
        assert_eq!(b.len(), 3);
        let p = b.into_payload(7);
        assert_eq!(validate_payload(&p), Ok((7, 3)));
        let ops: Vec<Op> = Ops::new(&p).collect();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0].key, b"k1");
        assert_eq!(ops[0].value, Some(&b"v1"[..]));
        assert_eq!(ops[1].value, None);
        assert_eq!(ops[2].value, Some(&b""[..]));
    }

    #[test]
    fn touches_names_the_keys_put_or_deleted_built_or_received() {
        let mut b = WriteBatch::new();
        b.put(b"k1", b"v1");
        b.delete(b"k2");
        for key in [&b"k1"[..], b"k2"] {
            assert!(b.touches(key));
        }
        assert!(!b.touches(b"k"));
        assert!(!b.touches(b"v1"), "a value is not a key");
        let (_, received) = WriteBatch::from_payload(&b.into_payload(9)).unwrap();
        assert!(received.touches(b"k2"));
        assert!(!received.touches(b"k3"));
        assert!(!WriteBatch::new().touches(b""));
    }

    proptest::proptest! {
        #[test]
        fn payload_and_record_round_trip(
            seq in 1u64..u64::MAX / 2,
            ops in proptest::collection::vec(
                (proptest::collection::vec(proptest::prelude::any::<u8>(), 0..20),
                 proptest::option::of(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40))),
                1..20),
        ) {
            let mut b = WriteBatch::new();
            for (k, v) in &ops {
                match v {
                    Some(v) => b.put(k, v),
                    None => b.delete(k),
                }
            }
            let p = b.into_payload(seq);
            proptest::prop_assert_eq!(validate_payload(&p), Ok((seq, u32::try_from(ops.len()).unwrap())));
            let mut rec = Vec::new();
            crate::storage::wal::encode_record(&mut rec, crate::storage::wal::KIND_BATCH, &p);
            let (_, range) = crate::storage::wal::decode_at(&rec, 0).map_err(|e| {
                proptest::test_runner::TestCaseError::fail(format!("{e:?}"))
            })?;
            let payload = Bytes::copy_from_slice(&rec[range]);
            let decoded: Vec<(Vec<u8>, Option<Vec<u8>>)> = Ops::new(&payload)
                .map(|op| (op.key.to_vec(), op.value.map(<[u8]>::to_vec)))
                .collect();
            proptest::prop_assert_eq!(decoded, ops);
        }
    }

    #[test]
    fn a_value_in_parts_is_the_value_joined() {
        let mut parts = WriteBatch::new();
        parts.put_parts(b"k", &[b"head", b"", b"-body"]);
        let mut whole = WriteBatch::new();
        whole.put(b"k", b"head-body");
        assert_eq!(parts.into_payload(1), whole.into_payload(1));
    }

    #[test]
    fn documented_example() {
        // The example in docs/storage-format.md.
        let mut b = WriteBatch::new();
        b.put(b"a", b"1");
        b.delete(b"bc");
        let p = b.into_payload(7);
        let expect: &[u8] = &[
            7, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 1, 0, 0, 0, b'a', 1, 0, 0, 0, b'1', 2, 2, 0, 0,
            0, b'b', b'c',
        ];
        assert_eq!(&p[..], expect);
        let mut rec = Vec::new();
        crate::storage::wal::encode_record(&mut rec, 1, &p);
        assert_eq!(rec.len(), 39);
        assert_eq!(&rec[4..9], &[0x1e, 0, 0, 0, 1]);
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let mut b = WriteBatch::new();
        b.put(b"key", b"value");
        let p = b.into_payload(1);
        for cut in 0..p.len() {
            assert!(validate_payload(&p[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = p.to_vec();
        bad[12] = 9;
        assert!(validate_payload(&bad).is_err());
        let mut long = p.to_vec();
        long.push(0);
        assert!(validate_payload(&long).is_err());
    }
}
