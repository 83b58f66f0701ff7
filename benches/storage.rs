//! Storage engine benchmarks: puts under each sync policy (and group commit from 1, 4
//! and 16 threads under `Always`), point gets, and 100-pair range scans.
//! Run with `cargo bench --bench storage`; figures are in docs/benchmarks.md.

// A benchmark whose set-up fails should stop loudly: expect and unwrap are its checks.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn::storage::{Db, Options, SyncPolicy};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use rand::Rng;

const VALUE: [u8; 100] = [b'v'; 100];
const PRELOAD: u64 = 100_000;

/// A scratch directory, under `$CAIRN_BENCH_DIR` if set (e.g. a tmpfs, to take the
/// disk's fsync latency out and see the engine's own cost).
fn tempdir() -> tempfile::TempDir {
    match std::env::var_os("CAIRN_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).expect("tempdir in CAIRN_BENCH_DIR"),
        None => tempfile::tempdir().expect("tempdir"),
    }
}

fn open(dir: &std::path::Path, sync: SyncPolicy) -> Db {
    Db::open(
        dir,
        Options {
            sync,
            ..Options::default()
        },
    )
    .expect("open")
}

fn key(i: u64) -> [u8; 16] {
    // Formatted by hand: the benchmark should time the engine, not `format!`.
    let mut k = *b"key-000000000000";
    let mut n = i;
    for d in k[4..].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

fn puts(c: &mut Criterion) {
    let mut g = c.benchmark_group("put");
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));

    let dir = tempdir();
    let db = open(dir.path(), SyncPolicy::Never);
    let mut i = 0u64;
    g.bench_function("never/1", |b| {
        b.iter(|| {
            i += 1;
            db.put(&key(i), &VALUE).expect("put");
        });
    });
    drop(db);

    g.sample_size(10);
    // The disk's own price: append 128 bytes and fdatasync, no engine involved. One
    // writer under `Always` cannot beat this; the ratio to it shows group commit.
    {
        use std::io::Write;
        let dir = tempdir();
        let mut f = std::fs::File::create(dir.path().join("raw")).expect("create");
        g.bench_function("raw_append_fdatasync", |b| {
            b.iter(|| {
                f.write_all(&[7u8; 128]).expect("write");
                f.sync_data().expect("fdatasync");
            });
        });
    }
    for threads in [1u64, 4, 16] {
        let dir = tempdir();
        let db = open(dir.path(), SyncPolicy::Always);
        let counter = Arc::new(AtomicU64::new(0));
        let before = db.stats();
        g.bench_with_input(
            BenchmarkId::new("always", threads),
            &threads,
            |b, &threads| {
                // One iteration is one acknowledged (fsynced) put; `threads` writers share them.
                b.iter_custom(|iters| {
                    let per_thread = iters.div_ceil(threads);
                    let start = Instant::now();
                    std::thread::scope(|s| {
                        for _ in 0..threads {
                            let db = db.clone();
                            let counter = counter.clone();
                            s.spawn(move || {
                                for _ in 0..per_thread {
                                    let i = counter.fetch_add(1, Ordering::Relaxed);
                                    db.put(&key(i), &VALUE).expect("put");
                                }
                            });
                        }
                    });
                    start
                        .elapsed()
                        .mul_f64(iters as f64 / (per_thread * threads) as f64)
                });
            },
        );
        // The disk's latency varies a lot here; batches per fsync is what group commit
        // controls, so print it beside criterion's figures.
        let after = db.stats();
        let batches = after.batches - before.batches;
        let writes = after.wal_writes - before.wal_writes;
        let syncs = after.wal_syncs - before.wal_syncs;
        eprintln!(
            "put/always/{threads}: {batches} batches, {writes} WAL writes, {syncs} fsyncs: \
             {:.2} batches per write, {:.2} batches per fsync",
            batches as f64 / writes.max(1) as f64,
            batches as f64 / syncs.max(1) as f64,
        );
    }
    g.finish();
}

fn reads(c: &mut Criterion) {
    let dir = tempdir();
    let db = open(dir.path(), SyncPolicy::Never);
    let mut batch = cairn::storage::WriteBatch::new();
    for i in 0..PRELOAD {
        batch.put(&key(i), &VALUE);
        if batch.len() == 1000 {
            db.write(std::mem::take(&mut batch)).expect("write");
        }
    }
    db.write(batch).expect("write");
    let mut rng = rand::thread_rng();

    let mut g = c.benchmark_group("read");
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1));
    g.bench_function("get", |b| {
        b.iter(|| {
            let k = key(rng.gen_range(0..PRELOAD));
            let v = db.get(&k).expect("get");
            assert!(v.is_some());
        });
    });
    g.throughput(Throughput::Elements(100));
    g.bench_function("range100", |b| {
        b.iter(|| {
            let start = key(rng.gen_range(0..PRELOAD - 100));
            let n = db.range(start.as_slice()..).take(100).count();
            assert_eq!(n, 100);
        });
    });
    g.bench_function("range100_rev", |b| {
        b.iter(|| {
            let end = key(rng.gen_range(100..PRELOAD));
            let n = db.range(..end.as_slice()).rev().take(100).count();
            assert_eq!(n, 100);
        });
    });
    g.finish();
}

/// Puts per second from `threads` writers under `Always`, measured for `dur`.
fn always_rate(db: &Db, counter: &AtomicU64, threads: usize, dur: Duration) -> f64 {
    let stop = std::sync::atomic::AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let i = counter.fetch_add(1, Ordering::Relaxed);
                    db.put(&key(i), &VALUE).expect("put");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(dur);
        stop.store(true, Ordering::Relaxed);
    });
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// The 16-writer / 1-writer throughput ratio under `Always`, measured in alternating
/// half-second slices so that both sides see the same disk: the disk's fsync latency on
/// a shared machine drifts too much for two criterion runs taken a minute apart.
fn always_ratio() {
    let dir = tempdir();
    let db = open(dir.path(), SyncPolicy::Always);
    let counter = AtomicU64::new(0);
    let slice = Duration::from_millis(500);
    let mut ratios = Vec::new();
    for round in 0..8 {
        let one = always_rate(&db, &counter, 1, slice);
        let sixteen = always_rate(&db, &counter, 16, slice);
        eprintln!(
            "put/always_ratio round {round}: 1 writer {one:.0}/s, 16 writers {sixteen:.0}/s, ratio {:.1}x",
            sixteen / one
        );
        ratios.push(sixteen / one);
    }
    ratios.sort_by(f64::total_cmp);
    eprintln!(
        "put/always_ratio: 16 vs 1 writers, median of {} alternating rounds: {:.1}x (min {:.1}x, max {:.1}x)",
        ratios.len(),
        f64::midpoint(ratios[3], ratios[4]),
        ratios[0],
        ratios[ratios.len() - 1],
    );
}

criterion_group!(benches, puts, reads);

fn main() {
    // Runs unless a benchmark filter is given that cannot match "put/always_ratio".
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter.is_none_or(|f| "put/always_ratio".contains(f.as_str())) {
        always_ratio();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
