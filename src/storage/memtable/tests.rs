//! The memtable against small models: versions per snapshot, pruning, pins, the arena and
//! the order keys, scans both ways.

use super::arena::Arena;
use super::keys::OrderKey;
use super::*;
use crate::storage::batch::{Op, WriteBatch};
use crate::storage::cursor::testing::check_walks;
use crate::storage::range::scan;
use crate::storage::source::{self, ScanEntry};

/// `mem` read through its cursor: the visible versions of up to `limit` keys of `lo..hi`
/// at `snap`, in key order or (`backward`) from the top; true if it stopped at the limit
/// with keys left.
fn scan_mem(
    mem: &Arc<Memtable>,
    (lo, hi): (&Bound<Bytes>, &Bound<Bytes>),
    snap: u64,
    limit: usize,
    backward: bool,
    out: &mut Vec<ScanEntry>,
) -> bool {
    let c = MemCursor::new(mem.clone(), snap, lo.clone(), hi.clone());
    scan(c, lo, hi, snap, limit, backward, out).unwrap()
}

fn apply(mem: &Memtable, first_seq: u64, ops: &[(&str, Option<&str>)]) {
    let mut batch = WriteBatch::new();
    for (key, value) in ops {
        match value {
            Some(v) => batch.put(key.as_bytes(), v.as_bytes()),
            None => batch.delete(key.as_bytes()),
        }
    }
    mem.apply(&batch.into_payload(first_seq), first_seq);
}

/// Absent (`None`), a tombstone (`Some(None)`) or a value, as the assertions read.
#[allow(clippy::option_option)]
fn value_at(mem: &Memtable, key: &str, snap: u64) -> Option<Option<String>> {
    mem.get(key.as_bytes(), snap)
        .unwrap()
        .map(|v| v.value.map(|b| String::from_utf8(b.to_vec()).unwrap()))
}

proptest::proptest! {
    #[test]
    fn order_keys_order_as_their_bytes(
        a in proptest::collection::vec(0u8..4, 0..60),
        b in proptest::collection::vec(0u8..4, 0..60),
    ) {
        // Few distinct bytes, so that shared prefixes, zero bytes and keys on both
        // sides of the held prefix (and its 16-byte words) are common.
        let (ka, kb) = (OrderKey::new(Bytes::from(a.clone())), OrderKey::new(Bytes::from(b.clone())));
        proptest::prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
        proptest::prop_assert_eq!(ka == kb, a == b);
    }
}

#[test]
fn new_keys_are_copied_and_large_ones_stay_in_their_payload() {
    let mut arena = Arena::new();
    let payload = Bytes::from(vec![7u8; Arena::LARGEST + 1]);
    let small = Op {
        key: &payload[..3],
        value: Some(&payload[3..10]),
    };
    let (k, v) = arena.store(&payload, small);
    assert_eq!(
        (&k[..], v.as_deref()),
        (&payload[..3], Some(&payload[3..10]))
    );
    assert_ne!(k.as_ptr(), payload.as_ptr(), "a small entry is copied");
    let large = Op {
        key: &payload[..1],
        value: Some(&payload[1..]),
    };
    let (k, v) = arena.store(&payload, large);
    assert_eq!(k.as_ptr(), payload.as_ptr(), "a large entry is a slice");
    assert_eq!(v.map(|v| v.len()), Some(Arena::LARGEST));
    // Enough entries to need more than one chunk: each keeps its own bytes.
    let stored: Vec<_> = (0..Arena::CHUNK / 64)
        .map(|i| {
            let key = format!("{i:08}").into_bytes();
            let (k, v) = arena.store(
                &payload,
                Op {
                    key: &key,
                    value: Some(&[1; 100]),
                },
            );
            (key, k, v)
        })
        .collect();
    for (key, k, v) in stored {
        assert_eq!(&k[..], &key[..]);
        assert_eq!(v.as_deref(), Some(&[1u8; 100][..]));
    }
    let (k, v) = arena.store(
        &payload,
        Op {
            key: b"gone",
            value: None,
        },
    );
    assert_eq!((&k[..], v), (&b"gone"[..], None));
}

#[test]
fn a_hot_key_stays_cheap_to_overwrite() {
    let mem = Memtable::new(Arc::default());
    for seq in 1..=100_000 {
        apply(&mem, seq, &[("counter", Some("v"))]);
    }
    apply(&mem, 100_001, &[("counter", Some("last"))]);
    assert_eq!(
        value_at(&mem, "counter", 100_001),
        Some(Some("last".into()))
    );
    assert_eq!(value_at(&mem, "counter", 5), Some(Some("v".into())));
}

/// Applies like the committer: each write published right after it is applied, then
/// the versions it replaced pruned.
fn apply_published(mem: &Memtable, seq: u64, key: &str, value: &str) {
    let mut batch = WriteBatch::new();
    batch.put(key.as_bytes(), value.as_bytes());
    let payload = batch.into_payload(seq);
    let overwrote = mem.apply(&payload, seq);
    mem.readers().visible.store(seq, AtomicOrdering::SeqCst);
    if overwrote {
        mem.prune_overwritten(&payload);
    }
}

fn version_count(mem: &Memtable, key: &str) -> usize {
    mem.shard(key.as_bytes()).read()[key.as_bytes()]
        .iter()
        .count()
}

#[test]
fn overwrites_drop_versions_nobody_can_read() {
    let mem = Memtable::new(Arc::default());
    for seq in 1..=1000 {
        apply_published(&mem, seq, "counter", &seq.to_string());
    }
    assert_eq!(version_count(&mem, "counter"), 1);
    assert_eq!(
        mem.with_latest(b"counter", |found| found.map(|(seq, _)| seq))
            .ok()
            .flatten(),
        Some(1000),
        "the newest version is kept"
    );
    // What the memtable counts shrinks with the versions it drops.
    let one_key = mem.approximate_bytes();
    assert!(
        one_key < 2 * (ENTRY_OVERHEAD + 20),
        "{one_key} bytes for one key"
    );
}

#[test]
fn a_pin_keeps_every_version_until_dropped() {
    let mem = Memtable::new(Arc::default());
    apply_published(&mem, 1, "k", "first");
    let pin = mem.readers().pin();
    let snap = mem.readers().visible.load(AtomicOrdering::Acquire);
    for seq in 2..=100 {
        apply_published(&mem, seq, "k", "later");
    }
    assert_eq!(value_at(&mem, "k", snap), Some(Some("first".into())));
    assert_eq!(version_count(&mem, "k"), 100);
    drop(pin);
    apply_published(&mem, 101, "k", "last");
    assert_eq!(version_count(&mem, "k"), 1);
    assert_eq!(value_at(&mem, "k", 101), Some(Some("last".into())));
}

#[test]
fn snapshots_see_their_own_version() {
    let mem = Memtable::new(Arc::default());
    apply(&mem, 1, &[("a", Some("1")), ("b", Some("x"))]);
    apply(&mem, 3, &[("a", Some("2"))]);
    apply(&mem, 4, &[("a", None)]);
    assert_eq!(value_at(&mem, "a", 0), None);
    assert_eq!(value_at(&mem, "a", 1), Some(Some("1".into())));
    assert_eq!(value_at(&mem, "a", 3), Some(Some("2".into())));
    assert_eq!(
        value_at(&mem, "a", 9),
        Some(None),
        "a tombstone hides older sources"
    );
    assert_eq!(value_at(&mem, "zz", 9), None);
}

#[test]
fn scans_are_ordered_bounded_and_snapshot_consistent() {
    let mem = Arc::new(Memtable::new(Arc::default()));
    apply(
        &mem,
        1,
        &[("c", Some("3")), ("a", Some("1")), ("b", Some("2"))],
    );
    apply(&mem, 4, &[("d", Some("4")), ("b", None)]);
    let keys = |out: &Vec<ScanEntry>| -> Vec<String> {
        out.iter()
            .map(|(k, _)| String::from_utf8(k.to_vec()).unwrap())
            .collect()
    };
    let mut out = Vec::new();
    let more = scan_mem(
        &mem,
        (&Bound::Unbounded, &Bound::Unbounded),
        3,
        10,
        false,
        &mut out,
    );
    assert!(!more);
    assert_eq!(keys(&out), ["a", "b", "c"], "d is newer than the snapshot");
    out.clear();
    let more = scan_mem(
        &mem,
        (&Bound::Excluded(Bytes::from("a")), &Bound::Unbounded),
        9,
        2,
        false,
        &mut out,
    );
    assert!(more);
    assert_eq!(keys(&out), ["b", "c"]);
    assert!(out[0].1.value.is_none(), "b is a tombstone at 9");
    out.clear();
    scan_mem(
        &mem,
        (&Bound::Unbounded, &Bound::Excluded(Bytes::from("d"))),
        9,
        10,
        true,
        &mut out,
    );
    assert_eq!(keys(&out), ["c", "b", "a"]);
    out.clear();
    let inverted = (
        Bound::Included(Bytes::from("c")),
        Bound::Excluded(Bytes::from("a")),
    );
    assert!(!scan_mem(
        &mem,
        (&inverted.0, &inverted.1),
        9,
        10,
        false,
        &mut out
    ));
    assert!(out.is_empty());
}

/// A walk's key: from a few hundred, so walks cross the cursor's chunks.
fn walk_key() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::strategy::Strategy;
    (0u32..400).prop_map(|i| format!("k{i:03}").into_bytes())
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(48))]

    /// A memtable cursor holds the versions at or below its snapshot of the keys within
    /// its bounds, and walks them both ways across its chunks.
    #[test]
    fn cursors_walk_the_versions_a_snapshot_sees_both_ways(
        writes in proptest::collection::vec((walk_key(), proptest::option::of(0u8..3)), 0..600),
        // Small snapshots too, which see few keys: long runs of keys seen by none.
        snap in proptest::prop_oneof![0u64..60, 0u64..700],
        lo in proptest::option::of(walk_key()),
        hi in proptest::option::of(walk_key()),
        walks in proptest::collection::vec(
            (0u8..3, walk_key(), proptest::collection::vec(proptest::bool::weighted(0.7), 0..300)),
            1..5),
    ) {
        let mem = Arc::new(Memtable::new(Arc::default()));
        let mut all = Vec::new();
        for (i, (k, v)) in writes.iter().enumerate() {
            let seq = i as u64 + 1;
            let v = v.map(|b| vec![b]);
            let key = std::str::from_utf8(k).unwrap();
            apply(&mem, seq, &[(key, v.as_ref().map(|_| "v"))]);
            all.push((k.clone(), seq, v.map(|_| b"v".to_vec())));
        }
        let lo = lo.map_or(Bound::Unbounded, |k| Bound::Included(Bytes::from(k)));
        let hi = hi.map_or(Bound::Unbounded, |k| Bound::Excluded(Bytes::from(k)));
        all.retain(|(k, seq, _)| {
            *seq <= snap && !source::below_lo(k, &lo) && !source::above_hi(k, &hi)
        });
        all.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut c = MemCursor::new(mem, snap, lo, hi);
        check_walks(&mut c, &all, &walks);
    }
}
