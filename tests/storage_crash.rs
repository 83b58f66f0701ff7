//! Crash test: a child process (this test binary, re-executed) writes with
//! `SyncPolicy::Always` from several threads and prints every acknowledged write; the
//! parent SIGKILLs it at random moments, reopens the directory and checks that every
//! acknowledged write is there and that every batch is all-or-nothing.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use cairn::storage::{Db, Options, SyncPolicy, WriteBatch};
use rand::Rng;

const CHILD_DIR: &str = "CAIRN_CRASH_CHILD_DIR";
const CHILD_GEN: &str = "CAIRN_CRASH_CHILD_GEN";
const THREADS: usize = 4;
const BATCH_KEYS: usize = 3;

/// The child's body; a no-op when run as an ordinary test.
#[test]
fn crash_child() {
    let (Ok(dir), Ok(generation)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_GEN)) else {
        return;
    };
    let options = Options {
        sync: SyncPolicy::Always,
        // Small segments, so kills also land around segment switches.
        wal_segment_bytes: 64 << 10,
        ..Options::default()
    };
    let db = Db::open(&dir, options).expect("child open");
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = db.clone();
            let generation = generation.clone();
            std::thread::spawn(move || {
                for i in 0u64.. {
                    if t == 0 && i % 8 == 0 {
                        // Pipelined: several batches in flight, acknowledged only
                        // once each ticket completed.
                        let tickets: Vec<_> = (0..5)
                            .map(|j| {
                                let key = format!("p/{generation}/{i}/{j}");
                                let mut b = WriteBatch::new();
                                b.put(key.as_bytes(), key.as_bytes());
                                (key, db.submit(b).expect("child submit"))
                            })
                            .collect();
                        for (key, ticket) in tickets {
                            ticket.wait().expect("child ticket");
                            println!("ACK {key} {key}");
                        }
                        continue;
                    }
                    if i % 4 == 3 {
                        let mut b = WriteBatch::new();
                        let value = format!("batch-{generation}-{t}-{i}");
                        for j in 0..BATCH_KEYS {
                            b.put(
                                format!("b/{generation}/{t}/{i}/{j}").as_bytes(),
                                value.as_bytes(),
                            );
                        }
                        db.write(b).expect("child batch");
                        println!("ACKB b/{generation}/{t}/{i}/ {value}");
                    } else {
                        let key = format!("k/{generation}/{t}/{i}");
                        let value = format!(
                            "value-{generation}-{t}-{i}-{}",
                            "x".repeat((i % 50) as usize)
                        );
                        db.put(key.as_bytes(), value.as_bytes()).expect("child put");
                        println!("ACK {key} {value}");
                    }
                    let _ = std::io::stdout().flush();
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    const KILLS: usize = 12;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = rand::thread_rng();
    let mut acked: BTreeMap<String, String> = BTreeMap::new();
    let mut acked_batches: BTreeMap<String, String> = BTreeMap::new();
    for generation in 0..KILLS {
        let lines = common::crash::run_and_kill(
            "crash_child",
            &[
                (CHILD_DIR, dir.path().display().to_string()),
                (CHILD_GEN, generation.to_string()),
            ],
            Duration::from_millis(rng.gen_range(30..400)),
        );
        let mut this_round = 0;
        for line in lines {
            let mut parts = line.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("ACK"), Some(k), Some(v)) => {
                    acked.insert(k.to_string(), v.to_string());
                    this_round += 1;
                }
                (Some("ACKB"), Some(prefix), Some(v)) => {
                    acked_batches.insert(prefix.to_string(), v.to_string());
                    this_round += 1;
                }
                _ => {}
            }
        }
        let db = Db::open(dir.path(), Options::default()).expect("reopen after kill");
        for (k, v) in &acked {
            let got = db.get(k.as_bytes()).expect("get");
            assert_eq!(
                got.as_deref(),
                Some(v.as_bytes()),
                "acknowledged key {k} lost or wrong after kill {generation}"
            );
        }
        for (prefix, v) in &acked_batches {
            for j in 0..BATCH_KEYS {
                let got = db.get(format!("{prefix}{j}").as_bytes()).expect("get");
                assert_eq!(
                    got.as_deref(),
                    Some(v.as_bytes()),
                    "acknowledged batch {prefix} incomplete"
                );
            }
        }
        // Every batch that reached the disk at all reached it whole.
        let mut per_batch: BTreeMap<String, usize> = BTreeMap::new();
        for kv in db.range(b"b/".as_slice()..b"b0".as_slice()) {
            let (k, _) = kv.expect("scan");
            let k = String::from_utf8(k.to_vec()).expect("utf8 key");
            let prefix = &k[..=k.rfind('/').expect("slash")];
            *per_batch.entry(prefix.to_string()).or_default() += 1;
        }
        for (prefix, n) in per_batch {
            assert_eq!(
                n, BATCH_KEYS,
                "batch {prefix} is partial after kill {generation}"
            );
        }
        eprintln!(
            "kill {generation}: {this_round} acknowledged this round, {} in all",
            acked.len() + acked_batches.len()
        );
        drop(db);
    }
    assert!(!acked.is_empty(), "the child never acknowledged a write");
}
