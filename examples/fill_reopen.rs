//! Times the storage engine's single-writer put path and its reopen:
//! `cargo run --release --example fill_reopen -- [N] [seq|random] [DIR]`.
//!
//! One thread puts N keys (16-byte zero-padded decimals, 100-byte values, as
//! ../shared/peerbench does) under `SyncPolicy::Never`, flushes, closes, and opens the
//! directory again. Reopening must read only the manifest and the table footers, so it
//! should take milliseconds whatever N is. A tool for profiling (`perf record`), not a
//! test: timings are claimed in benchmarks, never asserted.

use std::time::Instant;

use cairn::storage::{Db, Options, SyncPolicy};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let random = args.next().is_some_and(|a| a == "random");
    let dir = match args.next() {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("cairn-fill-reopen-{}", std::process::id())),
    };
    let _ = std::fs::remove_dir_all(&dir);
    let mut rng = rand::rngs::StdRng::seed_from_u64(301);
    let mut order: Vec<usize> = (0..n).collect();
    if random {
        order.shuffle(&mut rng);
    }
    // Half-compressible values: random bytes, then as many zeros.
    let value = |rng: &mut rand::rngs::StdRng| {
        let mut v = [0u8; 100];
        rng.fill(&mut v[..50]);
        v
    };
    let options = Options {
        sync: SyncPolicy::Never,
        ..Options::default()
    };
    let db = Db::open(&dir, options.clone())?;
    let started = Instant::now();
    for &i in &order {
        db.put(format!("{i:016}").as_bytes(), &value(&mut rng))?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fill{}: {n} puts in {secs:.3} s, {:.0} puts/s",
        if random { "random" } else { "seq" },
        n as f64 / secs
    );
    db.flush()?;
    drop(db);
    let started = Instant::now();
    let db = Db::open(&dir, options)?;
    let open = started.elapsed();
    println!("reopen: {:.1} ms", open.as_secs_f64() * 1e3);
    let last = format!("{:016}", n.saturating_sub(1));
    if n > 0 && db.get(last.as_bytes())?.is_none() {
        return Err(format!("key {last} missing after reopen").into());
    }
    drop(db);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
