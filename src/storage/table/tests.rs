//! Tables against a `BTreeMap` model: point gets, scans both ways, the cursor walked both
//! ways from every kind of seek, under snapshots, with many versions per key and
//! tombstones; and damage to every part of the file, which must surface as
//! `Error::Corruption` naming the file.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;

use super::format::{Footer, Handle, FOOTER_LEN};
use super::{Table, TableBuilder, TableCursor};
use crate::storage::cursor::testing::check_walks;
use crate::storage::cursor::Cursor;
use crate::storage::error::Error;
use crate::storage::range::scan;
use crate::storage::source::{above_hi, below_lo, valid_range, ScanEntry, Source};

fn in_bounds(key: &[u8], lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> bool {
    !below_lo(key, lo) && !above_hi(key, hi)
}

/// Internal key -> value (`None`: tombstone); the map's order is the table's order.
type Model = BTreeMap<(Vec<u8>, Reverse<u64>), Option<Vec<u8>>>;

fn build(path: &Path, model: &Model, block_bytes: usize, bloom_bits: usize) -> Arc<Table> {
    let mut b = TableBuilder::create(path, block_bytes, bloom_bits).unwrap();
    for ((k, Reverse(seq)), v) in model {
        b.add(k, *seq, v.as_deref()).unwrap();
    }
    let (props, size) = b.finish().unwrap();
    let t = Table::open(path, 7).unwrap();
    assert_eq!(t.properties(), &props);
    assert_eq!(t.file_size(), size);
    assert_eq!(std::fs::metadata(path).unwrap().len(), size);
    t
}

type Got = Option<(u64, Option<Vec<u8>>)>;

fn model_get(model: &Model, key: &[u8], snap: u64) -> Got {
    model
        .range((key.to_vec(), Reverse(snap))..)
        .next()
        .filter(|((k, _), _)| k == key)
        .map(|((_, Reverse(s)), v)| (*s, v.clone()))
}

/// Per user key in bounds, its visible version, in key order.
fn model_visible(
    model: &Model,
    lo: &Bound<Bytes>,
    hi: &Bound<Bytes>,
    snap: u64,
) -> Vec<(Vec<u8>, u64, Option<Vec<u8>>)> {
    let mut out: Vec<(Vec<u8>, u64, Option<Vec<u8>>)> = Vec::new();
    for ((k, Reverse(s)), v) in model {
        if *s > snap || !in_bounds(k, lo, hi) || out.last().is_some_and(|l| &l.0 == k) {
            continue;
        }
        out.push((k.clone(), *s, v.clone()));
    }
    out
}

fn plain(out: &[ScanEntry]) -> Vec<(Vec<u8>, u64, Option<Vec<u8>>)> {
    out.iter()
        .map(|(k, v)| (k.to_vec(), v.seq, v.value.as_ref().map(|b| b.to_vec())))
        .collect()
}

fn get(t: &Table, key: &[u8], snap: u64) -> Got {
    t.get(key, snap)
        .unwrap()
        .map(|v| (v.seq, v.value.map(|b| b.to_vec())))
}

fn bound(kind: u8, key: &[u8]) -> Bound<Bytes> {
    match kind % 3 {
        0 => Bound::Unbounded,
        1 => Bound::Included(Bytes::copy_from_slice(key)),
        _ => Bound::Excluded(Bytes::copy_from_slice(key)),
    }
}

fn check_scans(t: &Arc<Table>, model: &Model, lo: &Bound<Bytes>, hi: &Bound<Bytes>, snap: u64) {
    let all = if valid_range(lo, hi) {
        model_visible(model, lo, hi, snap)
    } else {
        Vec::new()
    };
    for limit in [0, 1, 3, usize::MAX] {
        let n = all.len().min(limit);
        let read = |backward, out: &mut Vec<ScanEntry>| {
            let c = TableCursor::new(t.clone());
            scan(c, lo, hi, snap, limit, backward, out).unwrap()
        };
        let mut out = Vec::new();
        let more = read(false, &mut out);
        assert_eq!(
            plain(&out),
            all[..n],
            "forward {lo:?}..{hi:?} @{snap} limit {limit}"
        );
        assert_eq!(more, all.len() > limit, "forward more flag");
        out.clear();
        let more = read(true, &mut out);
        let want: Vec<_> = all.iter().rev().take(n).cloned().collect();
        assert_eq!(
            plain(&out),
            want,
            "backward {lo:?}..{hi:?} @{snap} limit {limit}"
        );
        assert_eq!(more, all.len() > limit, "backward more flag");
    }
}

fn check_iter(t: &Arc<Table>, model: &Model, seek: Option<&[u8]>) {
    let mut it = TableCursor::new(t.clone());
    it.seek(seek.unwrap_or_default()).unwrap();
    let mut got = Vec::new();
    while it.valid() {
        got.push((it.key().to_vec(), it.seq(), it.value().map(|b| b.to_vec())));
        it.next().unwrap();
    }
    let want: Vec<_> = model
        .iter()
        .filter(|((k, _), _)| seek.is_none_or(|s| &k[..] >= s))
        .map(|((k, Reverse(s)), v)| (k.clone(), *s, v.clone()))
        .collect();
    assert_eq!(got, want, "iter after seek {seek:?}");
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    // A small alphabet so keys share prefixes and collide often.
    prop::collection::vec(
        prop::sample::select(vec![b'a', b'b', b'c', 0u8, 0xff]),
        0..5,
    )
}

fn model_strategy() -> impl Strategy<Value = Model> {
    prop::collection::vec(
        (
            key_strategy(),
            1u64..60,
            prop::option::weighted(0.8, prop::collection::vec(any::<u8>(), 0..40)),
        ),
        0..300,
    )
    .prop_map(|entries| {
        entries
            .into_iter()
            .map(|(k, s, v)| ((k, Reverse(s)), v))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn tables_match_the_model(
        model in model_strategy(),
        block_bytes in 64usize..600,
        bloom in prop::sample::select(vec![0usize, 1, 10]),
        probes in prop::collection::vec((key_strategy(), 0u64..64), 1..40),
        bounds in prop::collection::vec((any::<u8>(), key_strategy(), any::<u8>(), key_strategy(), 0u64..64), 1..12),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let t = build(&dir.path().join("000007.sst"), &model, block_bytes, bloom);
        prop_assert_eq!(t.properties().entries, model.len() as u64);
        for (k, _) in model.keys() {
            for snap in [0, 30, u64::MAX] {
                prop_assert_eq!(get(&t, k, snap), model_get(&model, k, snap));
            }
        }
        for (k, snap) in &probes {
            prop_assert_eq!(get(&t, k, *snap), model_get(&model, k, *snap));
        }
        for (lk, lo, hk, hi, snap) in &bounds {
            check_scans(&t, &model, &bound(*lk, lo), &bound(*hk, hi), *snap);
        }
        check_iter(&t, &model, None);
        for (k, _) in &probes {
            check_iter(&t, &model, Some(k));
        }
    }
}

#[test]
fn an_empty_table_holds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let t = build(&dir.path().join("000001.sst"), &Model::new(), 4096, 10);
    let p = t.properties();
    assert_eq!((p.entries, p.min_seq, p.max_seq), (0, 0, 0));
    assert!(p.smallest.is_empty() && p.largest.is_empty());
    assert_eq!(get(&t, b"", u64::MAX), None);
    assert_eq!(get(&t, b"a", u64::MAX), None);
    check_scans(
        &t,
        &Model::new(),
        &Bound::Unbounded,
        &Bound::Unbounded,
        u64::MAX,
    );
    check_iter(&t, &Model::new(), None);
    check_iter(&t, &Model::new(), Some(b"a"));
}

#[test]
fn the_empty_key_and_versions_across_blocks() {
    let mut model = Model::new();
    model.insert((Vec::new(), Reverse(3)), Some(b"empty".to_vec()));
    for seq in 1..=500u64 {
        let v = (seq % 10 != 0).then(|| vec![b'x'; (seq % 50) as usize]);
        model.insert((b"hot".to_vec(), Reverse(seq)), v);
    }
    let dir = tempfile::tempdir().unwrap();
    let t = build(&dir.path().join("000002.sst"), &model, 128, 10);
    for snap in 0..=510 {
        assert_eq!(get(&t, b"hot", snap), model_get(&model, b"hot", snap));
    }
    assert_eq!(get(&t, b"", 5), Some((3, Some(b"empty".to_vec()))));
    for snap in [0, 2, 3, 250, 500] {
        check_scans(&t, &model, &Bound::Unbounded, &Bound::Unbounded, snap);
    }
}

/// A table of 2000 entries in many blocks, and the path it was written to.
fn damaged_fixture(dir: &Path) -> (PathBuf, Model) {
    let mut model = Model::new();
    for i in 0..2000u32 {
        let v = format!("value-{i}").into_bytes();
        model.insert(
            (format!("key{i:05}").into_bytes(), Reverse(u64::from(i))),
            Some(v),
        );
    }
    let path = dir.join("000042.sst");
    drop(build(&path, &model, 512, 10));
    (path, model)
}

fn footer(path: &Path) -> Footer {
    Footer::decode(path, &std::fs::read(path).unwrap()).unwrap()
}

fn flip(path: &Path, offset: u64) {
    let mut data = std::fs::read(path).unwrap();
    data[usize::try_from(offset).unwrap()] ^= 0x10;
    std::fs::write(path, data).unwrap();
}

#[allow(clippy::needless_pass_by_value)] // takes the error as the calls hand it over
fn assert_corruption(err: Error, what: &str) {
    let msg = err.to_string();
    assert!(
        matches!(err, Error::Corruption { .. }) && msg.contains("000042.sst"),
        "{what}: {msg}"
    );
}

fn assert_open_fails(path: &Path, what: &str) {
    match Table::open(path, 42) {
        Ok(_) => panic!("{what}: opened a damaged table"),
        Err(e) => assert_corruption(e, what),
    }
}

#[test]
fn damage_to_the_index_filter_properties_or_footer_stops_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = damaged_fixture(dir.path());
    let f = footer(&path);
    let original = std::fs::read(&path).unwrap();
    let blocks: [(&str, Handle); 3] = [
        ("index", f.index),
        ("filter", f.filter),
        ("properties", f.properties),
    ];
    for (what, h) in blocks {
        // The first and last byte of the contents, and the checksum itself.
        for at in [
            h.offset,
            h.offset + u64::from(h.len) - 1,
            h.offset + u64::from(h.len),
        ] {
            std::fs::write(&path, &original).unwrap();
            flip(&path, at);
            assert_open_fails(&path, what);
        }
    }
    let footer_start = original.len() - FOOTER_LEN;
    for at in footer_start..original.len() {
        std::fs::write(&path, &original).unwrap();
        flip(&path, at as u64);
        assert_open_fails(&path, &format!("footer byte {}", at - footer_start));
    }
    for len in [0, 10, FOOTER_LEN, original.len() / 2, original.len() - 1] {
        std::fs::write(&path, &original[..len]).unwrap();
        assert_open_fails(&path, &format!("truncated to {len}"));
    }
    std::fs::write(&path, &original).unwrap();
    assert!(Table::open(&path, 42).is_ok());
}

#[test]
fn damage_to_a_data_block_surfaces_when_the_block_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (path, model) = damaged_fixture(dir.path());
    // Byte 20 is inside the first data block (it holds several 20-byte entries).
    flip(&path, 20);
    let t = Table::open(&path, 42).unwrap();
    assert_corruption(t.get(b"key00000", u64::MAX).unwrap_err(), "get");
    // Twice: a failed check must not be remembered as a pass.
    assert_corruption(t.get(b"key00001", u64::MAX).unwrap_err(), "get again");
    let mut out = Vec::new();
    let all = (&Bound::Unbounded, &Bound::Unbounded);
    let forward = scan(
        TableCursor::new(t.clone()),
        all.0,
        all.1,
        u64::MAX,
        10,
        false,
        &mut out,
    );
    assert_corruption(forward.unwrap_err(), "scan_forward");
    let backward = scan(
        TableCursor::new(t.clone()),
        all.0,
        all.1,
        u64::MAX,
        usize::MAX,
        true,
        &mut out,
    );
    assert_corruption(backward.unwrap_err(), "scan_backward");
    let mut it = TableCursor::new(t.clone());
    assert_corruption(it.seek(&[]).unwrap_err(), "iter");
    // Other blocks still read.
    let last = b"key01999";
    assert_eq!(get(&t, last, u64::MAX), model_get(&model, last, u64::MAX));
}

#[test]
fn an_obsolete_table_is_deleted_when_its_last_reader_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = damaged_fixture(dir.path());
    let t = Table::open(&path, 42).unwrap();
    assert_eq!((t.number(), t.path()), (42, path.as_path()));
    drop(t);
    assert!(path.exists(), "not obsolete: kept");
    let t = Table::open(&path, 42).unwrap();
    let reader = Arc::clone(&t);
    let mut it = TableCursor::new(t.clone());
    t.mark_obsolete();
    drop(t);
    drop(reader);
    assert!(path.exists(), "an iterator still holds it");
    it.seek(&[]).unwrap();
    assert!(it.valid());
    drop(it);
    assert!(!path.exists(), "deleted with the last handle");
}

#[test]
fn keys_outside_the_table_and_filtered_keys_are_absent() {
    let dir = tempfile::tempdir().unwrap();
    let (path, model) = damaged_fixture(dir.path());
    let t = Table::open(&path, 42).unwrap();
    for k in [
        &b"a"[..],
        b"key",
        b"key000000",
        b"key00000\0",
        b"key02000",
        b"z",
    ] {
        assert_eq!(get(&t, k, u64::MAX), model_get(&model, k, u64::MAX));
    }
    assert_eq!(get(&t, b"key00500", 499), None, "newer than the snapshot");
    assert_eq!(get(&t, b"key00500", 500).map(|g| g.0), Some(500));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A table cursor walks the entries both ways across block boundaries, from every
    /// kind of positioning.
    #[test]
    fn table_cursors_walk_the_entries_both_ways(
        model in model_strategy(),
        block_bytes in 64usize..600,
        walks in prop::collection::vec(
            (0u8..3, key_strategy(), prop::collection::vec(prop::bool::weighted(0.6), 0..100)),
            1..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let t = build(&dir.path().join("000008.sst"), &model, block_bytes, 10);
        let all: Vec<_> = model
            .iter()
            .map(|((k, Reverse(s)), v)| (k.clone(), *s, v.clone()))
            .collect();
        check_walks(&mut TableCursor::new(t), &all, &walks);
    }
}
