//! The engine under injected faults (`storage::Faults`): a full disk refuses writes with an
//! error that says so, keeps reads working, loses nothing acknowledged, and takes writes
//! again once there is space, without a reopen; a failed fsync stops all writes for good
//! (until a reopen), since what it covered is not known to be on disk.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use cairn::storage::{Db, Error, Faults, Options, SyncPolicy, WriteBatch};

fn small(sync: SyncPolicy) -> Options {
    Options {
        sync,
        // Small segments and memtables: the WAL switches segments and the memtable flushes
        // within a few hundred writes, so a full disk hits every place that allocates.
        wal_segment_bytes: 32 << 10,
        memtable_bytes: 64 << 10,
        ..Options::default()
    }
}

fn key(i: usize) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

fn value(i: usize) -> Vec<u8> {
    format!("value-{i}-").repeat(20).into_bytes()
}

/// Writes keys from `from` on, two per batch, until one fails; returns the first key not
/// written and the error.
fn write_until_refused(db: &Db, from: usize) -> (usize, Error) {
    for i in (from..from + 100_000).step_by(2) {
        let mut batch = WriteBatch::new();
        batch.put(&key(i), &value(i));
        batch.put(&key(i + 1), &value(i + 1));
        if let Err(e) = db.write(batch) {
            return (i, e);
        }
    }
    panic!("100,000 writes on a full disk all succeeded");
}

fn disk_full_refuses_writes_then_recovers(sync: SyncPolicy) {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::for_dir(dir.path());
    let db = Db::open(dir.path(), small(sync)).unwrap();
    for i in 0..200 {
        db.put(&key(i), &value(i)).unwrap();
    }
    faults.set_disk_full(true);
    // Writes go on into the current segment's preallocated space, then fail at the switch.
    let (refused_at, error) = write_until_refused(&db, 200);
    assert!(error.is_no_space(), "not a no-space error: {error}");
    assert!(
        error.to_string().contains(".wal"),
        "names no WAL file: {error}"
    );
    // The same again: every write refused, nothing poisoned.
    for _ in 0..3 {
        let e = db.put(b"refused", b"x").expect_err("disk still full");
        assert!(e.is_no_space(), "{e}");
    }
    let flushed = db.flush().expect_err("flush on a full disk");
    assert!(flushed.is_no_space(), "{flushed}");
    // Reads keep working, through memtables and tables alike.
    for i in 0..refused_at {
        assert_eq!(
            db.get(&key(i)).unwrap().as_deref(),
            Some(&value(i)[..]),
            "key {i}"
        );
    }
    assert_eq!(db.get(&key(refused_at)).unwrap(), None);

    faults.set_disk_full(false);
    // Room again: writes succeed at once (the flusher catches up within its retry period).
    let started = Instant::now();
    let resumed_at = refused_at + 2;
    loop {
        match db.put(&key(resumed_at), &value(resumed_at)) {
            Ok(()) => break,
            Err(e) if e.is_no_space() && started.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("write after space was freed: {e}"),
        }
    }
    for i in resumed_at + 1..resumed_at + 400 {
        db.put(&key(i), &value(i)).expect("write with space");
    }
    let started = Instant::now();
    while let Err(e) = db.flush() {
        assert!(
            e.is_no_space() && started.elapsed() < Duration::from_secs(10),
            "flush after space was freed: {e}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(db);

    // Reopened: every acknowledged write, none of the refused ones, no leftover files.
    let db = Db::open(dir.path(), small(sync)).unwrap();
    for i in (0..refused_at).chain(resumed_at..resumed_at + 400) {
        assert_eq!(
            db.get(&key(i)).unwrap().as_deref(),
            Some(&value(i)[..]),
            "key {i}"
        );
    }
    for i in [refused_at, refused_at + 1] {
        assert_eq!(db.get(&key(i)).unwrap(), None, "refused key {i} came back");
    }
    assert_eq!(db.get(b"refused").unwrap(), None);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| {
            std::path::Path::new(name)
                .extension()
                .is_some_and(|e| e == "tmp")
        })
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[test]
fn a_full_disk_refuses_writes_then_recovers_under_always() {
    disk_full_refuses_writes_then_recovers(SyncPolicy::Always);
}

#[test]
fn a_full_disk_refuses_writes_then_recovers_under_everysec() {
    disk_full_refuses_writes_then_recovers(SyncPolicy::EverySecond);
}

/// A small disk filling up wherever it happens to: a segment switch, a flush, a compaction
/// or the manifest, depending on how much room there is. Whatever failed, writes are
/// refused (never stalled for good), reads work, and with room again everything
/// acknowledged is there, and nothing refused.
#[test]
fn a_small_disk_filling_up_anywhere_loses_nothing() {
    let budgets = [0u64, 8, 24, 40, 64, 96, 128, 192, 256, 384];
    for (free_kib, segment_kib) in budgets.iter().flat_map(|&b| [(b, 4u64), (b, 32)]) {
        let dir = tempfile::tempdir().unwrap();
        let faults = Faults::for_dir(dir.path());
        let options = Options {
            wal_segment_bytes: segment_kib << 10,
            ..small(SyncPolicy::EverySecond)
        };
        let db = Db::open(dir.path(), options.clone()).unwrap();
        faults.set_free_bytes(free_kib << 10);
        let (refused_at, error) = write_until_refused(&db, 0);
        assert!(error.is_no_space(), "{free_kib} KiB free: {error}");
        for i in 0..refused_at {
            assert_eq!(db.get(&key(i)).unwrap().as_deref(), Some(&value(i)[..]));
        }
        let flushed = db.flush().expect_err("flush on a full disk");
        faults.set_disk_full(false);
        let resumed_at = refused_at + 2;
        let started = Instant::now();
        for i in resumed_at..resumed_at + 600 {
            while let Err(e) = db.put(&key(i), &value(i)) {
                assert!(
                    e.is_no_space() && started.elapsed() < Duration::from_secs(10),
                    "{free_kib} KiB free, then room: {e}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        while let Err(e) = db.flush() {
            assert!(
                e.is_no_space() && started.elapsed() < Duration::from_secs(10),
                "{e}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        db.compact().unwrap();
        drop(db);
        let db = Db::open(dir.path(), options).unwrap();
        for i in (0..refused_at).chain(resumed_at..resumed_at + 600) {
            assert_eq!(
                db.get(&key(i)).unwrap().as_deref(),
                Some(&value(i)[..]),
                "{free_kib} KiB free: key {i}"
            );
        }
        for i in [refused_at, refused_at + 1] {
            assert_eq!(
                db.get(&key(i)).unwrap(),
                None,
                "{free_kib} KiB: refused key {i}"
            );
        }
        eprintln!(
            "{free_kib} KiB free, {segment_kib} KiB segments: refused after {refused_at} \
             writes: {error}; flush: {flushed}"
        );
    }
}

/// Writers on many threads while the disk fills and empties: a refused group fails only its
/// own writers; batches queued behind it are written (or refused) in their turn, nobody
/// hangs, and a reopen finds exactly the acknowledged writes.
#[test]
fn concurrent_writers_on_a_filling_disk_all_get_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::for_dir(dir.path());
    let options = small(SyncPolicy::Always);
    let db = Db::open(dir.path(), options.clone()).unwrap();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                for i in 0..400 {
                    let k = t * 1000 + i;
                    match db.put(&key(k), &value(k)) {
                        Ok(()) => acked.push(k),
                        Err(e) => assert!(e.is_no_space(), "{e}"),
                    }
                }
                acked
            })
        })
        .collect();
    for round in 0..20 {
        std::thread::sleep(Duration::from_millis(5));
        faults.set_disk_full(round % 2 == 0);
    }
    faults.set_disk_full(false);
    let acked: Vec<usize> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("writer"))
        .collect();
    drop(db);
    let db = Db::open(dir.path(), options).unwrap();
    let acked: std::collections::HashSet<usize> = acked.into_iter().collect();
    for t in 0..6 {
        for i in 0..400 {
            let k = t * 1000 + i;
            let found = db.get(&key(k)).unwrap();
            if acked.contains(&k) {
                assert_eq!(found.as_deref(), Some(&value(k)[..]), "acknowledged {k}");
            } else {
                assert_eq!(found, None, "refused {k} came back");
            }
        }
    }
    eprintln!("{} of 2400 concurrent writes acknowledged", acked.len());
}

#[test]
fn a_failed_fsync_stops_writes_until_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::for_dir(dir.path());
    let db = Db::open(dir.path(), small(SyncPolicy::Always)).unwrap();
    for i in 0..100 {
        db.put(&key(i), &value(i)).unwrap();
    }
    faults.set_fail_syncs(true);
    let e = db.put(b"unsynced", b"x").expect_err("fsync fails");
    assert!(
        matches!(&e, Error::Poisoned(inner) if matches!(**inner, Error::SyncFailed { .. })),
        "{e:?}"
    );
    assert!(e.to_string().contains(".wal"), "names no WAL file: {e}");
    // The device works again, but what the failed fsync covered is not known to be on
    // disk: nothing is acknowledged until a reopen has read the log back.
    faults.set_fail_syncs(false);
    assert!(matches!(db.put(b"later", b"x"), Err(Error::Poisoned(_))));
    for i in 0..100 {
        assert_eq!(db.get(&key(i)).unwrap().as_deref(), Some(&value(i)[..]));
    }
    drop(db);
    let db = Db::open(dir.path(), small(SyncPolicy::Always)).unwrap();
    for i in 0..100 {
        assert_eq!(db.get(&key(i)).unwrap().as_deref(), Some(&value(i)[..]));
    }
    db.put(b"after reopen", b"x").unwrap();
}
