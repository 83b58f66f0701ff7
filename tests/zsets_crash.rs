//! Sorted sets across SIGKILL with `--fsync always`: writers send ZADDs of many members
//! (each one key's whole batch: members `m0..m49`, all with the ZADD's number as score);
//! after the kill and a restart every acknowledged ZADD is fully there, and no ZADD is
//! half applied: each key holds all 50 members with one score, its header's count agrees
//! with its members, and the score index agrees with the member records.

#![allow(clippy::expect_used, clippy::unwrap_used)]
// Scores here are small integers, exact in f64.
#![allow(clippy::float_cmp)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestServer;

const MEMBERS: usize = 50;

#[test]
fn sigkill_keeps_every_acknowledged_zadd_whole() {
    let dir = tempfile::tempdir().unwrap();
    // key -> the score of its last acknowledged ZADD.
    let acked: Arc<Mutex<BTreeMap<String, i64>>> = Arc::default();
    for (round, pause) in [150u64, 300, 220].into_iter().enumerate() {
        let mut server = TestServer::start_in(dir.path(), &["--fsync", "always"]);
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..3)
            .map(|w| {
                let (url, stop, acked) = (server.url(), stop.clone(), acked.clone());
                std::thread::spawn(move || {
                    let Ok(mut c) = redis::Client::open(url).unwrap().get_connection() else {
                        return;
                    };
                    for i in 0i64.. {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        // Four keys per writer, rewritten again and again.
                        let key = format!("z:{w}:{}", i % 4);
                        let score = i64::try_from(round).unwrap() * 1_000_000 + i;
                        let mut cmd = redis::cmd("ZADD");
                        cmd.arg(&key);
                        for m in 0..MEMBERS {
                            cmd.arg(score).arg(format!("m{m}"));
                        }
                        match cmd.query::<i64>(&mut c) {
                            Ok(_) => {
                                acked.lock().unwrap().insert(key, score);
                            }
                            Err(_) => return, // the server died under us
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(pause));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
    }
    let server = TestServer::start_in(dir.path(), &[]);
    let mut c = server.redis();
    let acked = acked.lock().unwrap();
    assert!(acked.len() >= 4, "only {} keys acknowledged", acked.len());
    for (key, &score) in acked.iter() {
        let card: usize = redis::cmd("ZCARD").arg(key).query(&mut c).unwrap();
        assert_eq!(card, MEMBERS, "{key}");
        let all: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query(&mut c)
            .unwrap();
        assert_eq!(all.len(), MEMBERS, "{key}: score index");
        let first = all[0].1;
        // The acknowledged ZADD, or a later one the kill cut off after it reached the log.
        assert!(
            first >= score as f64,
            "{key}: {first} < acknowledged {score}"
        );
        assert!(
            all.iter().all(|(_, s)| *s == first),
            "{key} half applied: {all:?}"
        );
        let scores: Vec<Option<f64>> = redis::cmd("ZMSCORE")
            .arg(key)
            .arg("m0")
            .arg(format!("m{}", MEMBERS - 1))
            .query(&mut c)
            .unwrap();
        assert_eq!(scores, vec![Some(first), Some(first)], "{key}");
    }
}
