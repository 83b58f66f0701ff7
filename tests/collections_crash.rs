//! Crash test of the collection writes: SIGKILL a cairn-server (`--fsync always`) while
//! clients send HSETs of many fields, SADDs of many members and RPUSH calls of many elements,
//! restart it on the same
//! directory, and check that every acknowledged command is fully there and that no
//! command is half-applied (a key holds all its fields or members, or none).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestServer;
use rand::Rng;

/// Fields of each HSET, members of each SADD, elements of each RPUSH.
const WIDTH: usize = 300;

#[test]
fn sigkill_leaves_no_hset_sadd_or_rpush_half_applied() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::thread_rng();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut sent = Vec::new();
    for round in 0..4 {
        let mut server = TestServer::start_in(dir.path(), &["--fsync", "always"]);
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (url, stop, acked) = (server.url(), stop.clone(), acked.clone());
                std::thread::spawn(move || {
                    let Ok(mut c) = redis::Client::open(url).unwrap().get_connection() else {
                        return Vec::new();
                    };
                    let mut sent = Vec::new();
                    for i in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let (kind, command) = [("h", "HSET"), ("s", "SADD"), ("l", "RPUSH")][i % 3];
                        let key = format!("{kind}:r{round}:w{w}:{i}");
                        let mut cmd = redis::cmd(command);
                        cmd.arg(&key);
                        for f in 0..WIDTH {
                            match kind {
                                "h" => cmd.arg(format!("f{f}")).arg(format!("{i}-{f}")),
                                "s" => cmd.arg(format!("m{f}")),
                                _ => cmd.arg(format!("e{f}")),
                            };
                        }
                        sent.push(key.clone());
                        match cmd.query::<usize>(&mut c) {
                            Ok(n) => {
                                assert_eq!(n, WIDTH);
                                acked.lock().unwrap().push(key);
                            }
                            Err(_) => break, // the server died under us
                        }
                    }
                    sent
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.gen_range(200..500)));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            sent.extend(w.join().unwrap());
        }
    }
    let server = TestServer::start_in(dir.path(), &[]);
    let mut c = server.redis();
    let acked: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    assert!(acked.len() > 20, "only {} writes acknowledged", acked.len());
    for key in &sent {
        if key.starts_with('l') {
            let all: Vec<String> = redis::cmd("LRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query(&mut c)
                .unwrap();
            if all.is_empty() {
                assert!(!acked.contains(key), "acknowledged {key} is missing");
                continue;
            }
            let want: Vec<String> = (0..WIDTH).map(|f| format!("e{f}")).collect();
            assert_eq!(all, want, "{key} is half-applied or out of order");
            let len: usize = redis::cmd("LLEN").arg(key).query(&mut c).unwrap();
            assert_eq!(len, WIDTH, "{key}'s header disagrees with its elements");
        } else if key.starts_with('h') {
            let all: BTreeMap<String, String> =
                redis::cmd("HGETALL").arg(key).query(&mut c).unwrap();
            if all.is_empty() {
                assert!(!acked.contains(key), "acknowledged {key} is missing");
                continue;
            }
            assert_eq!(all.len(), WIDTH, "{key} is half-applied");
            let len: usize = redis::cmd("HLEN").arg(key).query(&mut c).unwrap();
            assert_eq!(len, WIDTH, "{key}'s header disagrees with its fields");
            let i = key.rsplit(':').next().unwrap();
            for (f, value) in &all {
                assert_eq!(value, &format!("{i}-{}", &f[1..]), "{key} {f}");
            }
        } else {
            let members: BTreeSet<String> = redis::cmd("SMEMBERS").arg(key).query(&mut c).unwrap();
            if members.is_empty() {
                assert!(!acked.contains(key), "acknowledged {key} is missing");
                continue;
            }
            assert_eq!(members.len(), WIDTH, "{key} is half-applied");
            let card: usize = redis::cmd("SCARD").arg(key).query(&mut c).unwrap();
            assert_eq!(card, WIDTH, "{key}'s header disagrees with its members");
        }
    }
}
