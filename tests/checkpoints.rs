//! Online backups: BGSAVE and SAVE write a checkpoint under `checkpoint-dir` while clients
//! write; a server started on the checkpoint holds every write acknowledged before the
//! command was sent (strings and collections), and INFO persistence and LASTSAVE report
//! the saves as Redis reports its RDB saves.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{info_field, TestServer};

/// The checkpoints under `dir`, oldest first (their names are their start times).
fn checkpoints(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    found.retain(|p| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("checkpoint-")
    });
    found.sort();
    found
}

#[test]
fn bgsave_under_writes_holds_everything_acknowledged_before_it() {
    let backups = tempfile::tempdir().unwrap();
    let server = TestServer::start(&["--checkpoint-dir", backups.path().to_str().unwrap()]);
    let mut c = server.redis();
    let before: u64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    let fields: Vec<(String, String)> =
        (0..500).map(|i| (format!("f{i}"), i.to_string())).collect();
    let _: () = redis::cmd("HSET")
        .arg("h")
        .arg(&fields)
        .query(&mut c)
        .unwrap();

    // A writer goes on while the checkpoint is taken.
    let (stop, acked) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let writer = {
        let (stop, acked, url) = (stop.clone(), acked.clone(), server.url());
        std::thread::spawn(move || {
            let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
            for i in 1.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let _: () = redis::cmd("SET")
                    .arg(format!("k{i}"))
                    .arg(i)
                    .query(&mut con)
                    .unwrap();
                acked.store(i, Ordering::Release);
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let acknowledged = acked.load(Ordering::Acquire);
    let started: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(started, "Background saving started");
    let deadline = Instant::now() + Duration::from_secs(30);
    while info_field(&mut c, "rdb_saves") != "1" {
        assert!(Instant::now() < deadline, "the checkpoint never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "0");
    let last: u64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    assert!(last >= before);

    let taken = checkpoints(backups.path());
    assert_eq!(taken.len(), 1, "{taken:?}");
    let copy = TestServer::start_in(&taken[0], &[]);
    let mut r = copy.redis();
    let hash: std::collections::HashMap<String, String> =
        redis::cmd("HGETALL").arg("h").query(&mut r).unwrap();
    assert_eq!(hash.len(), 500);
    let keys: Vec<String> = (1..=acknowledged).map(|i| format!("k{i}")).collect();
    for chunk in keys.chunks(1000) {
        let values: Vec<Option<u64>> = redis::cmd("MGET").arg(chunk).query(&mut r).unwrap();
        for (key, value) in chunk.iter().zip(values) {
            assert!(
                value.is_some(),
                "{key} was acknowledged before BGSAVE but is not in the checkpoint"
            );
        }
    }
    // A checkpoint is the state at one moment: the keys it has are a prefix of the writes.
    let held: u64 = redis::cmd("DBSIZE").query(&mut r).unwrap();
    let newest: Option<u64> = redis::cmd("GET")
        .arg(format!("k{}", held - 1))
        .query(&mut r)
        .unwrap();
    assert_eq!(newest, Some(held - 1));
}

#[test]
fn save_waits_for_its_checkpoint_and_bad_arguments_are_refused() {
    let server = TestServer::start(&[]);
    let mut c = server.redis();
    let _: () = redis::cmd("RPUSH")
        .arg("l")
        .arg("a")
        .arg("b")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    // The default place: checkpoints/ in the data directory.
    let taken = checkpoints(&server.dir.join("checkpoints"));
    assert_eq!(taken.len(), 1);
    let copy = TestServer::start_in(&taken[0], &[]);
    let list: Vec<String> = redis::cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(&mut copy.redis())
        .unwrap();
    assert_eq!(list, ["a", "b"]);
    let started: String = redis::cmd("BGSAVE").arg("SCHEDULE").query(&mut c).unwrap();
    assert_eq!(started, "Background saving started");
    let error = redis::cmd("BGSAVE")
        .arg("NOW")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(error.to_string().contains("syntax error"), "{error}");
    let error = redis::cmd("SAVE").arg("x").query::<()>(&mut c).unwrap_err();
    assert!(
        error.to_string().contains("wrong number of arguments"),
        "{error}"
    );
}
