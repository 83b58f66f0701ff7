//! A server whose disk fails under it, end to end over real sockets: a full disk refuses
//! writes with `-MISCONF`, keeps reads and connections working and takes writes again once
//! there is space, without a restart; a failed fsync acknowledges nothing it covered and
//! refuses every later write until a restart. Every acknowledged write is there after the
//! restart.
//!
//! The faults are injected by the engine's fault layer (`storage::Faults`), armed for the
//! server's data directory: so the server runs in this process, on a thread of its own,
//! rather than as a child process like the other server tests.

// A failing test should fail loudly: expect and unwrap are its assertions.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use cairn::server::{Config, Server, StopHandle};
use cairn::storage::Faults;
use common::info_field;

/// A server running in this process on `dir`.
struct InProcessServer {
    addr: SocketAddr,
    stop: StopHandle,
    thread: Option<thread::JoinHandle<Result<(), String>>>,
}

impl InProcessServer {
    fn start(dir: &Path) -> InProcessServer {
        let config = Config {
            port: 0,
            dir: dir.to_path_buf(),
            // Small memtables: flushes (which need space too) happen during the test.
            memtable_bytes: 4 << 20,
            threads: 1,
            ..Config::default()
        };
        let (ready, started) = std::sync::mpsc::channel();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let server = Server::bind(config).await.expect("bind");
                ready
                    .send((server.plain_addr().unwrap(), server.stop_handle()))
                    .unwrap();
                server.run().await.map_err(|e| e.to_string())
            })
        });
        let (addr, stop) = started.recv().expect("the server started");
        InProcessServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn redis(&self) -> redis::Connection {
        let client = redis::Client::open(format!("redis://{}/", self.addr)).unwrap();
        let con = client.get_connection().expect("connect");
        con.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        con
    }

    /// Stops the server; what its `run` returned.
    fn stop(mut self) -> Result<(), String> {
        self.stop.stop();
        self.thread.take().unwrap().join().expect("server thread")
    }
}

fn value(i: usize) -> Vec<u8> {
    let mut v = format!("value-{i}-").into_bytes();
    v.resize(256 << 10, b'v');
    v
}

fn set(con: &mut redis::Connection, key: &str, value: &[u8]) -> redis::RedisResult<()> {
    redis::cmd("SET").arg(key).arg(value).query(con)
}

#[test]
fn a_full_disk_refuses_writes_with_misconf_keeps_reads_and_recovers_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let faults: Arc<Faults> = Faults::for_dir(dir.path());
    let server = InProcessServer::start(dir.path());
    let mut con = server.redis();
    let mut acknowledged = Vec::new();
    for i in 0..8 {
        set(&mut con, &format!("key{i}"), &value(i)).unwrap();
        acknowledged.push(i);
    }
    faults.set_disk_full(true);
    // Writes go on into the WAL segment's preallocated space (64 MiB), then are refused.
    let mut refused = None;
    for i in 8..1_000 {
        match set(&mut con, &format!("key{i}"), &value(i)) {
            Ok(()) => acknowledged.push(i),
            Err(e) => {
                refused = Some((i, e));
                break;
            }
        }
    }
    let (first_refused, error) = refused.expect("a full disk refused no write");
    assert_eq!(error.code(), Some("MISCONF"), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("No space left on device") && text.contains(".wal"),
        "{text}"
    );
    println!("refused from key{first_refused}: {text}");
    // The connection stays open, reads work, and INFO says what is going on.
    let got: Vec<u8> = redis::cmd("GET").arg("key0").query(&mut con).unwrap();
    assert_eq!(got, value(0));
    assert_eq!(info_field(&mut con, "aof_last_write_status"), "err");
    assert_eq!(info_field(&mut con, "cairn_writes_refused"), "until-space");
    let again = set(&mut con, "other", b"x").expect_err("still full");
    assert_eq!(again.code(), Some("MISCONF"));
    let got: Option<Vec<u8>> = redis::cmd("GET")
        .arg(format!("key{first_refused}"))
        .query(&mut con)
        .unwrap();
    assert_eq!(got, None, "a refused write is visible");

    // Space comes back: the next write succeeds, on the same connection, without a restart.
    faults.set_disk_full(false);
    set(
        &mut con,
        &format!("key{first_refused}"),
        &value(first_refused),
    )
    .unwrap();
    acknowledged.push(first_refused);
    assert_eq!(info_field(&mut con, "aof_last_write_status"), "ok");
    assert_eq!(info_field(&mut con, "cairn_writes_refused"), "no");
    drop(con);
    server.stop().unwrap();

    let server = InProcessServer::start(dir.path());
    let mut con = server.redis();
    for &i in &acknowledged {
        let got: Option<Vec<u8>> = redis::cmd("GET")
            .arg(format!("key{i}"))
            .query(&mut con)
            .unwrap();
        assert_eq!(got.as_deref(), Some(&value(i)[..]), "key{i} after restart");
    }
    let other: Option<Vec<u8>> = redis::cmd("GET").arg("other").query(&mut con).unwrap();
    assert_eq!(other, None, "a refused write came back after restart");
    drop(con);
    server.stop().unwrap();
}

#[test]
fn a_failed_fsync_acknowledges_nothing_it_covered_and_refuses_writes_until_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let faults: Arc<Faults> = Faults::for_dir(dir.path());
    let server = InProcessServer::start(dir.path());
    let mut con = server.redis();
    set(&mut con, "before", b"durable").unwrap();
    faults.set_fail_syncs(true);
    // The write whose fsync fails is not acknowledged: its connection is closed unanswered.
    let error = set(&mut con, "covered", b"not known durable").expect_err("acknowledged");
    assert!(
        error.is_io_error() || error.is_connection_dropped(),
        "not a closed connection: {error}"
    );
    faults.set_fail_syncs(false);
    // Later writes are refused even though fsyncs would now succeed: the engine does not
    // retry a failed fsync as if nothing happened.
    let mut con = server.redis();
    let refused = set(&mut con, "after", b"x").expect_err("a write after a failed fsync");
    assert_eq!(refused.code(), Some("MISCONF"), "{refused}");
    assert!(refused.to_string().contains("restarted"), "{refused}");
    let got: Vec<u8> = redis::cmd("GET").arg("before").query(&mut con).unwrap();
    assert_eq!(got, b"durable");
    assert_eq!(info_field(&mut con, "aof_last_write_status"), "err");
    assert_eq!(
        info_field(&mut con, "cairn_writes_refused"),
        "until-restart"
    );
    drop(con);
    // Nor does shutdown's final sync pretend the log is durable.
    let stopped = server
        .stop()
        .expect_err("a clean stop after a failed fsync");
    assert!(stopped.contains("fsync"), "{stopped}");

    // The restart reads the log back: writes are taken again, the acknowledged one is there.
    let server = InProcessServer::start(dir.path());
    let mut con = server.redis();
    let got: Vec<u8> = redis::cmd("GET").arg("before").query(&mut con).unwrap();
    assert_eq!(got, b"durable");
    set(&mut con, "after", b"x").unwrap();
    assert_eq!(info_field(&mut con, "aof_last_write_status"), "ok");
    drop(con);
    server.stop().unwrap();
}
