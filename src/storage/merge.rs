//! `MergingCursor`: several cursors merged into one ordered run of internal entries, as
//! `LevelDB`'s `table/merger.cc` merges iterators. Range reads merge every source of a view
//! through it, flushes and compactions their input tables; each puts its own policy on
//! top. It only orders entries: it drops none, and knows nothing of snapshots.
//!
//! Its children hold distinct internal keys (a view's sources do: a flush swaps its table
//! for its memtable in one step, a compaction its outputs for its inputs). The smallest
//! (forwards) or largest (backwards) entry is found by comparing every child's, not
//! through a heap: a merge has a handful of children, a heap's upkeep costs more than it
//! saves there, and `LevelDB` does the same.

use std::cmp::Ordering;

use bytes::Bytes;

use super::cursor::Cursor;
use super::error::Result;
use super::table::cmp_internal;

/// Which way the cursor last moved: the other children sit past the current entry that way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

/// The merge of `children`, itself a cursor.
#[derive(Debug)]
pub(crate) struct MergingCursor<C> {
    children: Vec<C>,
    /// The child on the current entry; `None` when off the ends.
    current: Option<usize>,
    /// Moving forward, every other valid child is on an entry after the current one;
    /// moving backward, before it.
    direction: Direction,
}

impl<C: Cursor> MergingCursor<C> {
    /// A cursor on no entry: seek it first.
    pub(crate) fn new(children: Vec<C>) -> Self {
        MergingCursor {
            children,
            current: None,
            direction: Direction::Forward,
        }
    }

    /// The valid child whose entry comes first in internal-key order (`first`) or last;
    /// of equal entries, the earliest child.
    fn pick(&mut self, first: bool) {
        if let [only] = &self.children[..] {
            self.current = only.valid().then_some(0);
            return;
        }
        let want = if first {
            Ordering::Less
        } else {
            Ordering::Greater
        };
        let mut best: Option<(usize, &[u8], u64)> = None;
        for (i, c) in self.children.iter().enumerate() {
            if !c.valid() {
                continue;
            }
            let (key, seq) = (c.key(), c.seq());
            if best.is_none_or(|(_, k, s)| cmp_internal(key, seq, k, s) == want) {
                best = Some((i, key, seq));
            }
        }
        self.current = best.map(|(i, _, _)| i);
    }

    /// Turns the merge around to move `to`: every child but the current one is moved to the
    /// entry nearest the current one on that side.
    fn turn(&mut self, to: Direction) -> Result<()> {
        let Some(current) = self.current else {
            return Ok(());
        };
        let key = self.children[current].key().to_vec();
        let seq = self.children[current].seq();
        for (i, c) in self.children.iter_mut().enumerate() {
            if i == current {
                continue;
            }
            // On the first entry after (key, seq); no other child holds one equal to it.
            c.seek(&key)?;
            while c.valid() && c.key() == &key[..] && c.seq() >= seq {
                c.next()?;
            }
            if to == Direction::Backward {
                if c.valid() {
                    c.prev()?;
                } else {
                    c.seek_to_last()?;
                }
            }
        }
        self.direction = to;
        Ok(())
    }
}

impl<C: Cursor> Cursor for MergingCursor<C> {
    fn seek(&mut self, key: &[u8]) -> Result<()> {
        for c in &mut self.children {
            c.seek(key)?;
        }
        self.direction = Direction::Forward;
        self.pick(true);
        Ok(())
    }

    fn seek_before(&mut self, key: &[u8]) -> Result<()> {
        for c in &mut self.children {
            c.seek_before(key)?;
        }
        self.direction = Direction::Backward;
        self.pick(false);
        Ok(())
    }

    fn seek_to_last(&mut self) -> Result<()> {
        for c in &mut self.children {
            c.seek_to_last()?;
        }
        self.direction = Direction::Backward;
        self.pick(false);
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        if self.direction == Direction::Backward {
            self.turn(Direction::Forward)?;
        }
        if let Some(i) = self.current {
            self.children[i].next()?;
        }
        self.pick(true);
        Ok(())
    }

    fn prev(&mut self) -> Result<()> {
        if self.direction == Direction::Forward {
            self.turn(Direction::Backward)?;
        }
        if let Some(i) = self.current {
            self.children[i].prev()?;
        }
        self.pick(false);
        Ok(())
    }

    fn valid(&self) -> bool {
        self.current.is_some()
    }

    fn key(&self) -> &[u8] {
        self.current.map_or(&[], |i| self.children[i].key())
    }

    fn seq(&self) -> u64 {
        self.current.map_or(0, |i| self.children[i].seq())
    }

    fn value(&self) -> Option<Bytes> {
        self.children[self.current?].value()
    }

    fn shared_key(&self) -> Option<Bytes> {
        self.children[self.current?].shared_key()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::storage::cursor::testing::{check_walks, Entry, VecCursor};

    /// Distinct internal keys from a small alphabet, dealt out to `children` cursors.
    fn children() -> impl Strategy<Value = (Vec<Entry>, Vec<VecCursor>)> {
        let key = prop::collection::vec(prop::sample::select(vec![b'a', b'b', 0u8]), 0..3);
        let entries = prop::collection::btree_map(
            (key, 1u64..20),
            (
                0usize..4,
                prop::option::of(prop::collection::vec(any::<u8>(), 0..3)),
            ),
            0..40,
        );
        entries.prop_map(|m| {
            let mut all: Vec<Entry> = Vec::new();
            let mut kids: Vec<Vec<Entry>> = vec![Vec::new(); 4];
            for ((k, s), (child, v)) in m {
                kids[child].push((k.clone(), s, v.clone()));
                all.push((k, s, v));
            }
            let order = |a: &Entry, b: &Entry| cmp_internal(&a.0, a.1, &b.0, b.1);
            all.sort_by(order);
            let kids = kids
                .into_iter()
                .map(|mut es| {
                    es.sort_by(order);
                    VecCursor::new(es)
                })
                .collect();
            (all, kids)
        })
    }

    proptest! {
        #[test]
        fn merging_cursors_walk_the_sorted_union_both_ways(
            (all, kids) in children(),
            walks in prop::collection::vec(
                (0u8..3, prop::collection::vec(prop::sample::select(vec![b'a', b'b', 0u8]), 0..3),
                 prop::collection::vec(any::<bool>(), 0..30)),
                1..6),
        ) {
            check_walks(&mut MergingCursor::new(kids), &all, &walks);
        }
    }
}
