//! The replication backlog: the latest committed batches, in sequence order, bounded in
//! bytes, fed by the engine's commit tap. A replica that reconnects at an offset the
//! backlog still holds resumes from there (+CONTINUE); feeders of connected replicas read
//! from it as it grows and are woken when it does.
//!
//! It holds payloads as the engine committed them (shared `Bytes`, no copy) and never
//! looks inside them: keys and values are the engine's business.

use std::collections::VecDeque;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::storage::CommitTap;

/// What a feeder asked for that the backlog no longer (or never) held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the backlog holds sequence numbers after {start} only")]
pub struct Gone {
    /// The backlog starts after this sequence number.
    pub start: u64,
}

#[derive(Debug, Default)]
struct Ring {
    /// (first sequence number, last sequence number, payload), oldest first.
    batches: VecDeque<(u64, u64, Bytes)>,
    /// Payload bytes held.
    bytes: u64,
    /// The batches held are every batch after this sequence number.
    start: u64,
    /// The last sequence number committed.
    end: u64,
    limit: u64,
}

/// The backlog; see the module documentation.
#[derive(Debug)]
pub struct Backlog {
    ring: Mutex<Ring>,
    /// The last sequence number committed, for those waiting for more.
    grown: watch::Sender<u64>,
}

impl Backlog {
    /// An empty backlog of at most `limit` bytes.
    pub fn new(limit: u64) -> Backlog {
        Backlog {
            ring: Mutex::new(Ring {
                limit,
                ..Ring::default()
            }),
            grown: watch::Sender::new(0),
        }
    }

    /// Starts over after `seq` (an engine opened or replaced): what was held belongs to
    /// another history.
    pub fn reset(&self, seq: u64) {
        let mut ring = self.ring.lock();
        ring.batches.clear();
        ring.bytes = 0;
        ring.start = seq;
        ring.end = seq;
        drop(ring);
        self.grown.send_replace(seq);
    }

    /// Every batch after `seq`, up to at most about `max_bytes` (at least one), oldest
    /// first; empty when there is none yet.
    pub fn after(&self, seq: u64, max_bytes: usize) -> Result<Vec<(u64, Bytes)>, Gone> {
        let ring = self.ring.lock();
        if seq < ring.start || seq > ring.end {
            return Err(Gone { start: ring.start });
        }
        // Binary search on the last sequence numbers: the first batch ending after `seq`.
        let from = ring.batches.partition_point(|(_, last, _)| *last <= seq);
        let mut out = Vec::new();
        let mut bytes = 0;
        for (first, _, payload) in ring.batches.range(from..) {
            if !out.is_empty() && bytes + payload.len() > max_bytes {
                break;
            }
            bytes += payload.len();
            out.push((*first, payload.clone()));
        }
        Ok(out)
    }

    /// Whether a replica at `seq` can continue from here.
    pub fn holds(&self, seq: u64) -> bool {
        let ring = self.ring.lock();
        seq >= ring.start && seq <= ring.end
    }

    /// (first byte offset, history length) as INFO reports them: the sequence number
    /// after which batches are held, and how many sequence numbers are.
    pub fn span(&self) -> (u64, u64, u64) {
        let ring = self.ring.lock();
        (ring.start + 1, ring.end - ring.start, ring.limit)
    }

    /// A receiver that sees every growth.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.grown.subscribe()
    }
}

impl Ring {
    fn trim(&mut self) {
        while self.bytes > self.limit && self.batches.len() > 1 {
            if let Some((_, last, payload)) = self.batches.pop_front() {
                self.bytes -= payload.len() as u64;
                self.start = last;
            }
        }
    }
}

impl CommitTap for Backlog {
    fn committed(&self, first_seq: u64, payload: &Bytes) {
        let count = payload
            .get(8..12)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(1, u32::from_le_bytes);
        let last = first_seq + u64::from(count.max(1)) - 1;
        let mut ring = self.ring.lock();
        if ring.batches.is_empty() && ring.end + 1 < first_seq {
            // Numbers skipped (refused writes) before the first batch held.
            ring.start = first_seq - 1;
        }
        ring.batches.push_back((first_seq, last, payload.clone()));
        ring.bytes += payload.len() as u64;
        ring.end = last;
        ring.trim();
        drop(ring);
        self.grown.send_replace(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(count: u32) -> Bytes {
        let mut p = vec![0u8; 12];
        p[8..12].copy_from_slice(&count.to_le_bytes());
        p.extend_from_slice(&[0; 88]);
        Bytes::from(p)
    }

    #[test]
    fn holds_what_fits_and_says_what_it_lost() {
        let b = Backlog::new(250);
        b.reset(10);
        b.committed(11, &payload(2));
        b.committed(13, &payload(1));
        assert_eq!(b.after(10, usize::MAX).map(|v| v.len()), Ok(2));
        assert_eq!(b.after(12, usize::MAX).map(|v| v[0].0), Ok(13));
        assert_eq!(b.after(13, usize::MAX).map(|v| v.len()), Ok(0));
        b.committed(14, &payload(1));
        // 300 bytes over a 250-byte bound: the oldest went.
        assert_eq!(b.after(10, usize::MAX), Err(Gone { start: 12 }));
        assert!(b.holds(12) && !b.holds(11) && !b.holds(15));
    }
}
