//! A range over the whole cluster: every primary's ordered [`RangeStream`] merged into one
//! stream in key order (a k-way merge over a heap holding each node's next pair).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};

use crate::client::{RangeOptions, RangeStream, Result};

/// The pairs of a [`Cluster::range`](super::Cluster::range), from every primary, merged into one [`Stream`] in key
/// order (descending with [`RangeOptions::reverse`]).
///
/// Each node's pairs arrive as its [`RangeStream`] does (in chunks, buffered); the merge
/// holds one pair per node. The stream ends after the first error.
pub struct ClusterRangeStream {
    inner: BoxStream<'static, Result<(Bytes, Bytes)>>,
}

impl std::fmt::Debug for ClusterRangeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterRangeStream").finish_non_exhaustive()
    }
}

impl ClusterRangeStream {
    pub(super) fn merge(streams: Vec<RangeStream>, options: RangeOptions) -> ClusterRangeStream {
        let merge = Merge {
            refill: (0..streams.len()).collect(),
            streams,
            heads: BinaryHeap::new(),
            left: options.limit,
            reverse: options.reverse,
            failed: false,
        };
        let inner = futures::stream::unfold(merge, |mut merge| async move {
            let item = merge.next().await?;
            Some((item, merge))
        });
        ClusterRangeStream {
            inner: inner.boxed(),
        }
    }
}

impl Stream for ClusterRangeStream {
    type Item = Result<(Bytes, Bytes)>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// A k-way merge of ordered streams: a heap of each stream's next pair.
struct Merge {
    streams: Vec<RangeStream>,
    heads: BinaryHeap<Head>,
    /// Streams whose next pair is not in `heads` yet: the one the last pair came from (all
    /// of them at first).
    refill: Vec<usize>,
    /// Pairs still to give, with a limit.
    left: Option<u64>,
    reverse: bool,
    failed: bool,
}

impl Merge {
    async fn next(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        if self.failed || self.left == Some(0) {
            return None;
        }
        while let Some(from) = self.refill.pop() {
            match self.streams[from].next().await {
                Some(Ok((key, value))) => self.heads.push(Head {
                    key,
                    value,
                    from,
                    reverse: self.reverse,
                }),
                Some(Err(error)) => {
                    self.failed = true;
                    return Some(Err(error));
                }
                None => {}
            }
        }
        let head = self.heads.pop()?;
        self.refill.push(head.from);
        // Every stream's next pair is in the heap now. A key on two nodes at once (copied
        // to a slot's new owner, not yet deleted from the old one) is given once.
        while self.heads.peek().is_some_and(|next| next.key == head.key) {
            if let Some(twin) = self.heads.pop() {
                self.refill.push(twin.from);
            }
        }
        if let Some(left) = &mut self.left {
            *left -= 1;
        }
        Some(Ok((head.key, head.value)))
    }
}

/// A stream's next pair in the merge's heap.
struct Head {
    key: Bytes,
    value: Bytes,
    from: usize,
    reverse: bool,
}

impl Ord for Head {
    /// [`BinaryHeap`] pops the greatest: the smallest key in ascending order, the largest
    /// in descending order (ties, which disjoint nodes do not have, by stream).
    fn cmp(&self, other: &Self) -> Ordering {
        let by_key = if self.reverse {
            self.key.cmp(&other.key)
        } else {
            other.key.cmp(&self.key)
        };
        by_key.then_with(|| other.from.cmp(&self.from))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_pop_in_order() {
        for reverse in [false, true] {
            let mut heap = BinaryHeap::new();
            for (from, key) in ["b", "d", "a", "c"].into_iter().enumerate() {
                heap.push(Head {
                    key: Bytes::from(key),
                    value: Bytes::new(),
                    from,
                    reverse,
                });
            }
            let order: Vec<Bytes> = std::iter::from_fn(|| heap.pop().map(|h| h.key)).collect();
            let mut expect = vec!["a", "b", "c", "d"];
            if reverse {
                expect.reverse();
            }
            assert_eq!(order, expect);
        }
    }
}
