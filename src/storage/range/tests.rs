//! Range reads over every kind of source at once: newest versions winning, snapshots,
//! bounds, levels read across their tables, and both ends meeting in the middle.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use proptest::prelude::*;

use super::*;
use crate::storage::batch::WriteBatch;
use crate::storage::memtable::{Memtable, Readers};
use crate::storage::source::valid_range;
use crate::storage::table::{Table, TableBuilder};
use crate::storage::version::Version;

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
    fn table<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        entries: &[(K, u64, Option<V>)],
    ) -> Arc<Table> {
        self.files += 1;
        let path = self.dir.path().join(format!("{}.sst", self.files));
        let mut b = TableBuilder::create(&path, 64, 10).unwrap();
        for (k, seq, v) in entries {
            b.add(k.as_ref(), *seq, v.as_ref().map(AsRef::as_ref))
                .unwrap();
        }
        b.finish().unwrap();
        Table::open(&path, self.files).unwrap()
    }

    /// Adds a level-0 table, newer than those added before.
    fn level0<K: AsRef<[u8]>, V: AsRef<[u8]>>(&mut self, entries: &[(K, u64, Option<V>)]) {
        let t = self.table(entries);
        self.version.level0.insert(0, t);
    }

    /// Adds a table to the end of `level` (1 or deeper).
    fn sorted<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        level: usize,
        entries: &[(K, u64, Option<V>)],
    ) {
        let t = self.table(entries);
        self.version.sorted[level - 1].tables.push(t);
    }

    /// Adds a memtable, newer than those added before; each entry is its own write.
    fn memtable<K: AsRef<[u8]>, V: AsRef<[u8]>>(&mut self, entries: &[(K, u64, Option<V>)]) {
        let mem = Memtable::new(self.readers.clone());
        for (k, seq, v) in entries {
            let mut batch = WriteBatch::new();
            match v {
                Some(v) => batch.put(k.as_ref(), v.as_ref()),
                None => batch.delete(k.as_ref()),
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
        self.range_of(lo, hi, snap)
    }

    fn range_of<K: AsRef<[u8]>>(&self, lo: Bound<K>, hi: Bound<K>, snap: u64) -> RangeIter {
        let b = |x: Bound<K>| x.map(|k| Bytes::copy_from_slice(k.as_ref()));
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
                front.push(kv);
            } else {
                back.push(kv);
            }
        }
        assert!(it.next().is_none() && it.next_back().is_none());
        back.reverse();
        front.extend(back);
        assert_eq!(front, model, "pattern {pattern:b}");
    }
}

/// One write of a history: key, value (`None`: a delete). Its sequence number is its
/// place in the history, counted from 1.
type Write = (Vec<u8>, Option<Vec<u8>>);

/// How a history is laid out, oldest writes first: level 2, level 1, level-0 tables,
/// frozen memtables, the active memtable. Each count is how many writes go there, each
/// level's tables cut after the given numbers of user keys.
#[derive(Debug, Clone)]
struct Layout {
    level2: (usize, usize),
    level1: (usize, usize),
    level0: Vec<usize>,
    memtables: Vec<usize>,
}

fn small_key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c', 0u8]), 0..3)
}

fn history() -> impl Strategy<Value = (Vec<Write>, Layout)> {
    let write = (
        small_key(),
        prop::option::weighted(0.7, prop::collection::vec(any::<u8>(), 0..4)),
    );
    let layout = (
        (0usize..30, 1usize..4),
        (0usize..30, 1usize..4),
        prop::collection::vec(0usize..12, 0..4),
        prop::collection::vec(0usize..12, 0..3),
    );
    (prop::collection::vec(write, 0..90), layout).prop_map(|(writes, (l2, l1, l0, mems))| {
        let layout = Layout {
            level2: l2,
            level1: l1,
            level0: l0,
            memtables: mems,
        };
        (writes, layout)
    })
}

/// (key, seq, value) in internal-key order.
type Internal = (Vec<u8>, u64, Option<Vec<u8>>);

/// The writes `from..to` (0-based) of `history` as internal entries, sorted.
fn internal(history: &[Write], from: usize, to: usize) -> Vec<Internal> {
    let mut es: Vec<Internal> = (from..to.min(history.len()))
        .map(|i| (history[i].0.clone(), i as u64 + 1, history[i].1.clone()))
        .collect();
    es.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    es
}

/// Lays `history` out in a fixture as `layout` says (what is left goes to the active
/// memtable).
fn lay_out(history: &[Write], layout: &Layout) -> Fixture {
    let mut f = Fixture::new();
    let mut at = 0;
    for (level, (writes, tables)) in [(2, layout.level2), (1, layout.level1)] {
        let es = internal(history, at, at + writes);
        at += writes;
        // Tables of a level hold disjoint key ranges: cut only between user keys.
        let keys: Vec<&Vec<u8>> = es.iter().map(|e| &e.0).collect();
        let per = keys.len().div_ceil(tables).max(1);
        let mut start = 0;
        while start < es.len() {
            let mut end = (start + per).min(es.len());
            while end < es.len() && es[end].0 == es[end - 1].0 {
                end += 1;
            }
            f.sorted(level, &es[start..end]);
            start = end;
        }
    }
    for writes in &layout.level0 {
        f.level0(&internal(history, at, at + writes));
        at += writes;
    }
    let mut memtables: Vec<usize> = layout.memtables.clone();
    memtables.push(history.len().saturating_sub(at));
    for writes in memtables {
        let es: Vec<Internal> = (at..(at + writes).min(history.len()))
            .map(|i| (history[i].0.clone(), i as u64 + 1, history[i].1.clone()))
            .collect();
        f.memtable(&es);
        at += writes;
    }
    f
}

/// What a range at `snap` holds: each key's last write up to `snap`, deletes dropped.
fn model(
    history: &[Write],
    snap: u64,
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut m = std::collections::BTreeMap::new();
    for (i, (k, v)) in history.iter().enumerate() {
        if (i as u64) < snap {
            m.insert(k.clone(), v.clone());
        }
    }
    if !valid_range(lo, hi) {
        return Vec::new();
    }
    m.range::<Vec<u8>, _>((lo.as_ref(), hi.as_ref()))
        .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
        .collect()
}

fn key_bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        1 => Just(Bound::Unbounded),
        2 => small_key().prop_map(Bound::Included),
        2 => small_key().prop_map(Bound::Excluded),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Forwards, backwards and mixed (true: `next`), at several snapshots, across
    /// memtables, level-0 tables and two sorted levels, against a `BTreeMap` model.
    #[test]
    fn ranges_match_a_model_in_every_order_at_every_snapshot(
        (history, layout) in history(),
        reads in prop::collection::vec(
            (0u64..100, key_bound(), key_bound(), prop::collection::vec(any::<bool>(), 0..40)),
            1..8),
    ) {
        let f = lay_out(&history, &layout);
        for (snap, lo, hi, steps) in reads {
            let snap = if snap > 95 { u64::MAX } else { snap };
            let want = model(&history, snap, &lo, &hi);
            let mut it = f.range_of(lo.clone(), hi.clone(), snap);
            let (mut front, mut back) = (Vec::new(), Vec::new());
            // The pattern of steps, then forwards to the end.
            for forward in steps.into_iter().chain(std::iter::repeat(true)) {
                let item = if forward { it.next() } else { it.next_back() };
                let Some(kv) = item else { break };
                let (k, v) = kv.unwrap();
                let kv = (k.to_vec(), v.to_vec());
                if forward { front.push(kv) } else { back.push(kv) }
            }
            prop_assert!(it.next().is_none() && it.next_back().is_none());
            back.reverse();
            front.extend(back);
            prop_assert_eq!(front, want, "snap {} {:?}..{:?}", snap, lo, hi);
        }
    }
}

#[test]
fn a_range_iterator_borrows_nothing_and_crosses_threads() {
    fn check<T: Send + 'static>() {}
    check::<RangeIter>();
}
