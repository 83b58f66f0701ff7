//! Replication between real cairn-server processes on loopback: two replicas follow a
//! primary's writes, overwrites, deletes, expiries and FLUSHALL, its hashes, lists, sets,
//! sorted sets and numbered databases; SWAPDB on the primary swaps a replica's databases,
//! streamed or in a full sync; a replica refuses every write (collection writes, SWAPDB
//! and FLUSHALL included); a replica whose link is killed, that is stopped, or that is
//! killed with SIGKILL and restarted, continues (`+CONTINUE`, no second full sync), under
//! write load too; one kept down past the backlog gets a full sync; one that stops
//! reading is disconnected at its output buffer limit and continues; WAIT counts
//! acknowledgements and times out with a stopped replica; min-replicas-to-write refuses
//! writes without enough replicas; CONFIG REWRITE keeps `replicaof` in the config file;
//! garbage in the handshake gets errors; redis-cli --replica prints the stream.
//! Every wait is bounded.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{info_field, tool_available, TestServer};

fn replica_of(primary: &TestServer) -> TestServer {
    let target = format!("127.0.0.1 {}", primary.addr.port());
    TestServer::start(&["--replicaof", &target])
}

fn offset(con: &mut redis::Connection) -> u64 {
    info_field(con, "master_repl_offset").parse().unwrap()
}

/// Waits (at most 15 s) until `replica` has everything `primary` has.
fn caught_up(primary: &TestServer, replica: &TestServer) {
    let (mut p, mut r) = (primary.redis(), replica.redis());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let want = offset(&mut p);
        if info_field(&mut r, "master_link_status") == "up"
            && info_field(&mut r, "slave_repl_offset")
                .parse::<u64>()
                .unwrap()
                >= want
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replica did not catch up to {want}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn everything(server: &TestServer) -> BTreeMap<String, Option<String>> {
    let mut con = server.redis();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    keys.into_iter()
        .map(|k| {
            let v: Option<String> = redis::cmd("GET").arg(&k).query(&mut con).unwrap();
            (k, v)
        })
        .collect()
}

/// SET `{prefix}{i}` to `i` for each `i` below `n`.
fn set_numbered(con: &mut redis::Connection, prefix: &str, n: u64) {
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.cmd("SET").arg(format!("{prefix}{i}")).arg(i).ignore();
    }
    let () = pipe.query(con).unwrap();
}

fn stat(server: &TestServer, field: &str) -> u64 {
    info_field(&mut server.redis(), field).parse().unwrap()
}

#[test]
fn two_replicas_follow_every_kind_of_write_and_refuse_their_own() {
    let primary = TestServer::start(&[]);
    let mut p = primary.redis();
    set_numbered(&mut p, "k", 200);
    let (r1, r2) = (replica_of(&primary), replica_of(&primary));
    for i in 0..100 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg("over")
            .query(&mut p)
            .unwrap();
    }
    let _: i64 = redis::cmd("DEL")
        .arg("k150")
        .arg("k151")
        .query(&mut p)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("brief")
        .arg("x")
        .arg("PX")
        .arg(300)
        .query(&mut p)
        .unwrap();
    let _: () = redis::cmd("MSET")
        .arg("m1")
        .arg("a")
        .arg("m2")
        .arg("b")
        .query(&mut p)
        .unwrap();
    caught_up(&primary, &r1);
    caught_up(&primary, &r2);
    assert_eq!(everything(&r1), everything(&primary));
    assert_eq!(everything(&r2), everything(&primary));
    let _: () = redis::cmd("FLUSHALL").query(&mut p).unwrap();
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("flush")
        .query(&mut p)
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let acked: i64 = redis::cmd("WAIT").arg(2).arg(5000).query(&mut p).unwrap();
    assert_eq!(acked, 2);
    for r in [&r1, &r2] {
        let got = everything(r);
        assert_eq!(got, everything(&primary));
        assert_eq!(got.len(), 1, "{got:?}");
        let err = redis::cmd("SET")
            .arg("x")
            .arg("1")
            .query::<()>(&mut r.redis())
            .unwrap_err();
        assert!(err.to_string().contains("read only replica"), "{err}");
        let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut r.redis()).unwrap();
        assert_eq!(role[0], redis::Value::BulkString(b"slave".to_vec()));
    }
    write_collections_and_db3(&primary);
    let acked: i64 = redis::cmd("WAIT").arg(2).arg(5000).query(&mut p).unwrap();
    assert_eq!(acked, 2);
    for r in [&primary, &r1, &r2] {
        check_collections_and_db3(r);
    }
    assert_eq!(info_field(&mut p, "connected_slaves"), "2");
    assert_eq!(stat(&primary, "sync_full"), 2);
}

/// Key format 2's other records: collections (a header and its elements) in database 0
/// and a string in database 3.
fn write_collections_and_db3(primary: &TestServer) {
    let mut p = primary.redis();
    let _: i64 = redis::cmd("HSET")
        .arg("h")
        .arg("f1")
        .arg("v1")
        .arg("f2")
        .arg("v2")
        .query(&mut p)
        .unwrap();
    let _: i64 = redis::cmd("RPUSH")
        .arg("l")
        .arg("a")
        .arg("b")
        .arg("c")
        .query(&mut p)
        .unwrap();
    let _: i64 = redis::cmd("SADD")
        .arg("s")
        .arg("x")
        .arg("y")
        .query(&mut p)
        .unwrap();
    let _: i64 = redis::cmd("ZADD")
        .arg("z")
        .arg(1.5)
        .arg("one")
        .arg(-2)
        .arg("two")
        .query(&mut p)
        .unwrap();
    let mut p3 = primary.redis();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut p3).unwrap();
    let _: () = redis::cmd("SET")
        .arg("in3")
        .arg("three")
        .query(&mut p3)
        .unwrap();
}

/// What [`write_collections_and_db3`] wrote, as `server` answers it.
fn check_collections_and_db3(server: &TestServer) {
    let mut c = server.redis();
    let hash: BTreeMap<String, String> = redis::cmd("HGETALL").arg("h").query(&mut c).unwrap();
    assert_eq!(
        hash,
        BTreeMap::from([("f1".into(), "v1".into()), ("f2".into(), "v2".into())])
    );
    let list: Vec<String> = redis::cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(list, ["a", "b", "c"]);
    let mut set: Vec<String> = redis::cmd("SMEMBERS").arg("s").query(&mut c).unwrap();
    set.sort();
    assert_eq!(set, ["x", "y"]);
    let zset: Vec<String> = redis::cmd("ZRANGE")
        .arg("z")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(&mut c)
        .unwrap();
    assert_eq!(zset, ["two", "-2", "one", "1.5"]);
    let in0: Option<String> = redis::cmd("GET").arg("in3").query(&mut c).unwrap();
    assert_eq!(in0, None, "database 3's key is not in database 0");
    let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    let in3: Option<String> = redis::cmd("GET").arg("in3").query(&mut c).unwrap();
    assert_eq!(in3.as_deref(), Some("three"));
}

fn get_in(server: &TestServer, db: i64, key: &str) -> Option<String> {
    let mut con = server.redis();
    let _: () = redis::cmd("SELECT").arg(db).query(&mut con).unwrap();
    redis::cmd("GET").arg(key).query(&mut con).unwrap()
}

fn hget_in(server: &TestServer, db: i64, key: &str, field: &str) -> Option<String> {
    let mut con = server.redis();
    let _: () = redis::cmd("SELECT").arg(db).query(&mut con).unwrap();
    redis::cmd("HGET")
        .arg(key)
        .arg(field)
        .query(&mut con)
        .unwrap()
}

/// What `server` answers for `k` and the hash `h` in databases 0 and 3.
fn view_of_0_and_3(server: &TestServer) -> [Option<String>; 4] {
    [
        get_in(server, 0, "k"),
        get_in(server, 3, "k"),
        hget_in(server, 0, "h", "f"),
        hget_in(server, 3, "h", "f"),
    ]
}

#[test]
fn swapdb_on_the_primary_swaps_the_replicas_databases_streamed_or_fully_synced() {
    let primary = TestServer::start(&[]);
    let streamed = replica_of(&primary);
    caught_up(&primary, &streamed);
    let mut p = primary.redis();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("zero")
        .query(&mut p)
        .unwrap();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut p).unwrap();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("three")
        .query(&mut p)
        .unwrap();
    let _: i64 = redis::cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("v3")
        .query(&mut p)
        .unwrap();
    caught_up(&primary, &streamed);
    let before = [
        Some("zero".into()),
        Some("three".into()),
        None,
        Some("v3".into()),
    ];
    assert_eq!(view_of_0_and_3(&streamed), before);

    let _: () = redis::cmd("SWAPDB").arg(0).arg(3).query(&mut p).unwrap();
    let swapped = [
        Some("three".into()),
        Some("zero".into()),
        Some("v3".into()),
        None,
    ];
    assert_eq!(view_of_0_and_3(&primary), swapped);
    caught_up(&primary, &streamed);
    assert_eq!(view_of_0_and_3(&streamed), swapped, "streamed SWAPDB");
    // Writes after the swap land in the databases as swapped, on both.
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("new0")
        .query(&mut p)
        .unwrap();
    caught_up(&primary, &streamed);
    assert_eq!(get_in(&streamed, 3, "k").as_deref(), Some("new0"));
    assert_eq!(get_in(&streamed, 0, "k").as_deref(), Some("three"));

    // A replica that joins now gets the swapped map with its full sync.
    let mut synced = replica_of(&primary);
    caught_up(&primary, &synced);
    assert_eq!(stat(&primary, "sync_full"), 2);
    let now = view_of_0_and_3(&primary);
    assert_eq!(view_of_0_and_3(&synced), now, "fully synced SWAPDB");

    // Swapped back while it follows, then restarted on its own: its data holds a valid
    // key-format record (it starts) and the map it was streamed.
    let _: () = redis::cmd("SWAPDB").arg(3).arg(0).query(&mut p).unwrap();
    caught_up(&primary, &synced);
    let back = view_of_0_and_3(&primary);
    assert_eq!(back[1].as_deref(), Some("three"));
    assert_eq!(view_of_0_and_3(&synced), back);
    let keep = tempfile::tempdir().unwrap();
    let moved = keep.path().join("data");
    synced.stop();
    std::fs::rename(&synced.dir, &moved).unwrap();
    let alone = TestServer::start_in(&moved, &[]);
    assert_eq!(view_of_0_and_3(&alone), back, "restarted as a primary");
}

/// Every write-flagged command the replica's COMMAND lists, with `n` placeholder
/// arguments (its arity's minimum).
fn write_commands(server: &TestServer) -> Vec<(String, usize)> {
    let table: Vec<redis::Value> = redis::cmd("COMMAND").query(&mut server.redis()).unwrap();
    let text = |v: &redis::Value| match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        other => format!("{other:?}"),
    };
    let mut out = Vec::new();
    for row in table {
        let redis::Value::Array(row) = row else {
            panic!("COMMAND row {row:?}")
        };
        let (name, arity) = (text(&row[0]), &row[1]);
        let redis::Value::Int(arity) = *arity else {
            panic!("{name}'s arity {arity:?}")
        };
        let redis::Value::Array(flags) = &row[2] else {
            panic!("{name}'s flags")
        };
        if flags.iter().any(|f| text(f) == "write") {
            out.push((name, usize::try_from(arity.unsigned_abs() - 1).unwrap()));
        }
    }
    out
}

/// Asserts `result` is the replica's -READONLY.
fn readonly(result: redis::RedisResult<redis::Value>, what: &str) {
    let err = result.expect_err(what);
    // The client names -READONLY by its kind, then the message.
    assert!(
        err.to_string().contains("read only replica"),
        "{what}: {err}"
    );
}

/// Main's write commands one by one, a pipelined round of collection writes around a
/// read, and SWAPDB inside MULTI, on the replica `r`: all refused.
fn writes_are_refused(replica: &TestServer) {
    let mut r = replica.redis();
    for args in [
        &["HSET", "h", "f", "v"][..],
        &["HINCRBY", "h", "f", "1"],
        &["HDEL", "h", "f"],
        &["LPUSH", "l", "x"],
        &["RPUSH", "l", "x"],
        &["LPOP", "l"],
        &["LMOVE", "l", "m", "LEFT", "RIGHT"],
        &["BLPOP", "l", "1"],
        &["BZPOPMIN", "z", "1"],
        &["SADD", "s", "x"],
        &["SPOP", "s"],
        &["SMOVE", "s", "t", "x"],
        &["ZADD", "z", "1", "x"],
        &["ZINCRBY", "z", "1", "x"],
        &["ZUNIONSTORE", "d", "1", "z"],
        &["SETBIT", "b", "7", "1"],
        &["BITOP", "OR", "d", "b"],
        &["SET", "k", "w"],
        &["DEL", "k"],
        &["EXPIRE", "k", "100"],
        &["RENAME", "k", "k2"],
        &["MOVE", "k", "1"],
        &["SWAPDB", "0", "1"],
        &["FLUSHDB"],
        &["FLUSHALL"],
    ] {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        readonly(cmd.query(&mut r), &args.join(" "));
    }
    // One write of the pipeline: collection writes join a round with the read.
    let mut raw = common::raw::Raw::connect(&replica.addr.to_string());
    let round: Vec<Vec<&str>> = vec![
        vec!["HSET", "h", "f", "v"],
        vec!["GET", "k"],
        vec!["SADD", "s", "x"],
        vec!["ZADD", "z", "1", "x"],
        vec!["LPUSH", "l", "y"],
    ];
    let replies = raw.pipeline(&round);
    assert_eq!(replies.len(), round.len());
    for (request, reply) in round.iter().zip(&replies) {
        let text = String::from_utf8_lossy(reply);
        if request[0] == "GET" {
            assert_eq!(text, "$1\r\nv\r\n", "reads still work");
        } else {
            assert!(text.starts_with("-READONLY "), "{request:?}: {text}");
        }
    }
    let _: () = redis::cmd("MULTI").query(&mut r).unwrap();
    readonly(
        redis::cmd("SWAPDB").arg(0).arg(1).query(&mut r),
        "SWAPDB in MULTI",
    );
    let exec = redis::cmd("EXEC")
        .query::<redis::Value>(&mut r)
        .unwrap_err();
    assert!(exec.to_string().contains("discarded"), "{exec}");
}

/// Whatever `replica`'s table flags as a write fails there, given placeholder arguments.
fn every_write_fails(replica: &TestServer) {
    let mut r = replica.redis();
    let writes = write_commands(replica);
    for name in [
        "hset", "lpush", "sadd", "zadd", "setbit", "swapdb", "flushall",
    ] {
        assert!(writes.iter().any(|(n, _)| n == name), "{name} is a write");
    }
    for (name, n) in &writes {
        let mut cmd = redis::cmd(name);
        for _ in 0..*n {
            cmd.arg("1");
        }
        let result = cmd.query::<redis::Value>(&mut r);
        let Err(err) = result else {
            panic!("{name} with {n} arguments gave {result:?}")
        };
        // A few refuse the placeholders before anything runs (LMOVE's `1` is no side).
        let text = err.to_string();
        assert!(
            text.contains("read only replica")
                || text.contains("syntax error")
                || text.contains("not valid string range"),
            "{name}: {text}"
        );
    }
}

#[test]
fn a_replica_refuses_every_write_collections_swapdb_and_flushall_included() {
    let primary = TestServer::start(&[]);
    let replica = replica_of(&primary);
    let mut p = primary.redis();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut p).unwrap();
    let _: i64 = redis::cmd("RPUSH").arg("l").arg("a").query(&mut p).unwrap();
    caught_up(&primary, &replica);
    writes_are_refused(&replica);
    every_write_fails(&replica);
    // Nothing changed: the replica holds what the primary does.
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .query(&mut p)
        .unwrap();
    caught_up(&primary, &replica);
    assert_eq!(
        everything_but_lists(&replica),
        everything_but_lists(&primary)
    );
    let list: Vec<String> = redis::cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(&mut replica.redis())
        .unwrap();
    assert_eq!(list, ["a"]);
}

/// The string keys and their values, the list `l` left out.
fn everything_but_lists(server: &TestServer) -> BTreeMap<String, Option<String>> {
    let mut con = server.redis();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    keys.into_iter()
        .filter(|k| k != "l")
        .map(|k| {
            let v: Option<String> = redis::cmd("GET").arg(&k).query(&mut con).unwrap();
            (k, v)
        })
        .collect()
}

#[test]
fn a_killed_link_and_a_restarted_replica_continue_without_a_full_sync() {
    let primary = TestServer::start(&[]);
    let mut p = primary.redis();
    let mut replica = replica_of(&primary);
    set_numbered(&mut p, "a", 100);
    caught_up(&primary, &replica);
    assert_eq!(stat(&primary, "sync_full"), 1);
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query(&mut p)
        .unwrap();
    assert_eq!(killed, 1);
    set_numbered(&mut p, "b", 100);
    caught_up(&primary, &replica);
    assert_eq!(stat(&primary, "sync_partial_ok"), 1);
    // SIGKILL, writes meanwhile, restart on the same data.
    let dir = replica.dir.clone();
    let keep = tempfile::tempdir().unwrap();
    let moved = keep.path().join("data");
    replica.kill();
    std::fs::rename(&dir, &moved).unwrap();
    set_numbered(&mut p, "c", 100);
    let target = format!("127.0.0.1 {}", primary.addr.port());
    let replica = TestServer::start_in(&moved, &["--replicaof", &target]);
    caught_up(&primary, &replica);
    assert_eq!(stat(&primary, "sync_full"), 1, "no second full sync");
    assert_eq!(stat(&primary, "sync_partial_ok"), 2);
    assert_eq!(everything(&replica), everything(&primary));
}

#[test]
fn wait_counts_acknowledgements_and_times_out_with_the_replica_stopped() {
    let primary = TestServer::start(&[]);
    let replica = replica_of(&primary);
    let mut p = primary.redis();
    caught_up(&primary, &replica);
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut p).unwrap();
    let n: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut p).unwrap();
    assert_eq!(n, 1);
    let pid = libc::pid_t::try_from(replica.pid()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let _: () = redis::cmd("SET").arg("k").arg("w").query(&mut p).unwrap();
    let started = Instant::now();
    let n: i64 = redis::cmd("WAIT").arg(1).arg(500).query(&mut p).unwrap();
    assert_eq!(n, 0);
    assert!(started.elapsed() >= Duration::from_millis(450));
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let n: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut p).unwrap();
    assert_eq!(n, 1);
    let err = redis::cmd("WAIT")
        .arg(1)
        .arg(10)
        .query::<i64>(&mut replica.redis())
        .unwrap_err();
    assert!(err.to_string().contains("replica"), "{err}");
}

#[test]
fn garbage_in_the_handshake_gets_errors_not_a_crash() {
    let server = TestServer::start(&[]);
    let mut con = server.redis();
    for args in [
        &["PSYNC", "not-an-id", "5"][..],
        &["PSYNC", "?", "abc"],
        &["PSYNC", "?", "-7"],
        &["PSYNC", &"g".repeat(40), "1"],
        &["REPLCONF", "ack", "nope"],
        &["REPLCONF", "listening-port", "99999"],
        &["REPLCONF", "listening-port"],
        &["REPLCONF", "bogus", "1"],
        &["REPLICAOF", "host", "70000"],
        &["WAIT", "1", "-1"],
    ] {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let result = cmd.query::<redis::Value>(&mut con);
        assert!(result.is_err(), "{args:?} gave {result:?}");
    }
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn redis_cli_replica_prints_the_write_stream() {
    if !tool_available("redis-cli", "redis-cli --replica against Cairn") {
        return;
    }
    let primary = TestServer::start(&[]);
    let mut child = std::process::Command::new("redis-cli")
        .args(["-p", &primary.addr.port().to_string(), "--replica"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut p = primary.redis();
    let deadline = Instant::now() + Duration::from_secs(10);
    while stat(&primary, "sync_full") == 0 {
        assert!(Instant::now() < deadline, "redis-cli never synced");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _: () = redis::cmd("SET")
        .arg("seen")
        .arg("by-cli")
        .query(&mut p)
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let notes = String::from_utf8_lossy(&out.stderr);
    assert!(notes.contains("SYNC done"), "{notes}");
    assert!(
        text.contains("CAIRN.BATCH") && text.contains("by-cli"),
        "{text}"
    );
}

#[test]
fn config_rewrite_keeps_replicaof_in_the_config_file_across_a_restart() {
    let primary = TestServer::start(&[]);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut primary.redis())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cairn.toml");
    std::fs::write(
        &file,
        "# a replica, once Sentinel says so\nreplica-priority = 10\n",
    )
    .unwrap();
    let config = file.to_str().unwrap().to_string();
    let data = dir.path().join("data");
    let mut replica = TestServer::start_in(&data, &["--config", &config]);
    let mut r = replica.redis();
    let target = primary.addr.port().to_string();
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(&target)
        .query(&mut r)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("replica-priority")
        .arg(3)
        .query(&mut r)
        .unwrap();
    let _: () = redis::cmd("CONFIG").arg("REWRITE").query(&mut r).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# a replica, once Sentinel says so\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("replicaof = \"127.0.0.1 {target}\"")),
        "{text}"
    );
    assert!(text.contains("replica-priority = 3"), "{text}");

    // Restarted from the file alone, it follows the primary again.
    replica.stop();
    let replica = TestServer::start_in(&data, &["--config", &config]);
    caught_up(&primary, &replica);
    let mut r = replica.redis();
    assert_eq!(info_field(&mut r, "role"), "slave");
    assert_eq!(info_field(&mut r, "slave_priority"), "3");
    let value: Option<String> = redis::cmd("GET").arg("k").query(&mut r).unwrap();
    assert_eq!(value.as_deref(), Some("v"));

    // Promoted and rewritten, the file no longer names a primary.
    let _: () = redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query(&mut r)
        .unwrap();
    let _: () = redis::cmd("CONFIG").arg("REWRITE").query(&mut r).unwrap();
    assert!(!std::fs::read_to_string(&file)
        .unwrap()
        .contains("replicaof"));
    // Without a file, Redis's error.
    let error = redis::cmd("CONFIG")
        .arg("REWRITE")
        .query::<()>(&mut primary.redis())
        .unwrap_err();
    assert!(
        error.to_string().contains("without a config file"),
        "{error}"
    );
}

#[test]
fn a_replica_down_past_the_backlog_gets_a_full_sync_and_converges() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("primary.toml");
    std::fs::write(&file, "repl-backlog-size = 65536\n").unwrap();
    let primary = TestServer::start(&["--config", file.to_str().unwrap()]);
    let mut p = primary.redis();
    let target = format!("127.0.0.1 {}", primary.addr.port());
    let data = dir.path().join("replica");
    let mut replica = TestServer::start_in(&data, &["--replicaof", &target]);
    let _: () = redis::cmd("SET").arg("first").arg(1).query(&mut p).unwrap();
    caught_up(&primary, &replica);
    assert_eq!(stat(&primary, "sync_full"), 1);
    replica.kill();
    // Six times the backlog while the replica is down.
    let value = "v".repeat(1000);
    for i in 0..400 {
        let _: () = redis::cmd("SET")
            .arg(format!("d{i}"))
            .arg(&value)
            .query(&mut p)
            .unwrap();
    }
    let replica = TestServer::start_in(&data, &["--replicaof", &target]);
    caught_up(&primary, &replica);
    assert_eq!(
        stat(&primary, "sync_full"),
        2,
        "the backlog no longer held its offset"
    );
    assert_eq!(stat(&primary, "sync_partial_ok"), 0);
    assert_eq!(everything(&replica), everything(&primary));
}

#[test]
fn min_replicas_to_write_refuses_writes_until_enough_replicas_acknowledge() {
    let primary = TestServer::start(&[]);
    let mut p = primary.redis();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("min-replicas-to-write")
        .arg(1)
        .arg("min-replicas-max-lag")
        .arg(2)
        .query(&mut p)
        .unwrap();
    let set = |p: &mut redis::Connection| -> Result<(), String> {
        redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query::<()>(p)
            .map_err(|e| e.to_string())
    };
    let refused = set(&mut p).unwrap_err();
    assert!(refused.contains("NOREPLICAS"), "{refused}");
    // Reads are not refused.
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut p).unwrap();
    let replica = replica_of(&primary);
    let until = |p: &mut redis::Connection, accepted: bool, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while set(p).is_ok() != accepted {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    until(&mut p, true, "writes accepted once a replica acknowledges");
    // A stopped replica stops acknowledging: past the lag, writes are refused again.
    let pid = replica.pid().to_string();
    let signal = |name: &str| {
        assert!(std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap()
            .success());
    };
    signal("-STOP");
    until(
        &mut p,
        false,
        "writes refused once the replica's lag passes 2 s",
    );
    signal("-CONT");
    until(
        &mut p,
        true,
        "writes accepted again once the replica is back",
    );
}

#[test]
fn under_write_load_a_killed_or_stopped_link_continues_and_the_data_converges() {
    let primary = TestServer::start(&[]);
    let replica = replica_of(&primary);
    caught_up(&primary, &replica);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, url) = (stop.clone(), primary.url());
        std::thread::spawn(move || {
            let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _: () = redis::cmd("SET")
                    .arg(format!("w{}", i % 5000))
                    .arg(i)
                    .query(&mut con)
                    .unwrap();
                i += 1;
            }
            i
        })
    };
    let mut p = primary.redis();
    std::thread::sleep(Duration::from_millis(300));
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query(&mut p)
        .unwrap();
    assert_eq!(killed, 1);
    std::thread::sleep(Duration::from_millis(1500));
    let pid = replica.pid().to_string();
    let signal = |name: &str| {
        let status = std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    std::thread::sleep(Duration::from_millis(1500));
    signal("-CONT");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 1000, "only {written} writes under load");
    caught_up(&primary, &replica);
    assert_eq!(stat(&primary, "sync_full"), 1, "no second full sync");
    assert!(stat(&primary, "sync_partial_ok") >= 1);
    assert_eq!(everything(&replica), everything(&primary));
}

/// Waits (at most 15 s) until `server`'s INFO `field` reads `want`.
fn await_stat(server: &TestServer, field: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while stat(server, field) != want {
        assert!(Instant::now() < deadline, "{field} never reached {want}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// CONFIG SET client-output-buffer-limit for the replica class.
fn replica_output_limit(con: &mut redis::Connection, limit: &str) {
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg(format!("replica {limit}"))
        .query(con)
        .unwrap();
}

#[test]
fn a_replica_that_stops_reading_is_dropped_at_its_output_limit_and_continues() {
    let primary = TestServer::start(&[]);
    let replica = replica_of(&primary);
    let mut p = primary.redis();
    caught_up(&primary, &replica);
    replica_output_limit(&mut p, "1mb 0 0");
    let pid = libc::pid_t::try_from(replica.pid()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    // 24 MB, past what the two sockets' buffers take, and well inside the 64 MB backlog.
    let value = "v".repeat(1000);
    for round in 0..24 {
        let mut pipe = redis::pipe();
        for i in 0..1000 {
            pipe.cmd("SET")
                .arg(format!("big{round}:{i}"))
                .arg(&value)
                .ignore();
        }
        let () = pipe.query(&mut p).unwrap();
    }
    await_stat(&primary, "connected_slaves", 0);
    assert_eq!(
        stat(&primary, "client_output_buffer_limit_disconnections"),
        1
    );
    // Back at Redis's default, above what the replica lacks: it continues where it stopped
    // (under 1 MB it would be dropped again at once, as Redis drops it: what it lacks of the
    // backlog counts).
    replica_output_limit(&mut p, "256mb 64mb 60");
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    caught_up(&primary, &replica);
    assert_eq!(stat(&primary, "sync_full"), 1, "no second full sync");
    assert_eq!(stat(&primary, "sync_partial_ok"), 1);
    assert_eq!(everything(&replica), everything(&primary));
}
