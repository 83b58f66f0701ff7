//! Failover under an unmodified Redis Sentinel (`redis-server sentinel.conf --sentinel`,
//! installed by .ci/run): three Sentinels watch a Cairn primary and two replicas. When the
//! primary is killed (SIGKILL) while a client writes with `WAIT 1`, the Sentinels promote a
//! replica, point the other at it, and turn the old primary into a replica when it comes
//! back; every write WAIT acknowledged is on the new primary. A primary stopped (SIGSTOP)
//! past `down-after-milliseconds` is failed over the same way and rejoins as a replica when
//! it is continued. Every wait is bounded.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{tool_available, TestServer};

/// The name the Sentinels know the primary by.
const NAME: &str = "cairn";

/// How long the Sentinels wait before they call an unanswering primary down.
const DOWN_AFTER_MS: u64 = 1000;

/// One `redis-server --sentinel` on a free port, with its config file in its own
/// directory (Sentinel rewrites it); killed when dropped.
struct Sentinel {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Sentinel {
    fn start(primary_port: u16) -> Sentinel {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor {NAME} 127.0.0.1 {primary_port} 2\n\
                 sentinel down-after-milliseconds {NAME} {DOWN_AFTER_MS}\n\
                 sentinel failover-timeout {NAME} 10000\n\
                 sentinel parallel-syncs {NAME} 2\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server --sentinel");
        let sentinel = Sentinel {
            port,
            child,
            _dir: dir,
        };
        wait_until("the Sentinel listens", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        sentinel
    }

    fn con(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap()
    }

    /// The port of the primary this Sentinel names now.
    fn primary_port(&self) -> Option<u16> {
        let addr: Option<(String, u16)> = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(NAME)
            .query(&mut self.con())
            .ok()?;
        addr.map(|(_, port)| port)
    }

    /// How many replicas, and how many other Sentinels, this Sentinel knows in good health.
    fn sees(&self) -> (usize, usize) {
        let mut con = self.con();
        let healthy = |entries: Vec<Vec<String>>| {
            entries
                .iter()
                .filter(|fields| {
                    let flags = fields
                        .windows(2)
                        .find(|kv| kv[0] == "flags")
                        .map(|kv| kv[1].clone())
                        .unwrap_or_default();
                    !flags.contains("down") && !flags.contains("disconnected")
                })
                .count()
        };
        let replicas: Vec<Vec<String>> = redis::cmd("SENTINEL")
            .arg("replicas")
            .arg(NAME)
            .query(&mut con)
            .unwrap_or_default();
        let sentinels: Vec<Vec<String>> = redis::cmd("SENTINEL")
            .arg("sentinels")
            .arg(NAME)
            .query(&mut con)
            .unwrap_or_default();
        (healthy(replicas), healthy(sentinels))
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A cairn-server on a fixed port, so that it can come back where the Sentinels knew it.
fn server_on(dir: &Path, port: u16, args: &[&str]) -> TestServer {
    let port = port.to_string();
    let mut all = vec!["--port", port.as_str()];
    all.extend_from_slice(args);
    TestServer::start_in(dir, &all)
}

/// ROLE's first two fields: the role, and for a replica its primary's port.
fn role(port: u16) -> Option<(String, Option<u16>)> {
    let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .ok()?
        .get_connection_with_timeout(Duration::from_secs(2))
        .ok()?;
    let role: redis::Value = redis::cmd("ROLE").query(&mut con).ok()?;
    let redis::Value::Array(fields) = role else {
        return None;
    };
    let text = |v: &redis::Value| match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Int(n) => n.to_string(),
        _ => String::new(),
    };
    let name = text(fields.first()?);
    let primary = (name == "slave")
        .then(|| text(fields.get(2)?).parse().ok())
        .flatten();
    Some((name, primary))
}

/// A primary, two replicas and three Sentinels that see all of them.
struct Deployment {
    primary: TestServer,
    primary_dir: tempfile::TempDir,
    primary_port: u16,
    replicas: Vec<TestServer>,
    sentinels: Vec<Sentinel>,
}

impl Deployment {
    fn start() -> Deployment {
        let primary_dir = tempfile::tempdir().unwrap();
        let primary_port = free_port();
        let primary = server_on(primary_dir.path(), primary_port, &[]);
        let of = format!("127.0.0.1 {primary_port}");
        let replicas: Vec<TestServer> = (0..2)
            .map(|_| TestServer::start(&["--replicaof", &of]))
            .collect();
        let sentinels: Vec<Sentinel> = (0..3).map(|_| Sentinel::start(primary_port)).collect();
        wait_until(
            "every Sentinel sees both replicas and the other Sentinels",
            Duration::from_secs(30),
            || sentinels.iter().all(|s| s.sees() == (2, 2)),
        );
        Deployment {
            primary,
            primary_dir,
            primary_port,
            replicas,
            sentinels,
        }
    }

    /// Waits until the Sentinels name another primary; returns its port.
    fn promoted(&self) -> u16 {
        let mut promoted = None;
        wait_until("a replica is promoted", Duration::from_secs(60), || {
            promoted = self.sentinels[0]
                .primary_port()
                .filter(|&port| port != self.primary_port);
            promoted.is_some()
        });
        let port = promoted.unwrap();
        let replica_ports: Vec<u16> = self.replicas.iter().map(|r| r.addr.port()).collect();
        assert!(
            replica_ports.contains(&port),
            "promoted {port}, not a replica"
        );
        port
    }

    /// Waits until every server but `primary` is its replica, and `primary` a primary.
    fn converged_on(&self, primary: u16) {
        let mut ports: Vec<u16> = self.replicas.iter().map(|r| r.addr.port()).collect();
        ports.push(self.primary_port);
        wait_until(
            "every other server follows the new primary",
            Duration::from_secs(60),
            || {
                ports.iter().all(|&port| {
                    let want = if port == primary {
                        ("master".to_string(), None)
                    } else {
                        ("slave".to_string(), Some(primary))
                    };
                    role(port) == Some(want)
                })
            },
        );
    }
}

#[test]
fn a_killed_primary_is_replaced_and_no_write_acknowledged_by_wait_is_lost() {
    if !tool_available("redis-server", "the Sentinel failover test") {
        return;
    }
    let mut deployment = Deployment::start();
    // A client writes, each write followed by WAIT 1: those WAIT counts are acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let url = deployment.primary.url();
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
            let mut acknowledged = Vec::new();
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let set: redis::RedisResult<()> = redis::cmd("SET")
                    .arg(format!("k{i}"))
                    .arg(i)
                    .query(&mut con);
                let waited: redis::RedisResult<i64> =
                    redis::cmd("WAIT").arg(1).arg(1000).query(&mut con);
                match (set, waited) {
                    (Ok(()), Ok(n)) if n >= 1 => acknowledged.push(i),
                    (Ok(()), Ok(_)) => {}
                    _ => break,
                }
            }
            acknowledged
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    deployment.primary.kill();
    let killed = Instant::now();
    let acknowledged = writer.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    assert!(acknowledged.len() > 10, "too few writes before the kill");

    let promoted = deployment.promoted();
    eprintln!(
        "{} writes acknowledged by WAIT 1; the Sentinels named a new primary {:?} after the kill",
        acknowledged.len(),
        killed.elapsed()
    );
    let mut con = redis::Client::open(format!("redis://127.0.0.1:{promoted}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    for chunk in acknowledged.chunks(500) {
        let keys: Vec<String> = chunk.iter().map(|i| format!("k{i}")).collect();
        let values: Vec<Option<i64>> = redis::cmd("MGET").arg(&keys).query(&mut con).unwrap();
        for (i, value) in chunk.iter().zip(values) {
            assert_eq!(
                value,
                Some(*i),
                "k{i} was acknowledged by WAIT but is not on the new primary"
            );
        }
    }
    // The old primary comes back where it was and is made a replica of the new one.
    deployment.primary = server_on(deployment.primary_dir.path(), deployment.primary_port, &[]);
    deployment.converged_on(promoted);
}

#[test]
fn a_stopped_primary_is_failed_over_and_rejoins_when_continued() {
    if !tool_available("redis-server", "the Sentinel failover test") {
        return;
    }
    let deployment = Deployment::start();
    let pid = deployment.primary.pid().to_string();
    let signal = |name: &str| {
        let status = Command::new("kill").args([name, &pid]).status().unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    let promoted = deployment.promoted();
    signal("-CONT");
    deployment.converged_on(promoted);
}
