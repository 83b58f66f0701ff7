//! Numbered databases and the commands on keys of any database: SELECT keeps databases
//! apart, MOVE and COPY cross them, FLUSHDB empties one, SWAPDB swaps two (and the swap
//! survives a SIGKILL), INFO keyspace counts each, WATCH remembers which database a key was
//! watched in; and the data directory's key format is checked at start.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::process::Command;

use cairn::storage::{Db, Options};
use common::TestServer;
use redis::{Connection, RedisResult};

fn select(c: &mut Connection, db: i64) {
    let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
}

fn error_text<T: std::fmt::Debug>(result: RedisResult<T>) -> String {
    let error = result.expect_err("expected an error reply");
    match (error.code(), error.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => error.to_string(),
    }
}

#[test]
fn databases_are_apart_and_commands_cross_them() {
    let server = TestServer::start(&["--databases", "4"]);
    let mut c = server.redis();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("zero")
        .query(&mut c)
        .unwrap();
    select(&mut c, 1);
    assert_eq!(
        redis::cmd("GET")
            .arg("k")
            .query::<Option<String>>(&mut c)
            .unwrap(),
        None
    );
    let _: () = redis::cmd("SET").arg("k").arg("one").query(&mut c).unwrap();
    let _: () = redis::cmd("SET")
        .arg("only1")
        .arg("x")
        .query(&mut c)
        .unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 2);
    assert_eq!(
        error_text(redis::cmd("SELECT").arg(4).query::<()>(&mut c)),
        "ERR DB index is out of range"
    );

    // MOVE: refused when the key is there already, done when it is not.
    assert_eq!(
        redis::cmd("MOVE")
            .arg("k")
            .arg(0)
            .query::<i64>(&mut c)
            .unwrap(),
        0
    );
    assert_eq!(
        redis::cmd("MOVE")
            .arg("only1")
            .arg(2)
            .query::<i64>(&mut c)
            .unwrap(),
        1
    );
    assert_eq!(
        redis::cmd("EXISTS")
            .arg("only1")
            .query::<i64>(&mut c)
            .unwrap(),
        0
    );
    assert_eq!(
        error_text(redis::cmd("MOVE").arg("k").arg(1).query::<i64>(&mut c)),
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        error_text(redis::cmd("MOVE").arg("k").arg(9).query::<i64>(&mut c)),
        "ERR DB index is out of range"
    );

    // COPY with DB and REPLACE.
    assert_eq!(
        redis::cmd("COPY")
            .arg("k")
            .arg("k")
            .arg("DB")
            .arg(0)
            .query::<i64>(&mut c)
            .unwrap(),
        0
    );
    assert_eq!(
        redis::cmd("COPY")
            .arg("k")
            .arg("k")
            .arg("DB")
            .arg(0)
            .arg("REPLACE")
            .query::<i64>(&mut c)
            .unwrap(),
        1
    );
    select(&mut c, 0);
    assert_eq!(
        redis::cmd("GET").arg("k").query::<String>(&mut c).unwrap(),
        "one"
    );
    select(&mut c, 2);
    assert_eq!(
        redis::cmd("GET")
            .arg("only1")
            .query::<String>(&mut c)
            .unwrap(),
        "x"
    );
}

#[test]
fn info_counts_each_database_and_flushdb_empties_one() {
    let server = TestServer::start(&[]);
    let mut c = server.redis();
    for db in 0..3 {
        select(&mut c, db);
        let _: () = redis::cmd("SET").arg("k").arg(db).query(&mut c).unwrap();
    }
    let info: String = redis::cmd("INFO").arg("keyspace").query(&mut c).unwrap();
    for line in ["db0:keys=1,", "db1:keys=1,", "db2:keys=1,"] {
        assert!(info.contains(line), "{line} in {info}");
    }
    let _: () = redis::cmd("FLUSHDB").query(&mut c).unwrap();
    let info: String = redis::cmd("INFO").arg("keyspace").query(&mut c).unwrap();
    assert!(!info.contains("db2:"), "{info}");
    assert!(info.contains("db1:keys=1,"), "{info}");
    let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    select(&mut c, 1);
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 0);
    assert_eq!(
        redis::cmd("RANDOMKEY")
            .query::<Option<String>>(&mut c)
            .unwrap(),
        None
    );
    let _: () = redis::cmd("SET").arg("r").arg("1").query(&mut c).unwrap();
    assert_eq!(
        redis::cmd("RANDOMKEY").query::<String>(&mut c).unwrap(),
        "r"
    );
}

fn get(c: &mut Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(c).unwrap()
}

#[test]
fn swapdb_swaps_every_type_and_survives_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_in(dir.path(), &["--databases", "4"]);
    let mut c = server.redis();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("zero")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("v0")
        .query(&mut c)
        .unwrap();
    select(&mut c, 1);
    let _: () = redis::cmd("SET").arg("k").arg("one").query(&mut c).unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg("l")
        .arg("a")
        .arg("b")
        .query(&mut c)
        .unwrap();

    // A client blocked on a list of database 0 that database 1 holds is served by the swap.
    let mut admin = server.redis();
    let url = server.url();
    let waiter = std::thread::spawn(move || {
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        redis::cmd("BLPOP")
            .arg("l")
            .arg(5)
            .query::<Option<(String, String)>>(&mut c)
            .unwrap()
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while common::info_field(&mut admin, "blocked_clients") != "1" {
        assert!(
            std::time::Instant::now() < deadline,
            "the BLPOP never blocked"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // A watch on a key of either database is broken by the swap.
    let mut watcher = server.redis();
    let _: () = redis::cmd("WATCH").arg("k").query(&mut watcher).unwrap();

    let _: () = redis::cmd("SWAPDB")
        .arg(0)
        .arg(1)
        .query(&mut admin)
        .unwrap();
    assert_eq!(waiter.join().unwrap(), Some(("l".into(), "a".into())));
    let _: () = redis::cmd("MULTI").query(&mut watcher).unwrap();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("late")
        .query(&mut watcher)
        .unwrap();
    let aborted: Option<Vec<redis::Value>> = redis::cmd("EXEC").query(&mut watcher).unwrap();
    assert_eq!(aborted, None, "the watched key changed with the swap");

    // c is in database 1, which now holds what 0 held.
    assert_eq!(get(&mut c, "k").as_deref(), Some("zero"));
    let field: String = redis::cmd("HGET").arg("h").arg("f").query(&mut c).unwrap();
    assert_eq!(field, "v0");
    select(&mut c, 0);
    assert_eq!(get(&mut c, "k").as_deref(), Some("one"));
    let list: Vec<String> = redis::cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(list, ["b"]);
    // Errors, as Redis 7.0 words them.
    for (a, b, error) in [
        ("x", "0", "ERR invalid first DB index"),
        ("0", "1.5", "ERR invalid second DB index"),
        ("0", "4", "ERR DB index is out of range"),
        ("-1", "0", "ERR DB index is out of range"),
    ] {
        assert_eq!(
            error_text(redis::cmd("SWAPDB").arg(a).arg(b).query::<()>(&mut c)),
            error
        );
    }
    let _: () = redis::cmd("SWAPDB").arg(2).arg(2).query(&mut c).unwrap();

    // The swap, and writes made after it, are where they were after a SIGKILL.
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("swap")
        .query(&mut c)
        .unwrap();
    server.kill();
    let server = TestServer::start_in(dir.path(), &["--databases", "4"]);
    let mut c = server.redis();
    assert_eq!(get(&mut c, "k").as_deref(), Some("one"));
    assert_eq!(get(&mut c, "after").as_deref(), Some("swap"));
    select(&mut c, 1);
    assert_eq!(get(&mut c, "k").as_deref(), Some("zero"));
    // FLUSHDB empties the numbered database, whichever it is stored as.
    let _: () = redis::cmd("FLUSHDB").query(&mut c).unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 0);
    select(&mut c, 0);
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 3);
}

#[test]
fn transactions_and_watch_know_their_database() {
    let server = TestServer::start(&[]);
    let mut c = server.redis();
    let mut other = server.redis();
    select(&mut c, 3);
    let _: () = redis::cmd("WATCH").arg("w").query(&mut c).unwrap();
    // The same name in another database is another key: the watch holds.
    let _: () = redis::cmd("SET")
        .arg("w")
        .arg("db0")
        .query(&mut other)
        .unwrap();
    select(&mut c, 0);
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    let _: () = redis::cmd("SELECT").arg(5).query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("t").arg("in5").query(&mut c).unwrap();
    let replies: Vec<redis::Value> = redis::cmd("EXEC").query(&mut c).unwrap();
    assert_eq!(replies.len(), 2);
    // SELECT inside the transaction sticks after it, as in Redis.
    assert_eq!(
        redis::cmd("GET").arg("t").query::<String>(&mut c).unwrap(),
        "in5"
    );
    select(&mut other, 3);
    select(&mut c, 3);
    let _: () = redis::cmd("WATCH").arg("w").query(&mut c).unwrap();
    let _: () = redis::cmd("SET")
        .arg("w")
        .arg("db3")
        .query(&mut other)
        .unwrap();
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    let _: () = redis::cmd("SET")
        .arg("w")
        .arg("mine")
        .query(&mut c)
        .unwrap();
    let aborted: Option<Vec<redis::Value>> = redis::cmd("EXEC").query(&mut c).unwrap();
    assert_eq!(aborted, None, "a watched key of this database changed");
}

#[test]
fn a_data_directory_of_the_first_key_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        // What a Cairn before numbered databases wrote: raw user keys, no format record.
        let db = Db::open(dir.path(), Options::default()).unwrap();
        db.put(b"user-key", b"\x00value").unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-server"))
        .args(["--port", "0", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("key format 1"), "{stderr}");
    // Nothing was changed: the old key is still there.
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(
        db.get(b"user-key").unwrap().as_deref(),
        Some(&b"\x00value"[..])
    );
}

#[test]
fn databases_out_of_range_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-server"))
        .args(["--port", "0", "--databases", "0", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("databases must be 1 to 256"));
}
