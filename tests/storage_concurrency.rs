//! Concurrency: many writers and readers at once, snapshot stability while writes go
//! on, write tickets (blocking and as futures), versions, and the directory lock.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use cairn::storage::{Db, Error, Options, SyncPolicy, WriteBatch};

fn opts(sync: SyncPolicy) -> Options {
    Options {
        sync,
        ..Options::default()
    }
}

fn key(t: usize, i: usize) -> Vec<u8> {
    format!("w{t:02}/{i:06}").into_bytes()
}

/// Each writer writes its keys in order, so any consistent view holds a prefix of each
/// writer's keys: a scan that sees key i of a writer but not key i-1 saw a torn state.
fn check_prefixes(pairs: &[(Bytes, Bytes)], writers: usize) -> Vec<usize> {
    let mut next = vec![0usize; writers];
    for (k, v) in pairs {
        let s = std::str::from_utf8(k).expect("utf8");
        let t: usize = s[1..3].parse().expect("writer");
        let i: usize = s[4..].parse().expect("index");
        assert_eq!(
            i, next[t],
            "writer {t}: saw key {i} without key {}",
            next[t]
        );
        assert_eq!(&v[..], format!("{t}:{i}").as_bytes());
        next[t] += 1;
    }
    next
}

#[test]
fn writers_and_readers_at_once() {
    const WRITERS: usize = 8;
    const PER_WRITER: usize = 3000;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), opts(SyncPolicy::Never)).expect("open");
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..PER_WRITER {
                    if i % 10 == 9 {
                        // Batches must appear all at once.
                        let mut b = WriteBatch::new();
                        b.put(&key(t, i), format!("{t}:{i}").as_bytes());
                        b.put(format!("batch/{t}").as_bytes(), format!("{i}").as_bytes());
                        b.put(
                            format!("batch/{t}/copy").as_bytes(),
                            format!("{i}").as_bytes(),
                        );
                        db.write(b).expect("write");
                    } else {
                        db.put(&key(t, i), format!("{t}:{i}").as_bytes())
                            .expect("put");
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let db = db.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut scans = 0;
                while !done.load(Ordering::Relaxed) || scans < 3 {
                    if r == 0 {
                        // Point reads: a writer's later key implies its earlier keys.
                        for t in 0..WRITERS {
                            let snap = db.snapshot();
                            let seen = snap
                                .range(key(t, 0)..key(t + 1, 0))
                                .next_back()
                                .map(|kv| kv.expect("scan").0);
                            if let Some(k) = seen {
                                let i: usize = std::str::from_utf8(&k[4..])
                                    .expect("utf8")
                                    .parse()
                                    .expect("int");
                                for j in [0, i / 2, i] {
                                    assert!(snap.get(&key(t, j)).expect("get").is_some());
                                }
                            }
                        }
                    } else {
                        let snap = db.snapshot();
                        let pairs: Vec<_> = snap
                            .range(b"w".as_slice()..b"x".as_slice())
                            .map(|kv| kv.expect("scan"))
                            .collect();
                        check_prefixes(&pairs, WRITERS);
                        for t in 0..WRITERS {
                            let a = snap.get(format!("batch/{t}").as_bytes()).expect("get");
                            let b = snap.get(format!("batch/{t}/copy").as_bytes()).expect("get");
                            assert_eq!(a, b, "half a batch visible");
                        }
                        // The snapshot doesn't move while writes go on.
                        let again: Vec<_> = snap
                            .range(b"w".as_slice()..b"x".as_slice())
                            .rev()
                            .map(|kv| kv.expect("scan"))
                            .collect();
                        assert_eq!(again.len(), pairs.len());
                        assert!(again.iter().rev().eq(pairs.iter()));
                    }
                    scans += 1;
                }
                scans
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    done.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().expect("reader") >= 3);
    }
    let pairs: Vec<_> = db
        .range(b"w".as_slice()..b"x".as_slice())
        .map(|kv| kv.expect("scan"))
        .collect();
    assert_eq!(check_prefixes(&pairs, WRITERS), vec![PER_WRITER; WRITERS]);
    assert_eq!(
        db.last_sequence(),
        (WRITERS * (PER_WRITER + 2 * (PER_WRITER / 10))) as u64
    );
}

#[test]
fn snapshot_is_stable_while_writes_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), opts(SyncPolicy::Never)).expect("open");
    for i in 0..1000u32 {
        db.put(format!("k{i:04}").as_bytes(), b"old").expect("put");
    }
    let snap = db.snapshot();
    let seq = snap.sequence();
    let before: Vec<_> = snap
        .range::<&[u8], _>(..)
        .map(|kv| kv.expect("scan"))
        .collect();
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || {
            for i in 0..1000u32 {
                let k = format!("k{i:04}");
                if i % 2 == 0 {
                    db.delete(k.as_bytes()).expect("delete");
                } else {
                    db.put(k.as_bytes(), b"new").expect("put");
                }
                db.put(format!("k{i:04}x").as_bytes(), b"added")
                    .expect("put");
            }
        })
    };
    for _ in 0..20 {
        let now: Vec<_> = snap
            .range::<&[u8], _>(..)
            .map(|kv| kv.expect("scan"))
            .collect();
        assert_eq!(now, before);
        assert_eq!(
            snap.get(b"k0000").expect("get").as_deref(),
            Some(&b"old"[..])
        );
    }
    writer.join().expect("writer");
    assert_eq!(snap.sequence(), seq);
    let now: Vec<_> = snap
        .range::<&[u8], _>(..)
        .rev()
        .map(|kv| kv.expect("scan"))
        .collect();
    assert!(now.iter().rev().eq(before.iter()));
    assert_eq!(db.get(b"k0000").expect("get"), None);
    assert_eq!(db.get(b"k0001").expect("get").as_deref(), Some(&b"new"[..]));
}

#[test]
fn always_from_many_threads_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), opts(SyncPolicy::Always)).expect("open");
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    db.put(&key(t, i), format!("{t}:{i}").as_bytes())
                        .expect("put");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let stats = db.stats();
    assert_eq!(stats.batches, 1600);
    assert_eq!(stats.last_sequence, 1600);
    assert!(
        stats.wal_writes >= 1 && stats.wal_writes <= 1600,
        "{stats:?}"
    );
    assert!(stats.wal_syncs >= 1 && stats.wal_syncs <= 1600, "{stats:?}");
    assert!(stats.wal_bytes > 1600 * 9, "{stats:?}");
    drop(db);
    let db = Db::open(dir.path(), opts(SyncPolicy::Always)).expect("reopen");
    let pairs: Vec<_> = db
        .range::<&[u8], _>(..)
        .map(|kv| kv.expect("scan"))
        .collect();
    assert_eq!(check_prefixes(&pairs, 16), vec![100; 16]);
}

struct ThreadWaker(std::thread::Thread);
impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// A minimal executor: polls on this thread, parks until woken.
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn tickets_visible_before_durable_and_awaitable() {
    for sync in [
        SyncPolicy::Always,
        SyncPolicy::EverySecond,
        SyncPolicy::Never,
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path(), opts(sync)).expect("open");
        let mut tickets = Vec::new();
        for i in 0..200u32 {
            let mut b = WriteBatch::new();
            b.put(format!("k{i}").as_bytes(), format!("v{i}").as_bytes());
            let ticket = db.submit(b).expect("submit");
            // Visible as soon as submit returns, durable or not.
            assert_eq!(
                db.get(format!("k{i}").as_bytes()).expect("get").as_deref(),
                Some(format!("v{i}").as_bytes())
            );
            tickets.push(ticket);
        }
        if sync != SyncPolicy::Always {
            assert!(tickets.iter().all(cairn::storage::WriteTicket::is_complete));
        }
        let last = tickets.pop().expect("ticket");
        for (n, t) in tickets.into_iter().enumerate() {
            if n % 2 == 0 {
                block_on(t).expect("await ticket");
            } else {
                t.wait().expect("wait ticket");
            }
        }
        block_on(last).expect("await last");
        // Empty batches are fine and complete at once.
        db.submit(WriteBatch::new())
            .expect("empty")
            .wait()
            .expect("empty wait");
        db.sync().expect("sync");
        db.flush().expect("flush");
    }
}

#[test]
fn tickets_complete_across_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), opts(SyncPolicy::Always)).expect("open");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                // Pipelining: submit many, then await them all.
                let tickets: Vec<_> = (0..50)
                    .map(|i| {
                        let mut b = WriteBatch::new();
                        b.put(&key(t, i), b"v");
                        db.submit(b).expect("submit")
                    })
                    .collect();
                for ticket in tickets {
                    block_on(ticket).expect("durable");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(db.last_sequence(), 400);
}

#[test]
fn versions_are_sequence_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), opts(SyncPolicy::Never)).expect("open");
    assert_eq!(db.last_sequence(), 0);
    assert_eq!(db.get_versioned(b"a").expect("get"), None);
    db.put(b"a", b"1").expect("put");
    assert_eq!(
        db.get_versioned(b"a").expect("get"),
        Some((Bytes::from_static(b"1"), 1))
    );
    let mut b = WriteBatch::new();
    b.put(b"b", b"x");
    b.put(b"a", b"2");
    b.delete(b"c");
    db.write(b).expect("write");
    assert_eq!(db.last_sequence(), 4);
    assert_eq!(
        db.get_versioned(b"a").expect("get"),
        Some((Bytes::from_static(b"2"), 3))
    );
    let snap = db.snapshot();
    db.put(b"a", b"3").expect("put");
    assert_eq!(
        snap.get_versioned(b"a").expect("get"),
        Some((Bytes::from_static(b"2"), 3))
    );
    assert_eq!(
        db.get_versioned(b"a").expect("get"),
        Some((Bytes::from_static(b"3"), 5))
    );
    drop(snap);
    drop(db);
    let db = Db::open(dir.path(), opts(SyncPolicy::Never)).expect("reopen");
    assert_eq!(
        db.get_versioned(b"a").expect("get"),
        Some((Bytes::from_static(b"3"), 5))
    );
    db.put(b"z", b"").expect("put");
    assert_eq!(
        db.get_versioned(b"z").expect("get"),
        Some((Bytes::new(), 6))
    );
}

const LOCK_CHILD: &str = "CAIRN_LOCK_CHILD_DIR";

/// Run in a child process by `directory_lock`: tries to open and reports the outcome.
#[test]
fn lock_child() {
    let Ok(dir) = std::env::var(LOCK_CHILD) else {
        return;
    };
    match Db::open(&dir, Options::default()) {
        Err(Error::Locked { .. }) => println!("RESULT locked"),
        Err(e) => println!("RESULT error {e}"),
        Ok(_) => println!("RESULT opened"),
    }
}

#[test]
fn directory_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    // In this process.
    let err = Db::open(dir.path(), Options::default()).expect_err("second open must fail");
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
    // In another process.
    let out = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args(["--exact", "lock_child", "--nocapture", "--test-threads=1"])
        .env(LOCK_CHILD, dir.path())
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("RESULT locked"), "child said: {stdout}");
    // Released when the last handle goes.
    let clone = db.clone();
    drop(db);
    assert!(matches!(
        Db::open(dir.path(), Options::default()),
        Err(Error::Locked { .. })
    ));
    drop(clone);
    let db = Db::open(dir.path(), Options::default()).expect("open after close");
    drop(db);
    let out = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args(["--exact", "lock_child", "--nocapture", "--test-threads=1"])
        .env(LOCK_CHILD, dir.path())
        .output()
        .expect("run child");
    assert!(String::from_utf8_lossy(&out.stdout).contains("RESULT opened"));
}

#[test]
fn public_types_are_thread_safe() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn send<T: Send + 'static>() {}
    fn ticket<T: Future<Output = cairn::storage::Result<()>> + Send + Unpin + 'static>() {}
    send_sync::<Db>();
    send_sync::<cairn::storage::Snapshot>();
    send_sync::<Error>();
    send::<cairn::storage::RangeIter>();
    send::<WriteBatch>();
    ticket::<cairn::storage::WriteTicket>();
}

#[test]
fn every_second_syncs_in_the_background() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), opts(SyncPolicy::EverySecond)).expect("open");
    db.put(b"k", b"v").expect("put");
    assert_eq!(db.stats().wal_syncs, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while db.stats().wal_syncs == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no background fsync within 5 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Nothing new written: no more fsyncs.
    let n = db.stats().wal_syncs;
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert_eq!(db.stats().wal_syncs, n);
}
