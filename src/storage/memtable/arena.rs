//! The memtable's arena: where keys new to a memtable are copied, with their first value.
//! It only hands out slices; it never frees anything before the memtable goes.

use bytes::{Bytes, BytesMut};

use crate::storage::batch::Op;

/// Where the memtable copies each key new to it, with that key's first value: large
/// chunks carved into `Bytes` slices. The batch payload, a heap block per write, is then
/// freed by the writer that made it, at once (and reused by its next write), instead of
/// living as long as the memtable and being freed by the flush thread, which cost a
/// malloc and a cross-thread free per write and contention on the allocator's lock.
/// Overwrites still keep slices of their payload: pruning an old version frees its
/// payload, where arena bytes would stay until the memtable goes. So what a pruned first
/// version leaves behind in a chunk is at most one value per key.
#[derive(Debug)]
pub(super) struct Arena {
    /// What is left of the current chunk: empty, with the chunk's spare capacity.
    chunk: BytesMut,
}

impl Arena {
    /// Bytes per chunk: one `malloc` serves thousands of small entries.
    pub(super) const CHUNK: usize = 1 << 20;
    /// Entries larger than this stay in their payload: copying them saves nothing.
    pub(super) const LARGEST: usize = Arena::CHUNK / 8;

    pub(super) fn new() -> Arena {
        Arena {
            chunk: BytesMut::new(),
        }
    }

    /// The key and value of `op`, copied side by side into the arena (or, for a large
    /// entry, sliced out of `payload`, which holds `op`).
    pub(super) fn store(&mut self, payload: &Bytes, op: Op<'_>) -> (Bytes, Option<Bytes>) {
        let value_len = op.value.map_or(0, <[u8]>::len);
        let len = op.key.len() + value_len;
        if len > Arena::LARGEST {
            return (
                payload.slice_ref(op.key),
                op.value.map(|v| payload.slice_ref(v)),
            );
        }
        if self.chunk.capacity() < len {
            self.chunk = BytesMut::with_capacity(Arena::CHUNK);
        }
        self.chunk.extend_from_slice(op.key);
        let key = self.chunk.split().freeze();
        let value = op.value.map(|v| {
            self.chunk.extend_from_slice(v);
            self.chunk.split().freeze()
        });
        (key, value)
    }
}
