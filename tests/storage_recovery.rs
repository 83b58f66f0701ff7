//! Recovery through `Db::open` from damaged WAL files: a torn tail of the newest segment
//! is cut off, and so is everything from a power cut's hole in it (a page never written
//! back) on; damage anywhere else stops the open with an error naming file and offset.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use cairn::storage::{Db, Error, Options, SyncPolicy};

fn opts() -> Options {
    Options {
        sync: SyncPolicy::Never,
        wal_segment_bytes: 1 << 20,
        ..Options::default()
    }
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    v.sort();
    v
}

/// Writes `n` keys and closes; returns the segment holding them.
fn populate(dir: &Path, n: u32) -> PathBuf {
    let db = Db::open(dir, opts()).expect("open");
    for i in 0..n {
        db.put(format!("k{i:03}").as_bytes(), format!("v{i}").as_bytes())
            .expect("put");
    }
    drop(db);
    segments(dir)
        .into_iter()
        .rev()
        .find(|p| fs::metadata(p).expect("meta").len() > 0)
        .expect("a non-empty segment")
}

fn remove_empty_segments(dir: &Path) {
    for p in segments(dir) {
        if fs::metadata(&p).expect("meta").len() == 0 {
            fs::remove_file(p).expect("remove");
        }
    }
}

#[test]
fn torn_tail_of_newest_segment_is_cut() {
    for tail in [
        vec![0u8; 5000],
        vec![0x5a; 7],
        b"\x01\x02\x03\x04\xff\xff\x00\x00\x01partial".to_vec(),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let seg = populate(dir.path(), 50);
        // Make the written segment the newest again, then damage its tail.
        remove_empty_segments(dir.path());
        let good_len = fs::metadata(&seg).expect("meta").len();
        fs::OpenOptions::new()
            .append(true)
            .open(&seg)
            .expect("open seg")
            .write_all(&tail)
            .expect("append");
        let db = Db::open(dir.path(), opts()).expect("open with torn tail");
        assert_eq!(
            fs::metadata(&seg).expect("meta").len(),
            good_len,
            "tail not cut"
        );
        for i in 0..50 {
            assert_eq!(
                db.get(format!("k{i:03}").as_bytes())
                    .expect("get")
                    .as_deref(),
                Some(format!("v{i}").as_bytes())
            );
        }
        db.put(b"after", b"repair").expect("put");
        drop(db);
        let db = Db::open(dir.path(), opts()).expect("reopen");
        assert_eq!(
            db.get(b"after").expect("get").as_deref(),
            Some(&b"repair"[..])
        );
        assert_eq!(db.last_sequence(), 51);
    }
}

#[test]
fn truncated_last_record_is_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seg = populate(dir.path(), 10);
    remove_empty_segments(dir.path());
    let len = fs::metadata(&seg).expect("meta").len();
    fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open")
        .set_len(len - 3)
        .expect("truncate");
    let db = Db::open(dir.path(), opts()).expect("open");
    assert_eq!(db.last_sequence(), 9);
    assert_eq!(db.get(b"k009").expect("get"), None);
    assert_eq!(db.get(b"k008").expect("get").as_deref(), Some(&b"v8"[..]));
}

#[test]
fn damage_in_an_older_segment_fails_the_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seg = populate(dir.path(), 10);
    // A later open adds a newer segment; now the damaged one is not the newest.
    populate(dir.path(), 0);
    let mut data = fs::read(&seg).expect("read");
    let len = data.len();
    data[len - 2] ^= 0x40;
    fs::write(&seg, &data).expect("write");
    let err = Db::open(dir.path(), opts()).expect_err("must fail");
    match &err {
        Error::Corruption { path, offset, .. } => {
            assert_eq!(path, &seg);
            assert!(*offset > 0 && *offset < len as u64);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&seg.display().to_string()) && msg.contains("offset"),
        "{msg}"
    );
}

#[test]
fn damage_mid_newest_segment_fails_the_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seg = populate(dir.path(), 20);
    remove_empty_segments(dir.path());
    let mut data = fs::read(&seg).expect("read");
    data[30] ^= 0x01; // inside the first record; valid records follow
    fs::write(&seg, &data).expect("write");
    match Db::open(dir.path(), opts()) {
        Err(Error::Corruption { path, offset, .. }) => {
            assert_eq!(path, seg);
            assert_eq!(offset, 0);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn a_hole_of_lost_pages_in_the_newest_segment_is_recovered_to_the_point_before_it() {
    for (hole, pages) in [(8192usize, 1usize), (4096, 2), (12288, 1)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let seg = populate(dir.path(), 500);
        remove_empty_segments(dir.path());
        let mut data = fs::read(&seg).expect("read");
        assert!(
            data.len() > hole + pages * 4096 + 1000,
            "records follow the hole"
        );
        data[hole..hole + pages * 4096].fill(0);
        fs::write(&seg, &data).expect("write");
        let db = Db::open(dir.path(), opts()).expect("a power cut's hole is recovered");
        let present: Vec<bool> = (0..500)
            .map(|i| {
                db.get(format!("k{i:03}").as_bytes())
                    .expect("get")
                    .is_some()
            })
            .collect();
        let kept = present.iter().take_while(|&&p| p).count();
        assert!(
            present[kept..].iter().all(|&p| !p),
            "hole at {hole}: a write after the hole came back"
        );
        // About 37 bytes a record: everything wholly before the hole is there.
        assert!(
            kept >= hole / 40 && kept <= hole / 30,
            "hole at {hole}: kept {kept}"
        );
        drop(db);
        let after: Vec<_> = fs::read_dir(dir.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".wal.after-hole-"))
            .collect();
        assert_eq!(after.len(), 1, "the cut bytes are kept: {after:?}");
        // The cut is durable: a second open finds a clean segment.
        Db::open(dir.path(), opts()).expect("reopen");
    }
}

#[test]
fn a_missing_segment_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = Options {
        sync: SyncPolicy::Never,
        wal_segment_bytes: 200,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options.clone()).expect("open");
    for i in 0..40u32 {
        db.put(format!("k{i:03}").as_bytes(), &[b'x'; 50])
            .expect("put");
    }
    drop(db);
    let segs: Vec<_> = segments(dir.path())
        .into_iter()
        .filter(|p| fs::metadata(p).expect("meta").len() > 0)
        .collect();
    assert!(segs.len() > 3, "expected several segments, got {segs:?}");
    fs::remove_file(&segs[1]).expect("remove");
    match Db::open(dir.path(), options) {
        Err(Error::Corruption {
            path,
            offset,
            reason,
        }) => {
            assert_eq!(path, segs[2]);
            assert_eq!(offset, 0);
            assert!(reason.contains("expected"), "{reason}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn segments_without_records_are_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    populate(dir.path(), 3);
    for _ in 0..3 {
        drop(Db::open(dir.path(), opts()).expect("open"));
    }
    let names: Vec<_> = segments(dir.path())
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    // The one with data, and the (empty) one the last open started.
    assert_eq!(names, vec!["000001.wal", "000004.wal"]);
    let db = Db::open(dir.path(), opts()).expect("open");
    assert_eq!(db.last_sequence(), 3);
}

/// After a flush the manifest says which segments are in tables. If a crash leaves no
/// segment at all, new segments must still be numbered above that point, or the next
/// recovery would skip them as already flushed.
#[test]
fn new_segments_are_numbered_past_the_flushed_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Db::open(dir.path(), opts()).expect("open");
        db.put(b"flushed", b"1").expect("put");
        db.flush().expect("flush");
    }
    // The crash: every segment gone (all were empty or flushed).
    for seg in segments(dir.path()) {
        std::fs::remove_file(seg).expect("remove");
    }
    {
        let db = Db::open(dir.path(), opts()).expect("open");
        db.put(b"after", b"2").expect("put");
    }
    let db = Db::open(dir.path(), opts()).expect("reopen");
    assert_eq!(db.get(b"flushed").expect("get").as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get(b"after").expect("get").as_deref(), Some(&b"2"[..]));
}

#[test]
fn replaying_overwrites_keeps_one_version_per_key() {
    // A counter's history in the log: replayed, only the newest value of each key needs
    // memory, as it did before the restart.
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), opts()).expect("open");
    let value = [7u8; 100];
    for round in 0..2_000u32 {
        for key in 0..10u32 {
            db.put(format!("counter{key}").as_bytes(), &value)
                .expect("put");
        }
        if round == 1_999 {
            db.put(b"last", &round.to_le_bytes()).expect("put");
        }
    }
    let before = db.stats().memtable_bytes;
    drop(db);
    let db = Db::open(dir.path(), opts()).expect("reopen");
    let after = db.stats().memtable_bytes;
    assert_eq!(
        db.get(b"last").expect("get").as_deref(),
        Some(&1_999u32.to_le_bytes()[..])
    );
    // 20,000 versions of ~500 bytes (as the memtable counts them) were logged: 10 MB if
    // all were kept, 11 KB with two versions per key, 5.5 KB with one. Once a write is
    // published the version it replaced goes, live and in replay alike.
    let one_version_per_key = 8_000;
    assert!(
        before < one_version_per_key,
        "the memtable held {before} bytes for 11 keys"
    );
    assert!(
        after < one_version_per_key,
        "replay kept {after} bytes in the memtable, against {before} before the restart"
    );
}
