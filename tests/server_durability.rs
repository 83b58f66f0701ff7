//! What must survive: acknowledged writes across SIGKILL with `--fsync always`, transactions
//! all-or-nothing across SIGKILL, and SCAN completeness while writes go on.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestServer;
use rand::Rng;
use redis::Commands;

/// Writers record every acknowledged SET; after a SIGKILL and restart each must be there.
#[test]
fn sigkill_with_fsync_always_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::thread_rng();
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    for round in 0..5 {
        let mut server = TestServer::start_in(dir.path(), &["--fsync", "always"]);
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (url, stop, acked) = (server.url(), stop.clone(), acked.clone());
                std::thread::spawn(move || {
                    let Ok(mut c) = redis::Client::open(url).unwrap().get_connection() else {
                        return;
                    };
                    for i in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let (key, value) = (format!("r{round}:w{w}:{i}"), format!("value-{i}"));
                        match c.set::<_, _, ()>(&key, &value) {
                            Ok(()) => acked.lock().unwrap().push((key, value)),
                            Err(_) => return, // the server died under us
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.gen_range(100..400)));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
    }
    let server = TestServer::start_in(dir.path(), &[]);
    let mut c = server.redis();
    let acked = acked.lock().unwrap();
    assert!(
        acked.len() > 100,
        "only {} writes acknowledged",
        acked.len()
    );
    for (key, value) in acked.iter() {
        assert_eq!(
            c.get::<_, Option<String>>(key).unwrap().as_deref(),
            Some(value.as_str()),
            "{key}"
        );
    }
}

/// Each transaction writes two keys; after SIGKILL either both are there or neither.
#[test]
fn multi_exec_is_atomic_across_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_in(dir.path(), &["--fsync", "always"]);
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<usize>>> = Arc::default();
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (url, stop, acked) = (server.url(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let n = w * 1_000_000 + i;
                    let big = "x".repeat(1000 + i % 5000);
                    let result: redis::RedisResult<()> = redis::pipe()
                        .atomic()
                        .set(format!("a:{n}"), &big)
                        .ignore()
                        .set(format!("b:{n}"), &big)
                        .ignore()
                        .query(&mut c);
                    match result {
                        Ok(()) => acked.lock().unwrap().push(n),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let server = TestServer::start_in(dir.path(), &[]);
    let mut c = server.redis();
    let a: BTreeSet<String> = c
        .keys::<_, Vec<String>>("a:*")
        .unwrap()
        .into_iter()
        .map(|k| k[2..].to_string())
        .collect();
    let b: BTreeSet<String> = c
        .keys::<_, Vec<String>>("b:*")
        .unwrap()
        .into_iter()
        .map(|k| k[2..].to_string())
        .collect();
    assert_eq!(a, b, "a transaction was half applied");
    for n in acked.lock().unwrap().iter() {
        assert!(
            a.contains(&n.to_string()),
            "acknowledged transaction {n} lost"
        );
    }
}

/// Keys present for the whole iteration are all returned, while other keys come and go.
#[test]
fn scan_returns_every_stable_key_under_concurrent_writes() {
    let server = TestServer::start(&["--fsync", "never"]);
    let mut c = server.redis();
    let stable: BTreeSet<String> = (0..2000).map(|i| format!("stable:{i:05}")).collect();
    for key in &stable {
        let _: () = c.set(key, 1).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (url, stop) = (server.url(), stop.clone());
        std::thread::spawn(move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            let mut rng = rand::thread_rng();
            while !stop.load(Ordering::Relaxed) {
                let key = format!("churn:{:05}", rng.gen_range(0..5000));
                if rng.gen_bool(0.5) {
                    let _: () = c.set(&key, 1).unwrap();
                } else {
                    let _: i64 = c.del(&key).unwrap();
                }
            }
        })
    };
    let mut seen = BTreeSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(50)
            .query(&mut c)
            .unwrap();
        seen.extend(keys);
        if next == 0 {
            break;
        }
        cursor = next;
        std::thread::sleep(Duration::from_micros(200));
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    let missing: Vec<_> = stable.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "SCAN missed {} stable keys, e.g. {:?}",
        missing.len(),
        missing.first()
    );
}
