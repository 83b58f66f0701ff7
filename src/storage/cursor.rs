//! Forward range reads as a streaming merge: one cursor per source (each memtable, each
//! level-0 table, each deeper level), positioned once by a seek and then moved one user key
//! at a time, merged by taking the smallest key, the newest version winning a tie.
//!
//! A seek followed by a few `next` calls, the common short scan, decodes about one entry
//! per source beyond what it returns; re-seeking every source in chunks cost it twice
//! redb's time. The cursors borrow nothing: tables are found by their place in the `View`
//! the caller passes on each call, memtables are held by `Arc` and read in chunks (they
//! are in memory, and their ordered key set sits behind a lock writers take, which a
//! cursor must not hold). So the `RangeIter` owning a merge stays `'static`.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use smallvec::SmallVec;

use super::error::Result;
use super::memtable::Memtable;
use super::source::{above_hi, below_lo, ScanEntry};
use super::table::{KeyArena, ScanCursor, Table};
use super::view::View;

/// Keys a memtable cursor reads at first; doubling per refill up to `MAX_CHUNK`, so a short
/// scan reads little and a long one re-seeks rarely.
const FIRST_CHUNK: usize = 16;
const MAX_CHUNK: usize = 4096;

/// A memtable's visible versions, read in chunks.
struct MemCursor {
    mem: Arc<Memtable>,
    chunk: Vec<ScanEntry>,
    /// Position of the current entry in `chunk`.
    pos: usize,
    /// Whether the memtable may hold keys past `chunk`.
    more: bool,
    limit: usize,
}

impl MemCursor {
    fn new(mem: Arc<Memtable>, lo: &Bound<Bytes>, hi: &Bound<Bytes>, snap: u64) -> MemCursor {
        let mut c = MemCursor {
            mem,
            chunk: Vec::new(),
            pos: 0,
            more: false,
            limit: FIRST_CHUNK,
        };
        c.fill(lo, hi, snap);
        c
    }

    fn fill(&mut self, lo: &Bound<Bytes>, hi: &Bound<Bytes>, snap: u64) {
        self.chunk.clear();
        self.pos = 0;
        self.more = self
            .mem
            .scan_forward(lo, hi, snap, self.limit, &mut self.chunk);
        self.limit = (self.limit * 2).min(MAX_CHUNK);
    }

    fn next(&mut self, hi: &Bound<Bytes>, snap: u64) {
        self.pos += 1;
        if self.pos >= self.chunk.len() && self.more {
            if let Some((last, _)) = self.chunk.last() {
                let lo = Bound::Excluded(last.clone());
                self.fill(&lo, hi, snap);
            }
        }
    }
}

/// A run of tables read in key order: one level-0 table, or a deeper level whose tables
/// are sorted and disjoint (the cursor moves on to the next table when one ends).
struct TablesCursor {
    /// The run is `view.version.tables(level)[current..end]`.
    level: usize,
    current: usize,
    end: usize,
    cursor: ScanCursor,
}

impl TablesCursor {
    fn new(
        view: &View,
        level: usize,
        run: std::ops::Range<usize>,
        lo: &Bound<Bytes>,
        hi: &Bound<Bytes>,
        snap: u64,
    ) -> Result<TablesCursor> {
        let mut c = TablesCursor {
            level,
            current: run.start,
            end: run.end,
            cursor: ScanCursor::default(),
        };
        if let Some(t) = c.table(view) {
            c.cursor.seek(t, lo, snap)?;
        }
        c.settle(view, hi, snap)?;
        Ok(c)
    }

    fn table<'v>(&self, view: &'v View) -> Option<&'v Table> {
        let tables = view.version.tables(self.level);
        tables[..self.end.min(tables.len())]
            .get(self.current)
            .map(|t| &**t)
    }

    fn next(&mut self, view: &View, hi: &Bound<Bytes>, snap: u64) -> Result<()> {
        if let Some(t) = self.table(view) {
            self.cursor.next(t, snap)?;
        }
        self.settle(view, hi, snap)
    }

    /// While the current table is exhausted, moves to the next one of the run, unless it
    /// starts past `hi`. Keys never span tables of a level, so it reads from the start.
    fn settle(&mut self, view: &View, hi: &Bound<Bytes>, snap: u64) -> Result<()> {
        while self.cursor.head().is_none() {
            self.current += 1;
            let Some(t) = self.table(view) else {
                return Ok(());
            };
            if above_hi(&t.properties().smallest, hi) {
                self.current = self.end;
                return Ok(());
            }
            self.cursor.seek(t, &Bound::Unbounded, snap)?;
        }
        Ok(())
    }
}

/// One source's cursor: its current entry is the source's visible version of its key.
enum SourceCursor {
    Mem(MemCursor),
    Tables(TablesCursor),
}

impl SourceCursor {
    /// The current entry's user key and sequence number; `None` once exhausted.
    fn head(&self) -> Option<(&[u8], u64)> {
        match self {
            SourceCursor::Mem(c) => c.chunk.get(c.pos).map(|(k, v)| (&k[..], v.seq)),
            SourceCursor::Tables(c) => c.cursor.head(),
        }
    }

    /// The current entry as a pair to return; `None` for a tombstone. A table's keys are
    /// copied into `keys`, since blocks store most keys prefix-compressed.
    fn pair(&self, keys: &mut KeyArena) -> Option<(Bytes, Bytes)> {
        match self {
            SourceCursor::Mem(c) => {
                let (k, v) = c.chunk.get(c.pos)?;
                Some((k.clone(), v.value.clone()?))
            }
            SourceCursor::Tables(c) => {
                let value = c.cursor.value()?;
                let (key, _) = c.cursor.head()?;
                Some((keys.copy(key), value))
            }
        }
    }

    fn next(&mut self, view: &View, hi: &Bound<Bytes>, snap: u64) -> Result<()> {
        match self {
            SourceCursor::Mem(c) => {
                c.next(hi, snap);
                Ok(())
            }
            SourceCursor::Tables(c) => c.next(view, hi, snap),
        }
    }
}

/// The forward merge of every source of a view at one snapshot: the visible pairs in key
/// order, tombstones dropped.
pub(crate) struct ForwardMerge {
    cursors: Vec<SourceCursor>,
    snap: u64,
    /// The last key taken from the sources (returned, or hidden by a tombstone); inline
    /// for short keys, so a short scan allocates less.
    taken: SmallVec<[u8; 32]>,
    keys: KeyArena,
    started: bool,
}

impl ForwardMerge {
    /// Seeks every source that may hold keys in `lo..hi` (a valid range) to `lo`.
    pub(crate) fn new(
        view: &View,
        lo: &Bound<Bytes>,
        hi: &Bound<Bytes>,
        snap: u64,
    ) -> Result<ForwardMerge> {
        let mut cursors = Vec::new();
        let memtables = std::iter::once(&view.active).chain(&view.immutables);
        for mem in memtables {
            cursors.push(SourceCursor::Mem(MemCursor::new(mem.clone(), lo, hi, snap)));
        }
        for (i, t) in view.version.level0.iter().enumerate() {
            let p = t.properties();
            if !above_hi(&p.smallest, hi) && !below_lo(&p.largest, lo) {
                let c = TablesCursor::new(view, 0, i..i + 1, lo, hi, snap)?;
                cursors.push(SourceCursor::Tables(c));
            }
        }
        for (i, level) in view.version.sorted.iter().enumerate() {
            let start = match lo {
                Bound::Included(k) | Bound::Excluded(k) => level.find(k),
                Bound::Unbounded => 0,
            };
            if start < level.tables.len() {
                let run = start..level.tables.len();
                let c = TablesCursor::new(view, i + 1, run, lo, hi, snap)?;
                cursors.push(SourceCursor::Tables(c));
            }
        }
        cursors.retain(|c| c.head().is_some());
        Ok(ForwardMerge {
            cursors,
            snap,
            taken: SmallVec::new(),
            keys: KeyArena::default(),
            started: false,
        })
    }

    /// The next visible pair with a key within `hi`; `None` at the end.
    pub(crate) fn next(
        &mut self,
        view: &View,
        hi: &Bound<Bytes>,
    ) -> Result<Option<(Bytes, Bytes)>> {
        loop {
            // The smallest key, and the cursors holding it, the newest version first.
            let mut best: Option<(&[u8], u64)> = None;
            let mut holders: SmallVec<[usize; 8]> = SmallVec::new();
            for (i, c) in self.cursors.iter().enumerate() {
                let Some((key, seq)) = c.head() else {
                    continue;
                };
                match best.map(|(k, s)| (key.cmp(k), s)) {
                    None | Some((Ordering::Less, _)) => {
                        best = Some((key, seq));
                        holders.clear();
                        holders.push(i);
                    }
                    Some((Ordering::Equal, s)) if seq > s => {
                        best = Some((key, seq));
                        holders.insert(0, i);
                    }
                    Some((Ordering::Equal, _)) => holders.push(i),
                    Some((Ordering::Greater, _)) => {}
                }
            }
            let (Some((key, _)), Some(&winner)) = (best, holders.first()) else {
                return Ok(None);
            };
            if above_hi(key, hi) {
                return Ok(None);
            }
            self.taken.clear();
            self.taken.extend_from_slice(key);
            self.started = true;
            let pair = self.cursors[winner].pair(&mut self.keys);
            // Every source's version of this key is now passed: the winner's and the
            // older ones it hides.
            for i in holders {
                if let Some(c) = self.cursors.get_mut(i) {
                    c.next(view, hi, self.snap)?;
                }
            }
            if pair.is_some() {
                return Ok(pair);
            }
        }
    }

    /// The last key the merge went past (returned or hidden by a tombstone), if any.
    pub(crate) fn passed(&self) -> Option<&[u8]> {
        self.started.then_some(&self.taken[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::batch::WriteBatch;
    use crate::storage::memtable::Readers;
    use crate::storage::table::TableBuilder;
    use crate::storage::version::Version;
    use crate::storage::view::RangeIter;

    /// (key, seq, value or `None` for a tombstone).
    type Entry = (&'static str, u64, Option<&'static str>);

    struct Fixture {
        dir: tempfile::TempDir,
        readers: Arc<Readers>,
        version: Version,
        memtables: Vec<Arc<Memtable>>,
        files: u64,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                dir: tempfile::tempdir().unwrap(),
                readers: Arc::default(),
                version: Version::default(),
                memtables: Vec::new(),
                files: 0,
            }
        }

        /// A table of `entries` (in internal-key order), with small blocks so that scans
        /// cross block boundaries.
        fn table(&mut self, entries: &[Entry]) -> Arc<Table> {
            self.files += 1;
            let path = self.dir.path().join(format!("{}.sst", self.files));
            let mut b = TableBuilder::create(&path, 64, 10).unwrap();
            for (k, seq, v) in entries {
                b.add(k.as_bytes(), *seq, v.map(str::as_bytes)).unwrap();
            }
            b.finish().unwrap();
            Table::open(&path, self.files).unwrap()
        }

        /// Adds a level-0 table, newer than those added before.
        fn level0(&mut self, entries: &[Entry]) {
            let t = self.table(entries);
            self.version.level0.insert(0, t);
        }

        /// Adds a table to the end of `level` (1 or deeper).
        fn sorted(&mut self, level: usize, entries: &[Entry]) {
            let t = self.table(entries);
            self.version.sorted[level - 1].tables.push(t);
        }

        /// Adds a memtable, newer than those added before; each entry is its own write.
        fn memtable(&mut self, entries: &[Entry]) {
            let mem = Memtable::new(self.readers.clone());
            for (k, seq, v) in entries {
                let mut batch = WriteBatch::new();
                match v {
                    Some(v) => batch.put(k.as_bytes(), v.as_bytes()),
                    None => batch.delete(k.as_bytes()),
                }
                mem.apply(&batch.into_payload(*seq), *seq);
            }
            self.memtables.insert(0, Arc::new(mem));
        }

        fn view(&self) -> Arc<View> {
            let mut mems = self.memtables.clone();
            if mems.is_empty() {
                mems.push(Arc::new(Memtable::new(self.readers.clone())));
            }
            let mut view = View::new(mems.remove(0), Arc::new(self.version.clone()));
            view.immutables = mems;
            Arc::new(view)
        }

        fn range(&self, lo: Bound<&str>, hi: Bound<&str>, snap: u64) -> RangeIter {
            let b = |x: Bound<&str>| x.map(|k| Bytes::copy_from_slice(k.as_bytes()));
            let pin = Arc::new(self.readers.pin());
            RangeIter::new(self.view(), snap, b(lo), b(hi), pin)
        }

        fn forward(&self, lo: Bound<&str>, hi: Bound<&str>, snap: u64) -> Vec<(String, String)> {
            pairs(self.range(lo, hi, snap))
        }
    }

    fn pairs(it: impl Iterator<Item = Result<(Bytes, Bytes)>>) -> Vec<(String, String)> {
        it.map(|kv| {
            let (k, v) = kv.unwrap();
            (
                String::from_utf8(k.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            )
        })
        .collect()
    }

    fn want(kvs: &[(&str, &str)]) -> Vec<(String, String)> {
        kvs.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The same keys in every kind of source, each source newer than the next.
    fn layered() -> Fixture {
        let mut f = Fixture::new();
        f.sorted(
            1,
            &[
                ("a", 1, Some("a1")),
                ("b", 2, Some("b1")),
                ("c", 3, Some("c1")),
            ],
        );
        f.sorted(1, &[("d", 4, Some("d1")), ("e", 5, Some("e1"))]);
        f.level0(&[
            ("a", 10, Some("a2")),
            ("c", 11, None),
            ("d", 12, Some("d2")),
        ]);
        f.level0(&[
            ("b", 20, Some("b3")),
            ("b", 13, Some("b2")),
            ("f", 21, Some("f3")),
        ]);
        f.memtable(&[("a", 30, None), ("e", 31, Some("e4"))]);
        f.memtable(&[("c", 40, Some("c5")), ("e", 41, None)]);
        f
    }

    #[test]
    fn the_newest_version_wins_and_tombstones_hide_older_sources() {
        let f = layered();
        let all = want(&[("b", "b3"), ("c", "c5"), ("d", "d2"), ("f", "f3")]);
        assert_eq!(f.forward(Bound::Unbounded, Bound::Unbounded, 99), all);
        let back: Vec<_> = pairs(f.range(Bound::Unbounded, Bound::Unbounded, 99).rev());
        assert_eq!(back, all.into_iter().rev().collect::<Vec<_>>());
    }

    #[test]
    fn a_snapshot_sees_only_what_was_written_before_it() {
        let f = layered();
        let at = |snap| f.forward(Bound::Unbounded, Bound::Unbounded, snap);
        assert_eq!(at(0), want(&[]));
        let first = want(&[
            ("a", "a1"),
            ("b", "b1"),
            ("c", "c1"),
            ("d", "d1"),
            ("e", "e1"),
        ]);
        assert_eq!(at(5), first);
        // b's newer version in the same table as its older one is hidden too.
        let before_b3 = want(&[("a", "a2"), ("b", "b2"), ("d", "d2"), ("e", "e1")]);
        assert_eq!(at(13), before_b3);
        let mems = want(&[("b", "b3"), ("d", "d2"), ("e", "e4"), ("f", "f3")]);
        assert_eq!(at(31), mems);
    }

    #[test]
    fn bounds_are_respected_at_both_ends() {
        let f = layered();
        let got = f.forward(Bound::Excluded("b"), Bound::Included("d"), 99);
        assert_eq!(got, want(&[("c", "c5"), ("d", "d2")]));
        let got = f.forward(Bound::Included("b"), Bound::Excluded("d"), 99);
        assert_eq!(got, want(&[("b", "b3"), ("c", "c5")]));
        let got = f.forward(Bound::Included("bb"), Bound::Unbounded, 99);
        assert_eq!(got, want(&[("c", "c5"), ("d", "d2"), ("f", "f3")]));
        let inverted = f.forward(Bound::Included("d"), Bound::Excluded("b"), 99);
        assert_eq!(inverted, want(&[]));
        let empty = f.forward(Bound::Excluded("c"), Bound::Excluded("c"), 99);
        assert_eq!(empty, want(&[]));
    }

    /// A level of many small tables, every key with an older version below it.
    fn long_level() -> (Fixture, Vec<(String, String)>) {
        let mut f = Fixture::new();
        let keys: Vec<&'static str> = (0..300)
            .map(|i| &*Box::leak(format!("k{i:04}").into_boxed_str()))
            .collect();
        for chunk in keys.chunks(37) {
            let entries: Vec<Entry> = chunk.iter().map(|k| (*k, 1, Some("old"))).collect();
            f.sorted(2, &entries);
        }
        for chunk in keys.chunks(23) {
            let entries: Vec<Entry> = chunk
                .iter()
                .enumerate()
                .map(|(i, k)| (*k, 2, (i % 5 != 0).then_some("new")))
                .collect();
            f.sorted(1, &entries);
        }
        let model = keys
            .chunks(23)
            .flat_map(|c| c.iter().enumerate())
            .filter(|(i, _)| i % 5 != 0)
            .map(|(_, k)| (k.to_string(), "new".to_string()))
            .collect();
        (f, model)
    }

    #[test]
    fn a_level_is_read_across_its_table_boundaries() {
        let (f, model) = long_level();
        assert_eq!(f.forward(Bound::Unbounded, Bound::Unbounded, 9), model);
        // From inside one table into the next few, as a short seek does.
        let got = f.forward(Bound::Included("k0020"), Bound::Excluded("k0050"), 9);
        let expect: Vec<_> = model
            .iter()
            .filter(|(k, _)| ("k0020".."k0050").contains(&k.as_str()))
            .cloned()
            .collect();
        assert_eq!(got, expect);
        let got: Vec<_> = pairs(
            f.range(Bound::Excluded("k0022"), Bound::Unbounded, 9)
                .take(3),
        );
        assert_eq!(
            got,
            want(&[("k0024", "new"), ("k0025", "new"), ("k0026", "new")])
        );
        // At a snapshot before the newer level, the older one shows through.
        let old = f.forward(Bound::Included("k0295"), Bound::Unbounded, 1);
        let expect: Vec<_> = (295..300)
            .map(|i| (format!("k{i:04}"), "old".to_string()))
            .collect();
        assert_eq!(old, expect);
    }

    #[test]
    fn both_ends_meet_in_the_middle_and_return_every_key_once() {
        let (f, model) = long_level();
        // Patterns of next (true) and next_back (false).
        for pattern in [0b1u64, 0b10, 0b110, 0b1011_0111, 0b1_1100_0011_0001] {
            let mut it = f.range(Bound::Unbounded, Bound::Unbounded, 9);
            let (mut front, mut back) = (Vec::new(), Vec::new());
            for i in 0.. {
                let forward = pattern >> (i % 64) & 1 == 1;
                let item = if forward { it.next() } else { it.next_back() };
                let Some(kv) = item else { break };
                let (k, v) = kv.unwrap();
                let kv = (
                    String::from_utf8(k.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                );
                if forward {
                    front.push(kv)
                } else {
                    back.push(kv)
                }
            }
            assert!(it.next().is_none() && it.next_back().is_none());
            back.reverse();
            front.extend(back);
            assert_eq!(front, model, "pattern {pattern:b}");
        }
    }
}
