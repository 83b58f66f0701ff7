//! The embedded driver: db_bench-style benchmarks straight on `cairn::storage::Db`, in
//! process, with no network and no server in between.
//!
//! Each benchmark runs `--num` operations split over `--threads` OS threads, timing every
//! operation into the same per-operation statistics as the network driver.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cairn::storage::{Db, Options, SyncPolicy};
use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::stats::RunStats;
use crate::workload::{KeyChooser, KeyFormat, KeyPattern, OpKind, ValuePool};

/// The `db_bench` benchmarks this tool knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bench {
    FillSeq,
    FillRandom,
    Overwrite,
    ReadRandom,
    ReadSeq,
    SeekRandom,
}

impl Bench {
    pub fn parse_list(s: &str) -> Result<Vec<Bench>> {
        s.split(',')
            .filter(|b| !b.trim().is_empty())
            .map(|b| {
                Ok(match b.trim() {
                    "fillseq" => Bench::FillSeq,
                    "fillrandom" => Bench::FillRandom,
                    "overwrite" => Bench::Overwrite,
                    "readrandom" => Bench::ReadRandom,
                    "readseq" => Bench::ReadSeq,
                    "seekrandom" => Bench::SeekRandom,
                    other => bail!(
                        "unknown benchmark `{other}` (fillseq, fillrandom, overwrite, readrandom, readseq, seekrandom)"
                    ),
                })
            })
            .collect()
    }

    pub fn name(self) -> &'static str {
        match self {
            Bench::FillSeq => "fillseq",
            Bench::FillRandom => "fillrandom",
            Bench::Overwrite => "overwrite",
            Bench::ReadRandom => "readrandom",
            Bench::ReadSeq => "readseq",
            Bench::SeekRandom => "seekrandom",
        }
    }

    fn kind(self) -> OpKind {
        match self {
            Bench::FillSeq | Bench::FillRandom | Bench::Overwrite => OpKind::Set,
            Bench::ReadRandom => OpKind::Get,
            Bench::ReadSeq | Bench::SeekRandom => OpKind::Scan,
        }
    }
}

pub struct Plan {
    pub dir: PathBuf,
    pub benchmarks: Vec<Bench>,
    pub num: u64,
    pub threads: usize,
    pub fsync: SyncPolicy,
    pub pattern: KeyPattern,
    pub format: KeyFormat,
    pub values: ValuePool,
    pub scan_length: u64,
    pub seed: u64,
}

pub fn open(plan: &Plan) -> Result<Db> {
    let options = Options {
        sync: plan.fsync,
        ..Options::default()
    };
    Db::open(&plan.dir, options).with_context(|| format!("open {}", plan.dir.display()))
}

/// Runs one benchmark; `done` counts completed operations for the progress display.
pub fn run(plan: &Plan, db: &Db, bench: Bench, done: &Arc<AtomicU64>) -> Result<RunStats> {
    let keys = KeyChooser::new(&plan.pattern, plan.num).map_err(anyhow::Error::msg)?;
    let threads = plan.threads.max(1) as u64;
    let start = Instant::now();
    let results: Vec<RunStats> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let share = plan.num / threads + u64::from(t < plan.num % threads);
                let first = t * (plan.num / threads) + t.min(plan.num % threads);
                let (keys, db, done) = (keys.clone(), db.clone(), done.clone());
                scope.spawn(move || {
                    let seed = plan.seed ^ (t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    worker(
                        plan,
                        &db,
                        bench,
                        first..first + share,
                        &keys,
                        seed,
                        start,
                        &done,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    let mut s = RunStats::default();
                    s.note_error("a benchmark thread panicked");
                    s.conn_errors += 1;
                    s
                })
            })
            .collect()
    });
    let mut total = RunStats::default();
    for r in &results {
        total.merge(r);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

#[allow(clippy::too_many_arguments)]
fn worker(
    plan: &Plan,
    db: &Db,
    bench: Bench,
    share: Range<u64>,
    keys: &KeyChooser,
    seed: u64,
    start: Instant,
    done: &AtomicU64,
) -> RunStats {
    let mut stats = RunStats::default();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut key = Vec::with_capacity(plan.format.len());
    let kind = bench.kind();
    let mut pending = 0u64;
    let mut note = |stats: &mut RunStats, t0: Instant, r: Result<u64, String>| {
        let now = Instant::now();
        let op = stats.op(kind);
        op.sent += 1;
        match r {
            Ok(bytes) => op.record_ok(
                now.duration_since(t0).as_nanos() as u64,
                bytes,
                now.duration_since(start),
            ),
            Err(e) => {
                op.errors += 1;
                stats.note_error(format!("{}: {e}", bench.name()));
            }
        }
        pending += 1;
        if pending == 1024 {
            done.fetch_add(pending, Ordering::Relaxed);
            pending = 0;
        }
    };
    if bench == Bench::ReadSeq {
        // One pass over the share's key range; every entry read is one operation.
        let (mut lo, mut hi) = (Vec::new(), Vec::new());
        plan.format.write(share.start, &mut lo);
        plan.format.write(share.end, &mut hi);
        let mut iter = db.range(lo.as_slice()..hi.as_slice());
        let mut n = 0;
        while n < share.end - share.start {
            let t0 = Instant::now();
            match iter.next() {
                None => break,
                Some(r) => note(
                    &mut stats,
                    t0,
                    r.map(|(k, v)| (k.len() + v.len()) as u64)
                        .map_err(|e| e.to_string()),
                ),
            }
            n += 1;
        }
    } else {
        for i in share.clone() {
            let k = match bench {
                Bench::FillSeq => i,
                _ => keys.next(&mut rng),
            };
            plan.format.write(k, &mut key);
            let t0 = Instant::now();
            let r = match bench {
                Bench::FillSeq | Bench::FillRandom | Bench::Overwrite => {
                    let value = plan.values.next(&mut rng);
                    db.put(&key, value)
                        .map(|()| (key.len() + value.len()) as u64)
                        .map_err(|e| e.to_string())
                }
                Bench::ReadRandom => db
                    .get(&key)
                    .map(|v| v.map_or(0, |v| v.len() as u64))
                    .map_err(|e| e.to_string()),
                _ => {
                    let mut bytes = 0;
                    let mut result = Ok(0);
                    for kv in db.range(key.as_slice()..).take(plan.scan_length as usize) {
                        match kv {
                            Ok((k, v)) => bytes += (k.len() + v.len()) as u64,
                            Err(e) => {
                                result = Err(e.to_string());
                                break;
                            }
                        }
                    }
                    result.map(|_: u64| bytes)
                }
            };
            note(&mut stats, t0, r);
        }
    }
    done.fetch_add(pending, Ordering::Relaxed);
    stats.elapsed = Duration::ZERO;
    stats
}
