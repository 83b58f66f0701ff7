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

/// One batch held.
#[derive(Debug)]
struct Held {
    first: u64,
    last: u64,
    payload: Bytes,
    /// The payload bytes committed since the backlog started, this batch's included: what
    /// lies after a batch is the newest batch's `through` less its own.
    through: u64,
}

#[derive(Debug, Default)]
struct Ring {
    /// Oldest first.
    batches: VecDeque<Held>,
    /// Payload bytes held.
    bytes: u64,
    /// Payload bytes committed since the backlog started (or was reset).
    committed: u64,
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
        ring.committed = 0;
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
        let mut out = Vec::new();
        let mut bytes = 0;
        for held in ring.batches.range(ring.first_after(seq)..) {
            if !out.is_empty() && bytes + held.payload.len() > max_bytes {
                break;
            }
            bytes += held.payload.len();
            out.push((held.first, held.payload.clone()));
        }
        Ok(out)
    }

    /// The payload bytes committed through `seq`, counted from the backlog's start (or
    /// reset): where a feeder at `seq` stands, in bytes. Of a `seq` the backlog no longer
    /// holds, where its oldest batch begins.
    pub fn bytes_through(&self, seq: u64) -> u64 {
        let ring = self.ring.lock();
        match ring.first_after(seq).checked_sub(1) {
            Some(i) => ring.batches[i].through,
            None => ring.committed - ring.bytes,
        }
    }

    /// The payload bytes committed since the backlog started (or was reset): less a
    /// feeder's `bytes_through`, what it has yet to send.
    pub fn bytes_committed(&self) -> u64 {
        self.ring.lock().committed
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
    /// The index of the first batch ending after `seq` (a binary search on the last
    /// sequence numbers).
    fn first_after(&self, seq: u64) -> usize {
        self.batches.partition_point(|held| held.last <= seq)
    }

    fn trim(&mut self) {
        while self.bytes > self.limit && self.batches.len() > 1 {
            if let Some(held) = self.batches.pop_front() {
                self.bytes -= held.payload.len() as u64;
                self.start = held.last;
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
        ring.bytes += payload.len() as u64;
        ring.committed += payload.len() as u64;
        let through = ring.committed;
        ring.batches.push_back(Held {
            first: first_seq,
            last,
            payload: payload.clone(),
            through,
        });
        ring.end = last;
        ring.trim();
        drop(ring);
        // The value is only a wake-up (feeders read the ring), so with no feeder to wake
        // the send, whose notify was a percent of a worker serving unpipelined HSETs, is
        // skipped. A feeder subscribing meanwhile reads the ring after subscribing, and the
        // batch is in it.
        if self.grown.receiver_count() > 0 {
            self.grown.send_replace(last);
        }
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
        assert_eq!(
            [
                b.bytes_through(10),
                b.bytes_through(12),
                b.bytes_through(13)
            ],
            [0, 100, 200]
        );
        b.committed(14, &payload(1));
        // 300 bytes over a 250-byte bound: the oldest went.
        assert_eq!(b.after(10, usize::MAX), Err(Gone { start: 12 }));
        assert!(b.holds(12) && !b.holds(11) && !b.holds(15));
        // Of a sequence number no longer held, where the oldest batch held begins.
        assert_eq!([b.bytes_through(10), b.bytes_through(12)], [100, 100]);
        assert_eq!([b.bytes_through(13), b.bytes_committed()], [200, 300]);
    }
}
