//! Property test: random puts, deletes, batches, reads, forward and reverse range scans,
//! snapshots, reopens, flushes and compactions, checked against a `BTreeMap` model. The
//! memtable is tiny, so tables, level-0 piles and several levels form within one case.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;
use cairn::storage::{Db, Options, Snapshot, SyncPolicy, WriteBatch};
use proptest::prelude::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Clone)]
enum Step {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>),
    Get(Vec<u8>),
    Range(Bound<Vec<u8>>, Bound<Vec<u8>>, Order),
    TakeSnapshot,
    CheckSnapshot(usize, Bound<Vec<u8>>, Bound<Vec<u8>>, Order),
    Reopen,
    Flush,
    Compact,
}

/// How a scan is consumed: forwards, backwards, or alternating from both ends.
#[derive(Debug, Clone, Copy)]
enum Order {
    Forward,
    Reverse,
    Alternate,
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    // A tiny alphabet so keys collide, overwrite and share prefixes.
    proptest::collection::vec(
        prop_oneof![Just(b'a'), Just(b'b'), Just(b'c'), Just(0u8)],
        0..4,
    )
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..12)
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        1 => Just(Bound::Unbounded),
        2 => key().prop_map(Bound::Included),
        2 => key().prop_map(Bound::Excluded),
    ]
}

fn order() -> impl Strategy<Value = Order> {
    prop_oneof![
        Just(Order::Forward),
        Just(Order::Reverse),
        Just(Order::Alternate)
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (key(), value()).prop_map(|(k, v)| Step::Put(k, v)),
        3 => key().prop_map(Step::Delete),
        2 => proptest::collection::vec((key(), proptest::option::of(value())), 0..6).prop_map(Step::Batch),
        3 => key().prop_map(Step::Get),
        3 => (bound(), bound(), order()).prop_map(|(l, h, o)| Step::Range(l, h, o)),
        1 => Just(Step::TakeSnapshot),
        2 => (any::<usize>(), bound(), bound(), order()).prop_map(|(i, l, h, o)| Step::CheckSnapshot(i, l, h, o)),
        1 => Just(Step::Reopen),
        1 => Just(Step::Flush),
        1 => Just(Step::Compact),
    ]
}

fn options() -> Options {
    Options {
        sync: SyncPolicy::Never,
        // Tiny segments so that segment switches and multi-segment recovery happen.
        wal_segment_bytes: 300,
        // A memtable of a few entries, tiny blocks and an eager level 0: many tables, many
        // blocks per table, compactions into deeper levels.
        memtable_bytes: 1500,
        block_bytes: 64,
        level0_compaction_trigger: 2,
        ..Options::default()
    }
}

fn model_range(m: &Model, lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
    // BTreeMap::range panics on inverted bounds; the engine must return nothing.
    let inverted = match (lo, hi) {
        (Bound::Included(l), Bound::Included(h)) => l > h,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(h))
        | (Bound::Excluded(l), Bound::Included(h)) => l >= h,
        _ => false,
    };
    if inverted {
        return Vec::new();
    }
    m.range::<Vec<u8>, _>((lo.clone(), hi.clone()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn collect(
    mut it: impl DoubleEndedIterator<Item = cairn::storage::Result<(Bytes, Bytes)>>,
    order: Order,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let conv = |r: cairn::storage::Result<(Bytes, Bytes)>| {
        let (k, v) = r.expect("scan item");
        (k.to_vec(), v.to_vec())
    };
    match order {
        Order::Forward => it.map(conv).collect(),
        Order::Reverse => {
            let mut v: Vec<_> = it.rev().map(conv).collect();
            v.reverse();
            v
        }
        Order::Alternate => {
            let (mut front, mut back) = (Vec::new(), Vec::new());
            loop {
                match it.next() {
                    Some(x) => front.push(conv(x)),
                    None => break,
                }
                match it.next_back() {
                    Some(x) => back.push(conv(x)),
                    None => break,
                }
            }
            back.reverse();
            front.extend(back);
            front
        }
    }
}

fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = Db::open(dir.path(), options()).expect("open");
    let mut model = Model::new();
    let mut snaps: Vec<(Snapshot, Model)> = Vec::new();
    for step in steps {
        match step {
            Step::Put(k, v) => {
                db.put(&k, &v).expect("put");
                model.insert(k, v);
            }
            Step::Delete(k) => {
                db.delete(&k).expect("delete");
                model.remove(&k);
            }
            Step::Batch(ops) => {
                let mut b = WriteBatch::new();
                let before = db.last_sequence();
                for (k, v) in &ops {
                    if let Some(v) = v {
                        b.put(k, v);
                        model.insert(k.clone(), v.clone());
                    } else {
                        b.delete(k);
                        model.remove(k);
                    }
                }
                db.write(b).expect("write");
                prop_assert_eq!(db.last_sequence(), before + ops.len() as u64);
            }
            Step::Get(k) => {
                let got = db.get(&k).expect("get").map(|b| b.to_vec());
                prop_assert_eq!(got.as_ref(), model.get(&k));
                let versioned = db.get_versioned(&k).expect("get_versioned");
                prop_assert_eq!(versioned.map(|(v, _)| v.to_vec()), got.clone());
                let lent = db
                    .get_with(&k, |v| v.map(|b| b.to_vec()))
                    .expect("get_with");
                prop_assert_eq!(lent, got);
            }
            Step::Range(lo, hi, order) => {
                let got = collect(db.range((lo.clone(), hi.clone())), order);
                prop_assert_eq!(got, model_range(&model, &lo, &hi));
            }
            Step::TakeSnapshot => snaps.push((db.snapshot(), model.clone())),
            Step::CheckSnapshot(i, lo, hi, order) => {
                if !snaps.is_empty() {
                    let (snap, m) = &snaps[i % snaps.len()];
                    let got = collect(snap.range((lo.clone(), hi.clone())), order);
                    prop_assert_eq!(got, model_range(m, &lo, &hi));
                    if let Bound::Included(k) | Bound::Excluded(k) = &lo {
                        let got = snap.get(k).expect("snapshot get").map(|b| b.to_vec());
                        prop_assert_eq!(got.as_ref(), m.get(k));
                    }
                }
            }
            Step::Reopen => {
                let seq = db.last_sequence();
                drop(db);
                db = Db::open(dir.path(), options()).expect("reopen");
                prop_assert_eq!(db.last_sequence(), seq);
            }
            Step::Flush => db.flush().expect("flush"),
            Step::Compact => db.compact().expect("compact"),
        }
    }
    // Everything survives a final reopen.
    drop(db);
    let db = Db::open(dir.path(), options()).expect("final reopen");
    let got = collect(db.range::<&[u8], _>(..), Order::Forward);
    prop_assert_eq!(
        got,
        model_range(&model, &Bound::Unbounded, &Bound::Unbounded)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_btreemap(steps in proptest::collection::vec(step(), 1..120)) {
        run(steps)?;
    }
}

/// Scans far longer than one refill chunk, over many versions and tombstones.
#[test]
fn long_scans_both_ways() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    let mut model = Model::new();
    for round in 0..3u32 {
        let mut b = WriteBatch::new();
        for i in 0..5000u32 {
            let k = format!("k{i:05}").into_bytes();
            if (i + round) % 3 == 0 {
                b.delete(&k);
                model.remove(&k);
            } else {
                let v = format!("{round}-{i}").into_bytes();
                b.put(&k, &v);
                model.insert(k, v);
            }
        }
        db.write(b).expect("write");
    }
    let all = model_range(&model, &Bound::Unbounded, &Bound::Unbounded);
    for order in [Order::Forward, Order::Reverse, Order::Alternate] {
        assert_eq!(collect(db.range::<&[u8], _>(..), order), all);
    }
    let lo = Bound::Included(b"k01000".to_vec());
    let hi = Bound::Excluded(b"k04000".to_vec());
    let expect = model_range(&model, &lo, &hi);
    for order in [Order::Forward, Order::Reverse, Order::Alternate] {
        assert_eq!(collect(db.range((lo.clone(), hi.clone())), order), expect);
    }
}
