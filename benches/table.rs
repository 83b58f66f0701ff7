//! Sorted-table benchmarks: building a table of 100k entries (16-byte keys, 100-byte
//! values), point gets of present keys, gets of missing keys (answered by the bloom
//! filter), and 100-key forward scans from a random key.
//! Run with `cargo bench --bench table`; figures are in docs/benchmarks.md.

// A benchmark whose set-up fails should stop loudly: expect and unwrap are its checks.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use cairn::storage::bench_support::{BenchTable, BenchTableWriter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::Rng;

const ENTRIES: u64 = 100_000;
const VALUE: [u8; 100] = [b'v'; 100];
const BLOCK_BYTES: usize = 4096;
const BLOOM_BITS: usize = 10;

fn key(i: u64) -> [u8; 16] {
    let mut k = *b"key-000000000000";
    let mut n = i;
    for d in k[4..].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

/// Even numbers are present, odd ones missing, so a missing key falls between present ones.
fn write_table(path: &std::path::Path) -> u64 {
    let mut w = BenchTableWriter::create(path, BLOCK_BYTES, BLOOM_BITS).expect("create");
    for i in 0..ENTRIES {
        w.add(&key(2 * i), i + 1, Some(&VALUE)).expect("add");
    }
    w.finish().expect("finish")
}

fn tempdir() -> tempfile::TempDir {
    match std::env::var_os("CAIRN_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).expect("tempdir in CAIRN_BENCH_DIR"),
        None => tempfile::tempdir().expect("tempdir"),
    }
}

fn table(c: &mut Criterion) {
    let dir = tempdir();
    let path = dir.path().join("000001.sst");

    let mut g = c.benchmark_group("table");
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));

    let raw = ENTRIES * (16 + VALUE.len() as u64);
    g.throughput(Throughput::Bytes(raw));
    g.sample_size(10);
    g.bench_function("build_100k", |b| b.iter(|| write_table(&path)));
    g.sample_size(100);

    write_table(&path);
    let t = BenchTable::open(&path).expect("open");
    assert_eq!(t.iterate_all().expect("iterate"), ENTRIES);
    let mut rng = rand::thread_rng();

    g.throughput(Throughput::Elements(1));
    g.bench_function("get_present", |b| {
        b.iter(|| {
            let k = key(2 * rng.gen_range(0..ENTRIES));
            t.get(&k).expect("get").expect("present")
        });
    });
    g.bench_function("get_missing", |b| {
        b.iter(|| {
            let k = key(2 * rng.gen_range(0..ENTRIES) + 1);
            t.get(&k).expect("get")
        });
    });
    let mut out = Vec::with_capacity(100);
    g.bench_function("scan_100", |b| {
        b.iter(|| {
            let k = key(2 * rng.gen_range(0..ENTRIES));
            t.scan(&k, 100, &mut out).expect("scan")
        });
    });
    g.finish();
}

criterion_group!(benches, table);
criterion_main!(benches);
