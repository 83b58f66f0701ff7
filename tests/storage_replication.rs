//! What replication needs of the engine: the commit tap delivers every batch in sequence
//! order, `Db::write_at` applies a primary's batch at its own sequence numbers (and they
//! survive a reopen and a crash), and `Db::checkpoint` copies a database while writes go
//! on, into a directory `Db::open` and `restore_checkpoint` accept.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cairn::storage::{restore_checkpoint, CommitTap, Db, Error, Options, SyncPolicy, WriteBatch};

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<(u64, Bytes)>>);

impl CommitTap for Recorder {
    fn committed(&self, first_seq: u64, payload: &Bytes) {
        self.0.lock().unwrap().push((first_seq, payload.clone()));
    }
}

fn opts() -> Options {
    Options {
        sync: SyncPolicy::Never,
        memtable_bytes: 64 << 10,
        wal_segment_bytes: 256 << 10,
        ..Options::default()
    }
}

fn contents(db: &Db) -> BTreeMap<Bytes, Bytes> {
    db.range::<&[u8], _>(..).map(|kv| kv.unwrap()).collect()
}

#[test]
fn the_tap_feeds_a_replica_that_ends_equal_at_the_same_sequence() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let tap = Arc::new(Recorder::default());
    let primary = Db::open(
        a.path(),
        Options {
            commit_tap: Some(tap.clone()),
            ..opts()
        },
    )
    .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let db = primary.clone();
            std::thread::spawn(move || {
                for i in 0..500u32 {
                    let mut batch = WriteBatch::new();
                    batch.put(
                        format!("k{}", i % 97).as_bytes(),
                        format!("{t}-{i}").as_bytes(),
                    );
                    if i % 7 == 0 {
                        batch.delete(format!("k{}", (i + 3) % 97).as_bytes());
                    }
                    db.write(batch).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let fed = tap.0.lock().unwrap().clone();
    // In order, without gaps.
    let mut next = 1;
    for (first, payload) in &fed {
        assert_eq!(*first, next);
        let (seq, batch) = WriteBatch::from_payload(payload).unwrap();
        assert_eq!(seq, *first);
        next += batch.len() as u64;
    }
    assert_eq!(next - 1, primary.last_sequence());

    let replica = Db::open(b.path(), opts()).unwrap();
    for (first, payload) in &fed {
        let (_, batch) = WriteBatch::from_payload(payload).unwrap();
        replica.write_at(*first, batch).unwrap().wait().unwrap();
    }
    assert_eq!(replica.last_sequence(), primary.last_sequence());
    assert_eq!(contents(&replica), contents(&primary));
    // A batch the replica already has is refused, not applied twice.
    let (first, payload) = fed.last().unwrap();
    let (_, batch) = WriteBatch::from_payload(payload).unwrap();
    assert!(matches!(
        replica.write_at(*first, batch),
        Err(Error::SequenceTaken { .. })
    ));
    let seq = replica.last_sequence();
    drop(replica);
    let replica = Db::open(b.path(), opts()).unwrap();
    assert_eq!(replica.last_sequence(), seq, "the offset survives a reopen");
    assert_eq!(contents(&replica), contents(&primary));
}

#[test]
fn a_gap_in_sequence_numbers_is_skipped_and_survives_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    db.put(b"a", b"1").unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b"b", b"2");
    db.write_at(10, batch).unwrap().wait().unwrap();
    assert_eq!(db.last_sequence(), 10);
    db.put(b"c", b"3").unwrap();
    assert_eq!(db.last_sequence(), 11);
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.last_sequence(), 11);
    assert_eq!(db.get(b"b").unwrap().as_deref(), Some(&b"2"[..]));
}

#[test]
fn malformed_payloads_are_refused() {
    assert!(WriteBatch::from_payload(b"").is_err());
    assert!(WriteBatch::from_payload(&[0u8; 12]).is_err());
    let mut bad = vec![0u8; 12];
    bad[0] = 1;
    bad[8] = 1;
    bad.extend_from_slice(&[1, 255, 255, 255, 255]);
    assert!(matches!(
        WriteBatch::from_payload(&bad),
        Err(Error::BadBatch(_))
    ));
}

#[test]
fn a_checkpoint_taken_under_writes_holds_exactly_its_sequence() {
    let (dir, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let db = Db::open(dir.path(), opts()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            // One put per batch: key i is written at sequence number i.
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                db.put(format!("k{i:08}").as_bytes(), &[b'x'; 100]).unwrap();
            }
        })
    };
    while db.last_sequence() < 3000 {
        std::thread::yield_now();
    }
    let mut checkpoints = Vec::new();
    for n in 0..3 {
        let path = out.path().join(format!("c{n}"));
        let seq = db.checkpoint(&path).unwrap();
        checkpoints.push((path, seq));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    for (path, seq) in checkpoints {
        let copy = Db::open(&path, opts()).unwrap();
        assert!(copy.last_sequence() <= seq);
        let keys = contents(&copy);
        assert_eq!(keys.len() as u64, seq, "keys 1..={seq}");
        assert!(copy.get(format!("k{seq:08}").as_bytes()).unwrap().is_some());
        assert!(copy
            .get(format!("k{:08}", seq + 1).as_bytes())
            .unwrap()
            .is_none());
    }
    // Into a directory with something in it: refused.
    std::fs::write(out.path().join("c0-file"), b"").unwrap();
    assert!(matches!(
        db.checkpoint(out.path()),
        Err(Error::CheckpointExists { .. })
    ));
}

#[test]
fn restore_replaces_a_database_and_keeps_other_files() {
    let (a, b, tmp) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let src = Db::open(a.path(), opts()).unwrap();
    for i in 0..2000u32 {
        src.put(format!("s{i}").as_bytes(), b"v").unwrap();
    }
    let target = Db::open(b.path(), opts()).unwrap();
    for i in 0..500u32 {
        target.put(format!("old{i}").as_bytes(), b"v").unwrap();
    }
    drop(target);
    std::fs::write(b.path().join("mine.txt"), b"kept").unwrap();
    let cp = tmp.path().join("cp");
    let seq = src.checkpoint(&cp).unwrap();
    std::fs::write(cp.join("replication.id"), b"id").unwrap();
    // Not while it is open.
    let open = Db::open(b.path(), opts()).unwrap();
    assert!(matches!(
        restore_checkpoint(&cp, b.path()),
        Err(Error::Locked { .. })
    ));
    drop(open);
    restore_checkpoint(&cp, b.path()).unwrap();
    assert!(!cp.exists());
    let restored = Db::open(b.path(), opts()).unwrap();
    assert_eq!(restored.last_sequence(), seq);
    assert_eq!(contents(&restored), contents(&src));
    assert_eq!(std::fs::read(b.path().join("mine.txt")).unwrap(), b"kept");
    assert_eq!(
        std::fs::read(b.path().join("replication.id")).unwrap(),
        b"id"
    );
}
